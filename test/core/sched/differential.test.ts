// The indexed picks of src/core/sched/dest-index.ts against the kernel's scans kept beside each
// scheduler (lcScan, weightedLeast, nqScan, foScan, ovfScan, twosScan, rrScan, wrrScan,
// lblcOverloaded's scan): thousands of random operations on a service table, as the control
// plane and the connection layer make them (add/edit/delete dests, weights incl. 0, thresholds
// that make OVERLOAD flip inside bindDest/unbindDest, connections bound, released and turned
// inactive, TSLVS_DEST_F_UNREACHABLE through setDestUnreachable, transactions rolled back after
// traffic went on, scheduler switches), comparing the scheduler's pick with the scan's at every
// step. Services go from a few dests (scan) to hundreds (index, its rebuilds and its drops).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AF_INET, AF_INET6, IpAddr } from '../../../src/core/addr.js';
import { bindDest, setActive, unbindDest } from '../../../src/core/conn/bind.js';
import {
  type Dest, type DestUser, IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_INACTIVE, setDestUnreachable,
} from '../../../src/core/dest.js';
import { IpvsError } from '../../../src/core/errors.js';
import { Flow } from '../../../src/core/flow.js';
import { type DestIndex, LeastIndex } from '../../../src/core/sched/dest-index.js';
import { foScan } from '../../../src/core/sched/fo.js';
import { lblcOverloaded, type LblcState, type LocalityEntry, LocalityTable } from '../../../src/core/sched/lblc.js';
import type { LblcrState } from '../../../src/core/sched/lblcr.js';
import { lcScan } from '../../../src/core/sched/lc.js';
import { nqScan } from '../../../src/core/sched/nq.js';
import { ovfScan } from '../../../src/core/sched/ovf.js';
import { type RrState, rrScan } from '../../../src/core/sched/rr.js';
import { connOverhead, type RandomU32 } from '../../../src/core/sched/scheduler.js';
import { sedOverhead } from '../../../src/core/sched/sed.js';
import { twosScan } from '../../../src/core/sched/twos.js';
import { weightedLeast } from '../../../src/core/sched/wlc.js';
import { type WrrMark, wrrScan } from '../../../src/core/sched/wrr.js';
import { IPPROTO_TCP, type ServiceUser, type VirtualService } from '../../../src/core/service.js';
import { ServiceTable } from '../../../src/core/service-table.js';
import { xorshift32 } from '../../../src/core/random.js';


interface Conn {
  dest: Dest;
  flags: number;
}

/** Every dest's name for messages. */
const name = (d: Dest | null): string => (d === null ? 'none' : `${d.addr.toString()}`);

/** The random workload on one service; `check` compares the pick with the scan after each step. */
class World {
  readonly table = new ServiceTable();
  readonly user: ServiceUser;
  readonly svc: VirtualService;
  readonly conns: Conn[] = [];
  readonly flow = new Flow();
  /** Dests ever created (linked or in the trash), for binds and flag flips on any of them. */
  readonly known = new Set<Dest>();
  /** Bias of the next add/delete: the target number of dests. */
  target = 60;
  /** Whether weights past the index's exact bounds may be given (one phase in four). */
  bigWeights = false;
  step = 0;
  /** How often the pick came from the index (for the test's own sanity check). */
  indexed = 0;

  constructor(readonly sched: string, readonly rnd: RandomU32) {
    this.user = {
      af: AF_INET, protocol: IPPROTO_TCP, addr: IpAddr.v4(0xc0000201), port: 80, fwmark: 0,
      schedName: sched, flags: 0, timeoutS: 0, netmask: 0xffffffff, peName: '',
    };
    this.svc = this.table.addService(this.user);
    this.flow.af = AF_INET;
    this.flow.protocol = IPPROTO_TCP;
    this.flow.dport = 80;
  }

  below(n: number): number {
    return Math.floor(((this.rnd() >>> 0) * n) / 4294967296);
  }

  /** Weights: mostly small (ties), some 0, rarely past the index's exact bounds. */
  weight(): number {
    const r = this.below(100);
    if (r < 10) return 0;
    if (r < 70) return 1 + this.below(3);
    if (r < 95) return 1 + this.below(20);
    if (r < 99 || !this.bigWeights) return 1000 + this.below(7);
    return 2 ** 20 + 1 + this.below(3);
  }

  destUser(i: number): DestUser {
    const th = this.below(4) === 0;
    const u = th ? 1 + this.below(6) : 0;
    return {
      af: AF_INET, addr: IpAddr.v4(0xc6336400 + i), port: 80, connFlags: IP_VS_CONN_F_DROUTE,
      weight: this.weight(), uThreshold: u, lThreshold: th && this.below(2) === 0 ? this.below(u + 1) : 0,
      tunType: 0, tunPort: 0, tunFlags: 0,
    };
  }

  randomLinked(): Dest | null {
    const n = this.svc.numDests;
    if (n === 0) return null;
    let k = this.below(n);
    for (let p = this.svc.destinations.next; p !== this.svc.destinations; p = p.next) if (k-- === 0) return p as Dest;
    return null;
  }

  randomKnown(): Dest | null {
    if (this.known.size === 0) return null;
    let k = this.below(this.known.size);
    for (const d of this.known) if (k-- === 0) return d;
    return null;
  }

  /** One control-plane operation; IpvsErrors (EEXIST, ENOENT) are part of the game. */
  control(): void {
    const r = this.below(100);
    try {
      const grow = this.svc.numDests < this.target;
      if (r < (grow ? 45 : 20)) {
        // Addresses from a pool a bit larger than the target: deleted ones come back from the trash.
        const d = this.table.addDest(this.user, this.destUser(this.below(Math.max(8, this.target * 2))));
        this.known.add(d);
      } else if (r < 50) {
        const d = this.randomLinked();
        if (d !== null) this.table.delDest(this.user, AF_INET, d.addr, d.port);
      } else if (r < 85) {
        const d = this.randomLinked();
        if (d !== null) {
          const u = this.destUser(d.addr.w0 - 0xc6336400);
          if (this.below(2) === 0) Object.assign(u, { uThreshold: d.uThreshold, lThreshold: d.lThreshold });
          this.table.editDest(this.user, u);
        }
      } else {
        const d = this.randomKnown();
        if (d !== null) setDestUnreachable(d, this.below(3) === 0);
      }
    } catch (e) {
      if (!(e instanceof IpvsError)) throw e;
    }
  }

  /** Connection-layer operations, on linked dests and on dests in the trash alike. */
  traffic(): void {
    const r = this.below(100);
    if (r < 40) {
      const d = this.below(4) === 0 ? this.randomKnown() : this.randomLinked();
      if (d === null) return;
      const flags = this.below(3) === 0 ? IP_VS_CONN_F_INACTIVE : 0;
      bindDest(d, flags);
      this.conns.push({ dest: d, flags });
    } else if (r < 75) {
      if (this.conns.length === 0) return;
      const i = this.below(this.conns.length);
      const c = this.conns[i];
      this.conns[i] = this.conns[this.conns.length - 1];
      this.conns.pop();
      unbindDest(c.dest, c.flags);
    } else {
      if (this.conns.length === 0) return;
      const c = this.conns[this.below(this.conns.length)];
      const active = (c.flags & IP_VS_CONN_F_INACTIVE) !== 0;
      setActive(c.dest, active);
      c.flags ^= IP_VS_CONN_F_INACTIVE;
    }
  }

  /** A transaction of a few operations, rolled back (after more traffic) or kept. */
  transaction(): void {
    const other = this.sched === 'rr' ? 'wlc' : 'rr';
    const j = this.table.transaction(() => {
      const k = 1 + this.below(4);
      for (let i = 0; i < k; i++) {
        const r = this.below(10);
        if (r === 0) {
          try {
            this.table.editService(this.user, { ...this.user, schedName: other });
          } catch (e) {
            if (!(e instanceof IpvsError)) throw e;
          }
        } else if (r === 1) {
          try {
            this.table.delService(this.user);
          } catch (e) {
            if (!(e instanceof IpvsError)) throw e;
          }
          break;
        } else {
          this.control();
        }
      }
    });
    const rollback = this.below(3) !== 0 || this.table.find(this.user) === null || this.svc.scheduler?.name !== this.sched;
    // Connections come and go while the dataplane applies the change.
    for (let i = this.below(6); i > 0; i--) this.traffic();
    if (rollback) j.rollback();
  }

  /** The pick, checked against the scan; bound as a new connection. */
  pickAndCheck(): void {
    const svc = this.svc;
    const sched = svc.scheduler;
    assert.ok(sched !== null && sched.name === this.sched);
    const r1 = this.rnd();
    const r2 = this.rnd();
    let k = 0;
    const replay: RandomU32 = () => (k++ & 1 ? r2 : r1);
    let want: Dest | null;
    let after: (() => void) | null = null;
    switch (this.sched) {
      case 'lc': want = lcScan(svc); break;
      case 'wlc': want = weightedLeast(svc, connOverhead); break;
      case 'sed': want = weightedLeast(svc, sedOverhead); break;
      case 'nq': want = nqScan(svc); break;
      case 'fo': want = foScan(svc); break;
      case 'ovf': want = ovfScan(svc); break;
      case 'twos': want = twosScan(svc, replay); k = 0; break;
      case 'rr': {
        const st = svc.schedData as RrState;
        want = rrScan(svc, st.cl);
        const cl = want ?? st.cl;
        after = () => assert.equal(st.cl, cl, `rr cursor at step ${this.step}`);
        break;
      }
      case 'wrr': {
        const mark = svc.schedData as WrrMark;
        const ref = { ...mark };
        want = wrrScan(svc, ref);
        after = () => {
          assert.equal(mark.cl, ref.cl, `wrr cl at step ${this.step}`);
          assert.equal(mark.cw, ref.cw, `wrr cw at step ${this.step}`);
        };
        break;
      }
      case 'lblc':
      case 'lblcr': {
        const ix = (svc.schedData as LblcState | LblcrState).ix;
        if (ix.usable(svc)) this.indexed++;
        // The two scans lblc/lblcr make over the whole service.
        for (let p = svc.destinations.next; p !== svc.destinations; p = p.next) {
          const d = p as Dest;
          assert.equal(lblcOverloaded(d, svc, ix), lblcOverloaded(d, svc), `is_overloaded(${name(d)}) at step ${this.step}`);
        }
        want = weightedLeast(svc, connOverhead);
        const got = ix.usable(svc) ? ix.best() : weightedLeast(svc, connOverhead);
        assert.equal(name(got), name(want), `${this.sched} fallback at step ${this.step}`);
        assert.equal(got, want);
        this.flow.d0 = (0xcb000000 + this.below(64)) >>> 0;
        const d = sched.schedule(svc, this.flow, this.step * 1000, replay);
        if (d !== null) {
          bindDest(d, 0);
          this.conns.push({ dest: d, flags: 0 });
        }
        return;
      }
      default: throw new Error(this.sched);
    }
    const ix = this.index();
    if (ix !== null && ix.built && !(ix instanceof LeastIndex && ix.unsafe > 0)) this.indexed++;
    const got = sched.schedule(svc, this.flow, 0, replay);
    assert.equal(name(got), name(want), `${this.sched} pick at step ${this.step} (${svc.numDests} dests)`);
    assert.equal(got, want);
    after?.();
    if (got !== null && this.below(2) === 0) {
      bindDest(got, 0);
      this.conns.push({ dest: got, flags: 0 });
    }
  }

  /**
   * connsChanged trusts dest.schedSlot without reading the slot back: every linked dest of a
   * built index must carry its own slot (with this build's tag).
   */
  checkSlots(): void {
    const ix = this.index();
    if (ix === null || !ix.built) return;
    for (let p = this.svc.destinations.next; p !== this.svc.destinations; p = p.next) {
      const d = p as Dest;
      assert.equal(ix.dests[d.schedSlot - ix.base], d, `slot of ${name(d)} at step ${this.step}`);
    }
  }

  index(): DestIndex | null {
    const sd = this.svc.schedData as { ix?: DestIndex } | DestIndex | null;
    if (sd === null) return null;
    return 'ix' in sd && sd.ix !== undefined ? sd.ix : (sd as DestIndex);
  }

  run(steps: number): void {
    for (; this.step < steps; this.step++) {
      // Now and then a new size: a few dests (scan), tens (index comes and goes), hundreds.
      if (this.step % 500 === 0) {
        const phase = this.step / 500;
        this.target = [60, 5, 120, 30, 400, 60, 40, 200][phase % 8];
        this.bigWeights = phase % 4 === 3;
      }
      const r = this.below(100);
      if (r < 25) this.control();
      else if (r < 28) this.transaction();
      else this.traffic();
      this.checkSlots();
      this.pickAndCheck();
    }
  }
}

const SCHEDS = ['rr', 'wrr', 'lc', 'wlc', 'sed', 'nq', 'fo', 'ovf', 'twos', 'lblc', 'lblcr'];

for (const sched of SCHEDS) {
  test(`${sched} indexed picks equal the kernel's scan through random operations`, () => {
    for (const seed of [1, 2, 3]) {
      const w = new World(sched, xorshift32(0x9e3779b9 ^ Math.imul(seed, 0x85ebca6b) ^ sched.length * 7919));
      w.run(4000);
      // The index really was in use for a good part of the run (not only the scan against itself).
      assert.ok(w.indexed > 1000, `${sched} seed ${seed}: index used in ${w.indexed} of 4000 steps`);
    }
  });
}

// The locality table's address index (tslvs's) against the kernel's bucket walk: entries linked,
// removed, swept by both garbage collections and flushed, IPv4 and IPv6 with addresses that
// share an XOR fold, every lookup answered alike (same entry or none) after every operation.
class TestEntry implements LocalityEntry<TestEntry> {
  next: TestEntry | null = null;
  a0 = 0; a1 = 0; a2 = 0; a3 = 0;
  lastuse = 0;
  hid = -1;
}

for (const af of [AF_INET, AF_INET6] as const) {
  test(`the locality table's address index finds what the bucket walk finds (${af === AF_INET ? 'IPv4' : 'IPv6'})`, () => {
    const rnd = xorshift32(0x51ed270b ^ af);
    const below = (n: number): number => Math.floor(((rnd() >>> 0) * n) / 4294967296);
    let released = 0;
    const tbl = new LocalityTable<TestEntry>(af, () => {
      released++;
    });
    const flow = new Flow();
    flow.af = af;
    // Addresses from a pool; IPv6 ones in fours that share an XOR fold (a bucket, a probe run).
    const pool = 40_000;
    const setFlow = (k: number): void => {
      if (af === AF_INET) {
        flow.d0 = (0xcb000000 + k * 977) >>> 0;
      } else {
        flow.d0 = 0x20010db8;
        flow.d1 = k;
        flow.d2 = k & ~3;
        flow.d3 = (k & 3) ^ (k >> 2);
      }
    };
    let now = 0;
    let hits = 0;
    let most = 0;
    for (let step = 0; step < 80_000; step++) {
      now += 10;
      const r = below(1000);
      setFlow(below(pool));
      const e = tbl.get(flow);
      assert.equal(e, tbl.getByBucket(flow), `lookup at step ${step}`);
      if (e !== null) hits++;
      if (r < 800) {
        if (e === null) {
          const n = tbl.takeFree() ?? new TestEntry();
          tbl.setAddr(n, flow);
          n.lastuse = now;
          tbl.link(n);
        } else {
          e.lastuse = now;
        }
      } else if (r < 900) {
        if (e !== null) tbl.remove(e);
      } else if (r < 903) {
        // Past max_size the runs between full checks drop idle entries bucket by bucket.
        tbl.checkExpire(now, 100_000 + below(400_000));
      }
      if (step % 30_000 === 29_999) tbl.flush();
      if (tbl.entries > most) most = tbl.entries;
      if (step % 4999 === 0) {
        // Every address of the pool, not only the one just used.
        for (let k = 0; k < pool; k++) {
          setFlow(k);
          assert.equal(tbl.get(flow), tbl.getByBucket(flow), `address ${k} at step ${step}`);
        }
        let n = 0;
        for (const _ of tbl.all()) n++;
        assert.equal(n, tbl.entries);
      }
    }
    assert.ok(hits > 10_000 && released > 10_000 && most > tbl.maxSize, `hits ${hits}, released ${released}, most ${most}`);
  });
}
