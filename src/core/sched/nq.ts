/**
 * Never queue, as net/netfilter/ipvs/ip_vs_nq.c: the first idle destination (activeconns == 0)
 * in list order wins at once; otherwise sed's choice. Weight 0 and OVERLOAD are skipped.
 */
import type { Dest } from '../dest.js';
import { mulGt, STATELESS_HOOKS, type Scheduler } from './scheduler.js';
import { sedOverhead } from './sed.js';

export const nq: Scheduler = {
  name: 'nq',
  ...STATELESS_HOOKS,
  schedule(svc) {
    const head = svc.destinations;
    let least: Dest | null = null;
    let loh = 0;
    for (let n = head.next; n !== head; n = n.next) {
      const d = n as Dest;
      if (d.isOverloaded() || d.weight === 0) continue;
      const doh = sedOverhead(d);
      if (d.activeConns === 0) return d;
      if (least === null || mulGt(loh, d.weight, doh, least.weight)) {
        least = d;
        loh = doh;
      }
    }
    if (least === null) svc.lastSchedError = 'no destination available';
    return least;
  },
};
