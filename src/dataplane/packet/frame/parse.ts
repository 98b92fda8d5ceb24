/**
 * One reusable record of what a frame holds, filled by parseFrame without allocating, and the
 * status codes of the checks (what the kernel's ip_rcv, ipv6_rcv and the IPVS protocol handlers
 * refuse). Parsing never throws and never reads outside [off, end): every offset is checked
 * against the frame and against the lengths the headers claim before it is used.
 */
import { rd16 } from './checksum.js';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ethL3Offset } from './eth.js';
import { icmpParse, icmpv6Parse } from './icmp.js';
import { ipv4Parse } from './ipv4.js';
import { ipv6Parse } from './ipv6.js';
import { tcpParse } from './tcp.js';
import { udpParse } from './udp.js';

export const PARSE_OK = 0;
/** Shorter than a header needs. */
export const PARSE_TRUNCATED = 1;
export const PARSE_BAD_IHL = 2;
/** A length field disagrees with the frame (IP total length, UDP length). */
export const PARSE_BAD_LENGTH = 3;
export const PARSE_BAD_VERSION = 4;
/** TCP data offset below 5 words or past the datagram. */
export const PARSE_BAD_TCP = 5;
/** Not IPv4, IPv6 or ARP. */
export const PARSE_NOT_IP = 6;
export const PARSE_BAD_EXTHDR = 7;
/** IPv4 header checksum wrong (ip_rcv drops these). */
export const PARSE_BAD_CSUM = 8;

export const PARSE_STATUS_NAMES = [
  'ok', 'truncated', 'bad-ihl', 'bad-length', 'bad-version', 'bad-tcp', 'not-ip', 'bad-exthdr', 'bad-ip-csum',
] as const;

export const FRAG_NONE = 0;
/** First fragment: the transport header is there (MF set, offset 0). */
export const FRAG_FIRST = 1;
/** A later fragment: no transport header. */
export const FRAG_LATER = 2;

export const IPPROTO_ICMP = 1;
export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ICMPV6 = 58;

export class Parsed {
  status = PARSE_OK;
  off = 0;
  end = 0;
  ethType = 0;
  /** L3 header offset, -1 if none. */
  l3 = -1;
  /** 2 (AF_INET), 10 (AF_INET6), 0 not IP. */
  af = 0;
  /** IPv4 header length or IPv6 header plus extension headers. */
  ipHdrLen = 0;
  /** End of the IP datagram by its own length field (<= end: Ethernet padding is excluded). */
  ipEnd = 0;
  ttl = 0;
  frag = FRAG_NONE;
  /** IPv6 fragment header offset, -1 if none. */
  fragHdr = -1;
  /** Transport protocol (after IPv6 extension headers), -1 if unknown. */
  proto = -1;
  /** Transport header offset, -1 if none (later fragments, unknown protocols). */
  l4 = -1;
  l4HdrLen = 0;
  sport = 0;
  dport = 0;
  tcpFlags = 0;
  icmpType = -1;
  icmpCode = -1;

  reset(off: number, end: number): void {
    this.status = PARSE_OK;
    this.off = off;
    this.end = end;
    this.ethType = 0;
    this.l3 = -1;
    this.af = 0;
    this.ipHdrLen = 0;
    this.ipEnd = 0;
    this.ttl = 0;
    this.frag = FRAG_NONE;
    this.fragHdr = -1;
    this.proto = -1;
    this.l4 = -1;
    this.l4HdrLen = 0;
    this.sport = 0;
    this.dport = 0;
    this.tcpFlags = 0;
    this.icmpType = -1;
    this.icmpCode = -1;
  }
}

/** Parses the transport header at p.l4 (already set) for TCP, UDP, ICMP and ICMPv6. */
export function parseL4(b: Uint8Array, p: Parsed, quoted: boolean): number {
  switch (p.proto) {
    case IPPROTO_TCP: return tcpParse(b, p, quoted);
    case IPPROTO_UDP: return udpParse(b, p, quoted);
    case IPPROTO_ICMP: return p.af === 2 ? icmpParse(b, p) : PARSE_OK;
    case IPPROTO_ICMPV6: return p.af === 10 ? icmpv6Parse(b, p) : PARSE_OK;
    default: return PARSE_OK;
  }
}

/** Parses Ethernet, then IPv4/IPv6 and the transport header, into p. Returns p.status. */
export function parseFrame(b: Uint8Array, off: number, len: number, p: Parsed): number {
  const end = Math.min(off + len, b.length);
  p.reset(off, end);
  if (off < 0 || len < 14) return (p.status = PARSE_TRUNCATED);
  const l3 = ethL3Offset(b, off, end);
  if (l3 < 0) return (p.status = PARSE_TRUNCATED);
  p.ethType = rd16(b, l3 - 2);
  p.l3 = l3;
  let st: number;
  if (p.ethType === ETH_P_IP) st = ipv4Parse(b, l3, end, p, false);
  else if (p.ethType === ETH_P_IPV6) st = ipv6Parse(b, l3, end, p, false);
  else if (p.ethType === ETH_P_ARP) return (p.status = PARSE_NOT_IP);
  else return (p.status = PARSE_NOT_IP);
  if (st !== PARSE_OK) return (p.status = st);
  if (p.l4 >= 0) st = parseL4(b, p, false);
  return (p.status = st);
}

/**
 * Parses the packet an ICMP error quotes, starting at its IP header: it may be cut short
 * (RFC 792 quotes 8 bytes of transport header; RFC 1812 as much as fits), so lengths are
 * clipped to what is there, but the IP header itself and the first 8 transport bytes must be.
 */
export function parseQuoted(b: Uint8Array, l3: number, end: number, af: number, q: Parsed): number {
  q.reset(l3, end);
  q.l3 = l3;
  const st = af === 2 ? ipv4Parse(b, l3, end, q, true) : ipv6Parse(b, l3, end, q, true);
  if (st !== PARSE_OK) return (q.status = st);
  if (q.l4 >= 0) return (q.status = parseL4(b, q, true));
  return (q.status = PARSE_OK);
}

/** Absolute offset of the transport checksum field, or -1 (later fragments, other protocols). */
export function l4CsumField(p: Parsed): number {
  if (p.l4 < 0) return -1;
  switch (p.proto) {
    case IPPROTO_TCP: return p.l4 + 16;
    case IPPROTO_UDP: return p.l4 + 6;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6: return p.l4 + 2;
    default: return -1;
  }
}
