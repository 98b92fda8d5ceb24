/**
 * A single-producer single-consumer queue of fixed-size records of Int32 words in a
 * SharedArrayBuffer, between two threads of the proxy (the core thread and a relay thread).
 * The producer wakes the consumer through an eventfd in the consumer's epoll set, and only when
 * the consumer may have emptied the queue: a busy consumer costs its producer no system call.
 *
 * Why a wake-up is never lost: the producer publishes its tail, then reads the head; the
 * consumer publishes its head, then reads the tail again before it stops. Both are
 * sequentially consistent (Atomics), so either the consumer sees the new record, or the producer
 * sees the head that says the consumer had caught up, and signals.
 *
 * Layout: [head, tail, pad...] then `capacity` records of `stride` words. Head and tail are
 * free-running Int32 counters: they wrap, so differences are taken modulo 2^32 and the capacity
 * is a power of two (the index is the counter's low bits).
 */

const HEAD = 0;
const TAIL = 1;
const HEADER_WORDS = 16;

export class Ring {
  readonly sab: SharedArrayBuffer;
  readonly stride: number;
  readonly capacity: number;
  readonly #w: Int32Array;
  readonly #mask: number;
  /** Records as a plain view: records are written and read with ordinary stores and loads. */
  readonly data: Int32Array;

  constructor(sabOrCapacity: SharedArrayBuffer | number, stride: number) {
    this.stride = stride;
    if (typeof sabOrCapacity === 'number') {
      this.sab = new SharedArrayBuffer((HEADER_WORDS + sabOrCapacity * stride) * 4);
    } else {
      this.sab = sabOrCapacity;
    }
    this.#w = new Int32Array(this.sab, 0, HEADER_WORDS);
    this.data = new Int32Array(this.sab, HEADER_WORDS * 4);
    let cap = 1;
    while (cap * 2 <= this.data.length / stride) cap *= 2;
    this.capacity = cap;
    this.#mask = cap - 1;
  }

  // ---- producer ----

  /** Word offset in `data` of the next record to fill, or -1 when the queue is full. */
  reserve(): number {
    const tail = Atomics.load(this.#w, TAIL);
    const head = Atomics.load(this.#w, HEAD);
    if (((tail - head) | 0) >= this.capacity) return -1;
    return (tail & this.#mask) * this.stride;
  }

  /** Publish the reserved record. Returns true when the consumer must be woken. */
  commit(): boolean {
    const tail = Atomics.load(this.#w, TAIL);
    Atomics.store(this.#w, TAIL, (tail + 1) | 0);
    return Atomics.load(this.#w, HEAD) === tail;
  }

  // ---- consumer ----

  /**
   * Call `each(offset)` for every record, in order, until the queue stays empty. Returns how many.
   * A record's words are only valid during its call.
   */
  drain(each: (off: number) => void): number {
    const w = this.#w;
    let n = 0;
    for (;;) {
      let head = Atomics.load(w, HEAD);
      const tail = Atomics.load(w, TAIL);
      if (head === tail) return n;
      while (head !== tail) {
        each((head & this.#mask) * this.stride);
        head = (head + 1) | 0;
        n++;
      }
      Atomics.store(w, HEAD, head);
    }
  }

  get length(): number {
    return (Atomics.load(this.#w, TAIL) - Atomics.load(this.#w, HEAD)) | 0;
  }
}
