// Unit tests of src/core/sched/lc.ts (ip_vs_lc.c): least overhead (active*256 + total), weight
// only as "0 = skip", ties to the first in list order (the newest). Sequences are the oracle runs
// of spec ipvs.md §4.6/§11.3; connections are bound as the conn layer binds them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindDest, setActive } from '../../../src/core/conn/bind.js';
import { type Dest, IP_VS_CONN_F_INACTIVE, IP_VS_DEST_F_OVERLOAD } from '../../../src/core/dest.js';
import { IPPROTO_TCP, octet, SchedFixture } from '../../helpers/hash-sched-fixture.js';

let port = 40000;
/** n picks; each one opens an active (TCP SYN) or inactive (UDP) connection on the pick. */
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

test('lc UDP, weights 1,5,0 added as 41,42,43: weight 0 skipped, the weight is otherwise ignored', () => {
  const f = new SchedFixture('lc');
  f.add('192.168.1.41', 1);
  f.add('192.168.1.42', 5);
  f.add('192.168.1.43', 0);
  assert.equal(run(f, 6, false), '42 41 42 41 42 41');
});

test('lc TCP, weights 1,2,3 added as 51,52,53: a plain rotation of active connections', () => {
  const f = new SchedFixture('lc', { protocol: IPPROTO_TCP, port: 80 });
  f.add('192.168.1.51', 1, 80);
  f.add('192.168.1.52', 2, 80);
  f.add('192.168.1.53', 3, 80);
  assert.equal(run(f, 12, true), '53 52 51 53 52 51 53 52 51 53 52 51');
});

test('lc overhead is active*256 + total: 256 inactive (256) beat 1 active (257), as on the oracle', () => {
  const f = new SchedFixture('lc', { protocol: IPPROTO_TCP, port: 80 });
  const y = f.add('192.168.1.62', 1, 80);
  for (let i = 0; i < 256; i++) {
    bindDest(y, 0);
    setActive(y, false); // SYN then FIN: TIME_WAIT, inactive
  }
  f.add('192.168.1.61', 1, 80);
  assert.equal(run(f, 3, true), '61 62 61');
});

test('lc breaks ties on list order and skips OVERLOAD', () => {
  const f = new SchedFixture('lc');
  const a = f.add('192.168.1.41', 1);
  const b = f.add('192.168.1.42', 1);
  const c = f.add('192.168.1.43', 1);
  load(a, 0, 2);
  load(b, 0, 2);
  load(c, 0, 3);
  assert.equal(f.pick('203.0.113.1', 1), b);
  b.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 2), a);
});

test('lc has no destination when all are weight 0 or overloaded', () => {
  const f = new SchedFixture('lc');
  f.add('192.168.1.41', 0);
  const b = f.add('192.168.1.42', 1);
  b.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 1), null);
  assert.equal(f.svc.lastSchedError, 'no destination available');
});
