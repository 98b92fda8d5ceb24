// Unit tests of src/core/sched/sed.ts (ip_vs_sed.c): wlc's scan with overhead active + 1.
// Sequence: oracle run of spec §4.8/§11.3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindDest } from '../../../src/core/conn/bind.js';
import { IP_VS_CONN_F_INACTIVE, IP_VS_DEST_F_OVERLOAD } from '../../../src/core/dest.js';
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

test('sed TCP, weights 1,2,3 added as 51,52,53', () => {
  const f = new SchedFixture('sed', { protocol: IPPROTO_TCP, port: 80 });
  f.add('192.168.1.51', 1, 80);
  f.add('192.168.1.52', 2, 80);
  f.add('192.168.1.53', 3, 80);
  assert.equal(run(f, 12, true), '53 52 53 53 52 51 53 52 53 53 52 51');
});

test('sed ignores inactive connections: with UDP the heaviest weight always wins', () => {
  const f = new SchedFixture('sed');
  f.add('192.168.1.51', 2);
  f.add('192.168.1.52', 4);
  f.add('192.168.1.53', 4); // ties with 52 at (0+1)/4: 53 is first in list order
  assert.equal(run(f, 5, false), '53 53 53 53 53');
});

test('sed: weight 0 never wins, OVERLOAD is skipped, nothing left is no destination', () => {
  const f = new SchedFixture('sed');
  const a = f.add('192.168.1.51', 1);
  f.add('192.168.1.52', 0);
  const c = f.add('192.168.1.53', 1);
  bindDest(a, 0);
  bindDest(c, 0);
  bindDest(c, 0);
  assert.equal(f.pick('203.0.113.1', 1), a); // 2 vs 3; 52 (overhead 1, weight 0) cannot win
  a.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 2), c);
  c.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 3), null);
});
