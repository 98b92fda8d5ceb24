/**
 * UDP headers (RFC 768): ports and the length check of the kernel's udp handlers. A zero
 * checksum means "none" over IPv4 and stays zero through rewrites; a rewritten checksum that
 * comes out 0 is stored as 0xffff (CSUM_MANGLED_0).
 */
import { rd16 } from './checksum.js';
import { FRAG_NONE, PARSE_BAD_LENGTH, PARSE_OK, PARSE_TRUNCATED, type Parsed } from './parse.js';

export const UDP_HLEN = 8;
export const UDP_CSUM_OFFSET = 6;

export function udpParse(b: Uint8Array, p: Parsed, quoted: boolean): number {
  const o = p.l4;
  if (o + UDP_HLEN > p.ipEnd) return PARSE_TRUNCATED;
  p.sport = rd16(b, o);
  p.dport = rd16(b, o + 2);
  p.l4HdrLen = UDP_HLEN;
  if (!quoted && p.frag === FRAG_NONE) {
    const ulen = rd16(b, o + 4);
    // IPv6 jumbograms carry 0 here; they never pass ipv6Parse, so 0 is simply wrong.
    if (ulen < UDP_HLEN || o + ulen > p.ipEnd) return PARSE_BAD_LENGTH;
  }
  return PARSE_OK;
}
