/**
 * IPv4 headers (RFC 791): the checks of ip_rcv (version, IHL >= 5, total length within the
 * frame, header checksum), fragments, TTL decrement and address rewrites with incremental
 * header checksums (ip_decrease_ttl, csum_replace4), and building a fresh header for
 * encapsulation and ICMP errors. Reads and writes stay inside the bounds checked by ipv4Parse.
 */
import { csumAdd, csumFold, csumReplace16, csumReplace32, rd16, rd32, wr16, wr32 } from './checksum.js';
import {
  FRAG_FIRST, FRAG_LATER, FRAG_NONE, PARSE_BAD_CSUM, PARSE_BAD_IHL, PARSE_BAD_LENGTH, PARSE_BAD_VERSION, PARSE_OK,
  PARSE_TRUNCATED, type Parsed,
} from './parse.js';

export const IPV4_HLEN = 20;
export const IP_DF = 0x4000;
export const IP_MF = 0x2000;
export const IP_OFFSET = 0x1fff;

/**
 * Fills the IP fields of p from the header at l3. `quoted`: the datagram is inside an ICMP
 * error, may be cut short, and its header checksum is not checked (routers may quote it after
 * changing the TTL; the kernel does not check it either).
 */
export function ipv4Parse(b: Uint8Array, l3: number, end: number, p: Parsed, quoted: boolean): number {
  if (l3 + IPV4_HLEN > end) return PARSE_TRUNCATED;
  if (b[l3] >>> 4 !== 4) return PARSE_BAD_VERSION;
  const ihl = (b[l3] & 0x0f) * 4;
  if (ihl < IPV4_HLEN) return PARSE_BAD_IHL;
  if (l3 + ihl > end) return PARSE_TRUNCATED;
  const tot = rd16(b, l3 + 2);
  if (tot < ihl) return PARSE_BAD_LENGTH;
  let ipEnd = l3 + tot;
  if (ipEnd > end) {
    if (!quoted) return PARSE_BAD_LENGTH;
    ipEnd = end;
  }
  if (!quoted && csumFold(csumAdd(b, l3, ihl, 0)) !== 0xffff) return PARSE_BAD_CSUM;
  p.af = 2;
  p.ipHdrLen = ihl;
  p.ipEnd = ipEnd;
  p.ttl = b[l3 + 8];
  p.proto = b[l3 + 9];
  const fo = rd16(b, l3 + 6);
  if ((fo & IP_OFFSET) !== 0) p.frag = FRAG_LATER;
  else if ((fo & IP_MF) !== 0) p.frag = FRAG_FIRST;
  else p.frag = FRAG_NONE;
  p.l4 = p.frag === FRAG_LATER ? -1 : l3 + ihl;
  return PARSE_OK;
}

export function ipv4Saddr(b: Uint8Array, l3: number): number {
  return rd32(b, l3 + 12);
}

export function ipv4Daddr(b: Uint8Array, l3: number): number {
  return rd32(b, l3 + 16);
}

export function ipv4TotLen(b: Uint8Array, l3: number): number {
  return rd16(b, l3 + 2);
}

export function ipv4HasDf(b: Uint8Array, l3: number): boolean {
  return (rd16(b, l3 + 6) & IP_DF) !== 0;
}

/** ip_decrease_ttl: TTL - 1 with the checksum adjusted (RFC 1624). Returns the new TTL. */
export function ipv4DecTtl(b: Uint8Array, l3: number): number {
  const oldw = rd16(b, l3 + 8);
  const ttl = (b[l3 + 8] - 1) & 0xff;
  b[l3 + 8] = ttl;
  wr16(b, l3 + 10, csumReplace16(rd16(b, l3 + 10), oldw, rd16(b, l3 + 8)));
  return ttl;
}

export function ipv4SetSaddr(b: Uint8Array, l3: number, v: number): void {
  const old = rd32(b, l3 + 12);
  wr32(b, l3 + 12, v);
  wr16(b, l3 + 10, csumReplace32(rd16(b, l3 + 10), old, v >>> 0));
}

export function ipv4SetDaddr(b: Uint8Array, l3: number, v: number): void {
  const old = rd32(b, l3 + 16);
  wr32(b, l3 + 16, v);
  wr16(b, l3 + 10, csumReplace32(rd16(b, l3 + 10), old, v >>> 0));
}

/** The header checksum over ihl bytes, as stored. */
export function ipv4HeaderCsum(b: Uint8Array, l3: number, ihl: number): number {
  const saved = rd16(b, l3 + 10);
  wr16(b, l3 + 10, 0);
  const c = ~csumFold(csumAdd(b, l3, ihl, 0)) & 0xffff;
  wr16(b, l3 + 10, saved);
  return c;
}

/** Writes a 20-byte header without options and its checksum. */
export function ipv4Write(
  b: Uint8Array, l3: number, tos: number, totLen: number, id: number, df: boolean, ttl: number, proto: number,
  saddr: number, daddr: number,
): void {
  b[l3] = 0x45;
  b[l3 + 1] = tos & 0xff;
  wr16(b, l3 + 2, totLen);
  wr16(b, l3 + 4, id & 0xffff);
  wr16(b, l3 + 6, df ? IP_DF : 0);
  b[l3 + 8] = ttl & 0xff;
  b[l3 + 9] = proto & 0xff;
  wr16(b, l3 + 10, 0);
  wr32(b, l3 + 12, saddr);
  wr32(b, l3 + 16, daddr);
  wr16(b, l3 + 10, ~csumFold(csumAdd(b, l3, 20, 0)) & 0xffff);
}
