import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HZ, msToJiffies, TimerWheel, wheelBucket } from '../../../src/core/conn/timer-wheel.js';

function fire(w: TimerWheel, now: number): number[] {
  const out = new Int32Array(w.pending + 1);
  const n = w.collect(now, out);
  const got: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!w.isDue(out[i])) continue;
    w.fire(out[i]);
    got.push(out[i]);
  }
  return got;
}

function bucket(expires: number, clk: number): [number, number] {
  const b = new Float64Array(2);
  wheelBucket(expires, clk, b);
  return [b[0], b[1]];
}

test('calc_wheel_index: level by distance, expiry rounded up to the level granularity', () => {
  assert.equal(HZ, 250);
  assert.deepEqual(bucket(1010, 1000), [0, 1011]); // level 0: the next jiffy after expires
  assert.deepEqual(bucket(1062, 1000), [0, 1063]);
  assert.deepEqual(bucket(1063, 1000), [1, 1064]); // 63 jiffies away: level 1, 8-jiffy buckets
  assert.deepEqual(bucket(1000 + 500, 1000), [1, 1504]); // 2 s (TCP NONE)
  assert.deepEqual(bucket(1000 + 15000, 1000), [3, 16384]); // 60 s (SYN_RECV): 512-jiffy buckets
  assert.deepEqual(bucket(1000 + 225000, 1000), [4, 229376]); // 900 s: 4096-jiffy buckets (16.4 s)
  assert.deepEqual(bucket(900, 1000), [0, 1000]); // already due: the current clock
});

test('timers fire at the end of their bucket, in time order', () => {
  const w = new TimerWheel(16);
  w.arm(0, 5000, 0); // 5000 away: level 3 (512), bucket 5120
  w.arm(1, 20, 0); // level 0: 21
  w.arm(2, 19, 0); // level 0: 20
  assert.deepEqual(fire(w, 19), []);
  assert.deepEqual(fire(w, 20), [2]);
  assert.deepEqual(fire(w, 5119), [1]);
  assert.equal(w.expires(0), 5000);
  assert.equal(w.fireAt(0), 5120);
  assert.deepEqual(fire(w, 5120), [0]);
  assert.equal(w.pending, 0);
});

test('one bucket: higher level first, then the most recently queued first', () => {
  const w = new TimerWheel(8);
  w.arm(0, 15000, 0); // level 3, bucket 15360
  w.arm(1, 15100, 0); // same bucket, queued later
  w.arm(2, 15359, 15300); // level 0 from a later clock: bucket 15360 too
  assert.equal(w.fireAt(0), 15360);
  assert.equal(w.fireAt(1), 15360);
  assert.equal(w.fireAt(2), 15360);
  assert.deepEqual(fire(w, 20000), [1, 0, 2]);
});

test('mod_timer into the same bucket only moves expires; another bucket queues it again', () => {
  const w = new TimerWheel(4);
  w.arm(0, 15000, 0); // bucket 15360
  w.arm(0, 15200, 200); // still 15360 at level 3
  assert.equal(w.expires(0), 15200);
  assert.equal(w.fireAt(0), 15360);
  w.arm(0, 15000 + 600, 600); // 15600: bucket 15872
  assert.equal(w.fireAt(0), 15872);
  w.arm(0, 1000, 700); // earlier: moves at once
  assert.deepEqual(fire(w, 1007), []);
  assert.deepEqual(fire(w, 1008), [0]);
});

test('long timers (days), large jumps of the clock, and the clock going back', () => {
  const w = new TimerWheel(4, 50_000);
  w.arm(0, 50_000 + 86400 * HZ, 50_000);
  w.arm(1, 60_000, 50_000);
  assert.deepEqual(fire(w, 45_000), []);
  assert.deepEqual(fire(w, 10 ** 9), [1, 0]);
});

test('disarm of a pending or collected timer; armDue; reset', () => {
  const w = new TimerWheel(4);
  w.arm(0, 100, 0);
  w.arm(1, 100, 0);
  assert.equal(w.disarm(1), true);
  assert.equal(w.disarm(1), false);
  const out = new Int32Array(4);
  assert.equal(w.collect(200, out), 1);
  assert.ok(w.isPending(0) && w.isDue(0));
  assert.equal(w.disarm(0), true); // del_timer of a due timer
  assert.ok(!w.isDue(0));
  w.armDue(2, 150, 150);
  assert.ok(w.isDue(2) && w.isPending(2));
  w.fire(2);
  assert.equal(w.pending, 0);
  w.arm(3, 10_000, 0);
  w.reset(3);
  assert.equal(w.pending, 0);
  assert.deepEqual(fire(w, 20_000), []);
});

test('columns grow and keep armed timers; ms and jiffies', () => {
  const w = new TimerWheel(2);
  w.arm(1, 1000, 0);
  w.grow(64);
  w.arm(63, 500, 0);
  assert.deepEqual(fire(w, 2000), [63, 1]);
  assert.equal(msToJiffies(60_000), 15000);
  assert.equal(msToJiffies(7), 1);
});

test('a timer re-armed later is found at its new bucket, not its old one, across many rounds', () => {
  const w = new TimerWheel(4);
  w.arm(0, 1000, 0); // level 2: bucket 1024
  w.arm(0, 600_000, 900); // far later: level 5 (32768), bucket 622592
  assert.equal(w.fireAt(0), 622_592);
  for (const t of [1024, 5000, 300_000, 622_591]) assert.deepEqual(fire(w, t), []);
  assert.deepEqual(fire(w, 622_592), [0]);
});
