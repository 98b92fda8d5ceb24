/**
 * Power of two choices, as net/netfilter/ipvs/ip_vs_twos.c (not built in Debian's kernel, so
 * there is no oracle: tests check its distribution and its weight/overload rules).
 * Two weighted random draws in [0, total] (inclusive: the kernel adds 1 to the total), then the
 * less loaded of the two by overhead/weight, the first draw winning ties.
 * Big services draw from a WeightSumIndex (./dest-index.ts: an 8-ary tree of weight sums in list
 * order) kept by the hooks: the same two dests as the scan's subtraction, in O(log n).
 */
import type { Dest } from '../dest.js';
import type { VirtualService } from '../service.js';
import { indexHooks, WeightSumIndex } from './dest-index.js';
import { connOverhead, mulGt, type RandomU32, randomBelow, type Scheduler } from './scheduler.js';

/** Above this many dests, twos draws from its index. */
export const TWOS_INDEX_MIN = 32;

/** The kernel's two scans. */
export function twosScan(svc: VirtualService, rand: RandomU32): Dest | null {
  const head = svc.destinations;
  let choice1: Dest | null = null;
  let total = 0;
  for (let n = head.next; n !== head; n = n.next) {
    const d = n as Dest;
    if (!d.isOverloaded() && d.weight > 0) {
      total += d.weight;
      choice1 = d;
    }
  }
  if (choice1 === null) return null;
  total += 1;
  let r1 = randomBelow(rand, total);
  let r2 = randomBelow(rand, total);
  let choice2: Dest | null = null;
  let w1 = -1;
  let w2 = -1;
  let oh1 = 0;
  let oh2 = 0;
  for (let n = head.next; n !== head; n = n.next) {
    const d = n as Dest;
    if (d.isOverloaded()) continue;
    const w = d.weight;
    if (w <= 0) continue;
    r1 -= w;
    r2 -= w;
    if (r1 <= 0 && w1 === -1) {
      choice1 = d;
      w1 = w;
      oh1 = connOverhead(d);
    }
    if (r2 <= 0 && w2 === -1) {
      choice2 = d;
      w2 = w;
      oh2 = connOverhead(d);
    }
    if (w1 !== -1 && w2 !== -1) break;
  }
  // The kernel compares ints here; weight1 stays -1 only when r1 never reached 0, which the
  // inclusive total makes impossible, so choice1 is always a real draw.
  if (choice2 !== null && mulGt(w2, oh1, w1, oh2)) choice1 = choice2;
  return choice1;
}

/** The same draws from the index: the first slot whose running sum reaches each draw. */
function twosIndexed(ix: WeightSumIndex, rand: RandomU32): Dest | null {
  const total = ix.total;
  if (total === 0) return null;
  const r1 = randomBelow(rand, total + 1);
  const r2 = randomBelow(rand, total + 1);
  const d1 = ix.dests[ix.find(r1 > 0 ? r1 : 1)] as Dest;
  const d2 = ix.dests[ix.find(r2 > 0 ? r2 : 1)] as Dest;
  return mulGt(d2.weight, connOverhead(d1), d1.weight, connOverhead(d2)) ? d2 : d1;
}

export const twos: Scheduler = {
  name: 'twos',
  ...indexHooks(() => new WeightSumIndex(TWOS_INDEX_MIN)),
  schedule(svc, _flow, _nowMs, rand) {
    const ix = svc.schedData as WeightSumIndex | null;
    const d = ix !== null && ix.ready(svc) ? twosIndexed(ix, rand) : twosScan(svc, rand);
    if (d === null) svc.lastSchedError = 'no destination available';
    return d;
  },
};
