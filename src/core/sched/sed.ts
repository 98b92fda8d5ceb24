/**
 * Shortest expected delay, as net/netfilter/ipvs/ip_vs_sed.c: wlc's scan with the overhead
 * activeconns + 1 (inactive connections do not count). Big services pick from a LeastIndex
 * (./dest-index.ts) kept by the hooks: the same choice without the scan.
 */
import type { Dest } from '../dest.js';
import { indexHooks, LEAST_SED, LeastIndex } from './dest-index.js';
import type { Scheduler } from './scheduler.js';
import { weightedLeast } from './wlc.js';

/** Above this many dests, sed picks from its index. */
export const SED_INDEX_MIN = 32;

export function sedOverhead(d: Dest): number {
  return d.activeConns + 1;
}

export const sed: Scheduler = {
  name: 'sed',
  ...indexHooks(() => new LeastIndex(LEAST_SED, SED_INDEX_MIN)),
  schedule(svc) {
    const ix = svc.schedData as LeastIndex | null;
    const d = ix !== null && ix.usable(svc) ? ix.best() : weightedLeast(svc, sedOverhead);
    if (d === null) svc.lastSchedError = 'no destination available';
    return d;
  },
};
