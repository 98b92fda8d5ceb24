/**
 * Read buffers in two sizes, recycled (HAProxy's buffer pools, include/haproxy/pool.h): a
 * socket reads into a buffer it owns, the relay writes that same memory to the other socket,
 * and the buffer goes back here when the connection ends. No allocation per read; memory is
 * bounded by live sockets times buffer size plus `max` free buffers per size.
 *
 * Buffers come from Buffer.allocUnsafeSlow: a dedicated ArrayBuffer each, never a slice of
 * Node's shared 8 KiB pool, because libuv writes into them directly.
 */
export class BufferPool {
  readonly smallSize: number;
  readonly bulkSize: number;
  readonly #max: number;
  readonly #small: Buffer[] = [];
  readonly #bulk: Buffer[] = [];
  /** Buffers handed out and not returned yet. */
  inUse = 0;
  /** Bytes handed out and not returned yet. */
  bytesInUse = 0;

  constructor(smallSize: number, bulkSize: number, max: number) {
    this.smallSize = smallSize;
    this.bulkSize = bulkSize;
    this.#max = max;
  }

  small(): Buffer {
    this.inUse++;
    this.bytesInUse += this.smallSize;
    return this.#small.pop() ?? Buffer.allocUnsafeSlow(this.smallSize);
  }

  bulk(): Buffer {
    this.inUse++;
    this.bytesInUse += this.bulkSize;
    return this.#bulk.pop() ?? Buffer.allocUnsafeSlow(this.bulkSize);
  }

  release(b: Buffer): void {
    this.inUse--;
    if (b.length === this.bulkSize && this.bulkSize !== this.smallSize) {
      this.bytesInUse -= this.bulkSize;
      if (this.#bulk.length < this.#max) this.#bulk.push(b);
    } else {
      this.bytesInUse -= this.smallSize;
      if (this.#small.length < this.#max) this.#small.push(b);
    }
  }

  /** Drop the free buffers (on close). */
  clear(): void {
    this.#small.length = 0;
    this.#bulk.length = 0;
  }
}
