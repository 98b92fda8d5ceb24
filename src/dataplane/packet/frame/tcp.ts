/**
 * TCP headers (RFC 9293): ports, flags and the data offset checks the kernel's tcp handlers
 * make (tcp_snat_handler/tcp_dnat_handler in ip_vs_proto_tcp.c need the full header). Any flag
 * combination is accepted here; the IPVS state machine decides what it means.
 */
import { rd16 } from './checksum.js';
import { PARSE_BAD_TCP, PARSE_OK, PARSE_TRUNCATED, type Parsed } from './parse.js';

export const TCP_HLEN = 20;
export const TCP_CSUM_OFFSET = 16;

export function tcpParse(b: Uint8Array, p: Parsed, quoted: boolean): number {
  const o = p.l4;
  // A quoted segment needs only the ports (RFC 792: 8 bytes of the original transport header).
  if (quoted) {
    if (o + 8 > p.ipEnd) return PARSE_TRUNCATED;
    p.sport = rd16(b, o);
    p.dport = rd16(b, o + 2);
    p.tcpFlags = o + 14 <= p.ipEnd ? b[o + 13] : 0;
    return PARSE_OK;
  }
  if (o + TCP_HLEN > p.ipEnd) return PARSE_TRUNCATED;
  const doff = (b[o + 12] >>> 4) * 4;
  if (doff < TCP_HLEN || o + doff > p.ipEnd) return PARSE_BAD_TCP;
  p.sport = rd16(b, o);
  p.dport = rd16(b, o + 2);
  p.tcpFlags = b[o + 13];
  p.l4HdrLen = doff;
  return PARSE_OK;
}
