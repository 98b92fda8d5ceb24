import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TimerWheel } from '../../../src/core/conn/timer-wheel.js';

function fire(w: TimerWheel, nowMs: number): number[] {
  const out = new Int32Array(w.pending + 1);
  const n = w.collect(nowMs, out);
  const got: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!w.isDue(out[i])) continue;
    w.fire(out[i]);
    got.push(out[i]);
  }
  return got;
}

test('timers fire at their exact millisecond, in time order, across buckets', () => {
  const w = new TimerWheel(16);
  w.arm(0, 5000);
  w.arm(1, 1500);
  w.arm(2, 1499);
  w.arm(3, 1500);
  assert.deepEqual(fire(w, 1498), []);
  assert.deepEqual(fire(w, 1499), [2]);
  assert.deepEqual(fire(w, 4999), [1, 3]);
  assert.equal(w.pending, 1);
  assert.deepEqual(fire(w, 5000), [0]);
  assert.equal(w.pending, 0);
});

test('re-arming later waits (lazily), re-arming earlier moves the timer at once', () => {
  const w = new TimerWheel(4);
  w.arm(0, 60_000);
  w.arm(0, 900_000); // a packet pushed it on
  assert.deepEqual(fire(w, 60_000), []);
  assert.deepEqual(fire(w, 899_999), []);
  assert.deepEqual(fire(w, 900_000), [0]);
  w.arm(1, 900_000);
  w.arm(1, 120_000); // FIN: shorter
  assert.deepEqual(fire(w, 120_000), [1]);
});

test('timers beyond one wheel round (2048 s) and large clock jumps', () => {
  const w = new TimerWheel(4);
  w.arm(0, 86_400_000);
  w.arm(1, 3_000_000);
  assert.deepEqual(fire(w, 2_999_999), []);
  assert.deepEqual(fire(w, 3_000_000), [1]);
  assert.deepEqual(fire(w, 86_399_999), []);
  w.arm(2, 86_399_999 + 10);
  assert.deepEqual(fire(w, 10 ** 9), [0, 2]);
});

test('disarm of a pending or collected timer; armDue; reset', () => {
  const w = new TimerWheel(4);
  w.arm(0, 100);
  w.arm(1, 100);
  assert.equal(w.disarm(1), true);
  assert.equal(w.disarm(1), false);
  const out = new Int32Array(4);
  assert.equal(w.collect(200, out), 1);
  assert.ok(w.isPending(0) && w.isDue(0));
  assert.equal(w.disarm(0), true); // del_timer of a due timer
  assert.ok(!w.isDue(0));
  w.armDue(2, 150);
  assert.ok(w.isDue(2) && w.isPending(2));
  w.fire(2);
  assert.equal(w.pending, 0);
  w.arm(3, 10_000);
  w.reset(3);
  assert.equal(w.pending, 0);
  assert.deepEqual(fire(w, 20_000), []);
});

test('the clock going back fires nothing early', () => {
  const w = new TimerWheel(4, 50_000);
  w.arm(0, 60_000);
  assert.deepEqual(fire(w, 55_000), []);
  assert.deepEqual(fire(w, 52_000), []);
  assert.deepEqual(fire(w, 60_000), [0]);
});

test('columns grow and keep armed timers', () => {
  const w = new TimerWheel(2);
  w.arm(1, 1000);
  w.grow(64);
  w.arm(63, 500);
  assert.deepEqual(fire(w, 1000), [63, 1]);
});
