/**
 * From the keepalived meaning to IPVS records in the control protocol's wire types: a virtual
 * server becomes one ServiceWire (or one per address and fwmark of its group), a real or sorry
 * server one DestWire per service. Mirrors keepalived/check/ipvswrapper.c ipvs_set_srule,
 * ipvs_set_drule, ipvs_group_cmd and ipvs_group_range_cmd:
 *   lb_algo → sched; lb_kind NAT/DR/TUN → fwd masq(0)/route(3)/tunnel(2);
 *   persistence_timeout → flags |= IP_VS_SVC_F_PERSISTENT, timeout; persistence_granularity →
 *   netmask; persistence_engine → pe; ops, flag-1..3, sh-/mh- flags → flags;
 *   weight/uthreshold/lthreshold → dest weight/u_threshold/l_threshold; TUN type/port/csum →
 *   tun_type/tun_port/tun_flags.
 */
import type { DestWire, ServiceIdWire, ServiceWire } from '../../control/protocol.js';
import { inetPton4, inetPton6, ntop4, ntop6 } from './values.js';
import type { KeepalivedConfig, RealServer, SorryServer, VirtualServer, VirtualServerGroupEntry } from './types.js';

export const IP_VS_SVC_F_PERSISTENT = 0x0001;
const FWD: Record<string, number> = { masq: 0, tunnel: 2, route: 3 };
const TUN_TYPE: Record<string, number> = { ipip: 0, gue: 1, gre: 2 };
const TUN_FLAGS: Record<string, number> = { nocsum: 0, csum: 1, remcsum: 2 };

/** One IPVS service of a virtual server, with the port a non-NAT destination must use on it. */
export interface IpvsService {
  readonly svc: ServiceWire;
  /** Destination port for DR/TUN servers on this service (the service port; 0 for fwmark). */
  readonly routedPort: number;
}

/** The IPVS services a virtual server stands for (several for `virtual_server group`). */
export function servicesOf(config: KeepalivedConfig, vs: VirtualServer): IpvsService[] {
  const persistent = vs.persistenceTimeoutS > 0;
  const base = {
    sched: vs.scheduler,
    flags: vs.flags | (persistent ? IP_VS_SVC_F_PERSISTENT : 0),
    timeoutS: persistent ? vs.persistenceTimeoutS : 0,
    pe: persistent ? vs.persistenceEngine : '',
  };
  const netmaskFor = (af: 2 | 10, useGranularity: boolean): number => {
    if (persistent && useGranularity && vs.persistenceGranularity !== null) return vs.persistenceGranularity;
    return af === 10 ? 128 : 0xffffffff;
  };
  const proto = (vs.protocol || 6) as 6 | 17 | 132;
  if (vs.kind === 'address') {
    return [{ svc: { ...base, af: vs.af, protocol: proto, addr: vs.addr!, port: vs.port, fwmark: 0, netmask: netmaskFor(vs.af, true) }, routedPort: vs.port }];
  }
  if (vs.kind === 'fwmark') {
    return [{ svc: { ...base, af: vs.af, protocol: proto, addr: vs.af === 10 ? '::' : '0.0.0.0', port: 0, fwmark: vs.fwmark, netmask: netmaskFor(vs.af, true) }, routedPort: 0 }];
  }
  const group = config.virtualServerGroups.find((g) => g.name === vs.group);
  if (!group) return [];
  const out: IpvsService[] = [];
  for (const e of group.entries.filter((x) => x.kind === 'range')) {
    // ipvswrapper.c ipvs_group_range_cmd resets the netmask for every address of a range, so
    // persistence_granularity does not reach group services (keepalived 2.2.7 behaviour, kept).
    for (const addr of expandRange(e)) {
      out.push({ svc: { ...base, af: e.af as 2 | 10, protocol: proto, addr, port: e.port, fwmark: 0, netmask: e.af === 10 ? 128 : 0xffffffff }, routedPort: e.port });
    }
  }
  for (const e of group.entries.filter((x) => x.kind === 'fwmark')) {
    const af: 2 | 10 = e.af ? (e.af as 2 | 10) : vs.af;
    out.push({ svc: { ...base, af, protocol: proto, addr: af === 10 ? '::' : '0.0.0.0', port: 0, fwmark: e.fwmark, netmask: netmaskFor(af, true) }, routedPort: 0 });
  }
  return out;
}

/** Every address of a group entry, first to last (IPv4 last octet / IPv6 last group for dash ranges). */
export function expandRange(e: VirtualServerGroupEntry): string[] {
  if (e.af === 2) {
    const a = inetPton4(e.first)!;
    const b = inetPton4(e.last)!;
    const out: string[] = [];
    for (let v = a; v <= b && out.length < 65536; v++) out.push(ntop4(v));
    return out;
  }
  const a = inetPton6(e.first)!;
  const b = inetPton6(e.last)!;
  const out: string[] = [];
  const cur = Uint8Array.from(a);
  for (let n = 0; n < 65536; n++) {
    out.push(ntop6(cur));
    if (cur.every((x, i) => x === b[i])) break;
    // keepalived only steps the last 16-bit group (ipvs_group_range_cmd).
    const last = ((cur[14] << 8) | cur[15]) + 1;
    if (last > 0xffff) break;
    cur[14] = last >> 8;
    cur[15] = last & 0xff;
  }
  return out;
}

export function serviceId(svc: ServiceWire): ServiceIdWire {
  return { af: svc.af, protocol: svc.protocol, addr: svc.addr, port: svc.port, fwmark: svc.fwmark };
}

/** The destination record of a real or sorry server on one service, at a given weight. */
export function destOf(service: IpvsService, server: RealServer | SorryServer, weight: number): DestWire {
  const fwd = FWD[server.forwarding];
  // ipvswrapper.c ipvs_group_cmd: a routed (DR/TUN) destination takes the service's port.
  const port = fwd === 0 ? server.port : service.svc.fwmark ? 0 : service.routedPort;
  const rs = 'uThreshold' in server ? server : null;
  return {
    af: server.af, addr: server.addr, port, fwd, weight,
    uThreshold: rs ? rs.uThreshold : 0, lThreshold: rs ? rs.lThreshold : 0,
    tunType: server.tunnel ? TUN_TYPE[server.tunnel.type] : 0,
    tunPort: server.tunnel ? server.tunnel.port : 0,
    tunFlags: server.tunnel ? TUN_FLAGS[server.tunnel.csum] : 0,
  };
}
