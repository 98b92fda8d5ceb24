// Unit tests of src/core/sched/ovf.ts (ip_vs_ovf.c): the highest weight among destinations that
// are not overloaded, have weight > 0 and no more active connections than their weight; ties
// to the first in list order. Sequence: oracle run of spec §4.11/§11.3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindDest, setActive } from '../../../src/core/conn/bind.js';
import { IP_VS_CONN_F_INACTIVE, IP_VS_DEST_F_OVERLOAD } from '../../../src/core/dest.js';
import { IPPROTO_TCP, octet, SchedFixture } from '../../helpers/hash-sched-fixture.js';

test('ovf weights 1,3,2 added as 51,52,53: overflow by active connections, then none', () => {
  const f = new SchedFixture('ovf', { protocol: IPPROTO_TCP, port: 80 });
  f.add('192.168.1.51', 1, 80);
  f.add('192.168.1.52', 3, 80);
  f.add('192.168.1.53', 2, 80);
  const out: string[] = [];
  for (let i = 0; i < 12; i++) {
    const d = f.pick('203.0.113.1', 40000 + i);
    if (d) bindDest(d, 0);
    out.push(octet(d));
  }
  assert.equal(out.join(' '), '52 52 52 52 53 53 53 51 51 none none none');
  assert.equal(f.svc.lastSchedError, 'no destination available');
});

test('ovf counts only active connections: inactive ones never overflow a destination', () => {
  const f = new SchedFixture('ovf');
  const a = f.add('192.168.1.51', 1);
  f.add('192.168.1.52', 1);
  for (let i = 0; i < 10; i++) bindDest(a, IP_VS_CONN_F_INACTIVE);
  // 52 is first in list order and ties on weight; give it two active connections.
  const b = f.svc.dests()[0];
  bindDest(b, 0);
  bindDest(b, 0);
  assert.equal(f.pick('203.0.113.1', 1), a);
  setActive(b, false);
  assert.equal(f.pick('203.0.113.1', 2), b); // 1 active is not more than weight 1
});

test('ovf skips weight 0 and OVERLOAD destinations', () => {
  const f = new SchedFixture('ovf');
  const a = f.add('192.168.1.51', 2);
  const b = f.add('192.168.1.52', 5);
  f.add('192.168.1.53', 0);
  b.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 1), a);
  a.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 2), null);
});
