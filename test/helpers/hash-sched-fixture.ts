// A service built through ServiceTable (so list order and scheduler hooks are as in production)
// plus a reusable Flow, for the dh/sh/mh/lblc/lblcr tests. Destinations are named by address.
import { AF_INET, type Af, type IpAddr, parseAddr } from '../../src/core/addr.js';
import { bindDest } from '../../src/core/conn/bind.js';
import { type Dest, type DestUser, IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_TUNNEL } from '../../src/core/dest.js';
import { Flow } from '../../src/core/flow.js';
import { IPPROTO_TCP, IPPROTO_UDP, type Protocol, type ServiceUser, type VirtualService } from '../../src/core/service.js';
import { ServiceTable } from '../../src/core/service-table.js';

export function addr(s: string): IpAddr {
  const a = parseAddr(s);
  if (a === null) throw new Error(`bad address "${s}"`);
  return a;
}

export interface SvcOptions {
  flags?: number;
  protocol?: Protocol;
  vip?: string;
  port?: number;
  fwmark?: number;
  af?: Af;
}

export function serviceUser(sched: string, o: SvcOptions = {}): ServiceUser {
  const vip = addr(o.vip ?? '192.168.1.150');
  return {
    af: o.af ?? vip.af,
    protocol: o.protocol ?? IPPROTO_UDP,
    addr: vip,
    port: o.port ?? 53,
    fwmark: o.fwmark ?? 0,
    schedName: sched,
    flags: o.flags ?? 0,
    timeoutS: 0,
    netmask: (o.af ?? vip.af) === AF_INET ? 0xffffffff : 128,
    peName: '',
  };
}

export function destUser(a: string, weight: number, port = 53, thresholds: { u?: number; l?: number } = {}): DestUser {
  const ad = addr(a);
  return {
    af: ad.af,
    addr: ad,
    port,
    connFlags: IP_VS_CONN_F_DROUTE,
    weight,
    uThreshold: thresholds.u ?? 0,
    lThreshold: thresholds.l ?? 0,
    tunType: 0,
    tunPort: 0,
    tunFlags: 0,
  };
}

export class SchedFixture {
  readonly table = new ServiceTable();
  readonly svc: VirtualService;
  readonly user: ServiceUser;
  readonly flow = new Flow();

  constructor(sched: string, o: SvcOptions = {}) {
    this.user = serviceUser(sched, o);
    this.svc = this.table.addService(this.user);
    this.flow.af = this.user.af;
    this.flow.protocol = this.user.protocol;
    this.flow.setDaddr(this.user.addr);
    this.flow.dport = this.user.port;
  }

  add(a: string, weight: number, port = 53): Dest {
    const u = destUser(a, weight, port);
    if (u.af !== this.svc.af) u.connFlags = IP_VS_CONN_F_TUNNEL;
    return this.table.addDest(this.user, u);
  }

  edit(a: string, weight: number, port = 53): Dest {
    const u = destUser(a, weight, port);
    if (u.af !== this.svc.af) u.connFlags = IP_VS_CONN_F_TUNNEL;
    return this.table.editDest(this.user, u);
  }

  del(a: string, port = 53): void {
    const ad = addr(a);
    this.table.delDest(this.user, ad.af, ad, port);
  }

  /** Switch the service's scheduler or flags (-E), every field as ipvsadm sends it. */
  editService(sched: string, flags = this.user.flags): void {
    const u = { ...this.user, schedName: sched, flags };
    this.table.editService(this.user, u);
    Object.assign(this.user, { schedName: sched, flags });
  }

  /** Schedule one packet from `src`:`sport` to `dst` (default: the VIP). */
  pick(src: string, sport: number, nowMs = 0, dst?: string): Dest | null {
    const f = this.flow;
    f.setSaddr(addr(src));
    f.sport = sport;
    if (dst !== undefined) f.setDaddr(addr(dst));
    const sched = this.svc.scheduler;
    if (sched === null) throw new Error('service has no scheduler');
    return sched.schedule(this.svc, f, nowMs, () => 0);
  }

  /** Schedule and bind an active connection to the pick (a SYN to a DR server that never answers). */
  pickActive(src: string, sport: number, nowMs = 0, dst?: string): Dest | null {
    const d = this.pick(src, sport, nowMs, dst);
    if (d !== null) bindDest(d, 0);
    return d;
  }
}

/** The last IPv4 octet of a pick, or "none", as the spec's pick tables name servers. */
export function octet(d: Dest | null): string {
  if (d === null) return 'none';
  return String(d.addr.w0 & 255);
}

export { IPPROTO_TCP, IPPROTO_UDP };
