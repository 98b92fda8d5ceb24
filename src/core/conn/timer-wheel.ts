/**
 * The per-entry expiry timers of the connection table (the kernel gives every ip_vs_conn a
 * timer_list; mod_timer re-arms it on every packet). A hashed timing wheel over typed arrays,
 * indexed by the same slot numbers as ConnTable: 1 s buckets, 2048 of them (34 min per round).
 *
 * Why re-arming is lazy: every packet pushes its entry's expiry forward (mod_timer), so arm()
 * only stores the new time when it is later than the bucket the entry sits in; the entry moves
 * when its bucket comes round. An earlier time (a FIN shortening 900 s to 120 s, expire_now)
 * moves it at once. Expiry is exact to the millisecond: collect(nowMs) returns every entry whose
 * time is <= nowMs, sorted by that time, the order in which the kernel's timers would have fired.
 */

const GRANULARITY_MS = 1000;
const WHEEL_BITS = 11;
const WHEEL_SIZE = 1 << WHEEL_BITS;
const WHEEL_MASK = WHEEL_SIZE - 1;
/** Not armed (del_timer'd, never armed, or freed). */
const NOT_PENDING = -1;
/** Taken out of its bucket by collect() but not yet fired: still pending for del_timer. */
const DUE = -2;

export class TimerWheel {
  #expires: Float64Array;
  /** Tick (relative to #baseTick) of the bucket the entry is linked in, or NOT_PENDING / DUE. */
  #tick: Int32Array;
  #next: Int32Array;
  #prev: Int32Array;
  readonly #heads = new Int32Array(WHEEL_SIZE).fill(-1);
  readonly #baseTick: number;
  /** First tick not yet fully processed (relative). */
  #curTick = 0;
  #pending = 0;

  constructor(capacity: number, startMs = 0) {
    this.#expires = new Float64Array(capacity);
    this.#tick = new Int32Array(capacity).fill(NOT_PENDING);
    this.#next = new Int32Array(capacity);
    this.#prev = new Int32Array(capacity);
    this.#baseTick = Math.floor(startMs / GRANULARITY_MS);
  }

  /** Bytes held by the per-entry columns (for the memory budget). */
  get bytes(): number {
    return this.#expires.byteLength + this.#tick.byteLength + this.#next.byteLength + this.#prev.byteLength + this.#heads.byteLength;
  }

  /** Entries armed (including due ones not yet fired). */
  get pending(): number {
    return this.#pending;
  }

  grow(capacity: number): void {
    const old = this.#expires.length;
    if (capacity <= old) return;
    const e = new Float64Array(capacity); e.set(this.#expires); this.#expires = e;
    const t = new Int32Array(capacity).fill(NOT_PENDING); t.set(this.#tick); this.#tick = t;
    const n = new Int32Array(capacity); n.set(this.#next); this.#next = n;
    const p = new Int32Array(capacity); p.set(this.#prev); this.#prev = p;
  }

  isPending(i: number): boolean {
    return this.#tick[i] !== NOT_PENDING;
  }

  expiresMs(i: number): number {
    return this.#expires[i];
  }

  #tickOf(ms: number): number {
    const t = Math.floor(ms / GRANULARITY_MS) - this.#baseTick;
    return t < this.#curTick ? this.#curTick : t;
  }

  #link(i: number, tick: number): void {
    const s = tick & WHEEL_MASK;
    const h = this.#heads[s];
    this.#tick[i] = tick;
    this.#prev[i] = -1;
    this.#next[i] = h;
    if (h >= 0) this.#prev[h] = i;
    this.#heads[s] = i;
  }

  #unlink(i: number): void {
    const p = this.#prev[i];
    const n = this.#next[i];
    if (p >= 0) this.#next[p] = n;
    else this.#heads[this.#tick[i] & WHEEL_MASK] = n;
    if (n >= 0) this.#prev[n] = p;
  }

  /** mod_timer(i, expiresMs). */
  arm(i: number, expiresMs: number): void {
    const cur = this.#tick[i];
    if (cur >= 0) {
      const t = this.#tickOf(expiresMs);
      this.#expires[i] = expiresMs;
      if (t >= cur) return;
      this.#unlink(i);
      this.#link(i, t);
      return;
    }
    if (cur === NOT_PENDING) this.#pending++;
    this.#expires[i] = expiresMs;
    this.#link(i, this.#tickOf(expiresMs));
  }

  /** del_timer(i): true when the timer was pending. */
  disarm(i: number): boolean {
    const cur = this.#tick[i];
    if (cur === NOT_PENDING) return false;
    if (cur >= 0) this.#unlink(i);
    this.#tick[i] = NOT_PENDING;
    this.#pending--;
    return true;
  }

  /**
   * Takes every entry due at nowMs out of the wheel into `out` (sorted by expiry time) and
   * returns how many. They stay pending until fire() or disarm(): firing one may delete
   * another, as one kernel timer handler may del_timer another timer that is also due.
   * `out` must hold `pending` entries.
   */
  collect(nowMs: number, out: Int32Array): number {
    const nowTick = Math.floor(nowMs / GRANULARITY_MS) - this.#baseTick;
    let n = 0;
    if (nowTick < this.#curTick) {
      // The clock went back: only what sits in the current bucket can be due.
      n = this.#collectSlot(this.#curTick, nowTick, nowMs, out, 0, true);
    } else {
      const first = Math.max(this.#curTick, nowTick - WHEEL_SIZE + 1);
      for (let t = first; t <= nowTick; t++) n = this.#collectSlot(t, nowTick, nowMs, out, n, false);
      this.#curTick = nowTick;
    }
    if (n > 1) {
      const exp = this.#expires;
      out.subarray(0, n).sort((a, b) => exp[a] - exp[b] || a - b);
    }
    return n;
  }

  #collectSlot(t: number, nowTick: number, nowMs: number, out: Int32Array, n: number, onlyDue: boolean): number {
    const s = t & WHEEL_MASK;
    for (let i = this.#heads[s]; i >= 0;) {
      const next = this.#next[i];
      const exp = this.#expires[i];
      if (exp <= nowMs) {
        this.#unlink(i);
        this.#tick[i] = DUE;
        out[n++] = i;
      } else if (!onlyDue && this.#tick[i] <= t) {
        // Its bucket has come round but the time was pushed later: move it where it belongs.
        const target = Math.floor(exp / GRANULARITY_MS) - this.#baseTick;
        if (target !== t) {
          this.#unlink(i);
          this.#link(i, target < nowTick ? nowTick : target);
        }
      }
      i = next;
    }
    return n;
  }

  /**
   * Arm `i` for a time that is already due in the current collect round (a timer handler that
   * re-arms a timer into the past): it becomes due without entering a bucket, and the caller
   * fires it in this round.
   */
  armDue(i: number, expiresMs: number): void {
    const cur = this.#tick[i];
    if (cur === NOT_PENDING) this.#pending++;
    else if (cur >= 0) this.#unlink(i);
    this.#expires[i] = expiresMs;
    this.#tick[i] = DUE;
  }

  /** True when `i` is still due (was collected and neither fired, disarmed nor re-armed since). */
  isDue(i: number): boolean {
    return this.#tick[i] === DUE;
  }

  /** The timer of a collected entry fires: it is no longer pending. */
  fire(i: number): void {
    if (this.#tick[i] === DUE) {
      this.#tick[i] = NOT_PENDING;
      this.#pending--;
    }
  }

  /** Forget an entry's timer state when its slot is freed. */
  reset(i: number): void {
    if (this.#tick[i] !== NOT_PENDING) this.disarm(i);
  }
}
