/**
 * The per-entry expiry timers of the connection table (every ip_vs_conn has a timer_list that
 * mod_timer re-arms on every packet), with the firing rules of the kernel's timer wheel
 * (kernel/time/timer.c, 6.1), in jiffies (HZ = 250 on the reference kernel):
 * - A timer does not fire at its `expires` but at the end of the bucket it is queued in: the
 *   wheel level is chosen by the distance to the base clock (level n has a granularity of 8^n
 *   jiffies) and the expiry is rounded up (calc_wheel_index/calc_index). So a 60 s entry goes
 *   up to 2.048 s late and a 900 s one up to 16.4 s late; /proc and `ipvsadm -c` still show the
 *   requested `expires` (0 s left while it waits).
 * - mod_timer of a pending timer to a different time that lands in the same bucket only updates
 *   `expires` (the __mod_timer shortcut); otherwise the timer is queued again.
 * - Timers of one tick run highest level first, and within a bucket the most recently queued
 *   first (hlist_add_head; __run_timers, expire_timers).
 * Storage: per entry four f64 [expires, bucket expiry, order, local bucket] and two i32 links,
 * hashed by bucket expiry into 2048 local buckets of 256 jiffies (lazily moved when re-armed
 * later, see arm); collect(nowJ) returns the due entries in the kernel's firing order. Indexed
 * by the slots of ConnTable.
 */

/** CONFIG_HZ of the reference kernel. */
export const HZ = 250;

/** jiffies at a clock value in ms (jiffies count from the clock's zero). */
export function msToJiffies(ms: number): number {
  return Math.floor((ms * HZ) / 1000);
}

/** jiffies_to_msecs. */
export function jiffiesToMs(j: number): number {
  return (j * 1000) / HZ;
}

const LVL_CLK_SHIFT = 3;
const LVL_BITS = 6;
const LVL_SIZE = 1 << LVL_BITS;
/** LVL_DEPTH for HZ > 100. */
const LVL_DEPTH = 9;
/** LVL_START(n) = (LVL_SIZE - 1) << ((n - 1) * LVL_CLK_SHIFT), for n = 1..LVL_DEPTH. */
function lvlStart(n: number): number {
  return (LVL_SIZE - 1) * 2 ** ((n - 1) * LVL_CLK_SHIFT);
}
/** LVL_STARTS[l] = LVL_START(l + 1): a delta below it fits level l. */
const LVL_STARTS = Float64Array.from({ length: LVL_DEPTH - 1 }, (_, l) => lvlStart(l + 1));
/** LVL_GRAN(l). */
const LVL_GRANS = Float64Array.from({ length: LVL_DEPTH }, (_, l) => 2 ** (l * LVL_CLK_SHIFT));
const WHEEL_TIMEOUT_CUTOFF = lvlStart(LVL_DEPTH);
const WHEEL_TIMEOUT_MAX = WHEEL_TIMEOUT_CUTOFF - LVL_GRANS[LVL_DEPTH - 1];

/**
 * calc_wheel_index: the level a timer expiring at `expires` is queued in when the base clock is
 * `clk` (out[0]), and the jiffy its bucket expires at (out[1]).
 */
export function wheelBucket(expires: number, clk: number, out: Float64Array): void {
  const delta = expires - clk;
  if (delta < 0) {
    out[0] = 0;
    out[1] = clk;
    return;
  }
  let lvl = 0;
  while (lvl < LVL_DEPTH - 1 && delta >= LVL_STARTS[lvl]) lvl++;
  let e = expires;
  if (lvl === LVL_DEPTH - 1 && delta >= WHEEL_TIMEOUT_CUTOFF) e = clk + WHEEL_TIMEOUT_MAX;
  const gran = LVL_GRANS[lvl];
  out[0] = lvl;
  out[1] = (Math.floor(e / gran) + 1) * gran;
}

const SLOT_JIFFIES = 256;
const WHEEL_BITS = 11;
const WHEEL_SIZE = 1 << WHEEL_BITS;
const WHEEL_MASK = WHEEL_SIZE - 1;
/** Not armed (del_timer'd, never armed, or freed). */
const NOT_PENDING = -1;
/** Taken out of its bucket by collect() but not yet fired: still pending for del_timer. */
const DUE = -2;
const W = 4;
const F_EXPIRES = 0;
const F_BUCKET = 1;
/** level * 2^48 + queue sequence: larger runs first among timers of one bucket expiry. */
const F_ORDER = 2;
const F_SLOT = 3;
const ORDER_LEVEL = 2 ** 48;

export class TimerWheel {
  #f: Float64Array;
  /** [next, prev] per entry. */
  #links: Int32Array;
  readonly #heads = new Int32Array(WHEEL_SIZE).fill(-1);
  /** First local bucket tick not yet fully processed. */
  #curTick: number;
  #pending = 0;
  #seq = 0;
  readonly #b = new Float64Array(2);

  constructor(capacity: number, startJiffies = 0) {
    this.#f = new Float64Array(capacity * W);
    for (let i = 0; i < capacity; i++) this.#f[i * W + F_SLOT] = NOT_PENDING;
    this.#links = new Int32Array(capacity * 2);
    this.#curTick = Math.floor(startJiffies / SLOT_JIFFIES);
  }

  /** Bytes held by the per-entry columns (for the memory budget). */
  get bytes(): number {
    return this.#f.byteLength + this.#links.byteLength + this.#heads.byteLength;
  }

  /** Entries armed (including due ones not yet fired). */
  get pending(): number {
    return this.#pending;
  }

  grow(capacity: number): void {
    const old = this.#f.length / W;
    if (capacity <= old) return;
    const f = new Float64Array(capacity * W);
    f.set(this.#f);
    for (let i = old; i < capacity; i++) f[i * W + F_SLOT] = NOT_PENDING;
    this.#f = f;
    const l = new Int32Array(capacity * 2);
    l.set(this.#links);
    this.#links = l;
  }

  /** timer_pending. */
  isPending(i: number): boolean {
    return this.#f[i * W + F_SLOT] !== NOT_PENDING;
  }

  /** timer->expires (jiffies). */
  expires(i: number): number {
    return this.#f[i * W + F_EXPIRES];
  }

  /** The jiffy the timer actually fires at (its bucket's expiry). */
  fireAt(i: number): number {
    return this.#f[i * W + F_BUCKET];
  }

  /** The local bucket (tick) an entry belongs in. */
  #tickOf(i: number): number {
    return Math.max(Math.floor(this.#f[i * W + F_BUCKET] / SLOT_JIFFIES), this.#curTick);
  }

  #link(i: number, tick: number): void {
    const f = this.#f;
    const s = tick & WHEEL_MASK;
    const h = this.#heads[s];
    const l = this.#links;
    f[i * W + F_SLOT] = tick;
    l[2 * i + 1] = -1;
    l[2 * i] = h;
    if (h >= 0) l[2 * h + 1] = i;
    this.#heads[s] = i;
  }

  #unlink(i: number): void {
    const l = this.#links;
    const n = l[2 * i];
    const p = l[2 * i + 1];
    if (p >= 0) l[2 * p] = n;
    else this.#heads[this.#f[i * W + F_SLOT] & WHEEL_MASK] = n;
    if (n >= 0) l[2 * n + 1] = p;
  }

  /** Set `i`'s kernel timer state: queued now for `expires` in (level, bucket) (enqueue_timer). */
  #queue(i: number, expires: number, level: number, bucket: number): void {
    const f = this.#f;
    f[i * W + F_EXPIRES] = expires;
    f[i * W + F_BUCKET] = bucket;
    f[i * W + F_ORDER] = level * ORDER_LEVEL + ++this.#seq;
  }

  /**
   * mod_timer(i, expires) with the timer base clock at `clk` (jiffies).
   * Why a later bucket does not move the entry at once: most re-arms push a timer further (every
   * packet of a flow), so the entry stays in its local bucket with its new kernel state and is
   * moved when that bucket comes round; an earlier bucket moves it now.
   */
  arm(i: number, expires: number, clk: number): void {
    const f = this.#f;
    const o = i * W;
    const st = f[o + F_SLOT];
    const b = this.#b;
    if (st !== NOT_PENDING) {
      if (f[o + F_EXPIRES] === expires) return;
      wheelBucket(expires, clk, b);
      if (st >= 0) {
        if (b[1] === f[o + F_BUCKET] && b[0] === Math.floor(f[o + F_ORDER] / ORDER_LEVEL)) {
          f[o + F_EXPIRES] = expires; // same bucket: the __mod_timer shortcut
          return;
        }
        this.#queue(i, expires, b[0], b[1]);
        const t = this.#tickOf(i);
        if (t < st) {
          this.#unlink(i);
          this.#link(i, t);
        }
        return;
      }
    } else {
      this.#pending++;
      wheelBucket(expires, clk, b);
    }
    this.#queue(i, expires, b[0], b[1]);
    this.#link(i, this.#tickOf(i));
  }

  /** del_timer(i): true when the timer was pending. */
  disarm(i: number): boolean {
    const o = i * W;
    const st = this.#f[o + F_SLOT];
    if (st === NOT_PENDING) return false;
    if (st >= 0) this.#unlink(i);
    this.#f[o + F_SLOT] = NOT_PENDING;
    this.#pending--;
    return true;
  }

  /**
   * Takes every timer whose bucket expired by jiffy `now` out of the wheel into `out`, in the
   * kernel's firing order, and returns how many. They stay pending until fire() or disarm():
   * one handler may delete another timer of the same run. `out` must hold `pending` entries.
   */
  collect(now: number, out: Int32Array): number {
    const nowTick = Math.floor(now / SLOT_JIFFIES);
    let n = 0;
    const f = this.#f;
    const first = Math.max(this.#curTick, nowTick - WHEEL_SIZE + 1);
    for (let t = first; t <= nowTick; t++) {
      for (let i = this.#heads[t & WHEEL_MASK]; i >= 0;) {
        const next = this.#links[2 * i];
        if (f[i * W + F_BUCKET] <= now) {
          this.#unlink(i);
          f[i * W + F_SLOT] = DUE;
          out[n++] = i;
        } else if (f[i * W + F_SLOT] <= t) {
          // Re-armed to a later bucket since it was linked here: move it where it belongs.
          const target = Math.max(Math.floor(f[i * W + F_BUCKET] / SLOT_JIFFIES), nowTick);
          if (target !== t) {
            this.#unlink(i);
            this.#link(i, target);
          }
        }
        i = next;
      }
    }
    if (nowTick > this.#curTick) this.#curTick = nowTick;
    // A bucket's list is already in firing order (latest queued first); sort only when needed.
    let sorted = true;
    for (let k = 1; k < n && sorted; k++) sorted = this.compare(out[k - 1], out[k]) <= 0;
    if (!sorted) out.subarray(0, n).sort((a, b) => this.compare(a, b));
    return n;
  }

  /** Negative when `a` fires before `b`: bucket expiry, then higher level, then queued later. */
  compare(a: number, b: number): number {
    const f = this.#f;
    return f[a * W + F_BUCKET] - f[b * W + F_BUCKET] || f[b * W + F_ORDER] - f[a * W + F_ORDER];
  }

  /**
   * mod_timer from a timer handler whose new bucket has already expired (tick ran late): the
   * timer becomes due in the current round instead of entering the wheel.
   */
  armDue(i: number, expires: number, clk: number): void {
    const o = i * W;
    const st = this.#f[o + F_SLOT];
    if (st === NOT_PENDING) this.#pending++;
    else if (st >= 0) this.#unlink(i);
    const b = this.#b;
    wheelBucket(expires, clk, b);
    this.#queue(i, expires, b[0], b[1]);
    this.#f[o + F_SLOT] = DUE;
  }

  /** The bucket expiry `expires` would get with the base clock at `clk`. */
  bucketOf(expires: number, clk: number): number {
    wheelBucket(expires, clk, this.#b);
    return this.#b[1];
  }

  /** True when `i` is still due (was collected and neither fired, disarmed nor re-armed since). */
  isDue(i: number): boolean {
    return this.#f[i * W + F_SLOT] === DUE;
  }

  /** The timer of a collected entry fires: it is no longer pending. */
  fire(i: number): void {
    if (this.#f[i * W + F_SLOT] === DUE) {
      this.#f[i * W + F_SLOT] = NOT_PENDING;
      this.#pending--;
    }
  }

  /** Forget an entry's timer state when its slot is freed. */
  reset(i: number): void {
    if (this.#f[i * W + F_SLOT] !== NOT_PENDING) this.disarm(i);
  }
}
