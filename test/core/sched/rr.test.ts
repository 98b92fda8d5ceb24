// Unit tests of src/core/sched/rr.ts (ip_vs_rr.c). Expected orders follow from the kernel's rule
// (scan circularly after the cursor, newest destination first) and the oracle runs in spec
// ipvs.md §4.4 and §11.3; the kernel goldens (goldens.test.ts) replay longer sequences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IP_VS_DEST_F_OVERLOAD } from '../../../src/core/dest.js';
import { IPPROTO_TCP, octet, SchedFixture } from '../../helpers/hash-sched-fixture.js';

function picks(f: SchedFixture, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(octet(f.pick('203.0.113.1', 40000 + i)));
  return out.join(' ');
}

function rrWith(...octets: number[]): SchedFixture {
  const f = new SchedFixture('rr', { protocol: IPPROTO_TCP, port: 80 });
  for (const o of octets) f.add(`198.51.100.${o}`, 1, 80);
  return f;
}

test('rr starts with the newest destination and cycles in list order (100 then 201 → 201 100 ...)', () => {
  const f = new SchedFixture('rr', { protocol: IPPROTO_TCP, port: 80 });
  f.add('192.168.1.100', 1, 80);
  f.add('192.168.1.201', 1, 80);
  assert.equal(picks(f, 6), '201 100 201 100 201 100');
});

test('rr ignores weights other than 0 and skips weight 0 and OVERLOAD', () => {
  const f = new SchedFixture('rr', { protocol: IPPROTO_TCP, port: 80 });
  f.add('198.51.100.11', 5, 80);
  f.add('198.51.100.12', 0, 80);
  const c = f.add('198.51.100.13', 1, 80);
  f.add('198.51.100.14', 2, 80);
  assert.equal(picks(f, 6), '14 13 11 14 13 11');
  c.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(picks(f, 4), '14 11 14 11');
});

test('rr returns the cursor destination itself when it is the only one left', () => {
  const f = rrWith(11, 12, 13);
  assert.equal(picks(f, 2), '13 12');
  f.edit('198.51.100.13', 0, 80);
  f.edit('198.51.100.11', 0, 80);
  assert.equal(picks(f, 3), '12 12 12');
});

test('rr has no destination when the list is empty or every one is weight 0 or overloaded', () => {
  const f = new SchedFixture('rr', { protocol: IPPROTO_TCP, port: 80 });
  assert.equal(f.pick('203.0.113.1', 1), null);
  const a = f.add('198.51.100.11', 0, 80);
  const b = f.add('198.51.100.12', 1, 80);
  b.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 2), null);
  assert.match(f.svc.lastSchedError, /no destination available/);
  f.edit('198.51.100.11', 1, 80);
  assert.equal(f.pick('203.0.113.1', 3), a);
});

test('rr keeps its cursor across weight edits and adds (a new destination is reached after the list head)', () => {
  const f = rrWith(11, 12, 13);
  assert.equal(picks(f, 2), '13 12');
  f.edit('198.51.100.12', 3, 80);
  f.add('198.51.100.14', 1, 80);
  // Cursor on 12: then 11, then past the head to 14 (the newest), 13, 12.
  assert.equal(picks(f, 5), '11 14 13 12 11');
});

test('rr moves the cursor to the predecessor when the cursor destination is deleted', () => {
  const f = rrWith(11, 12, 13, 14);
  assert.equal(picks(f, 2), '14 13');
  f.del('198.51.100.13', 80); // the cursor: it moves back to 14, so 12 comes next
  assert.equal(picks(f, 3), '12 11 14');
  f.del('198.51.100.12', 80); // not the cursor (14): nothing moves
  assert.equal(picks(f, 2), '11 14');
});

test('rr deleting the cursor at the list front moves it to the list head', () => {
  const f = rrWith(11, 12, 13);
  assert.equal(picks(f, 1), '13');
  f.del('198.51.100.13', 80);
  assert.equal(picks(f, 3), '12 11 12');
});

test('rr -E with the same scheduler keeps the cursor, another scheduler and back starts over', () => {
  const f = rrWith(11, 12, 13);
  assert.equal(picks(f, 2), '13 12');
  f.editService('rr');
  assert.equal(picks(f, 1), '11');
  f.editService('wlc');
  f.editService('rr');
  assert.equal(picks(f, 2), '13 12');
});
