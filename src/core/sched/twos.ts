/**
 * Power of two choices, as net/netfilter/ipvs/ip_vs_twos.c (not built in Debian's kernel, so
 * there is no oracle: tests check its distribution and its weight/overload rules).
 * Two weighted random draws in [0, total] (inclusive: the kernel adds 1 to the total), then the
 * less loaded of the two by overhead/weight, the first draw winning ties.
 */
import type { Dest } from '../dest.js';
import { connOverhead, mulGt, randomBelow, STATELESS_HOOKS, type Scheduler } from './scheduler.js';

export const twos: Scheduler = {
  name: 'twos',
  ...STATELESS_HOOKS,
  schedule(svc, _flow, _nowMs, rand) {
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
    if (choice1 === null) {
      svc.lastSchedError = 'no destination available';
      return null;
    }
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
  },
};
