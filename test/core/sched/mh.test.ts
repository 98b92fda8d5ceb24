import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IP_VS_DEST_F_OVERLOAD } from '../../../src/core/dest.js';
import { IpvsError } from '../../../src/core/errors.js';
import { hsiphash32, MH_HASH1 } from '../../../src/core/hash.js';
import { IP_VS_MH_TAB_SIZE, mhPermutation, type MhState } from '../../../src/core/sched/mh.js';
import { IP_VS_SVC_F_SCHED_MH_FALLBACK, IP_VS_SVC_F_SCHED_MH_PORT } from '../../../src/core/service.js';
import { octet, SchedFixture } from '../../helpers/hash-sched-fixture.js';

// Vectors and pick sequences: spec ipvs.md §11.4, observed on the reference kernel with
// destinations 192.168.1.81..83 port 53 (listed in the order they were added).
const clients = Array.from({ length: 16 }, (_, i) => `203.0.113.${i + 1}`);

function picks16(f: SchedFixture): string {
  return clients.map((c) => octet(f.pick(c, 5000))).join(' ');
}

function lookup(f: SchedFixture): string[] {
  return (f.svc.schedData as MhState).lookup.map((d) => octet(d));
}

function slotCounts(f: SchedFixture): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of lookup(f)) out[o] = (out[o] ?? 0) + 1;
  return out;
}

function fixture(weights: [number, number, number], flags = 0): SchedFixture {
  const f = new SchedFixture('mh', { flags });
  f.add('192.168.1.81', weights[0]);
  f.add('192.168.1.82', weights[1]);
  f.add('192.168.1.83', weights[2]);
  return f;
}

test('mh table size is the prime 4093 of CONFIG_IP_VS_MH_TAB_INDEX=12', () => {
  assert.equal(IP_VS_MH_TAB_SIZE, 4093);
});

test('mh permutation offset/skip of 192.168.1.81..83:53 match the kernel', () => {
  const f = fixture([1, 1, 1]);
  const got = ['192.168.1.81', '192.168.1.82', '192.168.1.83'].map((a) => {
    const d = f.svc.dests().find((x) => x.addr.toString() === a);
    assert.ok(d);
    const p = mhPermutation(f.svc, d);
    return [p.offset, p.skip];
  });
  assert.deepEqual(got, [[1112, 3925], [2196, 3362], [915, 1904]]);
});

test('mh fills 4093 slots 1364/1364/1365 for weights 1,1,1 (the list head gets the extra one)', () => {
  const f = fixture([1, 1, 1]);
  assert.deepEqual(slotCounts(f), { 81: 1364, 82: 1364, 83: 1365 });
});

test('mh fills 682/1364/2047 slots for weights 1,2,3', () => {
  assert.deepEqual(slotCounts(fixture([1, 2, 3])), { 81: 682, 82: 1364, 83: 2047 });
});

test('mh looks clients up at hsiphash(addr) mod 4093 as the kernel did', () => {
  const f = fixture([1, 1, 1]);
  assert.equal(hsiphash32(0xcb007101, MH_HASH1), 0xb7d1a81b);
  const l = lookup(f);
  for (const [c, slot, d] of [[0xcb007101, 1505, '82'], [0xcb007104, 3568, '81'], [0xcb007105, 3219, '83']] as const) {
    assert.equal(hsiphash32(c, MH_HASH1) % 4093, slot);
    assert.equal(l[slot], d);
  }
});

test('mh picks as Linux 6.1 did: 81, 82, 83 (w1), clients .1 to .16', () => {
  assert.equal(picks16(fixture([1, 1, 1])), '82 82 82 81 83 81 81 82 83 82 83 81 82 81 81 83');
});

test('mh with mh-port picks as Linux 6.1 did: 81 w1, 82 w2, 83 w3, ports 6000 to 6015', () => {
  const f = fixture([1, 2, 3], IP_VS_SVC_F_SCHED_MH_PORT);
  const got = [];
  for (let p = 6000; p <= 6015; p++) got.push(octet(f.pick('203.0.113.1', p)));
  assert.equal(got.join(' '), '82 83 82 83 83 82 81 83 83 83 83 83 83 83 82 82');
});

test('mh with mh-fallback picks as Linux 6.1 did after -e 83 -w 0 (83 keeps its slots)', () => {
  const f = fixture([1, 1, 1], IP_VS_SVC_F_SCHED_MH_FALLBACK);
  const before = lookup(f);
  f.edit('192.168.1.83', 0);
  assert.deepEqual(lookup(f), before);
  assert.equal(picks16(f), '82 82 82 81 81 81 81 82 81 82 82 81 82 81 81 82');
});

test('mh without fallback fails the clients of a weight-0 destination that kept its slots', () => {
  const f = fixture([1, 1, 1]);
  f.edit('192.168.1.83', 0);
  assert.equal(picks16(f), '82 82 82 81 none 81 81 82 none 82 none 81 82 81 81 none');
  assert.equal(f.svc.lastSchedError, 'no destination available');
});

test('mh gives no slot to a destination added with weight 0', () => {
  const f = fixture([1, 1, 0]);
  const c = slotCounts(f);
  assert.equal(c['83'], undefined);
  assert.equal(c['81'] + c['82'], 4093);
});

test('mh OVERLOAD fails the slot, and mh-fallback re-hashes with offsets', () => {
  const f = fixture([1, 1, 1]);
  const d83 = f.svc.dests()[0];
  assert.equal(octet(d83), '83');
  d83.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(picks16(f), '82 82 82 81 none 81 81 82 none 82 none 81 82 81 81 none');
  f.editService('mh', IP_VS_SVC_F_SCHED_MH_FALLBACK);
  // Same as the weight-0 fallback row: the table is the same and 83 is unavailable either way.
  assert.equal(picks16(f), '82 82 82 81 81 81 81 82 81 82 82 81 82 81 81 82');
});

test('mh divides weights by their gcd and shifts ratios above 6 bits', () => {
  const same = (a: [number, number, number], b: [number, number, number]) =>
    assert.deepEqual(lookup(fixture(a)), lookup(fixture(b)), `${a} vs ${b}`);
  same([2, 4, 6], [1, 2, 3]);
  // max/gcd = 1000 has 10 bits: shift 4, turns 1000 >> 4 = 62; 1 >> 4 = 0 becomes 1.
  same([1000, 1, 1], [62, 1, 1]);
  // 63 fits in 6 bits: no shift, so 63 and 62 differ.
  assert.notDeepEqual(lookup(fixture([63, 1, 1])), lookup(fixture([62, 1, 1])));
});

test('mh rebuilds on edit, add and delete and never returns a deleted destination', () => {
  const f = fixture([1, 1, 1]);
  f.edit('192.168.1.81', 2);
  assert.deepEqual(lookup(f), lookup(fixture([2, 1, 1])));
  f.del('192.168.1.82');
  const l = lookup(f);
  assert.ok(!l.includes('82'));
  assert.ok(!picks16(f).includes('82'));
  f.add('192.168.1.82', 1);
  // Re-added at the list head (list 82, 83, 81, weights 1, 1, 2).
  assert.ok(slotCounts(f)['82'] > 0);
  assert.equal(Object.values(slotCounts(f)).reduce((a, b) => a + b), 4093);
  f.del('192.168.1.81');
  f.del('192.168.1.82');
  f.del('192.168.1.83');
  assert.equal(picks16(f), Array(16).fill('none').join(' '));
  assert.ok(lookup(f).every((o) => o === 'none'));
});

test('mh table depends on list order, not only on the set of destinations', () => {
  const a = fixture([1, 1, 1]);
  const b = new SchedFixture('mh');
  b.add('192.168.1.83', 1);
  b.add('192.168.1.82', 1);
  b.add('192.168.1.81', 1);
  assert.deepEqual(slotCounts(b), { 81: 1365, 82: 1364, 83: 1364 });
  assert.notDeepEqual(lookup(a), lookup(b));
});

test('mh keeps its table when the service has more destinations than slots, as the kernel', () => {
  const f = new SchedFixture('rr');
  for (let i = 1; i <= IP_VS_MH_TAB_SIZE; i++) f.add('198.51.100.1', 1, i);
  f.editService('mh');
  const before = [...(f.svc.schedData as MhState).lookup];
  assert.equal(new Set(before).size, IP_VS_MH_TAB_SIZE);
  const extra = f.add('198.51.100.2', 1);
  const after = (f.svc.schedData as MhState).lookup;
  assert.ok(after.every((d, i) => d === before[i]));
  assert.ok(!after.includes(extra));
  // Binding mh to a service that already has too many destinations fails with EINVAL.
  f.editService('rr');
  assert.throws(() => f.editService('mh'), (e: unknown) => e instanceof IpvsError && e.errno === 'EINVAL');
});

test('mh folds IPv6 addresses by XOR of their words for clients and destinations', () => {
  const f = new SchedFixture('mh', { vip: '2001:db8::1' });
  f.add('2001:db8::81', 1);
  f.add('2001:db8::82', 1);
  const d = f.svc.dests()[0];
  assert.equal(d.addr.toString(), '2001:db8::82');
  const p = mhPermutation(f.svc, d);
  assert.equal(p.offset, hsiphash32((53 + (0x20010db8 ^ 0x82)) >>> 0, MH_HASH1) % 4093);
  const l = (f.svc.schedData as MhState).lookup;
  assert.equal(f.pick('2001:db8::cb00:7101', 5000), l[hsiphash32((0x20010db8 ^ 0xcb007101) >>> 0, MH_HASH1) % 4093]);
});
