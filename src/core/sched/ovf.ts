/**
 * Weighted overflow, as net/netfilter/ipvs/ip_vs_ovf.c: the highest weight among destinations
 * that are not overloaded, have weight > 0 and have no more active connections than their
 * weight; ties go to the first in list order.
 */
import type { Dest } from '../dest.js';
import { STATELESS_HOOKS, type Scheduler } from './scheduler.js';

export const ovf: Scheduler = {
  name: 'ovf',
  ...STATELESS_HOOKS,
  schedule(svc) {
    const head = svc.destinations;
    let h: Dest | null = null;
    let hw = 0;
    for (let n = head.next; n !== head; n = n.next) {
      const d = n as Dest;
      const w = d.weight;
      if (d.isOverloaded() || d.activeConns > w || w === 0) continue;
      if (h === null || w > hw) {
        h = d;
        hw = w;
      }
    }
    if (h === null) svc.lastSchedError = 'no destination available';
    return h;
  },
};
