/**
 * Indexes over a service's destinations in list order, kept in step through the scheduler hooks
 * (add_dest, del_dest, upd_dest and tslvs's connsChanged), so that the picks the kernel makes by
 * scanning the whole list (lc, wlc, sed, nq, fo, ovf, twos, lblc/lblcr's wlc fallback, rr/wrr
 * past unavailable destinations) cost O(1) or O(log n) and still return exactly what the scan
 * returns. The kernel has no such thing: every scheduler file keeps its scan, which small
 * services still use (a scan of a few dests is cheaper than keeping an index up to date).
 *
 * Slots: a destination lives in one slot of typed arrays, and slot order is list order (smaller
 * slot = nearer the head), so "the first in list order" is "the smallest slot". A build lays the
 * n dests out in [cap - n, cap); add_dest links at the head, so a new dest takes the slot below
 * the lowest used one; a deleted dest leaves a hole. When no slot is left at the front, or a
 * dest comes back in the middle of the list (a rolled-back delete re-links it where it was, with
 * an upd_dest), the index is rebuilt from the list (O(n), rare). Slots are never trusted alone:
 * dest.schedSlot is checked against the slot's dest.
 *
 * Why nothing can be missed: every change of what a scheduler reads comes through a hook. Weight
 * and thresholds change in __ip_vs_update_dest (then add_dest/upd_dest); counters and the
 * OVERLOAD flips they cause change in bindDest/unbindDest/setActive (conn/bind.ts), which call
 * connsChanged after updateOverload; TSLVS_DEST_F_UNREACHABLE changes through setDestUnreachable
 * (dest.ts), which calls connsChanged too. Hooks reach only linked dests (IP_VS_DEST_CF_AVAILABLE)
 * and the index holds only linked dests. done_service drops the index (built = false): a service
 * whose scheduler data comes back with a rolled-back transaction rebuilds it on its next pick,
 * since its dests may have changed meanwhile without reaching it.
 */
import type { Dest } from '../dest.js';
import type { VirtualService } from '../service.js';
import { connOverhead } from './scheduler.js';

const MIN_CAP = 64;

export abstract class DestIndex {
  /** In step with the list; false: not in use (small service) or dropped by done_service. */
  built = false;
  /** Number of slots (a power of two). */
  cap = 0;
  /** Lowest used slot; a new dest at the head takes front - 1. */
  front = 0;
  /** Dests in the index. */
  count = 0;
  /** The dest in each slot, or null (a hole). */
  dests: (Dest | null)[] = [];

  /**
   * @param min the index is built once the service has more than `min` dests and dropped when
   *   it has `min / 2` or fewer; below, the scheduler's scan is cheaper.
   */
  constructor(readonly min: number) {}

  /** Make sure the index is in use if the service is big enough; true when it is. */
  ready(svc: VirtualService): boolean {
    const n = svc.numDests;
    if (this.built) {
      if (n > this.min >> 1) return true;
      this.reset();
      return false;
    }
    if (n <= this.min) return false;
    this.build(svc);
    return true;
  }

  /** Stop indexing (done_service, or the service became small); frees the arrays. */
  reset(): void {
    this.built = false;
    this.dests = [];
    this.cap = 0;
    this.front = 0;
    this.count = 0;
    this.alloc(0);
  }

  /** (Re)build from the list: slots [cap - n, cap) in list order. O(n). */
  build(svc: VirtualService): void {
    const head = svc.destinations;
    let n = 0;
    for (let p = head.next; p !== head; p = p.next) n++;
    let cap = MIN_CAP;
    while (cap < 2 * n) cap *= 2;
    this.cap = cap;
    this.front = cap - n;
    this.count = n;
    this.dests = new Array<Dest | null>(cap).fill(null);
    this.alloc(cap);
    let s = this.front;
    for (let p = head.next; p !== head; p = p.next) {
      const d = p as Dest;
      this.dests[s] = d;
      d.schedSlot = s;
      this.writeLeaf(s, d);
      s++;
    }
    this.buildInner();
    this.built = true;
  }

  /** The slot of `d`, or -1 if it is not in the index. */
  slotOf(d: Dest): number {
    const s = d.schedSlot;
    return s >= 0 && s < this.cap && this.dests[s] === d ? s : -1;
  }

  /** add_dest: `d` was just linked at the head. */
  add(svc: VirtualService, d: Dest): void {
    if (!this.built) return;
    if (this.front === 0 || svc.destinations.next !== d || this.slotOf(d) >= 0) {
      this.build(svc);
      return;
    }
    const s = --this.front;
    this.dests[s] = d;
    d.schedSlot = s;
    this.count++;
    this.setLeaf(s, d);
  }

  /** del_dest: `d` was just unlinked. */
  del(d: Dest): void {
    if (!this.built) return;
    const s = this.slotOf(d);
    if (s < 0) return;
    this.dests[s] = null;
    d.schedSlot = -1;
    this.count--;
    this.clearLeaf(s);
    // Mostly holes: let the next pick rebuild a smaller one (or drop it if the service is small).
    if (this.cap > 256 && this.count * 8 < this.cap) this.reset();
  }

  /** upd_dest: weight or thresholds changed, or a rolled-back delete re-linked `d` in place. */
  upd(svc: VirtualService, d: Dest): void {
    if (!this.built) return;
    const s = this.slotOf(d);
    if (s < 0) this.build(svc);
    else this.setLeaf(s, d);
  }

  /** connsChanged: counters or the OVERLOAD/UNREACHABLE flags of `d` changed. */
  changed(d: Dest): void {
    if (!this.built) return;
    const s = d.schedSlot;
    if (s >= 0 && s < this.cap && this.dests[s] === d) this.setLeaf(s, d);
  }

  /** Size the typed arrays for `cap` slots (0: free them). */
  protected abstract alloc(cap: number): void;
  /** Write slot s's leaf from `d` without updating inner nodes (build). */
  protected abstract writeLeaf(s: number, d: Dest): void;
  /** Compute every inner node from the leaves (build). */
  protected abstract buildInner(): void;
  /** Refresh slot s's leaf from `d` and the inner nodes above it. */
  protected abstract setLeaf(s: number, d: Dest): void;
  /** Empty slot s (a hole) and update the inner nodes above it. */
  protected abstract clearLeaf(s: number): void;
}

/** What a LeastIndex compares: the kernel's overhead for each scheduler. */
export const LEAST_LC = 0;
export const LEAST_WLC = 1;
export const LEAST_SED = 2;
export const LEAST_NQ = 3;

/**
 * Bounds under which overhead / weight as a double orders dests exactly as the kernel's
 * cross-multiplication does: for x = a/b < y = c/d, y - x >= 1/(bd), so (y - x)/y >= 1/(bc), and
 * when b * c < 2^52 that gap is wider than the two roundings (2^-53 each) can close; equal
 * fractions are the same real, so the same double. Weights up to 2^20 and overheads below 2^32
 * keep every product below 2^52. A dest past them (a weight above a million, or millions of
 * connections) makes the index step aside for the scan until none is left.
 */
const SAFE_WEIGHT = 2 ** 20;
const SAFE_OVERHEAD = 2 ** 32;

/**
 * A min segment tree over each dest's load, the first (leftmost) slot winning ties: the kernel's
 * scan keeps its choice unless a later dest is strictly less loaded, so it returns the first dest
 * with the least load, and that is what a descent from the root toward the leftmost minimum finds.
 * Not eligible (overloaded, weight 0): +Infinity. The load:
 * - lc: activeconns * 256 + totalconns (ip_vs_lc.c ignores weight but for 0); an integer, exact.
 * - wlc (and lblc/lblcr's fallback): the same overhead / weight (ip_vs_wlc.c).
 * - sed: (activeconns + 1) / weight (ip_vs_sed.c).
 * - nq: as sed, but 0 for an idle dest (activeconns == 0): every idle dest ties at 0 below every
 *   busy one, so the first idle one in list order wins, as ip_vs_nq.c returns it at once.
 * A pick descends from the root: O(log n). An update walks up from the leaf while the minimum of
 * a node changes. With `trackUnderHalf`, also counts the dests with activeconns * 2 < weight
 * (lblc/lblcr's is_overloaded asks whether there is one).
 */
export class LeastIndex extends DestIndex {
  /** Node minimums (1 = root, leaves at cap + slot). */
  key = new Float64Array(0);
  /** 1 for a slot whose weight or overhead is past the exact bounds. */
  big = new Uint8Array(0);
  /** Slots past the exact bounds: while > 0 the scheduler scans (usable() is false). */
  unsafe = 0;
  uh = new Uint8Array(0);
  /** Dests with activeconns * 2 < weight (only with trackUnderHalf). */
  underHalf = 0;

  constructor(readonly mode: number, min: number, readonly trackUnderHalf = false) {
    super(min);
  }

  /** ready(), and no dest past the exact bounds. */
  usable(svc: VirtualService): boolean {
    return this.ready(svc) && this.unsafe === 0;
  }

  /** The scan's choice: the first least loaded eligible dest, or null. */
  best(): Dest | null {
    const key = this.key;
    const k = key[1];
    if (k === Infinity) return null;
    const cap = this.cap;
    let i = 1;
    while (i < cap) {
      i *= 2;
      if (key[i] !== k) i++;
    }
    return this.dests[i - cap];
  }

  protected alloc(cap: number): void {
    this.key = new Float64Array(2 * cap).fill(Infinity);
    this.big = new Uint8Array(this.mode === LEAST_LC ? 0 : cap);
    this.unsafe = 0;
    this.uh = new Uint8Array(this.trackUnderHalf ? cap : 0);
    this.underHalf = 0;
  }

  /** The leaf key of `d` in slot s (and its bookkeeping). */
  #key(s: number, d: Dest): number {
    if (this.trackUnderHalf) {
      const u = d.activeConns * 2 < d.weight ? 1 : 0;
      if (u !== this.uh[s]) {
        this.uh[s] = u;
        this.underHalf += u ? 1 : -1;
      }
    }
    const weight = d.weight;
    const mode = this.mode;
    if (mode === LEAST_LC) return weight <= 0 || d.isOverloaded() ? Infinity : connOverhead(d);
    let oh: number;
    if (mode === LEAST_WLC) oh = connOverhead(d);
    else {
      const a = d.activeConns;
      oh = mode === LEAST_NQ && a === 0 ? 0 : a + 1;
    }
    if (weight <= 0 || d.isOverloaded()) {
      // A weight-0 dest wins wlc/sed's comparison only with a negative overhead: scan then.
      this.#bounds(s, oh < 0 && weight === 0 && !d.isOverloaded() ? 1 : 0);
      return Infinity;
    }
    this.#bounds(s, weight > SAFE_WEIGHT || oh >= SAFE_OVERHEAD || oh < 0 ? 1 : 0);
    return oh / weight;
  }

  #bounds(s: number, b: number): void {
    if (this.big[s] !== b) {
      this.big[s] = b;
      this.unsafe += b ? 1 : -1;
    }
  }

  protected writeLeaf(s: number, d: Dest): void {
    this.key[this.cap + s] = this.#key(s, d);
  }

  protected buildInner(): void {
    const key = this.key;
    for (let i = this.cap - 1; i >= 1; i--) {
      const a = key[2 * i];
      const b = key[2 * i + 1];
      key[i] = b < a ? b : a;
    }
  }

  #set(s: number, k: number): void {
    const key = this.key;
    let i = this.cap + s;
    if (key[i] === k) return;
    key[i] = k;
    for (i >>= 1; i >= 1; i >>= 1) {
      const a = key[2 * i];
      const b = key[2 * i + 1];
      const m = b < a ? b : a;
      if (key[i] === m) return;
      key[i] = m;
    }
  }

  protected setLeaf(s: number, d: Dest): void {
    this.#set(s, this.#key(s, d));
  }

  protected clearLeaf(s: number): void {
    if (this.trackUnderHalf && this.uh[s]) {
      this.uh[s] = 0;
      this.underHalf--;
    }
    if (this.mode !== LEAST_LC) this.#bounds(s, 0);
    this.#set(s, Infinity);
  }
}

/** What a MaxIndex holds per dest. */
export const MAX_WEIGHT = 0;
export const MAX_OVF = 1;

/**
 * A max segment tree over a value per slot:
 * - MAX_WEIGHT (rr, wrr, fo): the weight, or 0 when overloaded. rr wants the next dest with a
 *   value >= 1 after its cursor, wrr the next with a value >= cw, fo the first with the maximum.
 * - MAX_OVF (ovf): the weight, or 0 when overloaded or activeconns > weight; ovf wants the first
 *   with the maximum (ip_vs_ovf.c: highest weight, first in list order on ties).
 */
export class MaxIndex extends DestIndex {
  /** Node values (1 = root, leaves at cap + slot). */
  val = new Float64Array(0);

  constructor(readonly mode: number, min: number) {
    super(min);
  }

  /** The largest value (0: no eligible dest). */
  max(): number {
    return this.val[1];
  }

  /** The smallest slot in [lo, hi] whose value is >= x (x > 0), or -1. O(log n). */
  firstAtLeast(lo: number, hi: number, x: number): number {
    if (lo > hi) return -1;
    const cap = this.cap;
    const val = this.val;
    let i = lo + cap;
    for (;;) {
      if (val[i] >= x) {
        while (i < cap) {
          i *= 2;
          if (val[i] < x) i++;
        }
        const s = i - cap;
        return s <= hi ? s : -1;
      }
      // On to the node right after this one's range: climb while a right child.
      while (i & 1) i >>= 1;
      if (i === 0) return -1;
      i++;
    }
  }

  #value(d: Dest): number {
    const w = d.weight;
    if (w <= 0 || d.isOverloaded()) return 0;
    if (this.mode === MAX_OVF && d.activeConns > w) return 0;
    return w;
  }

  protected alloc(cap: number): void {
    this.val = new Float64Array(2 * cap);
  }

  protected writeLeaf(s: number, d: Dest): void {
    this.val[this.cap + s] = this.#value(d);
  }

  protected buildInner(): void {
    const val = this.val;
    for (let i = this.cap - 1; i >= 1; i--) {
      const a = val[2 * i];
      const b = val[2 * i + 1];
      val[i] = a >= b ? a : b;
    }
  }

  #set(s: number, v: number): void {
    const val = this.val;
    let i = this.cap + s;
    if (val[i] === v) return;
    val[i] = v;
    for (i >>= 1; i >= 1; i >>= 1) {
      const a = val[2 * i];
      const b = val[2 * i + 1];
      const m = a >= b ? a : b;
      if (val[i] === m) return;
      val[i] = m;
    }
  }

  protected setLeaf(s: number, d: Dest): void {
    this.#set(s, this.#value(d));
  }

  protected clearLeaf(s: number): void {
    this.#set(s, 0);
  }
}

/**
 * Cumulative weights of the eligible dests (not overloaded, weight > 0) in list order: a Fenwick
 * tree, for twos's weighted draws. The scan subtracts weights in list order until the draw is
 * <= 0: that is the first slot whose running sum reaches the draw (a draw of 0 takes the first
 * eligible dest, as a sum of 1 would).
 */
export class WeightSumIndex extends DestIndex {
  /** The weight counted for each slot. */
  wv = new Float64Array(0);
  /** Fenwick tree, 1-based: fen[i] sums slots (i - lowbit(i), i]. */
  fen = new Float64Array(0);
  /** Sum of every counted weight (exact: below 2^53). */
  total = 0;

  protected alloc(cap: number): void {
    this.wv = new Float64Array(cap);
    this.fen = new Float64Array(cap + 1);
    this.total = 0;
  }

  /** The first slot whose running sum is >= r (r >= 1, r <= total). */
  find(r: number): number {
    const fen = this.fen;
    const cap = this.cap;
    let pos = 0;
    let rem = r;
    for (let step = cap; step > 0; step >>= 1) {
      const nx = pos + step;
      if (nx <= cap && fen[nx] < rem) {
        pos = nx;
        rem -= fen[nx];
      }
    }
    return pos;
  }

  #value(d: Dest): number {
    const w = d.weight;
    return w > 0 && !d.isOverloaded() ? w : 0;
  }

  protected writeLeaf(s: number, d: Dest): void {
    const v = this.#value(d);
    this.wv[s] = v;
    this.total += v;
  }

  protected buildInner(): void {
    const fen = this.fen;
    const cap = this.cap;
    for (let i = 1; i <= cap; i++) fen[i] = this.wv[i - 1];
    for (let i = 1; i <= cap; i++) {
      const j = i + (i & -i);
      if (j <= cap) fen[j] += fen[i];
    }
  }

  #add(s: number, delta: number): void {
    this.wv[s] += delta;
    this.total += delta;
    const fen = this.fen;
    const cap = this.cap;
    for (let i = s + 1; i <= cap; i += i & -i) fen[i] += delta;
  }

  protected setLeaf(s: number, d: Dest): void {
    const delta = this.#value(d) - this.wv[s];
    if (delta !== 0) this.#add(s, delta);
  }

  protected clearLeaf(s: number): void {
    const v = this.wv[s];
    if (v !== 0) this.#add(s, -v);
  }
}

/**
 * Scheduler hooks that keep an index in svc.schedData; `make` creates it in init_service. For
 * the schedulers whose only state is the index (lc, wlc, sed, nq, fo, ovf, twos).
 */
export function indexHooks<T extends DestIndex>(make: () => T) {
  return {
    initService(svc: VirtualService): void {
      svc.schedData = make();
    },
    doneService(svc: VirtualService): void {
      (svc.schedData as T | null)?.reset();
      svc.schedData = null;
    },
    addDest(svc: VirtualService, d: Dest): void {
      (svc.schedData as T).add(svc, d);
    },
    delDest(svc: VirtualService, d: Dest): void {
      (svc.schedData as T).del(d);
    },
    updDest(svc: VirtualService, d: Dest): void {
      (svc.schedData as T).upd(svc, d);
    },
    connsChanged(svc: VirtualService, d: Dest): void {
      (svc.schedData as T).changed(d);
    },
  };
}
