// Unit tests of src/core/sched/nq.ts (ip_vs_nq.c): the first idle (no active connection)
// destination in list order at once, else sed's choice. Sequence: oracle run of spec §4.9/§11.3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindDest, setActive } from '../../../src/core/conn/bind.js';
import { IP_VS_CONN_F_INACTIVE, IP_VS_DEST_F_OVERLOAD } from '../../../src/core/dest.js';
import { IPPROTO_TCP, octet, SchedFixture } from '../../helpers/hash-sched-fixture.js';

let port = 40000;
function run(f: SchedFixture, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const d = f.pick('203.0.113.1', port++);
    if (d) bindDest(d, 0);
    out.push(octet(d));
  }
  return out.join(' ');
}

test('nq TCP, weights 1,2,3 added as 51,52,53: each idle server first, then sed', () => {
  const f = new SchedFixture('nq', { protocol: IPPROTO_TCP, port: 80 });
  f.add('192.168.1.51', 1, 80);
  f.add('192.168.1.52', 2, 80);
  f.add('192.168.1.53', 3, 80);
  assert.equal(run(f, 12), '53 52 51 53 53 52 53 52 53 53 52 51');
});

test('nq takes an idle destination whatever its weight and inactive connections', () => {
  const f = new SchedFixture('nq', { protocol: IPPROTO_TCP, port: 80 });
  const a = f.add('192.168.1.51', 1, 80);
  const b = f.add('192.168.1.52', 100, 80);
  for (let i = 0; i < 50; i++) bindDest(a, IP_VS_CONN_F_INACTIVE);
  bindDest(b, 0);
  assert.equal(f.pick('203.0.113.1', 1), a);
  bindDest(a, 0);
  setActive(b, false); // b's connection finished: b is idle again and first in list order
  assert.equal(f.pick('203.0.113.1', 2), b);
});

test('nq skips idle destinations that are weight 0 or overloaded', () => {
  const f = new SchedFixture('nq', { protocol: IPPROTO_TCP, port: 80 });
  const a = f.add('192.168.1.51', 2, 80);
  const b = f.add('192.168.1.52', 1, 80);
  f.add('192.168.1.53', 0, 80);
  bindDest(a, 0);
  b.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 1), a);
  a.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 2), null);
  assert.equal(f.svc.lastSchedError, 'no destination available');
});
