/**
 * Weighted failover, as net/netfilter/ipvs/ip_vs_fo.c: the non-overloaded destination with the
 * highest weight; ties go to the first in list order. Connection counts are ignored.
 */
import type { Dest } from '../dest.js';
import { STATELESS_HOOKS, type Scheduler } from './scheduler.js';

export const fo: Scheduler = {
  name: 'fo',
  ...STATELESS_HOOKS,
  schedule(svc) {
    const head = svc.destinations;
    let best: Dest | null = null;
    let hw = 0;
    for (let n = head.next; n !== head; n = n.next) {
      const d = n as Dest;
      if (!d.isOverloaded() && d.weight > hw) {
        best = d;
        hw = d.weight;
      }
    }
    if (best === null) svc.lastSchedError = 'no destination available';
    return best;
  },
};
