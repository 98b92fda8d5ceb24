/**
 * IPv6 headers (RFC 8200): the fixed header, a bounded walk over extension headers (hop-by-hop,
 * routing, fragment, destination options, AH) to the transport header, hop-limit decrement (no
 * header checksum in IPv6) and address access as the four host-order words IpAddr uses.
 */
import { rd16, rd32, wr32 } from './checksum.js';
import {
  FRAG_FIRST, FRAG_LATER, FRAG_NONE, PARSE_BAD_EXTHDR, PARSE_BAD_LENGTH, PARSE_BAD_VERSION, PARSE_OK, PARSE_TRUNCATED,
  type Parsed,
} from './parse.js';

export const IPV6_HLEN = 40;
export const NEXTHDR_HOP = 0;
export const NEXTHDR_ROUTING = 43;
export const NEXTHDR_FRAGMENT = 44;
export const NEXTHDR_AUTH = 51;
export const NEXTHDR_NONE = 59;
export const NEXTHDR_DEST = 60;
/** More extension headers than this is refused rather than walked. */
export const MAX_EXT_HEADERS = 8;

export function ipv6Parse(b: Uint8Array, l3: number, end: number, p: Parsed, quoted: boolean): number {
  if (l3 + IPV6_HLEN > end) return PARSE_TRUNCATED;
  if (b[l3] >>> 4 !== 6) return PARSE_BAD_VERSION;
  let ipEnd = l3 + IPV6_HLEN + rd16(b, l3 + 4);
  if (ipEnd > end) {
    // A jumbogram (payload length 0 with a hop-by-hop option) is not forwarded either.
    if (!quoted) return PARSE_BAD_LENGTH;
    ipEnd = end;
  }
  p.af = 10;
  p.ipEnd = ipEnd;
  p.ttl = b[l3 + 7];
  let nh = b[l3 + 6];
  let o = l3 + IPV6_HLEN;
  p.frag = FRAG_NONE;
  for (let n = 0; ; n++) {
    if (nh !== NEXTHDR_HOP && nh !== NEXTHDR_ROUTING && nh !== NEXTHDR_FRAGMENT && nh !== NEXTHDR_DEST && nh !== NEXTHDR_AUTH) break;
    if (n === MAX_EXT_HEADERS) return PARSE_BAD_EXTHDR;
    if (nh === NEXTHDR_HOP && n !== 0) return PARSE_BAD_EXTHDR;
    if (o + 8 > ipEnd) return quoted ? PARSE_TRUNCATED : PARSE_BAD_EXTHDR;
    const next = b[o];
    let hl: number;
    if (nh === NEXTHDR_FRAGMENT) {
      hl = 8;
      p.fragHdr = o;
      const fo = rd16(b, o + 2);
      if ((fo & 0xfff8) !== 0) p.frag = FRAG_LATER;
      else if ((fo & 1) !== 0) p.frag = FRAG_FIRST;
    } else if (nh === NEXTHDR_AUTH) {
      hl = (b[o + 1] + 2) * 4;
    } else {
      hl = (b[o + 1] + 1) * 8;
    }
    if (o + hl > ipEnd) return quoted ? PARSE_TRUNCATED : PARSE_BAD_EXTHDR;
    nh = next;
    o += hl;
    if (p.frag === FRAG_LATER) break;
  }
  p.ipHdrLen = o - l3;
  p.proto = nh;
  p.l4 = p.frag === FRAG_LATER || nh === NEXTHDR_NONE ? -1 : o;
  return PARSE_OK;
}

/** Word i (0..3) of the source address, host order. */
export function ipv6SaddrWord(b: Uint8Array, l3: number, i: number): number {
  return rd32(b, l3 + 8 + 4 * i);
}

export function ipv6DaddrWord(b: Uint8Array, l3: number, i: number): number {
  return rd32(b, l3 + 24 + 4 * i);
}

export function ipv6SetDaddr(b: Uint8Array, l3: number, w0: number, w1: number, w2: number, w3: number): void {
  wr32(b, l3 + 24, w0);
  wr32(b, l3 + 28, w1);
  wr32(b, l3 + 32, w2);
  wr32(b, l3 + 36, w3);
}

export function ipv6SetSaddr(b: Uint8Array, l3: number, w0: number, w1: number, w2: number, w3: number): void {
  wr32(b, l3 + 8, w0);
  wr32(b, l3 + 12, w1);
  wr32(b, l3 + 16, w2);
  wr32(b, l3 + 20, w3);
}

/** Hop limit - 1; returns the new value. */
export function ipv6DecHop(b: Uint8Array, l3: number): number {
  const h = (b[l3 + 7] - 1) & 0xff;
  b[l3 + 7] = h;
  return h;
}

export function ipv6PayloadLen(b: Uint8Array, l3: number): number {
  return rd16(b, l3 + 4);
}
