/**
 * The packet dataplane's per-frame work, without any I/O: given a batch of received frames
 * (rxMeta rows over the shared buffer) it answers ARP for the VIPs, learns neighbours,
 * completes partial checksums, fills the reused Flow from the headers, asks the core
 * (Ipvs.inPacket / outPacket, ip_vs_in_hook / ip_vs_out_hook) and transmits with the
 * connection's method (xmit/dr.ts, nat.ts, tun.ts), queuing frames to send as txMeta rows.
 * index.ts feeds it from the AF_PACKET socket; tests feed it recorded frames.
 * Per frame it allocates nothing.
 */
import { AF_INET, AF_INET6, type IpAddr } from '../../core/addr.js';
import {
  type Dest, IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_FWD_MASK, IP_VS_CONN_F_LOCALNODE, IP_VS_CONN_F_MASQ, IP_VS_CONN_F_TUNNEL,
} from '../../core/dest.js';
import { Flow } from '../../core/flow.js';
import {
  type Ipvs, VERDICT_BYPASS, VERDICT_DROP, VERDICT_FORWARD, VERDICT_NO_DEST, VERDICT_TABLE_FULL,
} from '../../core/ipvs.js';
import { ARPOP_REQUEST, arpAnswerInPlace, arpIsEthIpv4, arpOp, arpSpa, arpTpa, arpWrite, ARP_SHA } from './frame/arp.js';
import { completePartial, rd16, rd32 } from './frame/checksum.js';
import { FragTable } from './frag.js';
import { AddrSet6 } from './addr-set6.js';
import {
  ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, icmpIsIpvsError, icmpv6IsError, ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH,
  mayAnswerWithError,
} from './frame/icmp.js';
import { ipv4Daddr, ipv4Saddr } from './frame/ipv4.js';
import { ND_NA, ND_NS, ndAnswerInPlace, ndLinkAddr, ndTarget, ndValid, ndWriteSolicit } from './frame/nd.js';
import { ipv6DaddrWord, ipv6SaddrWord } from './frame/ipv6.js';
import {
  FRAG_FIRST, FRAG_LATER, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, PARSE_NOT_IP, PARSE_OK, PARSE_TRUNCATED, Parsed,
  parseFrame, parseQuoted,
} from './frame/parse.js';
import {
  F_GSO, F_NEEDS_CSUM, F_TRUNC, F_VLAN, M_CSUM_OFF, M_CSUM_START, M_FLAGS, M_GSO, M_LEN, M_OFF, M_PKTTYPE, META_STRIDE,
  PACKET_OTHERHOST, PACKET_OUTGOING,
} from './native.js';
import { NeighTable } from './neigh.js';
import { drXmit } from './xmit/dr.js';
import {
  D_BYPASS, D_FRAGMENT, D_ICMP_NO_CONN, D_IPVS_DROP, D_MALFORMED, D_NO_DEST, D_NOT_OURS, D_TABLE_FULL, D_TRUNCATED,
  D_UNSUPPORTED, D_VLAN, V6_SLOT_BASE, XmitEnv,
} from './xmit/env.js';
import { natIcmpIn, natIcmpOut, natXmitIn, natXmitOut, PeerMacs } from './xmit/nat.js';
import { tunXmit } from './xmit/tun.js';

export interface ForwarderConfig {
  ipvs: Ipvs;
  buffer: Uint8Array;
  txMeta: Int32Array;
  txCap: number;
  scratchStart: number;
  scratchEnd: number;
  mac: Uint8Array;
  mtu: number;
  /** The director's IPv4 address on the link (0: none; then no ARP requests can be sent). */
  local4: number;
  /** Answer ARP for the VIPs (they are not configured on the interface). */
  answerArp: boolean;
  /** Next hop for real servers outside `onLink4`: IPv4 gateway (0: every real server is on the link). */
  gateway4?: number;
  /** The link's IPv4 prefix, [network, prefix length]; real servers inside are their own next hop. */
  onLink4?: readonly [number, number];
  /** The director's IPv6 address on the link (16 bytes), the source of neighbour solicitations. */
  local6?: Uint8Array;
}

/** Per-destination facts the hot path needs, cached when the table changes. */
interface DestEntry { nexthop: number; v6: boolean; nat: boolean }

export class Forwarder {
  readonly ipvs: Ipvs;
  readonly env: XmitEnv;
  readonly neigh = new NeighTable();
  /** IPv6 neighbours: the same table keyed by small integers, one per address. */
  readonly neigh6 = new NeighTable();
  readonly #key6 = new Map<string, number>();
  readonly #addr6 = new Map<number, [number, number, number, number]>();
  #nextKey6 = 1;
  readonly peer = new PeerMacs();
  readonly p = new Parsed();
  readonly q = new Parsed();
  readonly flow = new Flow();
  readonly b: Uint8Array;
  /** VIP (IPv4) → number of services on it. */
  readonly vip4 = new Map<number, number>();
  readonly vip6 = new AddrSet6();
  /** NAT real server addresses (IPv4) → number of dests. */
  readonly nat4 = new Map<number, number>();
  readonly nat6 = new AddrSet6();
  readonly dests = new Map<Dest, DestEntry>();
  answerArp: boolean;
  gateway4: number;
  onLinkNet: number;
  onLinkMask: number;
  /** Frames seen (for stats and benches). */
  rxFrames = 0;
  /** GSO super-frames among them (sent on with their GSO facts, or cut for a tunnel). */
  gsoFrames = 0;
  readonly #ask = new Uint32Array(64);
  /** Datagrams whose first fragment was forwarded. */
  readonly frags = new FragTable();
  #fragKey: string | null = null;
  readonly #fragDir = new Int8Array(1);

  constructor(c: ForwarderConfig) {
    this.ipvs = c.ipvs;
    this.b = c.buffer;
    this.env = new XmitEnv(c.buffer, c.txMeta, c.txCap, c.scratchStart, c.scratchEnd, c.mac, c.mtu, this.neigh);
    this.env.local4 = c.local4 >>> 0;
    this.answerArp = c.answerArp;
    this.gateway4 = (c.gateway4 ?? 0) >>> 0;
    const [net, plen] = c.onLink4 ?? [0, 0];
    this.onLinkMask = plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0;
    this.onLinkNet = (net & this.onLinkMask) >>> 0;
    if (c.local6) this.env.local6.set(c.local6.subarray(0, 16));
    this.env.neigh6 = this.neigh6;
  }

  /** The neighbour key of an IPv6 address (slow path: builds a string). */
  #v6key(w0: number, w1: number, w2: number, w3: number, create: boolean): number {
    const s = key6(w0, w1, w2, w3);
    let k = this.#key6.get(s);
    if (k === undefined && create) {
      k = this.#nextKey6++;
      this.#key6.set(s, k);
      this.#addr6.set(k, [w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0]);
    }
    return k ?? -1;
  }

  // ---------------------------------------------------------------- control plane (slow path)

  addVip(a: IpAddr): void {
    if (a.af === AF_INET) this.vip4.set(a.w0, (this.vip4.get(a.w0) ?? 0) + 1);
    else this.vip6.add(a.w0, a.w1, a.w2, a.w3);
  }

  delVip(a: IpAddr): void {
    if (a.af === AF_INET) dec(this.vip4, a.w0);
    else this.vip6.delete(a.w0, a.w1, a.w2, a.w3);
  }

  /** The next hop of an IPv4 real server: itself when on the link (or no gateway), else the gateway. */
  nexthopOf(addr: number): number {
    if (this.gateway4 === 0 || this.onLinkMask === 0) return addr;
    return ((addr & this.onLinkMask) >>> 0) === this.onLinkNet ? addr : this.gateway4;
  }

  addDest(d: Dest): void {
    if (this.dests.has(d)) return;
    const v6 = d.addr.af === AF_INET6;
    const nexthop = v6 ? this.#v6key(d.addr.w0, d.addr.w1, d.addr.w2, d.addr.w3, true) : this.nexthopOf(d.addr.w0);
    const nat = (d.connFlags & IP_VS_CONN_F_FWD_MASK) === IP_VS_CONN_F_MASQ;
    this.dests.set(d, { nexthop, v6, nat });
    if (v6) this.neigh6.want(nexthop); else this.neigh.want(nexthop);
    if (nat) {
      if (v6) this.nat6.add(d.addr.w0, d.addr.w1, d.addr.w2, d.addr.w3);
      else this.nat4.set(d.addr.w0, (this.nat4.get(d.addr.w0) ?? 0) + 1);
    }
  }

  delDest(d: Dest): void {
    const e = this.dests.get(d);
    if (!e) return;
    this.dests.delete(d);
    if (e.v6) this.neigh6.release(e.nexthop); else this.neigh.release(e.nexthop);
    // The method may have been edited since: undo what addDest did, as recorded then.
    if (!e.nat) return;
    if (e.v6) this.nat6.delete(d.addr.w0, d.addr.w1, d.addr.w2, d.addr.w3);
    else dec(this.nat4, d.addr.w0);
  }

  /** True when the MAC of the next hop towards a (IPv4 or IPv6) real server is known. */
  resolved(a: IpAddr): boolean {
    if (a.af === AF_INET) return this.neigh.lookup(this.nexthopOf(a.w0)) >= 0;
    const k = this.#v6key(a.w0, a.w1, a.w2, a.w3, false);
    return k >= 0 && this.neigh6.lookup(k) >= 0;
  }

  /** Writes ARP requests for neighbours that are due; returns how many frames were queued. */
  housekeeping(nowMs: number): number {
    let sent = 0;
    if (this.frags.size > 0) this.frags.expire(nowMs);
    if (this.env.local4 !== 0) {
      const n = this.neigh.due(nowMs, this.#ask);
      for (let i = 0; i < n; i++) {
        const o = this.env.alloc(64);
        if (o < 0) break;
        const len = arpWrite(this.b, o, ARPOP_REQUEST, this.env.mac, 0, this.env.local4, this.#ask[i], null, 0);
        if (this.env.push(o, len, 0, 0, 0, 0)) sent++;
      }
    }
    if (this.env.local6.some((x) => x !== 0)) {
      const n = this.neigh6.due(nowMs, this.#ask);
      for (let i = 0; i < n; i++) {
        const a = this.#addr6.get(this.#ask[i]);
        const o = this.env.alloc(96);
        if (a === undefined || o < 0) break;
        const len = ndWriteSolicit(this.b, o, this.env.mac, this.env.local6, a[0], a[1], a[2], a[3]);
        if (this.env.push(o, len, 0, 0, 0, 0)) sent++;
      }
    }
    return sent;
  }

  /** Queues a gratuitous ARP for each IPv4 VIP (RFC 5227 announcement). */
  announce(): number {
    let sent = 0;
    for (const vip of this.vip4.keys()) {
      const o = this.env.alloc(64);
      if (o < 0) break;
      const len = arpWrite(this.b, o, ARPOP_REQUEST, this.env.mac, 0, vip, vip, null, 0);
      if (this.env.push(o, len, 0, 0, 0, 0)) sent++;
    }
    return sent;
  }

  // ---------------------------------------------------------------- data plane

  /** Handles rx frames [0, n) of rxMeta; queued frames are in env (txN rows). */
  processBatch(rx: Int32Array, n: number, nowMs: number): void {
    for (let i = 0; i < n; i++) this.#frame(rx, i * META_STRIDE, nowMs);
  }

  #frame(rx: Int32Array, m: number, nowMs: number): void {
    const env = this.env;
    const b = this.b;
    const p = this.p;
    const off = rx[m + M_OFF];
    const len = rx[m + M_LEN];
    const flags = rx[m + M_FLAGS];
    this.rxFrames++;
    const pkttype = rx[m + M_PKTTYPE];
    if (pkttype === PACKET_OTHERHOST || pkttype === PACKET_OUTGOING) return;
    if ((flags & F_TRUNC) !== 0) { env.drops[D_TRUNCATED]++; return; }
    const st = parseFrame(b, off, len, p);
    if (st === PARSE_NOT_IP) {
      if (p.ethType === 0x0806) this.#arp(off, p.l3, p.end, nowMs);
      return;
    }
    if ((flags & F_VLAN) !== 0) { env.drops[D_VLAN]++; return; }
    if (st !== PARSE_OK) { env.drops[st === PARSE_TRUNCATED ? D_TRUNCATED : D_MALFORMED]++; return; }
    if (p.frag === FRAG_LATER) {
      this.#laterFragment(nowMs);
      return;
    }
    this.#fragKey = p.frag === FRAG_FIRST ? this.#datagramKey() : null;

    // Checksums veth left partial: complete them, unless the frame is a GSO super-frame that the
    // kernel will cut and checksum per segment on the way out.
    const gsoFrame = (flags & F_GSO) !== 0;
    let partial = false;
    let txFlags = 0;
    let csumStart = 0;
    let csumOff = 0;
    let gso = 0;
    if ((flags & F_NEEDS_CSUM) !== 0 && p.l4 >= 0) {
      csumStart = rx[m + M_CSUM_START];
      csumOff = rx[m + M_CSUM_OFF];
      if (csumStart === 0) {
        csumStart = p.l4 - off;
        csumOff = p.proto === IPPROTO_TCP ? 16 : p.proto === IPPROTO_UDP ? 6 : 2;
      }
      if (gsoFrame) {
        this.gsoFrames++;
        partial = true;
        txFlags = F_NEEDS_CSUM | F_GSO;
        gso = rx[m + M_GSO];
      } else if (!completePartial(b, off + csumStart, csumOff, p.ipEnd, p.proto === IPPROTO_UDP)) {
        env.drops[D_MALFORMED]++;
        return;
      }
    }

    const f = this.flow;
    f.af = p.af === 2 ? AF_INET : AF_INET6;
    f.protocol = p.proto;
    f.fwmark = 0;
    f.sport = p.sport;
    f.dport = p.dport;
    f.tcpFlags = p.proto === IPPROTO_TCP ? p.tcpFlags : 0;
    f.len = p.ipEnd - p.l3;
    if (p.af === 2) {
      f.s0 = ipv4Saddr(b, p.l3); f.s1 = 0; f.s2 = 0; f.s3 = 0;
      f.d0 = ipv4Daddr(b, p.l3); f.d1 = 0; f.d2 = 0; f.d3 = 0;
    } else {
      f.s0 = ipv6SaddrWord(b, p.l3, 0); f.s1 = ipv6SaddrWord(b, p.l3, 1); f.s2 = ipv6SaddrWord(b, p.l3, 2); f.s3 = ipv6SaddrWord(b, p.l3, 3);
      f.d0 = ipv6DaddrWord(b, p.l3, 0); f.d1 = ipv6DaddrWord(b, p.l3, 1); f.d2 = ipv6DaddrWord(b, p.l3, 2); f.d3 = ipv6DaddrWord(b, p.l3, 3);
    }

    if (p.proto === IPPROTO_ICMPV6 && ndValid(b, p)) {
      this.#nd(nowMs);
      return;
    }
    const toVip = p.af === 2 ? this.vip4.has(f.d0) : this.vip6.has(f.d0, f.d1, f.d2, f.d3);
    if (p.proto === IPPROTO_ICMP || p.proto === IPPROTO_ICMPV6) {
      this.#icmp(toVip);
      return;
    }
    if (toVip) {
      this.#in(f, nowMs, partial, txFlags, csumStart, csumOff, gso);
      return;
    }
    const fromNat = p.af === 2 ? this.nat4.has(f.s0) : this.nat6.has(f.s0, f.s1, f.s2, f.s3);
    if (fromNat) {
      this.#out(f, nowMs, partial, txFlags, csumStart, csumOff, gso);
      return;
    }
    env.drops[D_NOT_OURS]++;
  }

  #in(f: Flow, nowMs: number, partial: boolean, txFlags: number, csumStart: number, csumOff: number, gso: number): void {
    const ipvs = this.ipvs;
    const env = this.env;
    const p = this.p;
    const v = ipvs.inPacket(f, nowMs);
    if (v === VERDICT_FORWARD) {
      const c = ipvs.curConn;
      const d = ipvs.curDest;
      if (this.#fragKey !== null) this.frags.remember(this.#fragKey, c, 0, nowMs);
      const method = ipvs.connFlags(c) & IP_VS_CONN_F_FWD_MASK;
      const slot = this.#slotOf(d, c);
      switch (method) {
        case IP_VS_CONN_F_DROUTE:
        case IP_VS_CONN_F_LOCALNODE:
          drXmit(env, p, slot, txFlags, csumStart, csumOff, gso);
          return;
        case IP_VS_CONN_F_MASQ:
          this.peer.store(c, this.b, p.off + 6);
          natXmitIn(env, p, slot, ipvs.connAddrWord(c, 2, 0), ipvs.connAddrWord(c, 2, 1), ipvs.connAddrWord(c, 2, 2),
            ipvs.connAddrWord(c, 2, 3), ipvs.connDport(c), partial, txFlags, csumStart, csumOff, gso);
          return;
        case IP_VS_CONN_F_TUNNEL:
          if (d === null || d.addr.af !== AF_INET) { env.drops[D_UNSUPPORTED]++; return; }
          tunXmit(env, p, slot, d.addr.w0, d.tunType, d.tunPort, d.tunFlags,
            (f.s0 ^ f.d0 ^ ((f.sport << 16) | f.dport) ^ f.protocol) >>> 0, gso);
          return;
        default:
          env.drops[D_UNSUPPORTED]++;
          return;
      }
    }
    this.#verdictDrop(v);
  }

  #out(f: Flow, nowMs: number, partial: boolean, txFlags: number, csumStart: number, csumOff: number, gso: number): void {
    const ipvs = this.ipvs;
    const v = ipvs.outPacket(f, nowMs);
    if (v === VERDICT_FORWARD) {
      const c = ipvs.curConn;
      if (this.#fragKey !== null) this.frags.remember(this.#fragKey, c, 1, nowMs);
      natXmitOut(this.env, this.p, this.peer, c, ipvs.connAddrWord(c, 1, 0), ipvs.connAddrWord(c, 1, 1),
        ipvs.connAddrWord(c, 1, 2), ipvs.connAddrWord(c, 1, 3), ipvs.connVport(c), partial, txFlags, csumStart, csumOff, gso);
      return;
    }
    this.#verdictDrop(v);
  }

  /** (af, source, destination, IP ID, protocol) of the datagram p belongs to. */
  #datagramKey(): string {
    const b = this.b;
    const p = this.p;
    if (p.af === 2) return `4:${rd32(b, p.l3 + 12)}:${rd32(b, p.l3 + 16)}:${rd16(b, p.l3 + 4)}:${p.proto}`;
    let k = `6:${rd32(b, p.fragHdr + 4)}:${p.proto}`;
    for (let i = 8; i < 40; i += 4) k += `:${rd32(b, p.l3 + i)}`;
    return k;
  }

  /** A fragment without transport header: sent the way its datagram's first fragment went. */
  #laterFragment(nowMs: number): void {
    const env = this.env;
    const p = this.p;
    const ipvs = this.ipvs;
    const c = this.frags.lookup(this.#datagramKey(), nowMs, this.#fragDir);
    if (c < 0 || !ipvs.conns.inUse(c)) { env.drops[D_FRAGMENT]++; return; }
    if (this.#fragDir[0] === 1) {
      natXmitOut(env, p, this.peer, c, ipvs.connAddrWord(c, 1, 0), ipvs.connAddrWord(c, 1, 1), ipvs.connAddrWord(c, 1, 2),
        ipvs.connAddrWord(c, 1, 3), 0, false, 0, 0, 0, 0);
      return;
    }
    const d = ipvs.connDest(c);
    const slot = this.#slotOf(d, c);
    switch (ipvs.connFlags(c) & IP_VS_CONN_F_FWD_MASK) {
      case IP_VS_CONN_F_DROUTE:
      case IP_VS_CONN_F_LOCALNODE:
        drXmit(env, p, slot, 0, 0, 0, 0);
        return;
      case IP_VS_CONN_F_MASQ:
        natXmitIn(env, p, slot, ipvs.connAddrWord(c, 2, 0), ipvs.connAddrWord(c, 2, 1), ipvs.connAddrWord(c, 2, 2),
          ipvs.connAddrWord(c, 2, 3), 0, false, 0, 0, 0, 0);
        return;
      case IP_VS_CONN_F_TUNNEL:
        if (d === null || d.addr.af !== AF_INET) { env.drops[D_UNSUPPORTED]++; return; }
        tunXmit(env, p, slot, d.addr.w0, d.tunType, d.tunPort, d.tunFlags, (ipvs.connCaddr4(c) ^ ipvs.connVaddr4(c)) >>> 0, 0);
        return;
      default:
        env.drops[D_UNSUPPORTED]++;
    }
  }

  #verdictDrop(v: number): void {
    const env = this.env;
    const p = this.p;
    switch (v) {
      case VERDICT_NO_DEST:
        // ip_vs_leave: port unreachable to the client, from the VIP it addressed.
        if (mayAnswerWithError(p)) {
          if (p.af === 2) env.icmpError(p, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, 0);
          else env.icmpError(p, ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, 0, 0);
        }
        env.drops[D_NO_DEST]++;
        return;
      case VERDICT_DROP: env.drops[D_IPVS_DROP]++; return;
      case VERDICT_TABLE_FULL: env.drops[D_TABLE_FULL]++; return;
      case VERDICT_BYPASS: env.drops[D_BYPASS]++; return;
      default: env.drops[D_NOT_OURS]++; // NOT_OURS, ACCEPT: the director's own stack gets its copy
    }
  }

  /**
   * ICMP errors about a connection (ip_vs_in_icmp, ip_vs_out_icmp): from a client about a reply
   * (to a VIP), or from a NAT real server about a request. Other ICMP (echo to the VIP) is left
   * to the director's stack, as IPVS leaves it.
   */
  #icmp(toVip: boolean): void {
    const p = this.p;
    const q = this.q;
    const env = this.env;
    const isErr = p.af === 2 ? icmpIsIpvsError(p.icmpType) : icmpv6IsError(p.icmpType);
    if (!isErr) { env.drops[D_NOT_OURS]++; return; }
    if (parseQuoted(this.b, p.l4 + 8, p.ipEnd, p.af, q) !== PARSE_OK || q.l4 < 0 || (q.proto !== IPPROTO_TCP && q.proto !== IPPROTO_UDP)) {
      env.drops[D_ICMP_NO_CONN]++;
      return;
    }
    const ipvs = this.ipvs;
    const f = this.flow;
    f.af = p.af === 2 ? AF_INET : AF_INET6;
    f.protocol = q.proto;
    f.tcpFlags = 0;
    if (toVip) {
      // The quoted packet went VIP → client; look the entry up as client → VIP.
      this.#quotedAddrs(f);
      f.sport = q.dport;
      f.dport = q.sport;
      const c = ipvs.conns.findIn(f);
      if (c < 0) { env.drops[D_ICMP_NO_CONN]++; return; }
      const d = ipvs.connDest(c);
      const slot = this.#slotOf(d, c);
      const method = ipvs.connFlags(c) & IP_VS_CONN_F_FWD_MASK;
      if (method === IP_VS_CONN_F_MASQ) {
        natIcmpIn(env, p, q, slot, ipvs.connAddrWord(c, 2, 0), ipvs.connAddrWord(c, 2, 1), ipvs.connAddrWord(c, 2, 2),
          ipvs.connAddrWord(c, 2, 3), ipvs.connDport(c));
      } else if (method === IP_VS_CONN_F_DROUTE) {
        drXmit(env, p, slot, 0, 0, 0, 0);
      } else if (method === IP_VS_CONN_F_TUNNEL && d !== null && d.addr.af === AF_INET) {
        tunXmit(env, p, slot, d.addr.w0, d.tunType, d.tunPort, d.tunFlags, f.s0 >>> 0, 0);
      } else {
        env.drops[D_UNSUPPORTED]++;
      }
      return;
    }
    // From a real server: the quoted packet went client → real server.
    this.#quotedAddrs(f);
    f.sport = q.dport;
    f.dport = q.sport;
    const fromNat = p.af === 2 ? this.nat4.has(f.s0) : this.nat6.has(f.s0, f.s1, f.s2, f.s3);
    if (!fromNat) { env.drops[D_NOT_OURS]++; return; }
    const c = ipvs.conns.findOut(f);
    if (c < 0) { env.drops[D_ICMP_NO_CONN]++; return; }
    natIcmpOut(env, p, q, this.peer, c, ipvs.connAddrWord(c, 1, 0), ipvs.connAddrWord(c, 1, 1), ipvs.connAddrWord(c, 1, 2),
      ipvs.connAddrWord(c, 1, 3), ipvs.connVport(c));
  }

  /** Flow addresses from the quoted packet, swapped: f.s = quoted destination, f.d = quoted source. */
  #quotedAddrs(f: Flow): void {
    const b = this.b;
    const q = this.q;
    if (q.af === 2) {
      f.s0 = rd32(b, q.l3 + 16); f.s1 = 0; f.s2 = 0; f.s3 = 0;
      f.d0 = rd32(b, q.l3 + 12); f.d1 = 0; f.d2 = 0; f.d3 = 0;
    } else {
      f.s0 = rd32(b, q.l3 + 24); f.s1 = rd32(b, q.l3 + 28); f.s2 = rd32(b, q.l3 + 32); f.s3 = rd32(b, q.l3 + 36);
      f.d0 = rd32(b, q.l3 + 8); f.d1 = rd32(b, q.l3 + 12); f.d2 = rd32(b, q.l3 + 16); f.d3 = rd32(b, q.l3 + 20);
    }
  }

  /** The neighbour slot to send a connection's packets to, or -1 while unresolved. */
  #slotOf(d: Dest | null, c: number): number {
    if (d !== null) {
      const e = this.dests.get(d);
      if (e !== undefined) return e.v6 ? v6slot(this.neigh6.lookup(e.nexthop)) : this.neigh.lookup(e.nexthop);
    }
    if (this.ipvs.connDaf(c) !== AF_INET) {
      const k = this.#v6key(this.ipvs.connAddrWord(c, 2, 0), this.ipvs.connAddrWord(c, 2, 1), this.ipvs.connAddrWord(c, 2, 2), this.ipvs.connAddrWord(c, 2, 3), false);
      return k < 0 ? -1 : v6slot(this.neigh6.lookup(k));
    }
    return this.neigh.lookup(this.nexthopOf(this.ipvs.connAddrWord(c, 2, 0)));
  }

  /** Neighbour discovery: learn wanted neighbours, answer solicitations for IPv6 VIPs. */
  #nd(nowMs: number): void {
    const b = this.b;
    const p = this.p;
    // NA: the target's address; NS: the solicitor's (its source link-layer option).
    const at = p.icmpType === ND_NA ? ndTarget(p) : p.l3 + 8;
    const mac = ndLinkAddr(b, p);
    if (mac >= 0) {
      const k = this.#v6key(rd32(b, at), rd32(b, at + 4), rd32(b, at + 8), rd32(b, at + 12), false);
      if (k >= 0) this.neigh6.learn(k, b, mac, nowMs);
    }
    if (p.icmpType === ND_NS && this.answerArp && this.vip6.size > 0) {
      const t = ndTarget(p);
      if (this.vip6.has(rd32(b, t), rd32(b, t + 4), rd32(b, t + 8), rd32(b, t + 12))) {
        const len = ndAnswerInPlace(b, p, this.env.mac);
        if (len > 0) this.env.push(p.off, Math.max(len, p.end - p.off), 0, 0, 0, 0);
      }
    }
  }

  #arp(off: number, l3: number, end: number, nowMs: number): void {
    const b = this.b;
    if (!arpIsEthIpv4(b, l3, end)) return;
    const spa = arpSpa(b, l3);
    // RFC 826 merge: any ARP from a wanted address refreshes it.
    if (spa !== 0) this.neigh.learn(spa, b, l3 + ARP_SHA, nowMs);
    if (this.answerArp && arpOp(b, l3) === ARPOP_REQUEST) {
      const tpa = arpTpa(b, l3);
      if (tpa !== spa && this.vip4.has(tpa)) {
        arpAnswerInPlace(b, off, l3, this.env.mac, 0);
        this.env.push(off, Math.max(end - off, 42), 0, 0, 0, 0);
      }
    }
  }
}

function v6slot(s: number): number {
  return s < 0 ? -1 : V6_SLOT_BASE + s;
}

function key6(w0: number, w1: number, w2: number, w3: number): string {
  return `${w0 >>> 0}:${w1 >>> 0}:${w2 >>> 0}:${w3 >>> 0}`;
}

function dec<K>(m: Map<K, number>, k: K): void {
  const n = m.get(k);
  if (n === undefined) return;
  if (n <= 1) m.delete(k); else m.set(k, n - 1);
}
