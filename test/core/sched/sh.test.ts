import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IP_VS_DEST_F_OVERLOAD } from '../../../src/core/dest.js';
import { hash32 } from '../../../src/core/hash.js';
import { IP_VS_SH_TAB_SIZE, type ShState } from '../../../src/core/sched/sh.js';
import { IP_VS_SVC_F_SCHED_SH_FALLBACK, IP_VS_SVC_F_SCHED_SH_PORT } from '../../../src/core/service.js';
import { octet, SchedFixture } from '../../helpers/hash-sched-fixture.js';

// Pick sequences observed on the reference kernel: spec ipvs.md §11.4. Destinations are
// 192.168.1.71..73 and are listed in the order they were added (the kernel list is the reverse).
const clients = Array.from({ length: 16 }, (_, i) => `203.0.113.${i + 1}`);

function picks16(f: SchedFixture): string {
  return clients.map((c) => octet(f.pick(c, 5000))).join(' ');
}

function buckets(f: SchedFixture): string[] {
  return (f.svc.schedData as ShState).buckets.map((d) => octet(d));
}

test('sh picks as Linux 6.1 did: 71 w1, 72 w2, 73 w1, clients .1 to .16', () => {
  const f = new SchedFixture('sh');
  f.add('192.168.1.71', 1);
  f.add('192.168.1.72', 2);
  f.add('192.168.1.73', 1);
  assert.equal(picks16(f), '72 71 72 71 72 72 73 72 73 72 71 72 71 72 71 73');
});

test('sh with sh-port picks as Linux 6.1 did: one client, source ports 6000 to 6015', () => {
  const f = new SchedFixture('sh', { flags: IP_VS_SVC_F_SCHED_SH_PORT });
  f.add('192.168.1.71', 1);
  f.add('192.168.1.72', 1);
  f.add('192.168.1.73', 1);
  const got = [];
  for (let p = 6000; p <= 6015; p++) got.push(octet(f.pick('203.0.113.1', p)));
  assert.equal(got.join(' '), '72 71 72 71 73 71 73 71 73 72 73 72 73 71 71 72');
});

test('sh with sh-fallback picks as Linux 6.1 did: 71 w1, 72 w1, 73 w0', () => {
  const f = new SchedFixture('sh', { flags: IP_VS_SVC_F_SCHED_SH_FALLBACK });
  f.add('192.168.1.71', 1);
  f.add('192.168.1.72', 1);
  f.add('192.168.1.73', 0);
  assert.equal(picks16(f), '71 71 71 72 71 71 72 71 72 71 72 71 72 71 72 71');
});

test('sh without fallback fails the clients of a weight-0 bucket, as Linux 6.1 did', () => {
  const f = new SchedFixture('sh');
  f.add('192.168.1.71', 1);
  f.add('192.168.1.72', 1);
  f.add('192.168.1.73', 0);
  assert.equal(picks16(f), '71 none 71 none 71 71 72 none 72 none none 71 72 71 72 71');
  assert.equal(f.svc.lastSchedError, 'no destination available');
});

test('sh fills max(weight, 1) consecutive buckets per destination in list order, wrapping', () => {
  const f = new SchedFixture('sh');
  f.add('192.168.1.71', 1);
  f.add('192.168.1.72', 2);
  f.add('192.168.1.73', 1);
  const b = buckets(f);
  assert.equal(b.length, IP_VS_SH_TAB_SIZE);
  assert.deepEqual(b.slice(0, 8), ['73', '72', '72', '71', '73', '72', '72', '71']);
  f.edit('192.168.1.72', 0);
  assert.deepEqual(buckets(f).slice(0, 6), ['73', '72', '71', '73', '72', '71']);
});

test('sh gives the sh-port bit no effect on protocols without ports', () => {
  const f = new SchedFixture('sh', { flags: IP_VS_SVC_F_SCHED_SH_PORT });
  f.add('192.168.1.71', 1);
  f.add('192.168.1.72', 1);
  f.add('192.168.1.73', 1);
  f.flow.protocol = 1;
  const a = f.pick('203.0.113.1', 6000);
  const b = f.pick('203.0.113.1', 6001);
  f.flow.protocol = 17;
  const c = f.pick('203.0.113.1', 0);
  assert.equal(a, b);
  assert.equal(a, c);
});

test('sh rebuilds on edits mid-sequence and never returns a deleted destination', () => {
  const f = new SchedFixture('sh');
  f.add('192.168.1.71', 1);
  f.add('192.168.1.72', 2);
  f.add('192.168.1.73', 1);
  assert.equal(picks16(f), '72 71 72 71 72 72 73 72 73 72 71 72 71 72 71 73');
  // 72 at weight 1: the table becomes 73 72 71 repeated, as the 1,1,1 service of the sh-port row.
  f.edit('192.168.1.72', 1);
  const b = buckets(f);
  for (let i = 0; i < IP_VS_SH_TAB_SIZE; i++) assert.equal(b[i], ['73', '72', '71'][i % 3]);
  f.del('192.168.1.72');
  const after = picks16(f).split(' ');
  assert.ok(!after.includes('72'));
  assert.ok(!after.includes('none'));
  f.del('192.168.1.71');
  f.del('192.168.1.73');
  assert.equal(picks16(f), Array(16).fill('none').join(' '));
});

test('sh treats OVERLOAD like weight 0: none, or the fallback probe', () => {
  const f = new SchedFixture('sh');
  f.add('192.168.1.71', 1);
  f.add('192.168.1.72', 1);
  const d73 = f.add('192.168.1.73', 1);
  d73.flags |= IP_VS_DEST_F_OVERLOAD;
  // Buckets repeat 73 72 71; 203.0.113.2 hashes to bucket 147 (147 mod 3 = 0): 73, which now fails.
  assert.equal(buckets(f)[147], '73');
  assert.equal(f.pick('203.0.113.2', 5000), null);
  f.editService('sh', IP_VS_SVC_F_SCHED_SH_FALLBACK);
  // The probe starts at bucket 2*147 mod 256 = 38 (38 mod 3 = 2): 71.
  assert.equal(octet(f.pick('203.0.113.2', 5000)), '71');
  d73.flags &= ~IP_VS_DEST_F_OVERLOAD;
  assert.equal(octet(f.pick('203.0.113.2', 5000)), '73');
});

test('sh-fallback probes bucket (2*h0 + k) mod 256, not (h0 + k): the kernel quirk', () => {
  // List order D1 D2 D3 D4, 64 buckets each: D1 0..63, D2 64..127, D3 128..191, D4 192..255.
  const f = new SchedFixture('sh', { flags: IP_VS_SVC_F_SCHED_SH_FALLBACK });
  f.add('192.168.1.4', 64);
  f.add('192.168.1.3', 64);
  const d2 = f.add('192.168.1.2', 64);
  f.add('192.168.1.1', 64);
  assert.deepEqual([0, 63, 64, 127, 128, 191, 192, 255].map((i) => buckets(f)[i]), ['1', '1', '2', '2', '3', '3', '4', '4']);
  const h0 = hash32(0xcb007107, 8); // 203.0.113.7
  assert.equal(h0, 124);
  assert.equal(octet(f.pick('203.0.113.7', 5000)), '2');
  d2.flags |= IP_VS_DEST_F_OVERLOAD;
  // A linear probe from 124 would reach D3 at 128; the kernel starts at 248, in D4.
  assert.equal(octet(f.pick('203.0.113.7', 5000)), '4');
});

test('sh with every destination unavailable finds none even with fallback', () => {
  const f = new SchedFixture('sh', { flags: IP_VS_SVC_F_SCHED_SH_FALLBACK });
  f.add('192.168.1.71', 0);
  f.add('192.168.1.72', 0);
  assert.equal(picks16(f), Array(16).fill('none').join(' '));
});

test('sh binds to a service that already has destinations (-E -s sh)', () => {
  const f = new SchedFixture('rr');
  f.add('192.168.1.71', 1);
  f.add('192.168.1.72', 2);
  f.add('192.168.1.73', 1);
  f.editService('sh');
  assert.equal(picks16(f), '72 71 72 71 72 72 73 72 73 72 71 72 71 72 71 73');
});

test('sh folds an IPv6 client address by XOR of its words', () => {
  const f = new SchedFixture('sh', { vip: '2001:db8::1' });
  f.add('2001:db8::71', 1);
  f.add('2001:db8::72', 1);
  f.add('2001:db8::73', 1);
  // 2001:db8::cb00:7101 folds to 0x20010db8 ^ 0xcb007101; the same fold from another address
  // picks the same bucket.
  const a = f.pick('2001:db8::cb00:7101', 5000);
  const b = f.pick(`::${((0x20010db8 ^ 0xcb007101) >>> 16).toString(16)}:${((0x20010db8 ^ 0xcb007101) & 0xffff).toString(16)}`, 5000);
  assert.equal(a, b);
  const h = hash32((0x20010db8 ^ 0xcb007101) >>> 0, 8);
  assert.equal(a, (f.svc.schedData as ShState).buckets[h]);
});
