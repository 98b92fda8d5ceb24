/**
 * IPv6 neighbour discovery (RFC 4861) for the dataplane's own use: writing neighbour
 * solicitations for real servers (to the solicited-node multicast address, with our link-layer
 * address), reading advertisements (and solicitations, whose source link-layer option is just
 * as good), and answering solicitations for IPv6 VIPs the way arp.ts answers ARP. Messages
 * that fail the RFC 4861 §7.1 checks (hop limit 255, code 0, length) are ignored.
 */
import { csumAdd, csumFold, pseudoV6, wr16, wr32 } from './checksum.js';
import { IPPROTO_ICMPV6, type Parsed } from './parse.js';

export const ND_NS = 135;
export const ND_NA = 136;
const OPT_SLLA = 1;
const OPT_TLLA = 2;
export const NA_FLAG_SOLICITED = 0x40000000;
export const NA_FLAG_OVERRIDE = 0x20000000;

/** A valid NS or NA at p (hop limit 255, code 0, at least 24 bytes). */
export function ndValid(b: Uint8Array, p: Parsed): boolean {
  return p.af === 10 && p.proto === IPPROTO_ICMPV6 && (p.icmpType === ND_NS || p.icmpType === ND_NA) &&
    p.icmpCode === 0 && p.ttl === 255 && p.l4 + 24 <= p.ipEnd && p.l3 + 40 === p.l4 && b.length >= p.ipEnd;
}

/** Offset of the MAC in the source (NS) or target (NA) link-layer option, or -1. */
export function ndLinkAddr(b: Uint8Array, p: Parsed): number {
  const want = p.icmpType === ND_NS ? OPT_SLLA : OPT_TLLA;
  let o = p.l4 + 24;
  while (o + 8 <= p.ipEnd) {
    const len = b[o + 1] * 8;
    if (len === 0) return -1;
    if (b[o] === want && len >= 8) return o + 2;
    o += len;
  }
  return -1;
}

/** Offset of the 16-byte target address. */
export function ndTarget(p: Parsed): number {
  return p.l4 + 8;
}

function finish(b: Uint8Array, l3: number, icmpLen: number): void {
  const o = l3 + 40;
  wr16(b, o + 2, 0);
  wr16(b, o + 2, ~csumFold(csumAdd(b, o, icmpLen, pseudoV6(b, l3, IPPROTO_ICMPV6, icmpLen))) & 0xffff);
}

function ipv6Header(b: Uint8Array, l3: number, payload: number): void {
  wr32(b, l3, 0x60000000);
  wr16(b, l3 + 4, payload);
  b[l3 + 6] = IPPROTO_ICMPV6;
  b[l3 + 7] = 255;
}

/**
 * Writes a neighbour solicitation for the target (four host-order words) from `src` (16 bytes
 * at b[srcOff]) at b[off]; returns the frame length (86).
 */
export function ndWriteSolicit(
  b: Uint8Array, off: number, mac: Uint8Array, src: Uint8Array, w0: number, w1: number, w2: number, w3: number,
): number {
  // Ethernet: 33:33 + the low 32 bits of ff02::1:ffXX:XXXX (RFC 2464 §7).
  b[off] = 0x33; b[off + 1] = 0x33; b[off + 2] = 0xff;
  b[off + 3] = (w3 >>> 16) & 0xff; b[off + 4] = (w3 >>> 8) & 0xff; b[off + 5] = w3 & 0xff;
  for (let i = 0; i < 6; i++) b[off + 6 + i] = mac[i];
  wr16(b, off + 12, 0x86dd);
  const l3 = off + 14;
  ipv6Header(b, l3, 32);
  for (let i = 0; i < 16; i++) b[l3 + 8 + i] = src[i];
  wr32(b, l3 + 24, 0xff020000); wr32(b, l3 + 28, 0); wr32(b, l3 + 32, 1);
  wr32(b, l3 + 36, (0xff000000 | (w3 & 0xffffff)) >>> 0);
  const o = l3 + 40;
  b[o] = ND_NS; b[o + 1] = 0;
  wr32(b, o + 4, 0);
  wr32(b, o + 8, w0); wr32(b, o + 12, w1); wr32(b, o + 16, w2); wr32(b, o + 20, w3);
  b[o + 24] = OPT_SLLA; b[o + 25] = 1;
  for (let i = 0; i < 6; i++) b[o + 26 + i] = mac[i];
  finish(b, l3, 32);
  return 14 + 40 + 32;
}

/**
 * Turns the valid NS at p into the solicited advertisement "target is at mac" in place,
 * addressed to the soliciting host (RFC 4861 §7.2.4). Returns the new frame length, or 0 when
 * the solicitation came from the unspecified address (duplicate address detection: no answer).
 */
export function ndAnswerInPlace(b: Uint8Array, p: Parsed, mac: Uint8Array): number {
  const l3 = p.l3;
  let unspecified = true;
  for (let i = 0; i < 16; i++) if (b[l3 + 8 + i] !== 0) { unspecified = false; break; }
  if (unspecified) return 0;
  // The answer is as long as a solicitation with its link-layer option: never write past the frame.
  if (p.l4 + 32 > p.end) return 0;
  // Ethernet back to the sender; IPv6 source := target, destination := the solicitor.
  for (let i = 0; i < 6; i++) {
    b[p.off + i] = b[p.off + 6 + i];
    b[p.off + 6 + i] = mac[i];
  }
  b.copyWithin(l3 + 24, l3 + 8, l3 + 24);
  b.copyWithin(l3 + 8, p.l4 + 8, p.l4 + 24);
  ipv6Header(b, l3, 32);
  const o = p.l4;
  b[o] = ND_NA; b[o + 1] = 0;
  wr32(b, o + 4, (NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE) >>> 0);
  b[o + 24] = OPT_TLLA; b[o + 25] = 1;
  for (let i = 0; i < 6; i++) b[o + 26 + i] = mac[i];
  finish(b, l3, 32);
  return 14 + 40 + 32 + (l3 - p.off - 14);
}
