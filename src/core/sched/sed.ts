/**
 * Shortest expected delay, as net/netfilter/ipvs/ip_vs_sed.c: wlc's scan with the overhead
 * activeconns + 1 (inactive connections do not count).
 */
import type { Dest } from '../dest.js';
import { STATELESS_HOOKS, type Scheduler } from './scheduler.js';
import { weightedLeast } from './wlc.js';

export function sedOverhead(d: Dest): number {
  return d.activeConns + 1;
}

export const sed: Scheduler = {
  name: 'sed',
  ...STATELESS_HOOKS,
  schedule(svc) {
    const d = weightedLeast(svc, sedOverhead);
    if (d === null) svc.lastSchedError = 'no destination available';
    return d;
  },
};
