/**
 * ARP for IPv4 over Ethernet (RFC 826): recognising requests and replies, answering a request
 * in place, and writing requests and gratuitous announcements (RFC 5227 §3) into a buffer.
 * The director answers for the VIPs it serves (DR/TUN/NAT without the VIP on an interface)
 * and resolves real servers itself.
 */
import { rd16, rd32, wr16, wr32 } from './checksum.js';
import { ETH_P_ARP, ETH_ZLEN } from './eth.js';

export const ARP_HLEN = 28;
export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;
export const ARP_SHA = 8;
export const ARP_SPA = 14;
export const ARP_THA = 18;
export const ARP_TPA = 24;

/** Ethernet/IPv4 ARP with a sane header at l3 (htype 1, ptype 0x0800, hlen 6, plen 4). */
export function arpIsEthIpv4(b: Uint8Array, l3: number, end: number): boolean {
  return l3 + ARP_HLEN <= end && rd16(b, l3) === 1 && rd16(b, l3 + 2) === 0x0800 && b[l3 + 4] === 6 && b[l3 + 5] === 4;
}

export function arpOp(b: Uint8Array, l3: number): number {
  return rd16(b, l3 + 6);
}

export function arpSpa(b: Uint8Array, l3: number): number {
  return rd32(b, l3 + ARP_SPA);
}

export function arpTpa(b: Uint8Array, l3: number): number {
  return rd32(b, l3 + ARP_TPA);
}

/**
 * Turns the request at (off, l3) into the reply "tpa is at mac" in place, addressed to the
 * requester. The frame keeps its length (and any VLAN tag between off and l3).
 */
export function arpAnswerInPlace(b: Uint8Array, off: number, l3: number, mac: Uint8Array, macOff: number): void {
  const ip = rd32(b, l3 + ARP_TPA);
  for (let i = 0; i < 6; i++) {
    const req = b[l3 + ARP_SHA + i];
    b[off + i] = req;
    b[off + 6 + i] = mac[macOff + i];
    b[l3 + ARP_THA + i] = req;
    b[l3 + ARP_SHA + i] = mac[macOff + i];
  }
  wr32(b, l3 + ARP_TPA, rd32(b, l3 + ARP_SPA));
  wr32(b, l3 + ARP_SPA, ip);
  wr16(b, l3 + 6, ARPOP_REPLY);
}

/**
 * Writes a whole ARP frame at off (padded to the 60-byte Ethernet minimum) and returns its
 * length. Requests go to the broadcast address with a zero target MAC; a gratuitous ARP is a
 * request whose sender and target address are both the announced one.
 */
export function arpWrite(
  b: Uint8Array, off: number, op: number, sha: Uint8Array, shaOff: number, spa: number, tpa: number,
  tha: Uint8Array | null, thaOff: number,
): number {
  for (let i = 0; i < 6; i++) {
    b[off + i] = tha === null || op === ARPOP_REQUEST ? 0xff : tha[thaOff + i];
    b[off + 6 + i] = sha[shaOff + i];
  }
  wr16(b, off + 12, ETH_P_ARP);
  const l3 = off + 14;
  wr16(b, l3, 1);
  wr16(b, l3 + 2, 0x0800);
  b[l3 + 4] = 6;
  b[l3 + 5] = 4;
  wr16(b, l3 + 6, op);
  for (let i = 0; i < 6; i++) {
    b[l3 + ARP_SHA + i] = sha[shaOff + i];
    b[l3 + ARP_THA + i] = tha === null ? 0 : tha[thaOff + i];
  }
  wr32(b, l3 + ARP_SPA, spa);
  wr32(b, l3 + ARP_TPA, tpa);
  b.fill(0, l3 + ARP_HLEN, off + ETH_ZLEN);
  return ETH_ZLEN;
}
