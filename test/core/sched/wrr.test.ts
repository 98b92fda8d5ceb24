// Unit tests of src/core/sched/wrr.ts (ip_vs_wrr.c). Pick sequences are the oracle runs of spec
// ipvs.md §4.5/§11.3 (destinations 11, 12, 13 added in that order; list order 13, 12, 11); the
// cursor values follow from ip_vs_wrr_dest_changed and ip_vs_wrr_init_svc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IP_VS_DEST_F_OVERLOAD } from '../../../src/core/dest.js';
import type { WrrMark } from '../../../src/core/sched/wrr.js';
import { octet, SchedFixture } from '../../helpers/hash-sched-fixture.js';

let port = 40000;
function picks(f: SchedFixture, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(octet(f.pick('203.0.113.1', port++)));
  return out.join(' ');
}

function wrrWith(sched: string, ...weights: number[]): SchedFixture {
  const f = new SchedFixture(sched);
  weights.forEach((w, i) => f.add(`192.168.1.${11 + i}`, w));
  return f;
}

function mark(f: SchedFixture): { cw: number; mw: number; di: number; atHead: boolean } {
  const m = f.svc.schedData as WrrMark;
  return { cw: m.cw, mw: m.mw, di: m.di, atHead: m.cl === f.svc.destinations };
}

test('wrr 4,3,2: the adds leave cw = 1 (a first pass over all), then the 9-pick cycle', () => {
  const f = wrrWith('wrr', 4, 3, 2);
  assert.deepEqual(mark(f), { cw: 1, mw: 4, di: 1, atHead: true });
  assert.equal(picks(f, 27),
    '13 12 11 11 12 11 13 12 11 13 12 11 11 12 11 13 12 11 13 12 11 11 12 11 13 12 11');
});

test('wrr weight edits mid-cycle keep cw (12 → 0, then 12 → 6), as the oracle showed', () => {
  const f = wrrWith('wrr', 4, 3, 2);
  picks(f, 27);
  f.edit('192.168.1.12', 0);
  assert.equal(picks(f, 12), '11 13 11 11 13 11 11 13 11 11 13 11');
  f.edit('192.168.1.12', 6);
  assert.equal(picks(f, 13), '13 12 11 12 12 11 13 12 11 12 12 11 13');
});

test('wrr with gcd 2 (4,2,6): mw = max - (di - 1) = 5 and passes cw = 5, 3, 1', () => {
  const f = wrrWith('wrr', 4, 2, 6);
  assert.deepEqual(mark(f), { cw: 1, mw: 5, di: 2, atHead: true });
  assert.equal(picks(f, 14), '13 12 11 13 13 11 13 12 11 13 13 11 13 12');
});

test('wrr bound by -E to existing destinations starts with cw = mw', () => {
  const f = wrrWith('rr', 4, 3, 2);
  f.editService('wrr');
  assert.deepEqual(mark(f), { cw: 4, mw: 4, di: 1, atHead: true });
  assert.equal(picks(f, 18), '11 12 11 13 12 11 13 12 11 11 12 11 13 12 11 13 12 11');
});

test('wrr rounds a kept cw onto the gcd grid when the weights change (cw = cw/di*di + 1)', () => {
  const f = wrrWith('rr', 6, 3);
  f.editService('wrr');
  assert.deepEqual(mark(f), { cw: 4, mw: 4, di: 3, atHead: true });
  picks(f, 1); // cw 4: 11 (weight 6)
  f.add('192.168.1.13', 9); // di stays 3, mw = 9 - 2 = 7; cw 4 → 4/3*3 + 1 = 4
  assert.deepEqual(mark(f), { cw: 4, mw: 7, di: 3, atHead: true });
  f.edit('192.168.1.13', 12); // mw = 10, cw stays on the grid
  assert.deepEqual(mark(f), { cw: 4, mw: 10, di: 3, atHead: true });
  f.edit('192.168.1.11', 2); // di = 1, mw = 12, cw kept
  assert.deepEqual(mark(f), { cw: 4, mw: 12, di: 1, atHead: true });
});

test('wrr has no destination when every weight is 0, and starts again when one comes back', () => {
  const f = wrrWith('wrr', 0, 0);
  assert.deepEqual(mark(f), { cw: 0, mw: 0, di: 1, atHead: true });
  assert.equal(f.pick('203.0.113.1', 1), null);
  assert.equal(f.svc.lastSchedError, 'no destination available');
  f.edit('192.168.1.12', 2);
  assert.equal(picks(f, 3), '12 12 12');
});

test('wrr gives up after a full scan when everything is overloaded, then resumes', () => {
  const f = wrrWith('wrr', 2, 1, 2);
  const ds = f.svc.dests();
  for (const d of ds) d.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 1), null);
  assert.equal(f.svc.lastSchedError, 'no destination available: all destinations are overloaded');
  ds[1].flags &= ~IP_VS_DEST_F_OVERLOAD; // 12 (weight 1)
  assert.equal(picks(f, 3), '12 12 12');
});

test('wrr stops at its starting destination when overloaded from the middle of the list', () => {
  const f = wrrWith('wrr', 1, 1, 1);
  assert.equal(picks(f, 2), '13 12');
  for (const d of f.svc.dests()) d.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 1), null);
  // err_over leaves the position on the destination it stopped at (12, the starting one).
  assert.equal((f.svc.schedData as WrrMark).cl, f.svc.dests()[1]);
  for (const d of f.svc.dests()) d.flags &= ~IP_VS_DEST_F_OVERLOAD;
  assert.equal(picks(f, 3), '11 13 12');
});

test('wrr deleting a destination moves the position back to the list head', () => {
  const f = wrrWith('wrr', 5, 1, 3);
  picks(f, 4);
  f.del('192.168.1.13');
  assert.equal(mark(f).atHead, true);
  assert.equal(picks(f, 6), '11 11 11 11 12 11');
});
