/**
 * Ethernet II headers (IEEE 802.3), with in-band 802.1Q/802.1ad tags skipped. Tags the kernel
 * took out of the frame (hardware VLAN acceleration) arrive beside it in PACKET_AUXDATA and are
 * never in the bytes. All functions read and write inside [off, end) only.
 */
import { rd16 } from './checksum.js';

export const ETH_HLEN = 14;
export const ETH_ALEN = 6;
export const ETH_ZLEN = 60;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
/** More stacked tags than this is not a frame we forward. */
export const MAX_VLAN_TAGS = 2;

/**
 * Offset of the L3 header after the Ethernet header and any in-band VLAN tags, or -1 when the
 * frame is too short or stacks more than MAX_VLAN_TAGS. The EtherType is at result - 2.
 */
export function ethL3Offset(b: Uint8Array, off: number, end: number): number {
  let o = off + 12;
  for (let tags = 0; ; tags++) {
    if (o + 2 > end) return -1;
    const t = rd16(b, o);
    if (t !== ETH_P_8021Q && t !== ETH_P_8021AD) break;
    if (tags === MAX_VLAN_TAGS) return -1;
    o += 4;
  }
  return o + 2;
}

export function ethCopyAddr(dst: Uint8Array, dOff: number, src: Uint8Array, sOff: number): void {
  for (let i = 0; i < 6; i++) dst[dOff + i] = src[sOff + i];
}

/** Sets destination and source MAC of the frame at off. */
export function ethSetAddrs(b: Uint8Array, off: number, dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number): void {
  for (let i = 0; i < 6; i++) {
    b[off + i] = dst[dstOff + i];
    b[off + 6 + i] = src[srcOff + i];
  }
}

/** Swaps source and destination MAC in place (replies to the sender). */
export function ethSwap(b: Uint8Array, off: number): void {
  for (let i = 0; i < 6; i++) {
    const t = b[off + i];
    b[off + i] = b[off + 6 + i];
    b[off + 6 + i] = t;
  }
}

export function macEquals(a: Uint8Array, aOff: number, c: Uint8Array, cOff: number): boolean {
  for (let i = 0; i < 6; i++) if (a[aOff + i] !== c[cOff + i]) return false;
  return true;
}

export function isBroadcastMac(b: Uint8Array, off: number): boolean {
  return (b[off] & b[off + 1] & b[off + 2] & b[off + 3] & b[off + 4] & b[off + 5]) === 0xff;
}

export function isMulticastMac(b: Uint8Array, off: number): boolean {
  return (b[off] & 1) === 1;
}

/** aa:bb:cc:dd:ee:ff, for messages and logs (allocates: slow path only). */
export function formatMac(b: Uint8Array, off = 0): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push(b[off + i].toString(16).padStart(2, '0'));
  return out.join(':');
}

export function parseMac(s: string): Uint8Array | null {
  const m = /^([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})$/i.exec(s);
  if (!m) return null;
  return Uint8Array.from(m.slice(1).map((x) => parseInt(x, 16)));
}
