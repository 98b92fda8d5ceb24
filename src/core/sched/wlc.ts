/**
 * Weighted least connection (ipvsadm's default), as net/netfilter/ipvs/ip_vs_wlc.c.
 * The first non-overloaded destination with weight > 0 starts as the choice; a later one
 * replaces it only when strictly less loaded (overhead/weight compared by cross-multiplying),
 * so ties keep the newer destination and a weight-0 one can never win.
 * Big services pick from a LeastIndex (./dest-index.ts) kept by the hooks: the same choice
 * without the scan.
 */
import type { Dest } from '../dest.js';
import type { VirtualService } from '../service.js';
import { indexHooks, LEAST_WLC, LeastIndex } from './dest-index.js';
import { connOverhead, mulGt, type Scheduler } from './scheduler.js';

/** Above this many dests, wlc (and lblc/lblcr's fallback) picks from an index. */
export const WLC_INDEX_MIN = 32;

/** The wlc/sed scan with a given overhead function; shared by wlc and sed (and lblc/lblcr). */
export function weightedLeast(svc: VirtualService, overhead: (d: Dest) => number): Dest | null {
  const head = svc.destinations;
  let n = head.next;
  let least: Dest | null = null;
  for (; n !== head; n = n.next) {
    const d = n as Dest;
    if (!d.isOverloaded() && d.weight > 0) {
      least = d;
      break;
    }
  }
  if (least === null) return null;
  let loh = overhead(least);
  for (n = n.next; n !== head; n = n.next) {
    const d = n as Dest;
    if (d.isOverloaded()) continue;
    const doh = overhead(d);
    if (mulGt(loh, d.weight, doh, least.weight)) {
      least = d;
      loh = doh;
    }
  }
  return least;
}

export const wlc: Scheduler = {
  name: 'wlc',
  ...indexHooks(() => new LeastIndex(LEAST_WLC, WLC_INDEX_MIN)),
  schedule(svc) {
    const ix = svc.schedData as LeastIndex | null;
    const d = ix !== null && ix.usable(svc) ? ix.best() : weightedLeast(svc, connOverhead);
    if (d === null) svc.lastSchedError = 'no destination available';
    return d;
  },
};
