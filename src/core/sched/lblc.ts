/**
 * Locality-based least connection, as net/netfilter/ipvs/ip_vs_lblc.c, and the locality table
 * it shares with lblcr (ip_vs_lblcr.c has the same table, limits and garbage collection).
 * Owns (svc.schedData) a 1024-bucket hash table, keyed by the packet's *destination* address
 * (hash_32(ntohl(daddr_fold), 10)), mapping it to the destination last chosen for it.
 * - A hit refreshes lastuse and is used while the destination is still in the service
 *   (IP_VS_DEST_CF_AVAILABLE), has weight > 0 and is not "lblc-overloaded" (more active
 *   connections than its weight while some destination is under half of its own). The
 *   OVERLOAD threshold flag is not checked on this path, as in the kernel.
 * - Otherwise wlc's choice over the whole service replaces the entry; no entry is created
 *   while the table holds max_size * 3 / 2 entries (the old one is dropped all the same).
 * - periodic() is the kernel's 60 s timer: every 30th run drops entries idle for
 *   lblc_expiration (default 24 h); other runs act only above max_size entries, dropping
 *   entries idle for ENTRY_TIMEOUT (6 min) bucket by bucket from a rover until a goal is met.
 * Why real buckets and not a Map: which entries a goal-limited sweep removes depends on bucket
 * order and the rover, so the kernel's hash layout is kept. Lookups do not walk them, though: a
 * full table has 24 entries per bucket (1.5 * 16384 / 1024), and a miss would visit them all, a
 * cache miss each. An open-addressing index by address (tslvs's, not the kernel's) finds the
 * same entry, or none, in about one probe; it is kept in step wherever a bucket changes.
 * Why entries hold dest.refcnt: a kernel entry holds a reference (ip_vs_dest_hold), which keeps
 * a deleted destination in the trash, and so revivable with its counters, while it is cached.
 * Time is milliseconds from nowMs (the kernel's jiffies); lblc_expiration comes from a sysctl
 * holder bound with setLblcSysctl (86400 s when none is bound).
 * Big services keep a LeastIndex (./dest-index.ts) kept by the hooks: wlc's choice without the
 * scan, and the count of dests under half their weight, which answers is_overloaded's scan.
 */
import { AF_INET, type Af } from '../addr.js';
import type { Dest } from '../dest.js';
import type { Flow } from '../flow.js';
import { hash32 } from '../hash.js';
import type { VirtualService } from '../service.js';
import { destIndexHooks, LEAST_WLC, LeastIndex } from './dest-index.js';
import { connOverhead, type Scheduler } from './scheduler.js';
import { WLC_INDEX_MIN, weightedLeast } from './wlc.js';

/** CONFIG_IP_VS_LBLC_TAB_BITS / CONFIG_IP_VS_LBLCR_TAB_BITS (10 on the reference kernel). */
export const IP_VS_LBLC_TAB_BITS = 10;
export const IP_VS_LBLC_TAB_SIZE = 1 << IP_VS_LBLC_TAB_BITS;
export const IP_VS_LBLC_TAB_MASK = IP_VS_LBLC_TAB_SIZE - 1;
/** CHECK_EXPIRE_INTERVAL: the garbage collection timer's period. */
export const CHECK_EXPIRE_INTERVAL_MS = 60_000;
/** ENTRY_TIMEOUT: idle time after which an over-full table may drop an entry. */
export const ENTRY_TIMEOUT_MS = 6 * 60_000;
/** DEFAULT_EXPIRATION: lblc_expiration / lblcr_expiration defaults, in seconds. */
export const DEFAULT_EXPIRATION_S = 24 * 60 * 60;
/** Every COUNT_FOR_FULL_EXPIRATION-th run of the timer is a full expiration check. */
export const COUNT_FOR_FULL_EXPIRATION = 30;

/** The head every locality entry has (struct ip_vs_lblc_entry / ip_vs_lblcr_entry). */
export interface LocalityEntry<E> {
  /** Next entry in the same bucket (hlist). */
  next: E | null;
  /** The destination address, host-order words as int32 bits (IPv4 in a0, the rest 0). */
  a0: number; a1: number; a2: number; a3: number;
  /** Last use, ms. */
  lastuse: number;
  /** The entry's number in its table's address index (-1: none yet); kept while it is reused. */
  hid: number;
}

/** The address index starts with this many slots (a power of two) and doubles at half full. */
const ADDR_INDEX_MIN = 64;

/** ip_vs_lblc_table / ip_vs_lblcr_table: buckets, entry count, limits, rover and GC counter. */
export class LocalityTable<E extends LocalityEntry<E>> {
  readonly bucket: (E | null)[] = new Array<E | null>(IP_VS_LBLC_TAB_SIZE).fill(null);
  /** atomic entries. */
  entries = 0;
  /** IP_VS_LBLC_TAB_SIZE * 16. */
  readonly maxSize = IP_VS_LBLC_TAB_SIZE * 16;
  rover = 0;
  counter = 1;
  /** Released entries kept for reuse, chained through `next`. */
  #free: E | null = null;
  /**
   * The address index: linear probing over pairs [fold, hid + 1] (0 in the second word: empty),
   * so that a probe reads one array; `#byHid` maps hid back to the entry.
   */
  #ak = new Int32Array(2 * ADDR_INDEX_MIN);
  #amask = ADDR_INDEX_MIN - 1;
  #ashift = 32 - Math.log2(ADDR_INDEX_MIN);
  #aused = 0;
  readonly #byHid: E[] = [];

  readonly af: Af;
  /** Drops what an entry holds (its destination references) when it is deleted. */
  readonly #release: (e: E) => void;

  constructor(af: Af, release: (e: E) => void) {
    this.af = af;
    this.#release = release;
  }

  /** ip_vs_lblc_hashkey of an address given as words (the service's family decides the fold). */
  hashkey(a0: number, a1: number, a2: number, a3: number): number {
    const fold = this.af === AF_INET ? a0 : a0 ^ a1 ^ a2 ^ a3;
    return hash32(fold, IP_VS_LBLC_TAB_BITS);
  }

  /** ip_vs_lblc_get for the packet's destination address; allocates nothing. */
  get(flow: Flow): E | null {
    const ak = this.#ak;
    const mask = this.#amask;
    const d0 = flow.d0 | 0;
    if (this.af === AF_INET) {
      for (let i = Math.imul(d0, 0x9e3779b1) >>> this.#ashift; ; i = (i + 1) & mask) {
        const id = ak[2 * i + 1];
        if (id === 0) return null;
        if (ak[2 * i] === d0) return this.#byHid[id - 1];
      }
    }
    const d1 = flow.d1 | 0, d2 = flow.d2 | 0, d3 = flow.d3 | 0;
    const fold = d0 ^ d1 ^ d2 ^ d3;
    for (let i = Math.imul(fold, 0x9e3779b1) >>> this.#ashift; ; i = (i + 1) & mask) {
      const id = ak[2 * i + 1];
      if (id === 0) return null;
      if (ak[2 * i] !== fold) continue;
      const e = this.#byHid[id - 1];
      if (e.a0 === d0 && e.a1 === d1 && e.a2 === d2 && e.a3 === d3) return e;
    }
  }

  /** The chain walk get() replaces (the kernel's lookup), for tests. */
  getByBucket(flow: Flow): E | null {
    const d0 = flow.d0 | 0;
    const d1 = this.af === AF_INET ? 0 : flow.d1 | 0;
    const d2 = this.af === AF_INET ? 0 : flow.d2 | 0;
    const d3 = this.af === AF_INET ? 0 : flow.d3 | 0;
    for (let e = this.bucket[this.hashkey(d0, d1, d2, d3)]; e !== null; e = e.next) {
      if (e.a0 === d0 && e.a1 === d1 && e.a2 === d2 && e.a3 === d3) return e;
    }
    return null;
  }

  #aInsert(e: E): void {
    if (2 * (this.#aused + 1) > this.#amask + 1) this.#aGrow();
    if (e.hid < 0) {
      e.hid = this.#byHid.length;
      this.#byHid.push(e);
    }
    const ak = this.#ak;
    const mask = this.#amask;
    const fold = e.a0 ^ e.a1 ^ e.a2 ^ e.a3;
    let i = Math.imul(fold, 0x9e3779b1) >>> this.#ashift;
    while (ak[2 * i + 1] !== 0) i = (i + 1) & mask;
    ak[2 * i] = fold;
    ak[2 * i + 1] = e.hid + 1;
    this.#aused++;
  }

  #aGrow(): void {
    const old = this.#ak;
    const size = 2 * (this.#amask + 1);
    this.#ak = new Int32Array(2 * size);
    this.#amask = size - 1;
    this.#ashift--;
    this.#aused = 0;
    for (let j = 1; j < old.length; j += 2) {
      if (old[j] !== 0) this.#aInsert(this.#byHid[old[j] - 1]);
    }
  }

  /** Take e out of the address index (backward-shift deletion: no tombstones). */
  #aDelete(e: E): void {
    const ak = this.#ak;
    const mask = this.#amask;
    const shift = this.#ashift;
    const id = e.hid + 1;
    let i = Math.imul(e.a0 ^ e.a1 ^ e.a2 ^ e.a3, 0x9e3779b1) >>> shift;
    for (;;) {
      const x = ak[2 * i + 1];
      if (x === id) break;
      if (x === 0) return;
      i = (i + 1) & mask;
    }
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (ak[2 * j + 1] === 0) break;
      const k = Math.imul(ak[2 * j], 0x9e3779b1) >>> shift;
      // The entry at j may move to the hole at i unless its home k lies cyclically in (i, j].
      if (i <= j ? i < k && k <= j : i < k || k <= j) continue;
      ak[2 * i] = ak[2 * j];
      ak[2 * i + 1] = ak[2 * j + 1];
      i = j;
    }
    ak[2 * i] = 0;
    ak[2 * i + 1] = 0;
    this.#aused--;
  }

  /** A released entry to reuse, or null (the caller then constructs one). */
  takeFree(): E | null {
    const e = this.#free;
    if (e !== null) this.#free = e.next;
    return e;
  }

  /** Set an entry's address from the packet's destination (ip_vs_addr_copy by family). */
  setAddr(e: E, flow: Flow): void {
    e.a0 = flow.d0 | 0;
    if (this.af === AF_INET) {
      e.a1 = 0; e.a2 = 0; e.a3 = 0;
    } else {
      e.a1 = flow.d1 | 0; e.a2 = flow.d2 | 0; e.a3 = flow.d3 | 0;
    }
  }

  /** ip_vs_lblc_hash: add at the head of its bucket. */
  link(e: E): void {
    const h = this.hashkey(e.a0, e.a1, e.a2, e.a3);
    e.next = this.bucket[h];
    this.bucket[h] = e;
    this.entries++;
    this.#aInsert(e);
  }

  /** ip_vs_lblc_del + atomic_dec(&tbl->entries). */
  remove(e: E): void {
    const h = this.hashkey(e.a0, e.a1, e.a2, e.a3);
    let prev: E | null = null;
    for (let x = this.bucket[h]; x !== null; prev = x, x = x.next) {
      if (x !== e) continue;
      if (prev === null) this.bucket[h] = e.next;
      else prev.next = e.next;
      this.entries--;
      this.#recycle(e);
      return;
    }
  }

  #recycle(e: E): void {
    this.#aDelete(e);
    this.#release(e);
    e.next = this.#free;
    this.#free = e;
  }

  /** Drop the entries of bucket j idle for ageMs or more (time_before(now, lastuse + age) keeps). */
  #sweepBucket(j: number, nowMs: number, ageMs: number): number {
    let prev: E | null = null;
    let e = this.bucket[j];
    let dropped = 0;
    while (e !== null) {
      const next: E | null = e.next;
      if (nowMs < e.lastuse + ageMs) {
        prev = e;
      } else {
        if (prev === null) this.bucket[j] = next;
        else prev.next = next;
        this.entries--;
        this.#recycle(e);
        dropped++;
      }
      e = next;
    }
    return dropped;
  }

  /** ip_vs_lblc_full_check: every bucket, starting after the rover (which ends where it was). */
  fullCheck(nowMs: number, expirationMs: number): void {
    let j = this.rover;
    for (let i = 0; i < IP_VS_LBLC_TAB_SIZE; i++) {
      j = (j + 1) & IP_VS_LBLC_TAB_MASK;
      this.#sweepBucket(j, nowMs, expirationMs);
    }
    this.rover = j;
  }

  /** ip_vs_lblc_check_expire: one run of the 60 s timer. */
  checkExpire(nowMs: number, expirationMs: number): void {
    if (this.counter % COUNT_FOR_FULL_EXPIRATION === 0) {
      this.fullCheck(nowMs, expirationMs);
      this.counter = 1;
      return;
    }
    if (this.entries <= this.maxSize) {
      this.counter++;
      return;
    }
    let goal = Math.trunc(((this.entries - this.maxSize) * 4) / 3);
    if (goal > Math.trunc(this.maxSize / 2)) goal = Math.trunc(this.maxSize / 2);
    let j = this.rover;
    for (let i = 0; i < IP_VS_LBLC_TAB_SIZE; i++) {
      j = (j + 1) & IP_VS_LBLC_TAB_MASK;
      goal -= this.#sweepBucket(j, nowMs, ENTRY_TIMEOUT_MS);
      if (goal <= 0) break;
    }
    this.rover = j;
  }

  /** ip_vs_lblc_flush: drop every entry. */
  flush(): void {
    for (let i = 0; i < IP_VS_LBLC_TAB_SIZE; i++) {
      let e = this.bucket[i];
      this.bucket[i] = null;
      while (e !== null) {
        const next: E | null = e.next;
        this.entries--;
        this.#recycle(e);
        e = next;
      }
    }
  }

  /** Every entry, bucket by bucket (for inspection and tests). */
  *all(): IterableIterator<E> {
    for (let i = 0; i < IP_VS_LBLC_TAB_SIZE; i++) {
      for (let e = this.bucket[i]; e !== null; e = e.next) yield e;
    }
  }
}

/**
 * is_overloaded of ip_vs_lblc.c / ip_vs_lblcr.c: more active connections than weight, while
 * some destination of the service (itself included) has activeconns * 2 < weight. With a built
 * index, its count of such dests answers without the scan.
 */
export function lblcOverloaded(dest: Dest, svc: VirtualService, ix: LeastIndex | null = null): boolean {
  if (dest.activeConns > dest.weight) {
    if (ix !== null && ix.built) return ix.underHalf > 0;
    const head = svc.destinations;
    for (let n = head.next; n !== head; n = n.next) {
      const d = n as Dest;
      if (d.activeConns * 2 < d.weight) return true;
    }
  }
  return false;
}

/** A LeastIndex for lblc/lblcr: wlc's order, counting the dests under half their weight. */
export function localityIndex(): LeastIndex {
  return new LeastIndex(LEAST_WLC, WLC_INDEX_MIN, true);
}

/** wlc's choice over the whole service (the index's when it is in use), or null. */
export function wlcFallback(svc: VirtualService, ix: LeastIndex): Dest | null {
  return ix.usable(svc) ? ix.best() : weightedLeast(svc, connOverhead);
}

/** The sysctl lblc reads (IpvsSysctls satisfies it); read at each use, so changes apply at once. */
export interface LblcSysctl {
  readonly lblcExpirationS: number;
}

const DEFAULT_LBLC_SYSCTL: LblcSysctl = Object.freeze({ lblcExpirationS: DEFAULT_EXPIRATION_S });

export class LblcEntry implements LocalityEntry<LblcEntry> {
  next: LblcEntry | null = null;
  a0 = 0; a1 = 0; a2 = 0; a3 = 0;
  lastuse = 0;
  hid = -1;
  /** Real server (cache); holds a reference (dest.refcnt). */
  dest: Dest | null = null;
}

export class LblcState extends LocalityTable<LblcEntry> {
  sysctl: LblcSysctl = DEFAULT_LBLC_SYSCTL;
  /** tslvs's index of the service's dests (not the kernel's). */
  readonly ix = localityIndex();
  constructor(af: Af) {
    super(af, releaseLblcEntry);
  }
  get expirationMs(): number {
    return this.sysctl.lblcExpirationS * 1000;
  }
}

function releaseLblcEntry(e: LblcEntry): void {
  if (e.dest !== null) e.dest.refcnt--;
  e.dest = null;
}

/**
 * Make an lblc service read lblc_expiration from `sysctl` (e.g. the Ipvs instance's sysctls).
 * Does nothing if the service is not bound to lblc.
 */
export function setLblcSysctl(svc: VirtualService, sysctl: LblcSysctl): void {
  if (svc.schedData instanceof LblcState) svc.schedData.sysctl = sysctl;
}

/**
 * ip_vs_lblc_new with the entry the schedule step already looked up: keep it if it points at
 * `dest`, otherwise drop it and, below the creation limit, add a fresh one.
 */
function lblcNew(tbl: LblcState, en: LblcEntry | null, flow: Flow, dest: Dest, nowMs: number): void {
  if (en !== null) {
    if (en.dest === dest) return;
    tbl.remove(en);
  }
  if (tbl.entries >= Math.trunc((tbl.maxSize * 3) / 2)) return;
  const e = tbl.takeFree() ?? new LblcEntry();
  tbl.setAddr(e, flow);
  e.lastuse = nowMs;
  dest.refcnt++;
  e.dest = dest;
  tbl.link(e);
}

export const lblc: Scheduler = {
  name: 'lblc',
  initService(svc) {
    svc.schedData = new LblcState(svc.af);
  },
  doneService(svc) {
    if (svc.schedData instanceof LblcState) {
      svc.schedData.flush();
      svc.schedData.ix.reset();
    }
    svc.schedData = null;
  },
  ...destIndexHooks((svc) => (svc.schedData as LblcState).ix),
  schedule(svc, flow, nowMs) {
    const tbl = svc.schedData as LblcState;
    const ix = tbl.ix;
    ix.ready(svc);
    const en = tbl.get(flow);
    if (en !== null) {
      en.lastuse = nowMs;
      const d = en.dest as Dest;
      if (d.isAvailable() && d.weight > 0 && !lblcOverloaded(d, svc, ix)) return d;
    }
    const dest = wlcFallback(svc, ix);
    if (dest === null) {
      svc.lastSchedError = 'no destination available';
      return null;
    }
    lblcNew(tbl, en, flow, dest, nowMs);
    return dest;
  },
  periodMs: CHECK_EXPIRE_INTERVAL_MS,
  periodic(svc, nowMs) {
    const tbl = svc.schedData as LblcState;
    tbl.checkExpire(nowMs, tbl.expirationMs);
  },
};
