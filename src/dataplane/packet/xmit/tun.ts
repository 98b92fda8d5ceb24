/**
 * Tunnelling (ip_vs_tunnel_xmit, "Tunnel"): the packet (TTL - 1) is put inside a new IPv4
 * header to the real server, IPIP (protocol 4, or 41 for IPv6 inside), GUE (UDP to the
 * destination's tunnel port, a 4-byte GUE header, draft-ietf-intarea-gue) as ipvs_gue_encap
 * writes it, or GRE (RFC 2784, with the optional checksum) as ipvs_gre_encap writes it.
 * Outer source = the director's address, TTL = the inner TTL after the decrement, TOS copied (ECN encapsulated as INET_ECN_encapsulate does), DF copied from the inner IPv4
 * header while pmtu_disc=1. The usable MTU shrinks by the outer headers; a DF packet that no
 * longer fits gets "fragmentation needed" with that MTU. The outer header is written into the
 * frame's headroom, so nothing is copied but the Ethernet header.
 * IPv6 real servers (an outer IPv6 header) are not done here yet.
 */
import { csumAdd, csumFold, pseudoV4, rd16, wr16 } from '../frame/checksum.js';
import { ipv4Write, IP_DF } from '../frame/ipv4.js';
import { IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_UDP, type Parsed } from '../frame/parse.js';
import { decrementTtl, mtuOk } from './common.js';
import { D_GSO_TUNNEL, D_NO_NEIGH, D_TOO_BIG, D_UNSUPPORTED, type XmitEnv } from './env.js';
import { gsoSegmentLen, gsoSegments, gsoWriteSegment } from '../frame/gso.js';

export const IP_VS_CONN_F_TUNNEL_TYPE_IPIP = 0;
export const IP_VS_CONN_F_TUNNEL_TYPE_GUE = 1;
export const IP_VS_CONN_F_TUNNEL_TYPE_GRE = 2;
const IPPROTO_GRE = 47;
const GRE_CSUM = 0x8000;
export const IP_VS_TUNNEL_ENCAP_FLAG_CSUM = 1;
const GUE_HLEN = 4;
const UDP_HLEN = 8;

/** The ECN codepoint of the outer header (INET_ECN_encapsulate: CE becomes ECT(0)). */
function ecnEncap(outerTos: number, inner: number): number {
  const tos = outerTos & ~3;
  const ecn = inner & 3;
  return tos | (ecn === 3 ? 2 : ecn);
}

/**
 * Encapsulates p for the real server dAddr (IPv4) through the neighbour `slot`. `tunType`,
 * `tunPort`, `tunFlags` are the destination's tunnel settings; `flowHash` picks the GUE source
 * port as udp_flow_src_port does (a hash of the inner flow into the ephemeral range).
 */
export function tunXmit(
  env: XmitEnv, p: Parsed, slot: number, dAddr: number, tunType: number, tunPort: number, tunFlags: number,
  flowHash: number, gso: number,
): boolean {
  if (slot < 0) {
    env.drops[D_NO_NEIGH]++;
    return false;
  }
  if (tunType !== IP_VS_CONN_F_TUNNEL_TYPE_IPIP && tunType !== IP_VS_CONN_F_TUNNEL_TYPE_GUE && tunType !== IP_VS_CONN_F_TUNNEL_TYPE_GRE) {
    env.drops[D_UNSUPPORTED]++;
    return false;
  }
  const encap = encapLen(tunType, tunFlags);
  if (!decrementTtl(env, p)) return false;
  if (gso !== 0) return tunXmitGso(env, p, slot, dAddr, tunType, tunPort, tunFlags, flowHash, gso & 0xffff, encap);
  if (!mtuOk(env, p, env.mtu - encap, false)) return false;
  const b = env.b;
  const inner = p.l3;
  const innerLen = p.ipEnd - inner;
  const l3 = inner - encap;
  const off = l3 - 14;
  if (off < 0) {
    env.drops[D_UNSUPPORTED]++;
    return false;
  }
  writeOuter(env, l3, inner, innerLen, p.af === 2, p.ttl, dAddr, tunType, tunPort, tunFlags, flowHash, encap);
  env.setEthToNeigh(off, slot);
  wr16(b, off + 12, 0x0800);
  env.forwarded[2]++;
  return env.push(off, 14 + encap + innerLen, 0, 0, 0, 0);
}

/**
 * A GSO super-frame cannot be encapsulated as one (virtio_net_hdr has no IPIP/GUE GSO type):
 * cut it into segments here, each encapsulated on its own. A segment that does not fit the
 * tunnel MTU with DF set gets "fragmentation needed" back, as ip_finish_output_gso would.
 */
function tunXmitGso(
  env: XmitEnv, p: Parsed, slot: number, dAddr: number, tunType: number, tunPort: number, tunFlags: number,
  flowHash: number, mss: number, encap: number,
): boolean {
  const n = gsoSegments(p, mss);
  if (n === 0) {
    env.drops[D_GSO_TUNNEL]++;
    return false;
  }
  const first = gsoSegmentLen(p, mss, 0);
  if (first > env.mtu - encap) {
    const df = p.af !== 2 || (rd16(env.b, p.l3 + 6) & IP_DF) !== 0;
    if (df) {
      // Quote the super-frame's headers only (as the kernel quotes the segment it could not send).
      mtuOk(env, p, env.mtu - encap, false);
      return false;
    }
    env.drops[D_TOO_BIG]++;
    return false;
  }
  const b = env.b;
  for (let k = 0; k < n; k++) {
    const segLen = gsoSegmentLen(p, mss, k);
    const off = env.alloc(14 + encap + segLen);
    if (off < 0) {
      env.drops[D_GSO_TUNNEL]++;
      return false;
    }
    const l3 = off + 14;
    const inner = l3 + encap;
    gsoWriteSegment(b, p, mss, k, n, inner);
    writeOuter(env, l3, inner, segLen, p.af === 2, p.ttl, dAddr, tunType, tunPort, tunFlags, flowHash, encap);
    env.setEthToNeigh(off, slot);
    wr16(b, off + 12, 0x0800);
    env.forwarded[2]++;
    if (!env.push(off, 14 + encap + segLen, 0, 0, 0, 0)) return false;
  }
  return true;
}

/**
 * Bytes put in front of the inner packet: the outer IPv4 header, plus UDP and GUE (8 + 4), or
 * GRE (4, 8 with a checksum: gre_calc_hlen), as __ip_vs_get_out_rt subtracts them from the MTU.
 */
export function encapLen(tunType: number, tunFlags: number): number {
  if (tunType === IP_VS_CONN_F_TUNNEL_TYPE_GUE) return 20 + UDP_HLEN + GUE_HLEN;
  if (tunType === IP_VS_CONN_F_TUNNEL_TYPE_GRE) return 20 + ((tunFlags & IP_VS_TUNNEL_ENCAP_FLAG_CSUM) !== 0 ? 8 : 4);
  return 20;
}

/** The outer IPv4 header (and UDP + GUE, or GRE header) at l3 for the inner datagram at `inner`. */
function writeOuter(
  env: XmitEnv, l3: number, inner: number, innerLen: number, v4: boolean, ttl: number, dAddr: number,
  tunType: number, tunPort: number, tunFlags: number, flowHash: number, encap: number,
): void {
  const b = env.b;
  const gue = tunType === IP_VS_CONN_F_TUNNEL_TYPE_GUE;
  const gre = tunType === IP_VS_CONN_F_TUNNEL_TYPE_GRE;
  const innerTos = v4 ? b[inner + 1] : ((b[inner] & 0x0f) << 4) | (b[inner + 1] >>> 4);
  const df = v4 && env.pmtuDisc && (rd16(b, inner + 6) & IP_DF) !== 0;
  ipv4Write(b, l3, ecnEncap(innerTos, innerTos), encap + innerLen, df ? 0 : env.ipId++, df, ttl,
    gue ? IPPROTO_UDP : gre ? IPPROTO_GRE : v4 ? IPPROTO_IPIP : IPPROTO_IPV6, env.local4, dAddr);
  if (gre) {
    // ipvs_gre_encap / gre_build_header: flags, protocol, then checksum + reserved with --tun-csum.
    const g = l3 + 20;
    const csum = (tunFlags & IP_VS_TUNNEL_ENCAP_FLAG_CSUM) !== 0;
    wr16(b, g, csum ? GRE_CSUM : 0);
    wr16(b, g + 2, v4 ? 0x0800 : 0x86dd);
    if (csum) {
      wr16(b, g + 4, 0);
      wr16(b, g + 6, 0);
      wr16(b, g + 4, ~csumFold(csumAdd(b, g, 8 + innerLen, 0)) & 0xffff);
    }
    return;
  }
  if (!gue) return;
  const u = l3 + 20;
  const sport = 32768 + (flowHash % 28232); // the default ip_local_port_range, 32768..60999
  const ulen = UDP_HLEN + GUE_HLEN + innerLen;
  wr16(b, u, sport);
  wr16(b, u + 2, tunPort);
  wr16(b, u + 4, ulen);
  wr16(b, u + 6, 0);
  b[u + 8] = 0; // version 0, C 0, hlen 0
  b[u + 9] = v4 ? IPPROTO_IPIP : IPPROTO_IPV6;
  wr16(b, u + 10, 0);
  if ((tunFlags & IP_VS_TUNNEL_ENCAP_FLAG_CSUM) !== 0) {
    let c = ~csumFold(csumAdd(b, u, ulen, pseudoV4(env.local4, dAddr, IPPROTO_UDP, ulen))) & 0xffff;
    if (c === 0) c = 0xffff;
    wr16(b, u + 6, c);
  }
}
