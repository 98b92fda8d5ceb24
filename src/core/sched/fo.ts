/**
 * Weighted failover, as net/netfilter/ipvs/ip_vs_fo.c: the non-overloaded destination with the
 * highest weight; ties go to the first in list order. Connection counts are ignored.
 * Big services pick from a MaxIndex (./dest-index.ts) kept by the hooks: the first slot holding
 * the maximum is the scan's choice.
 */
import type { Dest } from '../dest.js';
import type { VirtualService } from '../service.js';
import { indexHooks, MAX_WEIGHT, MaxIndex } from './dest-index.js';
import type { Scheduler } from './scheduler.js';

/** Above this many dests, fo picks from its index. */
export const FO_INDEX_MIN = 32;

/** The kernel's scan. */
export function foScan(svc: VirtualService): Dest | null {
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
  return best;
}

/** The first dest holding a MaxIndex's maximum (fo, ovf), or null when that is 0. */
export function firstOfMax(ix: MaxIndex): Dest | null {
  const m = ix.max();
  return m > 0 ? ix.dests[ix.firstMax()] : null;
}

export const fo: Scheduler = {
  name: 'fo',
  ...indexHooks(() => new MaxIndex(MAX_WEIGHT, FO_INDEX_MIN)),
  schedule(svc) {
    const ix = svc.schedData as MaxIndex | null;
    const best = ix !== null && ix.ready(svc) ? firstOfMax(ix) : foScan(svc);
    if (best === null) svc.lastSchedError = 'no destination available';
    return best;
  },
};
