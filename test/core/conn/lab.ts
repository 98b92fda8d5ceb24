// A small director for conn-layer tests: an Ipvs with a fake clock, ipvsadm-like helpers to add
// services and destinations, raw-packet-like senders, and `ipvsadm -L -n -c` style listings.
import { AF_INET, AF_INET6, type Af, IpAddr, parseAddr } from '../../../src/core/addr.js';
import {
  type Dest, IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_MASQ, IP_VS_CONN_F_TUNNEL,
} from '../../../src/core/dest.js';
import { Flow, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../../src/core/flow.js';
import { Ipvs, type IpvsOptions } from '../../../src/core/ipvs.js';
import {
  DEFAULT_NETMASK_V4, IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP,
  type Protocol, type VirtualService,
} from '../../../src/core/service.js';
import type { ServiceId } from '../../../src/core/service-table.js';
import { xorshift32 } from '../../../src/core/random.js';

export const TCP_FLAGS: Record<string, number> = { S: TCP_SYN, A: TCP_ACK, F: TCP_FIN, R: TCP_RST, P: TCP_PSH };

/** xorshift32: a deterministic RandomU32 for tests. */
export const seeded = (seed = 0x2545f491): (() => number) => xorshift32(seed);

export function ip(s: string): IpAddr {
  const a = parseAddr(s);
  if (!a) throw new Error(`bad address ${s}`);
  return a;
}

export interface SvcOpts {
  sched?: string;
  persistentS?: number;
  netmask?: number;
  ops?: boolean;
  fwmark?: number;
  af?: Af;
}

export interface DestOpts {
  method?: 'g' | 'm' | 'i';
  weight?: number;
  x?: number;
  y?: number;
}

const PROTO: Record<string, Protocol> = { tcp: IPPROTO_TCP, udp: IPPROTO_UDP, sctp: IPPROTO_SCTP };

export class Lab {
  readonly ipvs: Ipvs;
  now = 0;
  readonly f = new Flow();
  expired: number[] = [];

  constructor(opts: Partial<IpvsOptions> = {}) {
    this.ipvs = new Ipvs({ random: seeded(), ...opts });
    this.ipvs.onExpire((c) => this.expired.push(c));
  }

  /** `ipvsadm -A -t|-u|--sctp-service vip:port` or `-f mark` (proto 'fwm'). */
  svc(proto: 'tcp' | 'udp' | 'sctp' | 'fwm', vipPort: string, o: SvcOpts = {}): ServiceId {
    const fw = proto === 'fwm';
    let addr = new IpAddr(o.af ?? AF_INET, 0);
    let port = 0;
    if (!fw) {
      const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(vipPort);
      if (!m) throw new Error(vipPort);
      addr = ip(m[1]);
      port = Number(m[2]);
    }
    const af = fw ? (o.af ?? AF_INET) : addr.af;
    let flags = 0;
    if (o.persistentS !== undefined) flags |= IP_VS_SVC_F_PERSISTENT;
    if (o.ops) flags |= IP_VS_SVC_F_ONEPACKET;
    const id: ServiceId = { af, protocol: fw ? IPPROTO_TCP : PROTO[proto], addr, port, fwmark: fw ? Number(vipPort) : 0 };
    this.ipvs.table.addService({
      ...id, schedName: o.sched ?? 'rr', flags, timeoutS: o.persistentS ?? 0,
      netmask: o.netmask ?? (af === AF_INET6 ? 128 : DEFAULT_NETMASK_V4), peName: '',
    });
    return id;
  }

  service(id: ServiceId): VirtualService {
    const s = this.ipvs.table.find(id);
    if (!s) throw new Error('no service');
    return s;
  }

  /** `ipvsadm -a ... -r addr[:port]`; without a port the service port is used, as ipvsadm does. */
  dest(id: ServiceId, rs: string, o: DestOpts = {}): Dest {
    let host = rs;
    let port = id.port;
    const b = /^\[(.+)\](?::(\d+))?$/.exec(rs);
    if (b) {
      host = b[1];
      if (b[2] !== undefined) port = Number(b[2]);
    } else if (rs.split(':').length === 2) {
      [host] = rs.split(':');
      port = Number(rs.split(':')[1]);
    }
    const addr = ip(host);
    const method = o.method ?? 'g';
    return this.ipvs.table.addDest(id, {
      af: addr.af, addr, port,
      connFlags: method === 'm' ? IP_VS_CONN_F_MASQ : method === 'i' ? IP_VS_CONN_F_TUNNEL : IP_VS_CONN_F_DROUTE,
      weight: o.weight ?? 1, uThreshold: o.x ?? 0, lThreshold: o.y ?? 0, tunType: 0, tunPort: 0, tunFlags: 0,
    });
  }

  editDest(id: ServiceId, d: Dest, o: DestOpts): void {
    this.ipvs.table.editDest(id, {
      af: d.af, addr: d.addr, port: d.port, connFlags: d.connFlags & 7,
      weight: o.weight ?? d.weight, uThreshold: o.x ?? d.uThreshold, lThreshold: o.y ?? d.lThreshold,
      tunType: 0, tunPort: 0, tunFlags: 0,
    });
  }

  delDest(id: ServiceId, d: Dest): void {
    this.ipvs.table.delDest(id, d.af, d.addr, d.port);
  }

  #fill(proto: number, src: string, sport: number, dst: string, dport: number, len: number, mark: number): Flow {
    const f = this.f;
    const s = ip(src);
    const d = ip(dst);
    f.af = s.af;
    f.protocol = proto;
    f.setSaddr(s).setDaddr(d);
    f.sport = sport;
    f.dport = dport;
    f.len = len;
    f.fwmark = mark;
    return f;
  }

  /** A TCP segment from a client; flags as letters ("S", "A", "PA", "FA", "R"); 40 bytes + data. */
  tcp(src: string, sport: number, dst: string, dport: number, flags: string, data = 0, mark = 0): number {
    const f = this.#fill(IPPROTO_TCP, src, sport, dst, dport, (ip(src).af === AF_INET6 ? 60 : 40) + data, mark);
    f.tcpFlags = [...flags].reduce((a, c) => a | TCP_FLAGS[c], 0);
    return this.ipvs.inPacket(f, this.now);
  }

  /** A UDP datagram with `data` payload bytes (28 + data bytes on IPv4). */
  udp(src: string, sport: number, dst: string, dport: number, data = 10, mark = 0): number {
    const f = this.#fill(IPPROTO_UDP, src, sport, dst, dport, (ip(src).af === AF_INET6 ? 48 : 28) + data, mark);
    f.tcpFlags = 0;
    return this.ipvs.inPacket(f, this.now);
  }

  /** An SCTP packet whose (effective) first chunk is `chunk`. */
  sctp(src: string, sport: number, dst: string, dport: number, chunk: number, len = 68): number {
    const f = this.#fill(IPPROTO_SCTP, src, sport, dst, dport, len, 0);
    f.tcpFlags = chunk;
    return this.ipvs.inPacket(f, this.now);
  }

  /** A reply from a real server (src) to a client (dst), seen by the director (NAT). */
  tcpOut(src: string, sport: number, dst: string, dport: number, flags: string, data = 0): number {
    const f = this.#fill(IPPROTO_TCP, src, sport, dst, dport, 40 + data, 0);
    f.tcpFlags = [...flags].reduce((a, c) => a | TCP_FLAGS[c], 0);
    return this.ipvs.outPacket(f, this.now);
  }

  udpOut(src: string, sport: number, dst: string, dport: number, data = 10): number {
    const f = this.#fill(IPPROTO_UDP, src, sport, dst, dport, 28 + data, 0);
    f.tcpFlags = 0;
    return this.ipvs.outPacket(f, this.now);
  }

  /** Advance the clock and run the core's timers. */
  advance(ms: number): void {
    this.now += ms;
    this.ipvs.tick(this.now);
  }

  /**
   * `ipvsadm -L -n -c` lines (sorted), listed `atMs` after the current time (default 10 ms: on
   * the kernel a listing comes a few jiffies after the packet, which is why a fresh 60 s entry
   * shows 00:59).
   */
  conns(atMs = 10): string[] {
    return this.ipvs.listConns(this.now + atMs).map((c) => {
      const pro = c.template && c.protocol === 0 ? 'IP' : c.protocol === 6 ? 'TCP' : c.protocol === 17 ? 'UDP' : c.protocol === 132 ? 'SCTP' : 'IP';
      const ap = (a: string, p: number, af: Af) => (af === AF_INET6 ? `[${a}]:${p}` : `${a}:${p}`);
      const exp = `${String(Math.floor(c.expiresS / 60)).padStart(2, '0')}:${String(c.expiresS % 60).padStart(2, '0')}`;
      return `${pro.padEnd(3)} ${exp.padEnd(6)} ${c.state.padEnd(11)} ${ap(c.caddr, c.cport, c.af).padEnd(18)} ${ap(c.vaddr, c.vport, c.af).padEnd(18)} ${ap(c.daddr, c.dport, c.daf)}`;
    }).sort();
  }

  /** ActiveConn/InActConn/PersistConn of a dest as `ipvsadm -L -n --persistent-conn` would show. */
  counts(d: Dest): string {
    return `${d.activeConns}/${d.inactConns}/${d.persistConns}`;
  }

  /** The destination of the entry a flow landed on (last octet), or '-'. */
  picked(): string {
    const d = this.ipvs.curDest;
    return d ? d.addr.toString().split('.').pop() as string : '-';
  }
}
