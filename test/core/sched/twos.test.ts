// Unit tests of src/core/sched/twos.ts (ip_vs_twos.c). Debian's kernel does not build twos, so
// there is no golden: these tests drive it with injected randomness. Expected values follow
// from the kernel source: r1, r2 = prandom_u32_max(total + 1) (so r in [0, total], inclusive);
// walking the list, a draw lands on the first destination where r - (weights so far) <= 0 —
// the first destination owns w1 + 1 of the total + 1 values, the others their weight; then
// choice 2 replaces choice 1 only if w2 * overhead1 > w1 * overhead2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindDest } from '../../../src/core/conn/bind.js';
import { type Dest, IP_VS_DEST_F_OVERLOAD } from '../../../src/core/dest.js';
import { randomBelow, type RandomU32 } from '../../../src/core/sched/scheduler.js';
import { twos } from '../../../src/core/sched/twos.js';
import { xorshift32 } from '../../helpers/golden.js';
import { SchedFixture } from '../../helpers/hash-sched-fixture.js';

/** A u32 that randomBelow(·, n) maps to k: the smallest x with floor(x * n / 2^32) = k. */
function u32For(k: number, n: number): number {
  return Math.ceil((k * 2 ** 32) / n);
}

/** A RandomU32 returning the given values in turn. */
function seq(...vals: number[]): RandomU32 {
  let i = 0;
  return () => vals[i++ % vals.length];
}

function pick(f: SchedFixture, rand: RandomU32): Dest | null {
  return twos.schedule(f.svc, f.flow, 0, rand);
}

/** Destinations with the given weights, added in order (so the list order is reversed). */
function twosWith(...weights: number[]): { f: SchedFixture; byWeightOrder: Dest[] } {
  const f = new SchedFixture('twos');
  const ds = weights.map((w, i) => f.add(`198.51.100.${11 + i}`, w));
  return { f, byWeightOrder: ds };
}

test('randomBelow scales one u32 into [0, n) as prandom_u32_max does', () => {
  assert.equal(randomBelow(() => 0, 7), 0);
  assert.equal(randomBelow(() => 0xffffffff, 7), 6);
  for (const n of [1, 2, 3, 7, 10, 1000]) {
    for (let k = 0; k < Math.min(n, 20); k++) assert.equal(randomBelow(() => u32For(k, n), n), k);
  }
});

test('twos: each draw lands where the running weight sum reaches it (first destination owns r = 0)', () => {
  // List order (newest first): C w3, B w2, A w1; total + 1 = 7. r: 0..3 → C, 4..5 → B, 6 → A.
  const { f, byWeightOrder: [a, b, c] } = twosWith(1, 2, 3);
  const expect = [c, c, c, c, b, b, a];
  for (let r = 0; r <= 6; r++) {
    // Both draws equal: choice 2 = choice 1, no replacement.
    assert.equal(pick(f, seq(u32For(r, 7), u32For(r, 7))), expect[r], `r = ${r}`);
  }
});

test('twos prefers the less loaded of its two choices, by overhead/weight, choice 1 on a tie', () => {
  const { f, byWeightOrder: [a, b] } = twosWith(1, 1); // list B, A; total + 1 = 3: r 0..1 → B, 2 → A
  const toB = u32For(0, 3);
  const toA = u32For(2, 3);
  bindDest(b, 0); // B: overhead 257, A: 0
  assert.equal(pick(f, seq(toB, toA)), a);
  assert.equal(pick(f, seq(toA, toB)), a);
  bindDest(a, 0); // both 257: the first draw stands
  assert.equal(pick(f, seq(toB, toA)), b);
  assert.equal(pick(f, seq(toA, toB)), a);
});

test('twos normalises the load by weight (w2 * overhead1 > w1 * overhead2)', () => {
  const { f, byWeightOrder: [a, b] } = twosWith(1, 2); // list B w2, A w1; total + 1 = 4: 0..2 → B, 3 → A
  const toB = u32For(0, 4);
  const toA = u32For(3, 4);
  bindDest(b, 0);
  bindDest(b, 0); // B: 514 / 2 = 257
  bindDest(a, 0); // A: 257 / 1: a tie, choice 1 stands
  assert.equal(pick(f, seq(toB, toA)), b);
  assert.equal(pick(f, seq(toA, toB)), a);
  bindDest(b, 0); // B: 771 / 2 > 257: A wins either way
  assert.equal(pick(f, seq(toB, toA)), a);
  assert.equal(pick(f, seq(toA, toB)), a);
});

test('twos never picks a weight-0 or overloaded destination and has none when nothing is left', () => {
  const { f, byWeightOrder: [a, b, c] } = twosWith(3, 0, 2);
  c.flags |= IP_VS_DEST_F_OVERLOAD;
  const rand = xorshift32(7);
  for (let i = 0; i < 2000; i++) assert.equal(pick(f, rand), a);
  a.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(pick(f, rand), null);
  assert.equal(f.svc.lastSchedError, 'no destination available');
  assert.equal(b.weight, 0);
  f.edit('198.51.100.12', 4);
  assert.equal(pick(f, rand), b);
});

/** Pearson's chi-square statistic of observed counts against expected probabilities. */
function chiSquare(counts: readonly number[], probs: readonly number[]): number {
  const n = counts.reduce((s, c) => s + c, 0);
  let x2 = 0;
  for (let i = 0; i < counts.length; i++) {
    const e = n * probs[i];
    x2 += (counts[i] - e) ** 2 / e;
  }
  return x2;
}

// Critical values of the chi-square distribution at p = 0.001 (3 and 1 degrees of freedom).
const CHI2_3DF_P001 = 16.266;
const CHI2_1DF_P001 = 10.828;

test('twos spreads equally loaded destinations by weight, the list head with one extra share (chi-square, fixed seed)', () => {
  // Loads stay equal (nothing is bound), so choice 1 is always returned: its distribution is
  // the draw's, (w + 1)/(T + 1) for the first destination in list order and w/(T + 1) for the others.
  const weights = [1, 2, 3, 4]; // list order: 4, 3, 2, 1; T + 1 = 11
  const { f, byWeightOrder } = twosWith(...weights);
  const listOrder = [...byWeightOrder].reverse();
  const probs = [5 / 11, 3 / 11, 2 / 11, 1 / 11];
  const counts = [0, 0, 0, 0];
  const rand = xorshift32(0x5eed);
  const N = 110_000;
  for (let i = 0; i < N; i++) counts[listOrder.indexOf(pick(f, rand)!)]++;
  const x2 = chiSquare(counts, probs);
  assert.ok(x2 < CHI2_3DF_P001, `chi-square ${x2.toFixed(2)} with counts ${counts.join(',')}`);
  // And not merely "uniform": the heaviest gets clearly more than the lightest.
  assert.ok(counts[0] > 4 * counts[3]);
});

test('twos sends a loaded destination only the picks where both draws land on it', () => {
  // B (list head, w1) has connections, A (w1) has none: B is chosen only when r1 and r2 both
  // fall in B's 2 of 3 values, so P(B) = (2/3)^2 = 4/9.
  const { f, byWeightOrder: [a, b] } = twosWith(1, 1);
  bindDest(b, 0);
  const rand = xorshift32(0xbeef);
  let nb = 0;
  const N = 90_000;
  for (let i = 0; i < N; i++) if (pick(f, rand) === b) nb++;
  const x2 = chiSquare([nb, N - nb], [4 / 9, 5 / 9]);
  assert.ok(x2 < CHI2_1DF_P001, `chi-square ${x2.toFixed(2)}, B got ${nb} of ${N}`);
  assert.equal(a.activeConns, 0);
});
