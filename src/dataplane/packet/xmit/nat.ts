/**
 * Masquerading (ip_vs_nat_xmit and handle_response, "Masq"): requests get the real server's
 * address and port as destination, replies get the VIP and virtual port back as source, with
 * checksums updated incrementally (tcp_dnat_handler, udp_snat_handler...). ICMP errors that
 * quote a NAT connection are translated both ways (ip_vs_nat_icmp): outer address, quoted
 * addresses and ports, then the ICMP checksum over the whole message.
 * The director learns the MAC a client's packets came from (per connection slot), and sends
 * that connection's replies back to it: that is the router or the client itself.
 */
import { csumAdd, csumFold, pseudoV6, wr16 } from '../frame/checksum.js';
import { ethSetAddrs } from '../frame/eth.js';
import { IPPROTO_ICMPV6, type Parsed } from '../frame/parse.js';
import {
  rewriteDaddrV4, rewriteDaddrV6, rewriteDport, rewriteSaddrV4, rewriteSaddrV6, rewriteSport,
} from '../frame/rewrite.js';
import { decrementTtl, mtuOk } from './common.js';
import { D_NO_NEIGH, type XmitEnv } from './env.js';

/** Per-connection-slot MAC of the previous hop of the client (6 bytes each), grown on demand. */
export class PeerMacs {
  macs = new Uint8Array(1024 * 6);

  store(conn: number, b: Uint8Array, off: number): void {
    if ((conn + 1) * 6 > this.macs.length) {
      let n = this.macs.length;
      while ((conn + 1) * 6 > n) n *= 2;
      const m = new Uint8Array(n);
      m.set(this.macs);
      this.macs = m;
    }
    const o = conn * 6;
    for (let i = 0; i < 6; i++) this.macs[o + i] = b[off + i];
  }

  known(conn: number): boolean {
    const o = conn * 6;
    if (o + 6 > this.macs.length) return false;
    return (this.macs[o] | this.macs[o + 1] | this.macs[o + 2] | this.macs[o + 3] | this.macs[o + 4] | this.macs[o + 5]) !== 0;
  }
}

/** Client → real server: DNAT to (d0..d3, dport), TTL - 1, to the real server's MAC. */
export function natXmitIn(
  env: XmitEnv, p: Parsed, slot: number, d0: number, d1: number, d2: number, d3: number, dport: number,
  partial: boolean, txFlags: number, csumStart: number, csumOff: number, gso: number,
): boolean {
  if (slot < 0) {
    env.drops[D_NO_NEIGH]++;
    return false;
  }
  if (!decrementTtl(env, p)) return false;
  if (!mtuOk(env, p, env.mtu, gso !== 0)) return false;
  if (p.af === 2) rewriteDaddrV4(env.b, p, d0, partial);
  else rewriteDaddrV6(env.b, p, d0, d1, d2, d3, partial);
  rewriteDport(env.b, p, dport, partial);
  env.setEthToNeigh(p.off, slot);
  env.forwarded[0]++;
  return env.push(p.off, p.end - p.off, txFlags, csumStart, csumOff, gso);
}

/** Real server → client: SNAT to (v0..v3, vport), TTL - 1, to the MAC the client's packets came from. */
export function natXmitOut(
  env: XmitEnv, p: Parsed, peer: PeerMacs, conn: number, v0: number, v1: number, v2: number, v3: number, vport: number,
  partial: boolean, txFlags: number, csumStart: number, csumOff: number, gso: number,
): boolean {
  if (!peer.known(conn)) {
    env.drops[D_NO_NEIGH]++;
    return false;
  }
  if (!decrementTtl(env, p)) return false;
  if (!mtuOk(env, p, env.mtu, gso !== 0)) return false;
  if (p.af === 2) rewriteSaddrV4(env.b, p, v0, partial);
  else rewriteSaddrV6(env.b, p, v0, v1, v2, v3, partial);
  rewriteSport(env.b, p, vport, partial);
  ethSetAddrs(env.b, p.off, peer.macs, conn * 6, env.mac, 0);
  env.forwarded[4]++;
  return env.push(p.off, p.end - p.off, txFlags, csumStart, csumOff, gso);
}

/** The ICMP(v6) checksum over the whole message, after its quoted packet was rewritten. */
export function icmpRecompute(b: Uint8Array, p: Parsed): void {
  const l4 = p.l4;
  const len = p.ipEnd - l4;
  wr16(b, l4 + 2, 0);
  const init = p.proto === IPPROTO_ICMPV6 ? pseudoV6(b, p.l3, IPPROTO_ICMPV6, len) : 0;
  wr16(b, l4 + 2, ~csumFold(csumAdd(b, l4, len, init)) & 0xffff);
}

/**
 * An ICMP error from a client about a reply it got (quoting VIP:vport → client): the outer
 * destination becomes the real server, the quoted source the real server's address and port.
 */
export function natIcmpIn(
  env: XmitEnv, p: Parsed, q: Parsed, slot: number, d0: number, d1: number, d2: number, d3: number, dport: number,
): boolean {
  if (slot < 0) {
    env.drops[D_NO_NEIGH]++;
    return false;
  }
  if (!decrementTtl(env, p)) return false;
  if (p.af === 2) {
    rewriteDaddrV4(env.b, p, d0, false);
    rewriteSaddrV4(env.b, q, d0, false);
  } else {
    rewriteDaddrV6(env.b, p, d0, d1, d2, d3, false);
    rewriteSaddrV6(env.b, q, d0, d1, d2, d3, false);
  }
  rewriteSport(env.b, q, dport, false);
  icmpRecompute(env.b, p);
  env.setEthToNeigh(p.off, slot);
  env.forwarded[0]++;
  return env.push(p.off, p.end - p.off, 0, 0, 0, 0);
}

/**
 * An ICMP error from a real server about a request (quoting client → real server): the outer
 * source becomes the VIP, the quoted destination VIP:vport.
 */
export function natIcmpOut(
  env: XmitEnv, p: Parsed, q: Parsed, peer: PeerMacs, conn: number, v0: number, v1: number, v2: number, v3: number, vport: number,
): boolean {
  if (!peer.known(conn)) {
    env.drops[D_NO_NEIGH]++;
    return false;
  }
  if (!decrementTtl(env, p)) return false;
  if (p.af === 2) {
    rewriteSaddrV4(env.b, p, v0, false);
    rewriteDaddrV4(env.b, q, v0, false);
  } else {
    rewriteSaddrV6(env.b, p, v0, v1, v2, v3, false);
    rewriteDaddrV6(env.b, q, v0, v1, v2, v3, false);
  }
  rewriteDport(env.b, q, vport, false);
  icmpRecompute(env.b, p);
  ethSetAddrs(env.b, p.off, peer.macs, conn * 6, env.mac, 0);
  env.forwarded[4]++;
  return env.push(p.off, p.end - p.off, 0, 0, 0, 0);
}
