/**
 * ICMP (RFC 792) and ICMPv6 (RFC 4443): the type/code of a message, whether it is an error that
 * quotes a packet (what ip_vs_in_icmp/ip_vs_out_icmp look into), and building the errors the
 * dataplane sends itself: port unreachable when no destination is available (ip_vs_leave),
 * fragmentation needed / packet too big (ensure_mtu_is_adequate) and time exceeded. Errors quote
 * as much of the offending packet as fits in 576 bytes (IPv4, RFC 1812 4.3.2.3) or 1280 (IPv6),
 * as icmp_send and icmp6_send do. No error is ever built about an ICMP error.
 */
import { csumAdd, csumFold, pseudoV6, rd16, wr16, wr32 } from './checksum.js';
import { ipv4Write } from './ipv4.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, PARSE_OK, PARSE_TRUNCATED, type Parsed } from './parse.js';

export const ICMP_ECHOREPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_ECHO = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETERPROB = 12;
export const ICMP_PORT_UNREACH = 3;
export const ICMP_HOST_UNREACH = 1;
export const ICMP_FRAG_NEEDED = 4;
export const ICMP_EXC_TTL = 0;

export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_PKT_TOOBIG = 2;
export const ICMPV6_TIME_EXCEED = 3;
export const ICMPV6_PARAMPROB = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_NS = 135;
export const ICMPV6_NA = 136;
export const ICMPV6_PORT_UNREACH = 4;
export const ICMPV6_ADDR_UNREACH = 3;

export const ICMP_HLEN = 8;
/** RFC 1812: an IPv4 ICMP error is at most 576 bytes. */
export const ICMP_ERROR_MAX = 576;
/** RFC 4443 2.4(c): an ICMPv6 error is at most the minimum MTU. */
export const ICMPV6_ERROR_MAX = 1280;

export function icmpParse(b: Uint8Array, p: Parsed): number {
  if (p.l4 + 4 > p.ipEnd) return PARSE_TRUNCATED;
  p.icmpType = b[p.l4];
  p.icmpCode = b[p.l4 + 1];
  p.l4HdrLen = ICMP_HLEN;
  // Errors quote a packet after 8 bytes; echo carries id/sequence there.
  if (p.l4 + ICMP_HLEN > p.ipEnd) return PARSE_TRUNCATED;
  return PARSE_OK;
}

export function icmpv6Parse(b: Uint8Array, p: Parsed): number {
  return icmpParse(b, p);
}

/** The ICMP errors IPVS examines (ip_vs_in_icmp: unreachable, source quench, time exceeded). */
export function icmpIsIpvsError(type: number): boolean {
  return type === ICMP_DEST_UNREACH || type === ICMP_SOURCE_QUENCH || type === ICMP_TIME_EXCEEDED;
}

/** Every ICMPv6 error type is below 128 (RFC 4443 2.1); IPVS examines 1..4 (ip_vs_in_icmp_v6). */
export function icmpv6IsError(type: number): boolean {
  return type >= 1 && type <= 4;
}

/**
 * False for packets no ICMP error may be sent about (RFC 1122 3.2.2, icmp_send, icmp6_send):
 * ICMP errors themselves (and unknown ICMP types), ICMPv6 errors, later fragments.
 */
export function mayAnswerWithError(p: Parsed): boolean {
  if (p.frag === 2) return false;
  if (p.af === 2 && p.proto === IPPROTO_ICMP) {
    const t = p.icmpType;
    return t === ICMP_ECHO || t === ICMP_ECHOREPLY || (t >= 13 && t <= 18);
  }
  if (p.af === 10 && p.proto === IPPROTO_ICMPV6) return p.icmpType >= 128;
  return true;
}

/**
 * Builds an IPv4 ICMP error at b[l3] about the datagram at b[origL3, origEnd) (regions must not
 * overlap). Returns the IP length written, or 0 when `room` bytes are too few.
 */
export function icmpBuildErrorV4(
  b: Uint8Array, l3: number, room: number, origL3: number, origEnd: number,
  type: number, code: number, info: number, saddr: number, daddr: number, id: number,
): number {
  let quote = origEnd - origL3;
  if (quote > ICMP_ERROR_MAX - 28) quote = ICMP_ERROR_MAX - 28;
  if (quote < 0) quote = 0;
  const tot = 28 + quote;
  if (tot > room) return 0;
  const tos = (b[origL3 + 1] & 0x1c) | 0xc0; // icmp_send: IPTOS_PREC_INTERNETCONTROL, keep TOS bits
  ipv4Write(b, l3, tos, tot, id, false, 64, IPPROTO_ICMP, saddr, daddr);
  const o = l3 + 20;
  b[o] = type;
  b[o + 1] = code;
  wr16(b, o + 2, 0);
  wr32(b, o + 4, info >>> 0);
  b.copyWithin(o + 8, origL3, origL3 + quote);
  wr16(b, o + 2, ~csumFold(csumAdd(b, o, 8 + quote, 0)) & 0xffff);
  return tot;
}

/**
 * Builds an ICMPv6 error at b[l3] about the datagram at b[origL3, origEnd): source and
 * destination are 16 bytes each at b[src], b[dst] (dst usually the quoted packet's source).
 * Returns the IP length written, or 0 when it does not fit in `room`.
 */
export function icmpBuildErrorV6(
  b: Uint8Array, l3: number, room: number, origL3: number, origEnd: number,
  type: number, code: number, info: number, src: number, dst: number,
): number {
  let quote = origEnd - origL3;
  if (quote > ICMPV6_ERROR_MAX - 48) quote = ICMPV6_ERROR_MAX - 48;
  if (quote < 0) quote = 0;
  const tot = 48 + quote;
  if (tot > room) return 0;
  // Copy the addresses first: src/dst may point into the quoted packet, which is copied below.
  b.copyWithin(l3 + 8, src, src + 16);
  b.copyWithin(l3 + 24, dst, dst + 16);
  wr32(b, l3, 0x60000000);
  wr16(b, l3 + 4, 8 + quote);
  b[l3 + 6] = IPPROTO_ICMPV6;
  b[l3 + 7] = 64;
  const o = l3 + 40;
  b[o] = type;
  b[o + 1] = code;
  wr16(b, o + 2, 0);
  wr32(b, o + 4, info >>> 0);
  b.copyWithin(o + 8, origL3, origL3 + quote);
  const sum = csumAdd(b, o, 8 + quote, pseudoV6(b, l3, IPPROTO_ICMPV6, 8 + quote));
  wr16(b, o + 2, ~csumFold(sum) & 0xffff);
  return tot;
}

/** The MTU field of a "fragmentation needed" (RFC 1191) error at l4. */
export function icmpFragNeededMtu(b: Uint8Array, l4: number): number {
  return rd16(b, l4 + 6);
}
