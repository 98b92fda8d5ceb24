import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IP_VS_DEST_F_OVERLOAD } from '../../../src/core/dest.js';
import { CHECK_EXPIRE_INTERVAL_MS } from '../../../src/core/sched/lblc.js';
import { lblcr, type LblcrEntry, type LblcrState, setLblcrSysctl } from '../../../src/core/sched/lblcr.js';
import { addr, IPPROTO_TCP, octet, SchedFixture } from '../../helpers/hash-sched-fixture.js';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

function state(f: SchedFixture): LblcrState {
  return f.svc.schedData as LblcrState;
}

function entry(f: SchedFixture, daddr = '192.168.1.150'): LblcrEntry | undefined {
  const w = addr(daddr).w0;
  for (const e of state(f).all()) if (e.a0 >>> 0 === w) return e;
  return undefined;
}

function members(f: SchedFixture, daddr?: string): string {
  const e = entry(f, daddr);
  return e ? e.set.map(octet).join(' ') : '(no entry)';
}

test('lblcr picks as Linux 6.1 did: 95 w2, 96 w2, 10 SYNs to one VIP', () => {
  const f = new SchedFixture('lblcr', { protocol: IPPROTO_TCP, port: 80 });
  f.add('192.168.1.95', 2, 80);
  f.add('192.168.1.96', 2, 80);
  const got = [];
  for (let i = 0; i < 10; i++) got.push(octet(f.pickActive('203.0.113.1', 40000 + i)));
  assert.equal(got.join(' '), '96 96 96 95 95 95 95 96 95 96');
  // The 4th SYN found 96 lblc-overloaded (3 > 2 while 95 was idle) and added 95 at the head.
  assert.equal(members(f), '95 96');
});

test('lblcr takes the least loaded member (overhead/weight), ties to the newest member', () => {
  const f = new SchedFixture('lblcr');
  const d95 = f.add('192.168.1.95', 2);
  const d96 = f.add('192.168.1.96', 2);
  assert.equal(f.pick('203.0.113.1', 1), d96);
  d96.activeConns = 3; // lblc-overloaded while 95 is idle
  assert.equal(f.pick('203.0.113.1', 2), d95);
  assert.equal(members(f), '95 96');
  d95.activeConns = 2;
  d96.activeConns = 1;
  assert.equal(f.pick('203.0.113.1', 3), d96);
  d96.activeConns = 2;
  assert.equal(f.pick('203.0.113.1', 4), d95);
  d96.weight = 4; // set members are compared with their current weights
  assert.equal(f.pick('203.0.113.1', 5), d96);
});

test('lblcr skips removed and OVERLOAD members; a set with none usable schedules anew', () => {
  const f = new SchedFixture('lblcr');
  const d94 = f.add('192.168.1.94', 1);
  const d95 = f.add('192.168.1.95', 1);
  const d96 = f.add('192.168.1.96', 1);
  assert.equal(f.pick('203.0.113.1', 1), d96);
  d96.flags |= IP_VS_DEST_F_OVERLOAD;
  // The only member is OVERLOAD: wlc over the service (skipping OVERLOAD) adds 95.
  assert.equal(f.pick('203.0.113.1', 2), d95);
  assert.equal(members(f), '95 96');
  f.del('192.168.1.95');
  assert.equal(d95.isAvailable(), false);
  assert.equal(f.pick('203.0.113.1', 3), d94);
  assert.equal(members(f), '94 95 96');
  // Members hold references, deleted ones too.
  assert.deepEqual([d94.refcnt, d95.refcnt, d96.refcnt], [1, 1, 1]);
});

test('lblcr drops the most loaded member once the set is unchanged for lblcr_expiration, after choosing', () => {
  const f = new SchedFixture('lblcr');
  const d95 = f.add('192.168.1.95', 2);
  const d96 = f.add('192.168.1.96', 2);
  f.pick('203.0.113.1', 1, 0);
  d96.activeConns = 3;
  f.pick('203.0.113.1', 2, 0); // set 95 96, lastmod 0
  d95.activeConns = 3;
  d96.activeConns = 3;
  // At exactly lastmod + 24 h nothing is dropped (time_after is strict).
  assert.equal(f.pick('203.0.113.1', 3, DAY), d95);
  assert.equal(members(f), '95 96');
  // One ms later: set_min picks 95 (tie, head); set_max also picks 95 (tie, first) and drops
  // it, but the choice already made is still returned.
  assert.equal(f.pick('203.0.113.1', 4, DAY + 1), d95);
  assert.equal(members(f), '96');
  assert.equal(d95.refcnt, 0);
  assert.equal(entry(f)?.lastmod, DAY + 1);
  assert.equal(f.pick('203.0.113.1', 5, DAY + 2), d96);
});

test('lblcr set_max ignores OVERLOAD and weight-0 members when dropping', () => {
  const f = new SchedFixture('lblcr');
  const d94 = f.add('192.168.1.94', 1);
  const d95 = f.add('192.168.1.95', 1);
  const d96 = f.add('192.168.1.96', 1);
  f.pick('203.0.113.1', 1, 0);
  d96.activeConns = 2;
  f.pick('203.0.113.1', 2, 0);
  d95.activeConns = 2;
  f.pick('203.0.113.1', 3, 0);
  assert.equal(members(f), '94 95 96');
  d94.activeConns = 0;
  d95.activeConns = 5;
  d96.activeConns = 9;
  d96.weight = 0;
  d95.flags |= IP_VS_DEST_F_OVERLOAD;
  // set_min: 94. set_max: 95 (OVERLOAD does not matter there; 96 has weight 0 and cannot be it).
  assert.equal(f.pick('203.0.113.1', 4, DAY + 1), d94);
  assert.equal(members(f), '94 96');
});

test('lblcr keeps one entry per destination address and creates it with a single member', () => {
  const f = new SchedFixture('lblcr', { fwmark: 1 });
  f.add('192.168.1.95', 1);
  f.add('192.168.1.96', 1);
  f.pickActive('203.0.113.1', 1, 0, '192.168.1.150');
  f.pickActive('203.0.113.1', 1, 0, '192.168.1.151');
  assert.equal(state(f).entries, 2);
  assert.equal(members(f, '192.168.1.150'), '96');
  assert.equal(members(f, '192.168.1.151'), '95');
});

test('lblcr with no destination: the miss path sets no scheduler error, the hit path does', () => {
  const f = new SchedFixture('lblcr');
  const d = f.add('192.168.1.95', 1);
  d.weight = 0;
  f.svc.lastSchedError = '';
  assert.equal(f.pick('203.0.113.1', 1), null);
  assert.equal(f.svc.lastSchedError, '');
  assert.equal(state(f).entries, 0);
  d.weight = 1;
  assert.equal(f.pick('203.0.113.1', 2), d);
  d.weight = 0;
  assert.equal(f.pick('203.0.113.1', 3), null);
  assert.equal(f.svc.lastSchedError, 'no destination available');
});

test('lblcr garbage collection drops entries idle for lblcr_expiration and their references', () => {
  const f = new SchedFixture('lblcr');
  const d95 = f.add('192.168.1.95', 1);
  const d96 = f.add('192.168.1.96', 1);
  const sysctl = { lblcrExpirationS: 3600 };
  setLblcrSysctl(f.svc, sysctl);
  f.pick('203.0.113.1', 1, 0);
  d96.activeConns = 2;
  f.pick('203.0.113.1', 2, 0);
  assert.deepEqual([d95.refcnt, d96.refcnt], [1, 1]);
  assert.equal(lblcr.periodMs, CHECK_EXPIRE_INTERVAL_MS);
  let run = 0;
  while (run < 59) lblcr.periodic?.(f.svc, ++run * MIN);
  assert.equal(state(f).entries, 1);
  lblcr.periodic?.(f.svc, ++run * MIN); // run 60 = 1 h: a full check
  assert.equal(state(f).entries, 0);
  assert.deepEqual([d95.refcnt, d96.refcnt], [0, 0]);
});

test('lblcr unbinding drops every member reference', () => {
  const f = new SchedFixture('lblcr');
  const d95 = f.add('192.168.1.95', 1);
  const d96 = f.add('192.168.1.96', 1);
  f.pick('203.0.113.1', 1);
  d96.activeConns = 2;
  f.pick('203.0.113.1', 2);
  f.editService('lblc');
  assert.deepEqual([d95.refcnt, d96.refcnt], [0, 0]);
});
