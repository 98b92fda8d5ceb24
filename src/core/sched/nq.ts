/**
 * Never queue, as net/netfilter/ipvs/ip_vs_nq.c: the first idle destination (activeconns == 0)
 * in list order wins at once; otherwise sed's choice. Weight 0 and OVERLOAD are skipped.
 * Big services pick from a LeastIndex (./dest-index.ts, idle dests at overhead 0) kept by the
 * hooks: the same choice without the scan.
 */
import type { Dest } from '../dest.js';
import type { VirtualService } from '../service.js';
import { indexHooks, LEAST_NQ, LeastIndex } from './dest-index.js';
import { mulGt, type Scheduler } from './scheduler.js';
import { sedOverhead } from './sed.js';

/** Above this many dests, nq picks from its index. */
export const NQ_INDEX_MIN = 32;

/** The kernel's scan. */
export function nqScan(svc: VirtualService): Dest | null {
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
  return least;
}

export const nq: Scheduler = {
  name: 'nq',
  ...indexHooks(() => new LeastIndex(LEAST_NQ, NQ_INDEX_MIN)),
  schedule(svc) {
    const ix = svc.schedData as LeastIndex | null;
    const least = ix !== null && ix.usable(svc) ? ix.best() : nqScan(svc);
    if (least === null) svc.lastSchedError = 'no destination available';
    return least;
  },
};
