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
 * an upd_dest), the index is rebuilt from the list (O(n), rare). dest.schedSlot holds the slot
 * plus a tag of the build (base): a slot from an earlier build, or -1 (not in the index), falls
 * outside [base, base + cap). connsChanged trusts a slot in range without reading dests[] (one
 * cache miss less on the hot path): every linked dest is tagged by the build or by add, every
 * deleted one untagged by del, and reset untags them all. The other hooks also compare dests[s].
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
/** The arg of padding nodes: above every slot. */
const NO_SLOT = 0x3fffffff;
/** dest.schedSlot = base + slot, base = (build number mod 2^9) * SLOT_SPAN: a Smi. */
const SLOT_SPAN = 1 << 22;
const TAG_MASK = (1 << 9) - 1;
/** Past this many dests (half of SLOT_SPAN), no index: the scans. */
const MAX_INDEXED = SLOT_SPAN >> 1;

/**
 * The trees below are 8-ary, not binary: a node's 8 children sit side by side (64 bytes of
 * doubles, one or two cache lines), so an update or a descent touches 5 groups at 10,000 dests
 * instead of 15 scattered nodes; at that size the cost of an operation is its cache misses.
 */
const FAN_SHIFT = 3;
const FAN = 1 << FAN_SHIFT;
const FAN_MASK = FAN - 1;

/**
 * Where each level of an 8-ary tree over `cap` leaves lives in one array: level 0 (the leaves)
 * at 0, level h at lv[h]; level h has sizes[h] nodes, a multiple of 8 (the padding holds the
 * identity: +Infinity for min, 0 for max and sum), except the root level (1 node).
 */
function treeLayout(cap: number): { lv: Int32Array<ArrayBuffer>; sizes: Int32Array<ArrayBuffer>; height: number; total: number } {
  const offs = [0];
  const sizes = [cap];
  let off = cap;
  let size = cap;
  while (size > 1) {
    size = Math.ceil(size / FAN);
    if (size > 1) size = Math.ceil(size / FAN) * FAN;
    offs.push(off);
    sizes.push(size);
    off += size;
  }
  return { lv: new Int32Array(offs), sizes: new Int32Array(sizes), height: offs.length - 1, total: off };
}

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
  /** Offsets of the tree's levels in its node array (treeLayout), root level last. */
  lv = new Int32Array(1);
  /** Nodes per level. */
  sizes = new Int32Array(1);
  /** Index of the root level. */
  height = 0;
  /** This build's tag: dest.schedSlot = base + slot. */
  base = 0;
  /** Builds so far (the tag's source). */
  #builds = 0;

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
    if (n <= this.min || n > MAX_INDEXED) return false;
    this.build(svc);
    return true;
  }

  /** Stop indexing (done_service, or the service became small); frees the arrays. */
  reset(): void {
    const dests = this.dests;
    for (let s = 0; s < dests.length; s++) {
      const d = dests[s];
      if (d !== null && d.schedSlot === this.base + s) d.schedSlot = -1;
    }
    this.built = false;
    this.dests = [];
    this.cap = 0;
    this.front = 0;
    this.count = 0;
    this.lv = new Int32Array(1);
    this.sizes = new Int32Array(1);
    this.height = 0;
    this.alloc(0, 0);
  }

  /** (Re)build from the list: slots [cap - n, cap) in list order. O(n). */
  build(svc: VirtualService): void {
    const head = svc.destinations;
    let n = 0;
    for (let p = head.next; p !== head; p = p.next) n++;
    let cap = MIN_CAP;
    while (cap < n + (n >> 2)) cap *= 2;
    this.cap = cap;
    this.front = cap - n;
    this.count = n;
    this.dests = new Array<Dest | null>(cap).fill(null);
    this.base = (++this.#builds & TAG_MASK) * SLOT_SPAN;
    const t = treeLayout(cap);
    this.lv = t.lv;
    this.sizes = t.sizes;
    this.height = t.height;
    this.alloc(cap, t.total);
    let s = this.front;
    for (let p = head.next; p !== head; p = p.next) {
      const d = p as Dest;
      this.dests[s] = d;
      d.schedSlot = this.base + s;
      this.writeLeaf(s, d);
      s++;
    }
    this.buildInner();
    this.built = true;
  }

  /** The slot of `d`, or -1 if it is not in the index. */
  slotOf(d: Dest): number {
    const s = d.schedSlot - this.base;
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
    d.schedSlot = this.base + s;
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
    const s = d.schedSlot - this.base;
    if (s >= 0 && s < this.cap) this.setLeaf(s, d);
  }

  /** Size the typed arrays for `cap` slots and a tree of `nodes` nodes (0: free them). */
  protected abstract alloc(cap: number, nodes: number): void;
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
 * A min tree (8-ary, see treeLayout) over each dest's load, the first (leftmost) slot winning
 * ties: the kernel's scan keeps its choice unless a later dest is strictly less loaded, so it
 * returns the first dest with the least load, which is the root's (key, slot) minimum.
 * Not eligible (overloaded, weight 0): +Infinity. The load:
 * - lc: activeconns * 256 + totalconns (ip_vs_lc.c ignores weight but for 0); an integer, exact.
 * - wlc (and lblc/lblcr's fallback): the same overhead / weight (ip_vs_wlc.c).
 * - sed: (activeconns + 1) / weight (ip_vs_sed.c).
 * - nq: as sed, but 0 for an idle dest (activeconns == 0): every idle dest ties at 0 below every
 *   busy one, so the first idle one in list order wins, as ip_vs_nq.c returns it at once.
 * Each node also keeps the first slot holding its minimum, so a pick reads the root: O(1). An
 * update walks up from the leaf (O(log n)) while a node changes. With `trackUnderHalf`, also
 * counts the dests with activeconns * 2 < weight (lblc/lblcr's is_overloaded asks for one).
 */
export class LeastIndex extends DestIndex {
  /** Node minimums: the leaves at their slots, level h at lv[h], the root at lv[height]. */
  key = new Float64Array(0);
  /** Each node's first slot holding its minimum (a leaf: its slot). */
  arg = new Int32Array(0);
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

  /** The scan's choice: the first least loaded eligible dest, or null. O(1): the root's arg. */
  best(): Dest | null {
    const root = this.lv[this.height];
    return this.key[root] === Infinity ? null : this.dests[this.arg[root]];
  }

  protected alloc(cap: number, nodes: number): void {
    this.key = new Float64Array(nodes).fill(Infinity);
    // Leaves: their own slot; padding: past every slot (never the first of a tie).
    this.arg = new Int32Array(nodes).fill(NO_SLOT);
    for (let s = 0; s < cap; s++) this.arg[s] = s;
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
      const b = oh < 0 && weight === 0 && !d.isOverloaded() ? 1 : 0;
      if (b !== 0 || this.unsafe !== 0) this.#bounds(s, b);
      return Infinity;
    }
    const b = weight > SAFE_WEIGHT || oh >= SAFE_OVERHEAD || oh < 0 ? 1 : 0;
    // While no slot is past the bounds, big[] is all 0: nothing to read for a 0.
    if (b !== 0 || this.unsafe !== 0) this.#bounds(s, b);
    return oh / weight;
  }

  #bounds(s: number, b: number): void {
    if (this.big[s] !== b) {
      this.big[s] = b;
      this.unsafe += b ? 1 : -1;
    }
  }

  protected writeLeaf(s: number, d: Dest): void {
    this.key[s] = this.#key(s, d);
  }

  protected buildInner(): void {
    const lv = this.lv;
    for (let h = 1; h <= this.height; h++) {
      // The nodes over level h - 1's groups; the padding past them stays +Infinity.
      const n = this.sizes[h - 1] >> FAN_SHIFT;
      for (let p = 0; p < n; p++) this.#pull(lv[h] + p, lv[h - 1] + (p << FAN_SHIFT));
    }
  }

  /**
   * Node pi becomes the minimum of its 8 children from c, with the first of them holding it
   * (children are in slot order, so a strict < keeps the leftmost). True if the node changed.
   */
  #pull(pi: number, c: number): boolean {
    const key = this.key;
    const arg = this.arg;
    let m = key[c];
    let a = c;
    for (let j = c + 1; j < c + FAN; j++) {
      const v = key[j];
      if (v < m) {
        m = v;
        a = j;
      }
    }
    const slot = arg[a];
    if (key[pi] === m && arg[pi] === slot) return false;
    key[pi] = m;
    arg[pi] = slot;
    return true;
  }

  /**
   * Leaf s becomes k. Nodes order (key, slot) pairs, so every pair is distinct: up the levels,
   * a child's pair below its parent's replaces it; a parent whose pair came from the child
   * (its arg lies in the child's slots) changes with it; otherwise, or once a node is
   * unchanged, the rest of the path is unchanged too. A parent that came from the child and
   * now sees it rise is pulled from its 8 children again, unless the child's key is still the
   * parent's: its siblings on the left have larger keys (else one of them, with its smaller
   * slots, would hold the parent), those on the right larger slots, so the child still wins.
   */
  #set(s: number, k: number): void {
    const key = this.key;
    if (key[s] === k) return;
    key[s] = k;
    const arg = this.arg;
    const lv = this.lv;
    const height = this.height;
    let i = s;
    let a = s;
    for (let h = 1; h <= height; h++) {
      const p = i >> FAN_SHIFT;
      const pi = lv[h] + p;
      const pk = key[pi];
      const pa = arg[pi];
      if (k < pk || (k === pk && a < pa)) {
        key[pi] = k;
        arg[pi] = a;
      } else if (pa >> (FAN_SHIFT * (h - 1)) !== i) {
        return;
      } else if (k === pk) {
        arg[pi] = a;
      } else {
        if (!this.#pull(pi, lv[h - 1] + (p << FAN_SHIFT))) return;
        k = key[pi];
        a = arg[pi];
      }
      i = p;
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

/** The minimum of a[c..c+7]. */
function min8(a: Float64Array, c: number): number {
  let m = a[c];
  for (let j = 1; j < FAN; j++) {
    const v = a[c + j];
    if (v < m) m = v;
  }
  return m;
}

/** The maximum of a[c..c+7]. */
function max8(a: Float64Array, c: number): number {
  let m = a[c];
  for (let j = 1; j < FAN; j++) {
    const v = a[c + j];
    if (v > m) m = v;
  }
  return m;
}

/** The sum of a[c..c+7]. */
function sum8(a: Float64Array, c: number): number {
  let m = 0;
  for (let j = 0; j < FAN; j++) m += a[c + j];
  return m;
}

/** What a MaxIndex holds per dest. */
export const MAX_WEIGHT = 0;
export const MAX_OVF = 1;

/**
 * A max tree (8-ary) over a value per slot:
 * - MAX_WEIGHT (rr, wrr, fo): the weight, or 0 when overloaded. rr wants the next dest with a
 *   value >= 1 after its cursor, wrr the next with a value >= cw, fo the first with the maximum.
 * - MAX_OVF (ovf): the weight, or 0 when overloaded or activeconns > weight; ovf wants the first
 *   with the maximum (ip_vs_ovf.c: highest weight, first in list order on ties).
 */
export class MaxIndex extends DestIndex {
  /** Node maximums: the leaves at their slots, level h at lv[h], the root at lv[height]. */
  val = new Float64Array(0);

  constructor(readonly mode: number, min: number) {
    super(min);
  }

  /** The largest value (0: no eligible dest). */
  max(): number {
    return this.val[this.lv[this.height]];
  }

  /** The smallest slot holding the largest value (which must be > 0). */
  firstMax(): number {
    const val = this.val;
    const lv = this.lv;
    let h = this.height;
    const m = val[lv[h]];
    let i = 0;
    while (h > 0) {
      h--;
      let c = lv[h] + (i << FAN_SHIFT);
      while (val[c] !== m) c++;
      i = c - lv[h];
    }
    return i;
  }

  /** The smallest slot in [lo, hi] whose value is >= x (x > 0), or -1. O(log n). */
  firstAtLeast(lo: number, hi: number, x: number): number {
    if (lo > hi) return -1;
    const val = this.val;
    const lv = this.lv;
    const sizes = this.sizes;
    const height = this.height;
    let h = 0;
    let i = lo;
    for (;;) {
      // The rest of i's group at level h, then on to the group after its parent.
      if (i >= sizes[h]) return -1;
      const base = lv[h];
      const end = i | FAN_MASK;
      for (; i <= end; i++) {
        if (val[base + i] < x) continue;
        // Down into the first child >= x at each level.
        while (h > 0) {
          h--;
          let c = lv[h] + (i << FAN_SHIFT);
          while (val[c] < x) c++;
          i = c - lv[h];
        }
        return i <= hi ? i : -1;
      }
      if (h === height) return -1;
      i = ((i - 1) >> FAN_SHIFT) + 1;
      h++;
    }
  }

  #value(d: Dest): number {
    const w = d.weight;
    if (w <= 0 || d.isOverloaded()) return 0;
    if (this.mode === MAX_OVF && d.activeConns > w) return 0;
    return w;
  }

  protected alloc(cap: number, nodes: number): void {
    this.val = new Float64Array(nodes);
  }

  protected writeLeaf(s: number, d: Dest): void {
    this.val[s] = this.#value(d);
  }

  protected buildInner(): void {
    const val = this.val;
    const lv = this.lv;
    for (let h = 1; h <= this.height; h++) {
      const n = this.sizes[h - 1] >> FAN_SHIFT;
      const base = lv[h];
      for (let p = 0; p < n; p++) val[base + p] = max8(val, lv[h - 1] + (p << FAN_SHIFT));
    }
  }

  /** Leaf s becomes v; up the levels while a node's maximum changes (as LeastIndex, mirrored). */
  #set(s: number, v: number): void {
    const val = this.val;
    let old = val[s];
    if (old === v) return;
    val[s] = v;
    const lv = this.lv;
    const height = this.height;
    let i = s;
    for (let h = 1; h <= height; h++) {
      const p = i >> FAN_SHIFT;
      const pi = lv[h] + p;
      const pv = val[pi];
      let m: number;
      if (v > pv) m = v;
      else if (v === pv || old !== pv) return;
      else {
        m = max8(val, lv[h - 1] + (p << FAN_SHIFT));
        if (m === pv) return;
      }
      val[pi] = m;
      old = pv;
      v = m;
      i = p;
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
 * Sums of the weights of the eligible dests (not overloaded, weight > 0) in list order, an 8-ary
 * sum tree, for twos's weighted draws. The scan subtracts weights in list order until the draw
 * is <= 0: that is the first slot whose running sum reaches the draw (a draw of 0 takes the first
 * eligible dest, as a sum of 1 would).
 */
export class WeightSumIndex extends DestIndex {
  /**
   * Running sums within each group of 8 siblings: pre[x] sums the subtrees of x's group from
   * its first node through x, so a group's last entry is its parent's subtree sum. A draw
   * then picks its child in a group by binary search (3 comparisons, no subtraction chain).
   * The leaves count each slot's weight (0 for a hole or an ineligible dest).
   */
  pre = new Float64Array(0);
  /** Each slot's counted weight. */
  wv = new Float64Array(0);
  /** Sum of every counted weight (exact: below 2^53). */
  total = 0;

  protected alloc(cap: number, nodes: number): void {
    this.pre = new Float64Array(nodes);
    this.wv = new Float64Array(cap);
    this.total = 0;
  }

  /** The first slot whose running sum is >= r (r >= 1, r <= total). */
  find(r: number): number {
    const pre = this.pre;
    const lv = this.lv;
    let rem = r;
    let i = 0;
    for (let h = this.height - 1; h >= 0; h--) {
      const c = lv[h] + (i << FAN_SHIFT);
      // The first j with pre[c + j] >= rem (pre[c + 7] is the parent's sum, >= rem): the number
      // of running sums below rem, counted without branches.
      const j =
        Number(pre[c] < rem) + Number(pre[c + 1] < rem) + Number(pre[c + 2] < rem) + Number(pre[c + 3] < rem) +
        Number(pre[c + 4] < rem) + Number(pre[c + 5] < rem) + Number(pre[c + 6] < rem);
      if (j > 0) rem -= pre[c + j - 1];
      i = (i << FAN_SHIFT) + j;
    }
    return i;
  }

  #value(d: Dest): number {
    const w = d.weight;
    return w > 0 && !d.isOverloaded() ? w : 0;
  }

  protected writeLeaf(s: number, d: Dest): void {
    this.wv[s] = this.#value(d);
  }

  protected buildInner(): void {
    const pre = this.pre;
    const lv = this.lv;
    // Level 0 from the weights, then each level from the group totals below it.
    for (let c = 0; c < this.cap; c += FAN) {
      let run = 0;
      for (let j = 0; j < FAN; j++) pre[c + j] = run += this.wv[c + j];
    }
    for (let h = 1; h <= this.height; h++) {
      const n = this.sizes[h - 1] >> FAN_SHIFT;
      const base = lv[h];
      for (let g = 0; g < n; g += FAN) {
        // Padding after the last node repeats the group's total (the running sums stay sorted).
        let run = 0;
        for (let j = 0; j < FAN && (h < this.height || j === 0); j++) {
          if (g + j < n) run += pre[lv[h - 1] + ((g + j) << FAN_SHIFT) + FAN_MASK];
          pre[base + g + j] = run;
        }
      }
    }
    this.total = pre[lv[this.height]];
  }

  #add(s: number, delta: number): void {
    const pre = this.pre;
    const lv = this.lv;
    this.wv[s] += delta;
    let i = s;
    for (let h = 0; h <= this.height; h++) {
      const base = lv[h];
      const end = h === this.height ? base + 1 : base + (i | FAN_MASK) + 1;
      for (let x = base + i; x < end; x++) pre[x] += delta;
      i >>= FAN_SHIFT;
    }
    this.total += delta;
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
 * The destination hooks that keep a service's index current, wherever the scheduler keeps it
 * (`indexOf`): in svc.schedData itself, or inside a larger state (lblc/lblcr).
 */
export function destIndexHooks<T extends DestIndex>(indexOf: (svc: VirtualService) => T) {
  return {
    addDest(svc: VirtualService, d: Dest): void {
      indexOf(svc).add(svc, d);
    },
    delDest(svc: VirtualService, d: Dest): void {
      indexOf(svc).del(d);
    },
    updDest(svc: VirtualService, d: Dest): void {
      indexOf(svc).upd(svc, d);
    },
    connsChanged(svc: VirtualService, d: Dest): void {
      indexOf(svc).changed(d);
    },
  };
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
    ...destIndexHooks((svc) => svc.schedData as T),
  };
}
