/**
 * Least connection, as net/netfilter/ipvs/ip_vs_lc.c: the smallest overhead
 * (activeconns * 256 + totalconns) among non-overloaded destinations with weight != 0;
 * ties go to the first in list order (the newest). Weight is otherwise ignored.
 */
import type { Dest } from '../dest.js';
import { connOverhead, STATELESS_HOOKS, type Scheduler } from './scheduler.js';

export const lc: Scheduler = {
  name: 'lc',
  ...STATELESS_HOOKS,
  schedule(svc) {
    const head = svc.destinations;
    let least: Dest | null = null;
    let loh = 0;
    for (let n = head.next; n !== head; n = n.next) {
      const d = n as Dest;
      if (d.isOverloaded() || d.weight === 0) continue;
      const doh = connOverhead(d);
      if (least === null || doh < loh) {
        least = d;
        loh = doh;
      }
    }
    if (least === null) svc.lastSchedError = 'no destination available';
    return least;
  },
};
