/**
 * Least connection, as net/netfilter/ipvs/ip_vs_lc.c: the smallest overhead
 * (activeconns * 256 + totalconns) among non-overloaded destinations with weight != 0;
 * ties go to the first in list order (the newest). Weight is otherwise ignored.
 * Big services pick from a LeastIndex (./dest-index.ts) kept by the hooks: the same choice
 * without the scan.
 */
import type { Dest } from '../dest.js';
import type { VirtualService } from '../service.js';
import { indexHooks, LEAST_LC, LeastIndex } from './dest-index.js';
import { connOverhead, type Scheduler } from './scheduler.js';

/** Above this many dests, lc picks from its index. */
export const LC_INDEX_MIN = 32;

/** The kernel's scan. */
export function lcScan(svc: VirtualService): Dest | null {
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
  return least;
}

export const lc: Scheduler = {
  name: 'lc',
  ...indexHooks(() => new LeastIndex(LEAST_LC, LC_INDEX_MIN)),
  schedule(svc) {
    const ix = svc.schedData as LeastIndex | null;
    const least = ix !== null && ix.usable(svc) ? ix.best() : lcScan(svc);
    if (least === null) svc.lastSchedError = 'no destination available';
    return least;
  },
};
