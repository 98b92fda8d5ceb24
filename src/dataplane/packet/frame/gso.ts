/**
 * Cutting a TCP GSO super-frame into wire-sized segments in userspace (what the kernel's
 * tcp_gso_segment does), for paths where the kernel cannot be asked to: an encapsulated frame
 * (virtio_net_hdr has no GSO type for IPIP/GUE). Each segment gets the headers of the
 * original with its own IP length and ID (IPv4: ID + k), sequence number (seq + k * mss),
 * flags (FIN and PSH only on the last, CWR only on the first) and full checksums.
 */
import { csumAdd, csumFold, pseudoV4, pseudoV6, rd16, rd32, wr16, wr32 } from './checksum.js';
import { IPPROTO_TCP, type Parsed } from './parse.js';

const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

/** Number of segments of at most `mss` payload bytes; 0 when p is not a TCP frame with a header. */
export function gsoSegments(p: Parsed, mss: number): number {
  if (p.proto !== IPPROTO_TCP || p.l4 < 0 || p.l4HdrLen < 20 || mss <= 0) return 0;
  const payload = p.ipEnd - (p.l4 + p.l4HdrLen);
  return payload <= 0 ? 1 : Math.ceil(payload / mss);
}

/** Bytes of the IP datagram of segment k (headers + its payload share). */
export function gsoSegmentLen(p: Parsed, mss: number, k: number): number {
  const hdr = p.l4 + p.l4HdrLen - p.l3;
  const payload = p.ipEnd - (p.l4 + p.l4HdrLen);
  return hdr + Math.max(0, Math.min(mss, payload - k * mss));
}

/**
 * Writes segment k of the frame p (in b) as an IP datagram at b[out] (a region not overlapping
 * the frame) and returns its length.
 */
export function gsoWriteSegment(b: Uint8Array, p: Parsed, mss: number, k: number, n: number, out: number): number {
  const hdr = p.l4 + p.l4HdrLen - p.l3;
  const payStart = p.l4 + p.l4HdrLen;
  const payload = p.ipEnd - payStart;
  const from = payStart + k * mss;
  const len = Math.max(0, Math.min(mss, payload - k * mss));
  b.copyWithin(out, p.l3, p.l3 + hdr);
  b.copyWithin(out + hdr, from, from + len);
  const total = hdr + len;
  const l4 = out + (p.l4 - p.l3);
  if (p.af === 2) {
    const ihl = p.ipHdrLen;
    wr16(b, out + 2, total);
    wr16(b, out + 4, (rd16(b, out + 4) + k) & 0xffff);
    wr16(b, out + 10, 0);
    wr16(b, out + 10, ~csumFold(csumAdd(b, out, ihl, 0)) & 0xffff);
  } else {
    wr16(b, out + 4, total - 40);
  }
  wr32(b, l4 + 4, (rd32(b, l4 + 4) + k * mss) >>> 0);
  let flags = b[l4 + 13];
  if (k !== n - 1) flags &= ~(TCP_FIN | TCP_PSH);
  if (k !== 0) flags &= ~TCP_CWR;
  b[l4 + 13] = flags;
  const tcpLen = total - (p.l4 - p.l3);
  wr16(b, l4 + 16, 0);
  const pseudo = p.af === 2
    ? pseudoV4(rd32(b, out + 12), rd32(b, out + 16), IPPROTO_TCP, tcpLen)
    : pseudoV6(b, out, IPPROTO_TCP, tcpLen);
  wr16(b, l4 + 16, ~csumFold(csumAdd(b, l4, tcpLen, pseudo)) & 0xffff);
  return total;
}
