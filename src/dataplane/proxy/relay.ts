/**
 * The native relay's event loop glue: one epoll set (native/src/relay.c) whose ready sockets
 * arrive in batches, dispatched by descriptor to the listener or session that owns it.
 *
 * Descriptors closed while a batch is being handled are closed after it: a later event of the
 * same batch may still name them, and closing at once would let a new connection reuse the
 * number and receive a stale event. Outside a batch (timers, apply, close) they close at once.
 */
import type { RelayAddon, RelayHandle } from './relay-addon.js';

/** Something to finish once the batch's events have all been seen. */
export interface Deferred {
  runDeferred(): void;
}

/** Whoever owns a descriptor in the relay's epoll set. */
export interface FdOwner {
  /** The socket is ready: `events` are epoll bits (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLERR, EPOLLHUP). */
  onEvents(fd: number, events: number): void;
}

export class Relay {
  readonly addon: RelayAddon;
  readonly h: RelayHandle;
  readonly epfd: number;
  /** The read buffer every socket reads into (pump); a connection keeps it only when a write falls short. */
  #scratch: Buffer;
  /** Where pump() leaves its write's result. */
  readonly io: Int32Array;
  readonly id: number;
  /** Descriptor → owner. */
  readonly #owners: (FdOwner | undefined)[] = [];
  #inBatch = false;
  /** Descriptors to close after the batch: fd * 2 + (reset ? 1 : 0). */
  #closing = new Int32Array(256);
  #nClosing = 0;
  /** Work to finish after the batch's events (see defer). */
  readonly #deferred: Deferred[] = [];
  /** Things that keep the event loop alive: listeners and live sessions. */
  #holds = 0;
  #closed = false;

  /** Runs after each batch, before the deferred closes (the core's timers). */
  readonly #afterBatch: () => void;
  readonly #now: () => number;
  /** The clock, read once per batch: every event of a batch happened by then. */
  nowMs = 0;

  constructor(addon: RelayAddon, scratch: Buffer, now: () => number, afterBatch: () => void) {
    this.addon = addon;
    this.#now = now;
    this.#afterBatch = afterBatch;
    this.h = addon.open((n) => this.#batch(n));
    this.epfd = this.h.epfd;
    this.id = this.h.id;
    this.io = addon.io;
    this.#scratch = scratch;
    addon.setScratch(this.id, scratch);
    addon.ref(this.h, false);
  }

  get scratch(): Buffer {
    return this.#scratch;
  }

  /** The scratch buffer was kept as pending data: read into this one from now on. */
  set scratch(b: Buffer) {
    this.#scratch = b;
    this.addon.setScratch(this.id, b);
  }

  /** Whether a batch of events is being handled (closes are deferred, signals sent after it). */
  get inBatch(): boolean {
    return this.#inBatch;
  }

  /** nowMs during a batch, the clock otherwise. */
  now(): number {
    return this.#inBatch ? this.nowMs : this.#now();
  }

  own(fd: number, o: FdOwner): void {
    const a = this.#owners;
    while (a.length <= fd) a.push(undefined);
    a[fd] = o;
  }

  /** Close a descriptor (RST with reset); after the current batch if one is running. */
  closeFd(fd: number, reset: boolean): void {
    this.#owners[fd] = undefined;
    if (!this.#inBatch) {
      this.addon.closeFd(fd, reset);
      return;
    }
    if (this.#nClosing === this.#closing.length) {
      const grown = new Int32Array(this.#closing.length * 2);
      grown.set(this.#closing);
      this.#closing = grown;
    }
    this.#closing[this.#nClosing++] = fd * 2 + (reset ? 1 : 0);
  }

  /**
   * Run `d.runDeferred()` once every event of the current batch has been handled, or now
   * outside a batch. Returns false when it ran now.
   */
  defer(d: Deferred): boolean {
    if (!this.#inBatch) return false;
    this.#deferred.push(d);
    return true;
  }

  /** One more (or one fewer) thing that keeps the event loop alive. */
  hold(delta: number): void {
    const before = this.#holds;
    this.#holds += delta;
    if (this.#closed) return;
    if (before === 0 && this.#holds > 0) this.addon.ref(this.h, true);
    else if (before > 0 && this.#holds === 0) this.addon.ref(this.h, false);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.addon.close(this.h);
  }

  #batch(n: number): void {
    const ev = this.h.events;
    const owners = this.#owners;
    this.#inBatch = true;
    this.nowMs = this.#now();
    try {
      for (let i = 0; i < n; i++) {
        const fd = ev[2 * i];
        const o = owners[fd];
        if (o !== undefined) o.onEvents(fd, ev[2 * i + 1]);
      }
      const d = this.#deferred;
      for (let i = 0; i < d.length; i++) d[i].runDeferred();
      d.length = 0;
      this.#afterBatch();
    } finally {
      this.#deferred.length = 0;
      this.#inBatch = false;
      if (this.#nClosing > 0) {
        this.addon.closeMany(this.#closing, this.#nClosing);
        this.#nClosing = 0;
      }
    }
  }
}
