/**
 * Weighted overflow, as net/netfilter/ipvs/ip_vs_ovf.c: the highest weight among destinations
 * that are not overloaded, have weight > 0 and have no more active connections than their
 * weight; ties go to the first in list order. Big services pick from a MaxIndex
 * (./dest-index.ts, value 0 for the excluded dests) kept by the hooks.
 */
import type { Dest } from '../dest.js';
import type { VirtualService } from '../service.js';
import { indexHooks, MAX_OVF, MaxIndex } from './dest-index.js';
import { firstOfMax } from './fo.js';
import type { Scheduler } from './scheduler.js';

/** Above this many dests, ovf picks from its index. */
export const OVF_INDEX_MIN = 32;

/** The kernel's scan. */
export function ovfScan(svc: VirtualService): Dest | null {
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
  return h;
}

export const ovf: Scheduler = {
  name: 'ovf',
  ...indexHooks(() => new MaxIndex(MAX_OVF, OVF_INDEX_MIN)),
  schedule(svc) {
    const ix = svc.schedData as MaxIndex | null;
    const h = ix !== null && ix.ready(svc) ? firstOfMax(ix) : ovfScan(svc);
    if (h === null) svc.lastSchedError = 'no destination available';
    return h;
  },
};
