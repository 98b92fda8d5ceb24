import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AF_INET } from '../../../src/core/addr.js';
import { IP_VS_DEST_F_OVERLOAD } from '../../../src/core/dest.js';
import { hash32 } from '../../../src/core/hash.js';
import {
  CHECK_EXPIRE_INTERVAL_MS, COUNT_FOR_FULL_EXPIRATION, ENTRY_TIMEOUT_MS, IP_VS_LBLC_TAB_SIZE, lblc, LblcState,
  setLblcSysctl,
} from '../../../src/core/sched/lblc.js';
import { addr, IPPROTO_TCP, octet, SchedFixture } from '../../helpers/hash-sched-fixture.js';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

function state(f: SchedFixture): LblcState {
  return f.svc.schedData as LblcState;
}

/** The dest cached for a destination address, or undefined. */
function cached(f: SchedFixture, daddr: string): string | undefined {
  const w = addr(daddr).w0;
  for (const e of state(f).all()) if (e.a0 >>> 0 === w) return octet(e.dest);
  return undefined;
}

/** Dotted IPv4 address n inside 198.51.100.0/24 and onwards (distinct per n). */
function nth(n: number): string {
  return `198.${51 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

test('lblc picks as Linux 6.1 did: 95 w2, 96 w2, 10 SYNs to one VIP', () => {
  const f = new SchedFixture('lblc', { protocol: IPPROTO_TCP, port: 80 });
  f.add('192.168.1.95', 2, 80);
  f.add('192.168.1.96', 2, 80);
  const got = [];
  for (let i = 0; i < 10; i++) got.push(octet(f.pickActive('203.0.113.1', 40000 + i)));
  assert.equal(got.join(' '), '96 96 96 95 95 95 95 95 95 95');
});

test('lblc uses a cached destination while it is not lblc-overloaded, ignoring the OVERLOAD flag', () => {
  const f = new SchedFixture('lblc');
  f.add('192.168.1.95', 2);
  const d96 = f.add('192.168.1.96', 2);
  assert.equal(f.pick('203.0.113.1', 1), d96);
  d96.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 2), d96);
  // Without a cache entry the OVERLOAD flag counts: another VIP address goes to 95.
  assert.equal(octet(f.pick('203.0.113.1', 3, 0, '192.168.1.151')), '95');
});

test('lblc-overloaded needs activeconns > weight and some destination under half its weight', () => {
  const f = new SchedFixture('lblc');
  const d95 = f.add('192.168.1.95', 4);
  const d96 = f.add('192.168.1.96', 2);
  assert.equal(f.pick('203.0.113.1', 1), d96);
  d96.activeConns = 3;
  d95.activeConns = 2; // 2 * 2 < 4 is false: nobody is under half
  assert.equal(f.pick('203.0.113.1', 2), d96);
  d95.activeConns = 1; // 1 * 2 < 4: 95 is under half, so 96 is lblc-overloaded
  assert.equal(f.pick('203.0.113.1', 3), d95);
  assert.equal(cached(f, '192.168.1.150'), '95');
  // activeconns == weight is not over.
  d95.activeConns = 4;
  d96.activeConns = 0;
  assert.equal(f.pick('203.0.113.1', 4), d95);
});

test('lblc replaces the entry of a destination edited to weight 0, and never schedules weight 0', () => {
  const f = new SchedFixture('lblc');
  f.add('192.168.1.95', 1);
  f.add('192.168.1.96', 1);
  assert.equal(octet(f.pick('203.0.113.1', 1)), '96');
  f.edit('192.168.1.96', 0);
  assert.equal(octet(f.pick('203.0.113.1', 2)), '95');
  assert.equal(cached(f, '192.168.1.150'), '95');
  f.edit('192.168.1.95', 0);
  assert.equal(f.pick('203.0.113.1', 3), null);
  assert.equal(f.svc.lastSchedError, 'no destination available');
  // The stale entry stays until the destination is usable again.
  f.edit('192.168.1.95', 1);
  assert.equal(octet(f.pick('203.0.113.1', 4)), '95');
});

test('lblc treats a deleted destination as unavailable, and its entry keeps it in the trash', () => {
  const f = new SchedFixture('lblc');
  f.add('192.168.1.95', 1);
  const d96 = f.add('192.168.1.96', 1);
  assert.equal(f.pick('203.0.113.1', 1), d96);
  assert.equal(d96.refcnt, 1);
  f.del('192.168.1.96');
  assert.equal(d96.isAvailable(), false);
  assert.equal(f.table.purgeTrash(0), 0);
  assert.equal(f.table.purgeTrash(10 * MIN), 0);
  assert.equal(f.table.trashSize, 1);
  assert.equal(octet(f.pick('203.0.113.1', 2)), '95');
  // The replaced entry released the deleted destination: the trash may now free it.
  assert.equal(d96.refcnt, 0);
  f.table.purgeTrash(11 * MIN);
  assert.equal(f.table.purgeTrash(14 * MIN), 1);
});

test('lblc re-adding a deleted destination that is still cached revives the same one', () => {
  const f = new SchedFixture('lblc');
  f.add('192.168.1.95', 1);
  const d96 = f.add('192.168.1.96', 1);
  f.pick('203.0.113.1', 1);
  f.del('192.168.1.96');
  assert.equal(f.add('192.168.1.96', 1), d96);
  assert.equal(f.pick('203.0.113.1', 2), d96);
});

test('lblc keys the table on the packet destination address, one entry per address', () => {
  const f = new SchedFixture('lblc', { fwmark: 1 });
  const d95 = f.add('192.168.1.95', 1);
  const d96 = f.add('192.168.1.96', 1);
  assert.equal(f.pickActive('203.0.113.1', 1, 0, '192.168.1.150'), d96);
  // wlc: 96 now has one active connection, so a new address goes to 95.
  assert.equal(f.pickActive('203.0.113.1', 1, 0, '192.168.1.151'), d95);
  assert.equal(f.pickActive('203.0.113.9', 7, 0, '192.168.1.150'), d96);
  assert.equal(state(f).entries, 2);
  const h = hash32(addr('192.168.1.150').w0, 10);
  const b = state(f).bucket[h];
  assert.ok(b !== null && b.a0 >>> 0 === addr('192.168.1.150').w0);
});

test('lblc compares all 128 bits of IPv6 destination addresses', () => {
  const f = new SchedFixture('lblc', { vip: '2001:db8::1', fwmark: 1 });
  f.add('2001:db8::95', 1);
  f.add('2001:db8::96', 1);
  const a = f.pickActive('2001:db8::c', 1, 0, '2001:db8::1:0:0');
  // Same XOR fold (same bucket), different address: a separate entry.
  assert.equal(addr('2001:db8::1:0:0').fold(), addr('2001:db8::1').fold());
  const b = f.pickActive('2001:db8::c', 1, 0, '2001:db8::1');
  assert.notEqual(a, b);
  assert.equal(state(f).entries, 2);
  assert.equal(f.pickActive('2001:db8::c', 1, 0, '2001:db8::1:0:0'), a);
});

test('lblc garbage collection: every 30th 60 s run drops entries idle for lblc_expiration (24 h)', () => {
  const f = new SchedFixture('lblc');
  f.add('192.168.1.95', 1);
  const d96 = f.add('192.168.1.96', 1);
  f.pick('203.0.113.1', 1, 0);
  assert.equal(lblc.periodMs, CHECK_EXPIRE_INTERVAL_MS);
  let run = 0;
  const tick = () => lblc.periodic?.(f.svc, ++run * CHECK_EXPIRE_INTERVAL_MS);
  // Run 1440 is at exactly 24 h and is a full check (1440 = 48 * 30): the entry goes then.
  while (run < 1439) tick();
  assert.equal(state(f).entries, 1);
  assert.equal(d96.refcnt, 1);
  tick();
  assert.equal(run % COUNT_FOR_FULL_EXPIRATION, 0);
  assert.equal(run * CHECK_EXPIRE_INTERVAL_MS, DAY);
  assert.equal(state(f).entries, 0);
  assert.equal(d96.refcnt, 0);
});

test('lblc use refreshes lastuse and so postpones expiry', () => {
  const f = new SchedFixture('lblc');
  f.add('192.168.1.95', 1);
  f.add('192.168.1.96', 1);
  f.pick('203.0.113.1', 1, 0);
  let run = 0;
  while (run < 720) lblc.periodic?.(f.svc, ++run * MIN);
  f.pick('203.0.113.1', 2, run * MIN);
  // Idle since 12 h: the run at 24 h keeps it; the first full check at 36 h (run 2160) drops it.
  while (run < 2159) lblc.periodic?.(f.svc, ++run * MIN);
  assert.equal(state(f).entries, 1);
  lblc.periodic?.(f.svc, ++run * MIN);
  assert.equal(state(f).entries, 0);
});

test('lblc reads lblc_expiration from a bound sysctl holder, at each run', () => {
  const f = new SchedFixture('lblc');
  f.add('192.168.1.95', 1);
  f.add('192.168.1.96', 1);
  const sysctl = { lblcExpirationS: 86400 };
  setLblcSysctl(f.svc, sysctl);
  f.pick('203.0.113.1', 1, 0);
  let run = 0;
  while (run < 30) lblc.periodic?.(f.svc, ++run * MIN);
  assert.equal(state(f).entries, 1);
  sysctl.lblcExpirationS = 1800; // 30 min: the run at 60 min drops an entry last used at 0
  while (run < 59) lblc.periodic?.(f.svc, ++run * MIN);
  assert.equal(state(f).entries, 1);
  lblc.periodic?.(f.svc, ++run * MIN);
  assert.equal(state(f).entries, 0);
});

test('lblc stops creating entries at 1.5 x max_size but still schedules', () => {
  const f = new SchedFixture('lblc', { fwmark: 1 });
  f.add('192.168.1.95', 1);
  f.add('192.168.1.96', 1);
  const t = state(f);
  assert.equal(t.maxSize, IP_VS_LBLC_TAB_SIZE * 16);
  const limit = (t.maxSize * 3) / 2;
  for (let i = 0; i < limit; i++) f.pick('203.0.113.1', 1, 0, nth(i));
  assert.equal(t.entries, limit);
  assert.notEqual(f.pick('203.0.113.1', 1, 0, nth(limit)), null);
  assert.equal(t.entries, limit);
  assert.equal(cached(f, nth(limit)), undefined);
});

test('lblc over max_size: a run drops whole buckets of entries idle for 6 min from the rover until the goal', () => {
  const f = new SchedFixture('lblc', { fwmark: 1 });
  f.add('192.168.1.95', 1);
  f.add('192.168.1.96', 1);
  const t = state(f);
  const n = t.maxSize + 300;
  for (let i = 0; i < n; i++) f.pick('203.0.113.1', 1, 0, nth(i));
  // 100 entries used recently cannot go.
  for (let i = 0; i < 100; i++) f.pick('203.0.113.1', 1, 5 * MIN, nth(i));
  // Below ENTRY_TIMEOUT nothing goes, and the counter does not advance over max_size.
  lblc.periodic?.(f.svc, MIN);
  assert.equal(t.entries, n);
  assert.equal(t.counter, 1);
  const before = new Set(Array.from(t.all(), (e) => e.a0 >>> 0));
  const now = ENTRY_TIMEOUT_MS;
  lblc.periodic?.(f.svc, now);
  const goal = Math.trunc((300 * 4) / 3);
  const after = new Set(Array.from(t.all(), (e) => e.a0 >>> 0));
  const gone = [...before].filter((a) => !after.has(a));
  assert.ok(gone.length >= goal, `${gone.length} >= ${goal}`);
  assert.equal(t.entries, n - gone.length);
  // Whole buckets 1..rover went (the rover starts at 0), except entries used at 5 min.
  const swept = new Set<number>();
  for (let j = 1; j <= t.rover; j++) swept.add(j);
  for (let i = 0; i < n; i++) {
    const a = addr(nth(i)).w0;
    const inSwept = swept.has(hash32(a, 10));
    assert.equal(after.has(a), !inSwept || i < 100, nth(i));
  }
  // Stopping at the first bucket that reached the goal: without the last bucket it was short.
  const lastBucket = [...gone].filter((a) => hash32(a, 10) === t.rover).length;
  assert.ok(gone.length - lastBucket < goal);
  assert.equal(t.af, AF_INET);
});

test('lblc unbinding (-E to another scheduler) drops the table and its references', () => {
  const f = new SchedFixture('lblc');
  f.add('192.168.1.95', 1);
  const d96 = f.add('192.168.1.96', 1);
  f.pick('203.0.113.1', 1);
  assert.equal(d96.refcnt, 1);
  f.editService('wlc');
  assert.equal(d96.refcnt, 0);
  assert.ok(!(f.svc.schedData instanceof LblcState), 'the lblc table is gone (wlc keeps only its dest index)');
});

test('lblc with no usable destination reports none', () => {
  const f = new SchedFixture('lblc');
  assert.equal(f.pick('203.0.113.1', 1), null);
  const d = f.add('192.168.1.95', 1);
  d.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(f.pick('203.0.113.1', 1), null);
  assert.equal(state(f).entries, 0);
});
