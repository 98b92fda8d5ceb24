// Unit tests of src/core/sched/wlc.ts (ip_vs_wlc.c): overhead/weight compared by
// cross-multiplying in 64 bits, the first non-overloaded weight>0 destination as the starting
// candidate, replacement only on strict improvement. Sequences: oracle runs of spec §4.7/§11.3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindDest } from '../../../src/core/conn/bind.js';
import { type Dest, IP_VS_CONN_F_INACTIVE, IP_VS_DEST_F_OVERLOAD } from '../../../src/core/dest.js';
import { IPPROTO_TCP, octet, SchedFixture } from '../../helpers/hash-sched-fixture.js';

let port = 40000;
function run(f: SchedFixture, n: number, active: boolean): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const d = f.pick('203.0.113.1', port++);
    if (d) bindDest(d, active ? 0 : IP_VS_CONN_F_INACTIVE);
    out.push(octet(d));
  }
  return out.join(' ');
}

function load(d: Dest, active: number, inactive: number): void {
  for (let i = 0; i < active; i++) bindDest(d, 0);
  for (let i = 0; i < inactive; i++) bindDest(d, IP_VS_CONN_F_INACTIVE);
}

test('wlc UDP and TCP, weights 1,2,3 added as 41,42,43: the sequence the oracle showed for both', () => {
  for (const active of [false, true]) {
    const f = new SchedFixture('wlc', { protocol: IPPROTO_TCP, port: 80 });
    f.add('192.168.1.41', 1, 80);
    f.add('192.168.1.42', 2, 80);
    f.add('192.168.1.43', 3, 80);
    assert.equal(run(f, 12, active), '43 42 41 43 42 43 43 42 41 43 42 43');
  }
});

test('wlc keeps the earlier (newer) destination on a tie of overhead/weight', () => {
  const f = new SchedFixture('wlc');
  const a = f.add('192.168.1.41', 2);
  const b = f.add('192.168.1.42', 1);
  load(a, 2, 0); // 514 / 2 = 257
  load(b, 1, 0); // 257 / 1
  assert.equal(f.pick('203.0.113.1', 1), b);
});

test('wlc never starts from nor moves to a weight-0 destination, even an idle one', () => {
  const f = new SchedFixture('wlc');
  const a = f.add('192.168.1.41', 1);
  const b = f.add('192.168.1.42', 2);
  f.add('192.168.1.43', 0); // list head, no connections
  load(a, 10, 0);
  load(b, 10, 0);
  assert.equal(f.pick('203.0.113.1', 1), b);
  f.edit('192.168.1.42', 0);
  assert.equal(f.pick('203.0.113.1', 2), a);
  f.edit('192.168.1.41', 0);
  assert.equal(f.pick('203.0.113.1', 3), null);
  assert.equal(f.svc.lastSchedError, 'no destination available');
});

test('wlc skips OVERLOAD destinations, also as the starting candidate', () => {
  const f = new SchedFixture('wlc');
  const a = f.add('192.168.1.41', 1);
  const b = f.add('192.168.1.42', 1);
  const c = f.add('192.168.1.43', 1);
  load(a, 0, 5);
  load(b, 0, 1);
  c.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 1), b);
  b.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 2), a);
});

test('wlc compares exactly where doubles would round (products above 2^53)', () => {
  // h1*w2 vs h2*w1 with w1 = 2^31-1, w2 = w1-1, h1 = w1-1, h2 = h1-1: h1*w2 - h2*w1 = w1 - h1 = 1,
  // far below the spacing of doubles near 2^62, so only an exact comparison sees b as lighter.
  const w1 = 2147483647;
  const f = new SchedFixture('wlc');
  const b = f.add('192.168.1.42', w1 - 1);
  const a = f.add('192.168.1.41', w1); // list head: the starting candidate
  a.totalConns = w1 - 1;
  b.totalConns = w1 - 2;
  assert.ok((w1 - 1) * (w1 - 1) === (w1 - 2) * w1, 'doubles cannot tell these products apart');
  assert.equal(f.pick('203.0.113.1', 1), b);
});
