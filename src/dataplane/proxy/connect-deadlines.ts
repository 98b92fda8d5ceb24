/**
 * Connect deadlines without a timer per connection: the timeout is the same for all, so
 * deadlines only grow and a queue in arrival order is enough; housekeeping pops the due ones.
 */

/** A connection waiting for its connect to complete. */
export interface Connecting {
  /** Non-zero while connecting; the value is the deadline it was queued with. */
  connectDeadlineMs: number;
  connectTimedOut(nowMs: number): void;
}

export class ConnectDeadlines {
  readonly timeoutMs: number;
  #q: Connecting[] = [];
  #at: number[] = [];
  #head = 0;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  /** Queue a deadline (now + timeoutMs); returns it. A connection that is reused or done sets its own deadline to 0 or anew: stale entries are skipped. */
  watch(c: Connecting, nowMs: number): number {
    const at = nowMs + this.timeoutMs;
    this.#q.push(c);
    this.#at.push(at);
    return at;
  }

  /** Time out every connection whose deadline passed and is still its current one. */
  expire(nowMs: number): void {
    const q = this.#q;
    const at = this.#at;
    let h = this.#head;
    while (h < q.length && at[h] <= nowMs) {
      const c = q[h];
      const deadline = at[h];
      q[h] = undefined as unknown as Connecting;
      h++;
      if (c.connectDeadlineMs === deadline) c.connectTimedOut(nowMs);
    }
    if (h === q.length) {
      q.length = 0;
      at.length = 0;
      h = 0;
    } else if (h > 4096 && h * 2 > q.length) {
      q.splice(0, h);
      at.splice(0, h);
      h = 0;
    }
    this.#head = h;
  }
}
