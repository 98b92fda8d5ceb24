// Builds IPVS tables for the packet dataplane's tests through the core's own operations.
import { AF_INET, AF_INET6, type Af, IpAddr, parseAddr } from '../../../src/core/addr.js';
import { fwdFlagOf, type FwdMethod } from '../../../src/core/dest.js';
import type { TableDiff } from '../../../src/core/diff.js';
import { Ipvs } from '../../../src/core/ipvs.js';
import { DEFAULT_NETMASK_V4, IPPROTO_TCP, IPPROTO_UDP, type Protocol } from '../../../src/core/service.js';
import { rng } from './fixtures.js';

export function newIpvs(seed = 7): Ipvs {
  return new Ipvs({ random: rng(seed) });
}

function addr(s: string): IpAddr {
  const a = parseAddr(s);
  if (!a) throw new Error(`bad address ${s}`);
  return a;
}

export interface DestSpec { addr: string; port?: number; method: FwdMethod; weight?: number; tunType?: number; tunPort?: number; tunFlags?: number }

/** Adds a service with its dests in one transaction; returns the diff to apply. */
export function addService(ipvs: Ipvs, proto: 'tcp' | 'udp', vip: string, port: number, sched: string, dests: DestSpec[]): TableDiff {
  const a = addr(vip);
  const af: Af = a.af;
  const protocol: Protocol = proto === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
  const id = { af, protocol, addr: a, port, fwmark: 0 };
  return ipvs.table.transaction(() => {
    ipvs.table.addService({ ...id, schedName: sched, flags: 0, timeoutS: 0, netmask: af === AF_INET ? DEFAULT_NETMASK_V4 : 128, peName: '' });
    for (const d of dests) {
      const da = addr(d.addr);
      ipvs.table.addDest(id, {
        af: da.af, addr: da, port: d.port ?? port, connFlags: fwdFlagOf(d.method), weight: d.weight ?? 1,
        uThreshold: 0, lThreshold: 0, tunType: d.tunType ?? 0, tunPort: d.tunPort ?? 0, tunFlags: d.tunFlags ?? 0,
      });
    }
  }).diff;
}

export { AF_INET, AF_INET6 };
