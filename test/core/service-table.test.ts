// ServiceTable's dest index (an O(1) ip_vs_lookup_dest for big services) must find exactly
// what the kernel's list walk finds, through adds, deletes, trash revivals, edits, rolled-back
// transactions and whole-service deletes, also when two identities share an index key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AF_INET, AF_INET6, type Af, IpAddr } from '../../src/core/addr.js';
import { type Dest, type DestUser, IP_VS_CONN_F_MASQ, IP_VS_CONN_F_TUNNEL } from '../../src/core/dest.js';
import { IpvsError } from '../../src/core/errors.js';
import type { ServiceUser, VirtualService } from '../../src/core/service.js';
import { ServiceTable } from '../../src/core/service-table.js';

const SVC: ServiceUser = {
  af: AF_INET, protocol: 6, addr: new IpAddr(AF_INET, 0xc0000201), port: 80, fwmark: 0,
  schedName: 'wrr', flags: 0, timeoutS: 0, netmask: 0xffffffff, peName: '',
};

/** A v4 real server 198.51.100.N, or (v6) 2001:db8::N folded onto the same key as 198.51.100.N. */
function dest(n: number, port: number, v6 = false, weight = 1): DestUser {
  const v4 = 0xc6336400 + n;
  // fold() xors the four words: w0 ^ w3 equals the IPv4 value, so both share an index key.
  const addr = v6 ? new IpAddr(AF_INET6, 0x20010db8, 0, 0, (0x20010db8 ^ v4) >>> 0) : new IpAddr(AF_INET, v4);
  return {
    af: (v6 ? AF_INET6 : AF_INET) as Af, addr, port, connFlags: v6 ? IP_VS_CONN_F_TUNNEL : IP_VS_CONN_F_MASQ, weight,
    uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0,
  };
}

/** ip_vs_lookup_dest as the kernel does it: the first match walking the list. */
function walk(svc: VirtualService, u: DestUser): Dest | null {
  return svc.dests().find((d) => d.af === u.af && d.port === u.port && d.addr.equals(u.addr)) ?? null;
}

function checkAll(t: ServiceTable, svc: VirtualService, pool: DestUser[]): void {
  for (const u of pool) assert.equal(t.lookupDest(svc, u.af, u.addr, u.port), walk(svc, u));
}

test('lookupDest on a big service finds what the list walk finds, also for identities sharing an index key', () => {
  const t = new ServiceTable();
  const svc = t.addService(SVC);
  const pool: DestUser[] = [];
  for (let n = 1; n <= 40; n++) pool.push(dest(n, 8080), dest(n, 8081), dest(n, 8080, true));
  for (const u of pool) t.addDest(SVC, u);
  assert.equal(svc.numDests, pool.length);
  checkAll(t, svc, pool);
  assert.throws(() => t.addDest(SVC, pool[7]), (e: unknown) => e instanceof IpvsError && e.errno === 'EEXIST');
  for (let i = 0; i < pool.length; i += 3) t.delDest(SVC, pool[i].af, pool[i].addr, pool[i].port);
  checkAll(t, svc, pool);
  for (let i = 0; i < pool.length; i += 6) t.addDest(SVC, pool[i]); // revived from the trash
  checkAll(t, svc, pool);
  t.editDest(SVC, { ...pool[1], weight: 9 });
  assert.equal(t.lookupDest(svc, pool[1].af, pool[1].addr, pool[1].port)?.weight, 9);
});

test('lookupDest stays right through random changes and rolled-back transactions', () => {
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const t = new ServiceTable();
  const svc = t.addService(SVC);
  const pool: DestUser[] = [];
  for (let n = 1; n <= 30; n++) pool.push(dest(n, 8080), dest(n, 8080, true));
  for (let step = 0; step < 3000; step++) {
    const u = pool[rand(pool.length)];
    const op = (): void => {
      const have = walk(svc, u) !== null;
      if (have && rand(3) === 0) t.editDest(SVC, { ...u, weight: rand(5) });
      else if (have) t.delDest(SVC, u.af, u.addr, u.port);
      else t.addDest(SVC, u);
    };
    if (rand(10) === 0) {
      // Several changes, then undone: the list and the index go back together.
      const before = svc.dests();
      const j = t.transaction(() => {
        op();
        for (let k = 0; k < 5; k++) {
          const v = pool[rand(pool.length)];
          if (walk(svc, v)) t.delDest(SVC, v.af, v.addr, v.port);
          else t.addDest(SVC, v);
        }
      });
      j.rollback();
      assert.deepEqual(svc.dests(), before);
    } else if (rand(50) === 0) {
      const j = t.transaction(() => t.delService(SVC));
      j.rollback();
    } else {
      op();
    }
    checkAll(t, svc, pool);
  }
});

test('a deleted and re-added big service starts with a fresh index', () => {
  const t = new ServiceTable();
  let svc = t.addService(SVC);
  const pool = Array.from({ length: 50 }, (_, i) => dest(i + 1, 8080));
  for (const u of pool) t.addDest(SVC, u);
  checkAll(t, svc, pool);
  t.delService(SVC);
  svc = t.addService(SVC);
  for (const u of pool) assert.equal(t.lookupDest(svc, u.af, u.addr, u.port), null);
  for (const u of pool.slice(0, 40)) t.addDest(SVC, u);
  checkAll(t, svc, pool);
});

test('a rolled-back transaction undoes a new dest\'s add after undoing its revival into a re-added service', () => {
  const t = new ServiceTable();
  const u = dest(1, 8080);
  const j = t.transaction(() => {
    const first = t.addService(SVC);
    assert.equal(t.addDest(SVC, u).svc, first);
    t.delService(SVC);
    const second = t.addService(SVC);
    assert.equal(t.addDest(SVC, u).svc, second, 'revived from the trash into the new service object');
  });
  j.rollback();
  assert.equal(t.size, 0);
  assert.equal(t.trashSize, 0);
  const again = t.addService(SVC);
  assert.equal(t.addDest(SVC, u).svc, again);
  assert.deepEqual(again.dests().map((d) => d.addr.toString()), ['198.51.100.1']);
});
