/**
 * In-place NAT rewrites with every checksum kept right, as ip_vs_nat_xmit and the protocol
 * handlers (tcp_dnat_handler, udp_snat_handler... in ip_vs_proto_tcp.c / _udp.c) do: the IPv4
 * header checksum and the transport checksum are updated incrementally (RFC 1624), never
 * recomputed, so a wrong checksum stays wrong for the end host to drop. `partial`: the
 * transport field holds a partial (pseudo-header) sum, so only address changes touch it.
 */
import {
  csumReplace16, csumReplace32, csumReplacePartial16, csumReplacePartial32, rd16, rd32, wr16, wr32,
} from './checksum.js';
import { ipv4SetDaddr, ipv4SetSaddr } from './ipv4.js';
import { IPPROTO_ICMP, IPPROTO_UDP, l4CsumField, type Parsed } from './parse.js';

/** Adjusts the transport checksum for a change of a 16-bit word covered by it. */
function l4Fix16(b: Uint8Array, p: Parsed, oldv: number, newv: number, pseudo: boolean, partial: boolean): void {
  const f = l4CsumField(p);
  if (f < 0 || f + 2 > p.ipEnd) return;
  if (p.proto === IPPROTO_ICMP && pseudo) return; // ICMPv4 has no pseudo header
  const c = rd16(b, f);
  if (partial) {
    if (pseudo) wr16(b, f, csumReplacePartial16(c, oldv, newv));
    return;
  }
  if (p.proto === IPPROTO_UDP && p.af === 2 && c === 0) return; // no checksum over IPv4
  let n = csumReplace16(c, oldv, newv);
  if (p.proto === IPPROTO_UDP && n === 0) n = 0xffff;
  wr16(b, f, n);
}

function l4Fix32(b: Uint8Array, p: Parsed, oldv: number, newv: number, partial: boolean): void {
  const f = l4CsumField(p);
  if (f < 0 || f + 2 > p.ipEnd) return;
  if (p.proto === IPPROTO_ICMP) return;
  const c = rd16(b, f);
  if (partial) {
    wr16(b, f, csumReplacePartial32(c, oldv, newv));
    return;
  }
  if (p.proto === IPPROTO_UDP && p.af === 2 && c === 0) return;
  let n = csumReplace32(c, oldv, newv);
  if (p.proto === IPPROTO_UDP && n === 0) n = 0xffff;
  wr16(b, f, n);
}

export function rewriteDaddrV4(b: Uint8Array, p: Parsed, addr: number, partial: boolean): void {
  const old = rd32(b, p.l3 + 16);
  ipv4SetDaddr(b, p.l3, addr);
  l4Fix32(b, p, old, addr >>> 0, partial);
}

export function rewriteSaddrV4(b: Uint8Array, p: Parsed, addr: number, partial: boolean): void {
  const old = rd32(b, p.l3 + 12);
  ipv4SetSaddr(b, p.l3, addr);
  l4Fix32(b, p, old, addr >>> 0, partial);
}

/** Rewrites the IPv6 address at byte offset `at` (l3+8 source, l3+24 destination). */
function rewriteAddrV6(b: Uint8Array, p: Parsed, at: number, w0: number, w1: number, w2: number, w3: number, partial: boolean): void {
  // ICMPv6, UDP and TCP over IPv6 all cover the pseudo header, so each word goes through l4Fix32.
  l4Fix32(b, p, rd32(b, at), w0 >>> 0, partial);
  wr32(b, at, w0);
  l4Fix32(b, p, rd32(b, at + 4), w1 >>> 0, partial);
  wr32(b, at + 4, w1);
  l4Fix32(b, p, rd32(b, at + 8), w2 >>> 0, partial);
  wr32(b, at + 8, w2);
  l4Fix32(b, p, rd32(b, at + 12), w3 >>> 0, partial);
  wr32(b, at + 12, w3);
}

export function rewriteDaddrV6(b: Uint8Array, p: Parsed, w0: number, w1: number, w2: number, w3: number, partial: boolean): void {
  rewriteAddrV6(b, p, p.l3 + 24, w0, w1, w2, w3, partial);
}

export function rewriteSaddrV6(b: Uint8Array, p: Parsed, w0: number, w1: number, w2: number, w3: number, partial: boolean): void {
  rewriteAddrV6(b, p, p.l3 + 8, w0, w1, w2, w3, partial);
}

/** Sets the transport destination port (TCP/UDP) with the checksum fixed. */
export function rewriteDport(b: Uint8Array, p: Parsed, port: number, partial: boolean): void {
  if (p.l4 < 0 || p.l4 + 4 > p.ipEnd) return;
  const old = rd16(b, p.l4 + 2);
  if (old === port) return;
  wr16(b, p.l4 + 2, port);
  l4Fix16(b, p, old, port, false, partial);
  p.dport = port;
}

export function rewriteSport(b: Uint8Array, p: Parsed, port: number, partial: boolean): void {
  if (p.l4 < 0 || p.l4 + 4 > p.ipEnd) return;
  const old = rd16(b, p.l4);
  if (old === port) return;
  wr16(b, p.l4, port);
  l4Fix16(b, p, old, port, false, partial);
  p.sport = port;
}

