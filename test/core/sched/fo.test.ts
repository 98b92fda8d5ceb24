// Unit tests of src/core/sched/fo.ts (ip_vs_fo.c): the highest weight among non-overloaded
// destinations, ties to the first in list order; connections are ignored (spec §4.10).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindDest } from '../../../src/core/conn/bind.js';
import { IP_VS_DEST_F_OVERLOAD } from '../../../src/core/dest.js';
import { octet, SchedFixture } from '../../helpers/hash-sched-fixture.js';

test('fo weights 1,3,2: always the weight-3 server, however loaded', () => {
  const f = new SchedFixture('fo');
  f.add('192.168.1.51', 1);
  f.add('192.168.1.52', 3);
  f.add('192.168.1.53', 2);
  const out: string[] = [];
  for (let i = 0; i < 12; i++) {
    const d = f.pick('203.0.113.1', 40000 + i);
    if (d) bindDest(d, 0);
    out.push(octet(d));
  }
  assert.equal(out.join(' '), Array(12).fill('52').join(' '));
});

test('fo breaks a weight tie on list order (the newest destination)', () => {
  const f = new SchedFixture('fo');
  f.add('192.168.1.51', 2);
  const b = f.add('192.168.1.52', 2);
  assert.equal(f.pick('203.0.113.1', 1), b);
});

test('fo fails over to the next weight when the primary is overloaded, and back', () => {
  const f = new SchedFixture('fo');
  const a = f.add('192.168.1.51', 10);
  const b = f.add('192.168.1.52', 5);
  f.add('192.168.1.53', 1);
  a.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 1), b);
  a.flags &= ~IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 2), a);
});

test('fo never picks weight 0 and has no destination when nothing else is left', () => {
  const f = new SchedFixture('fo');
  f.add('192.168.1.51', 0);
  const b = f.add('192.168.1.52', 1);
  b.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 1), null);
  assert.equal(f.svc.lastSchedError, 'no destination available');
});
