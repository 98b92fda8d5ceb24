/**
 * A seeded xorshift32 (Marsaglia 2003): the deterministic stand-in for prandom_u32 that tests,
 * replays and benches inject wherever the core takes a RandomU32, so a run can be repeated.
 */
import type { RandomU32 } from './sched/scheduler.js';

export function xorshift32(seed: number): RandomU32 {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}
