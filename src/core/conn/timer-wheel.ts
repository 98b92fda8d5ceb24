/**
 * The per-entry expiry timers of the connection table (the kernel gives every ip_vs_conn a
 * timer_list; mod_timer re-arms it on every packet). A hashed timing wheel over typed arrays,
 * indexed by the same slot numbers as ConnTable: 1 s buckets, 2048 of them (34 min per round).
 * Per entry: [expiry ms, bucket tick] side by side in a Float64Array (one cache line touched by
 * a re-arm) and [next, prev] links in an Int32Array.
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
  /** [expires ms, tick] per entry; tick (relative to #baseTick) of the bucket the entry is linked in, or NOT_PENDING / DUE. */
  #et: Float64Array;
  /** [next, prev] per entry. */
  #links: Int32Array;
  readonly #heads = new Int32Array(WHEEL_SIZE).fill(-1);
  readonly #baseTick: number;
  /** First tick not yet fully processed (relative). */
  #curTick = 0;
  #pending = 0;

  constructor(capacity: number, startMs = 0) {
    this.#et = new Float64Array(capacity * 2);
    for (let i = 0; i < capacity; i++) this.#et[2 * i + 1] = NOT_PENDING;
    this.#links = new Int32Array(capacity * 2);
    this.#baseTick = Math.floor(startMs / GRANULARITY_MS);
  }

  /** Bytes held by the per-entry columns (for the memory budget). */
  get bytes(): number {
    return this.#et.byteLength + this.#links.byteLength + this.#heads.byteLength;
  }

  /** Entries armed (including due ones not yet fired). */
  get pending(): number {
    return this.#pending;
  }

  grow(capacity: number): void {
    const old = this.#et.length / 2;
    if (capacity <= old) return;
    const et = new Float64Array(capacity * 2);
    et.set(this.#et);
    for (let i = old; i < capacity; i++) et[2 * i + 1] = NOT_PENDING;
    this.#et = et;
    const l = new Int32Array(capacity * 2);
    l.set(this.#links);
    this.#links = l;
  }

  isPending(i: number): boolean {
    return this.#et[2 * i + 1] !== NOT_PENDING;
  }

  expiresMs(i: number): number {
    return this.#et[2 * i];
  }

  #tickOf(ms: number): number {
    const t = Math.floor(ms / GRANULARITY_MS) - this.#baseTick;
    return t < this.#curTick ? this.#curTick : t;
  }

  #link(i: number, tick: number): void {
    const s = tick & WHEEL_MASK;
    const h = this.#heads[s];
    const l = this.#links;
    this.#et[2 * i + 1] = tick;
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
    else this.#heads[this.#et[2 * i + 1] & WHEEL_MASK] = n;
    if (n >= 0) l[2 * n + 1] = p;
  }

  /** mod_timer(i, expiresMs). */
  arm(i: number, expiresMs: number): void {
    const et = this.#et;
    const cur = et[2 * i + 1];
    et[2 * i] = expiresMs;
    if (cur >= 0) {
      const t = this.#tickOf(expiresMs);
      if (t >= cur) return;
      this.#unlink(i);
      this.#link(i, t);
      return;
    }
    if (cur === NOT_PENDING) this.#pending++;
    this.#link(i, this.#tickOf(expiresMs));
  }

  /** del_timer(i): true when the timer was pending. */
  disarm(i: number): boolean {
    const cur = this.#et[2 * i + 1];
    if (cur === NOT_PENDING) return false;
    if (cur >= 0) this.#unlink(i);
    this.#et[2 * i + 1] = NOT_PENDING;
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
      const et = this.#et;
      out.subarray(0, n).sort((a, b) => et[2 * a] - et[2 * b] || a - b);
    }
    return n;
  }

  #collectSlot(t: number, nowTick: number, nowMs: number, out: Int32Array, n: number, onlyDue: boolean): number {
    const s = t & WHEEL_MASK;
    const et = this.#et;
    for (let i = this.#heads[s]; i >= 0;) {
      const next = this.#links[2 * i];
      const exp = et[2 * i];
      if (exp <= nowMs) {
        this.#unlink(i);
        et[2 * i + 1] = DUE;
        out[n++] = i;
      } else if (!onlyDue && et[2 * i + 1] <= t) {
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
    const et = this.#et;
    const cur = et[2 * i + 1];
    if (cur === NOT_PENDING) this.#pending++;
    else if (cur >= 0) this.#unlink(i);
    et[2 * i] = expiresMs;
    et[2 * i + 1] = DUE;
  }

  /** True when `i` is still due (was collected and neither fired, disarmed nor re-armed since). */
  isDue(i: number): boolean {
    return this.#et[2 * i + 1] === DUE;
  }

  /** The timer of a collected entry fires: it is no longer pending. */
  fire(i: number): void {
    if (this.#et[2 * i + 1] === DUE) {
      this.#et[2 * i + 1] = NOT_PENDING;
      this.#pending--;
    }
  }

  /** Forget an entry's timer state when its slot is freed. */
  reset(i: number): void {
    if (this.#et[2 * i + 1] !== NOT_PENDING) this.disarm(i);
  }
}
