/**
 * Relay threads (setting `threads` ≥ 1): the thread that owns the core accepts and schedules
 * every connection, exactly as on one thread, and hands the client's descriptor to a relay
 * thread (relay-worker.ts) that connects and moves the bytes: nearly all of the CPU time of a
 * connection is in those system calls. The core stays on one thread, so lc/wlc, thresholds,
 * persistence and `-L -n` see every connection and every state change.
 *
 * Each relay thread reports what the core must see in a ring; this thread drains the rings
 * when woken (eventfd in its epoll set) and makes the same core calls RelaySession makes:
 * connected → SYN+ACK, ACK; each read → ACK with its bytes; FIN; RST; a failed connect →
 * OUTPUT RST, quarantine, reschedule (a RETRY back to the thread) or give up (ABORT). An entry
 * that expires sends an ABORT. The core learns of a relay thread's events a moment later than
 * on one thread (the next turn of this thread's loop), in the order they happened, as packets
 * reach IPVS from many CPUs.
 */
import { Worker } from 'node:worker_threads';
import type { Dest } from '../../core/dest.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../core/flow.js';
import type { EntryOwner, ProxyContext } from './context.js';
import type { Relay } from './relay.js';
import { relayAddonPath } from './relay-addon.js';
import { DIR_IN, DIR_OUT, type Dir } from './relay-conn.js';
import type { RelayListener } from './relay-listener.js';
import { SERVER_DOWN } from './relay-session.js';
import { Ring } from './ring.js';
import {
  EV_CLOSED, EV_CONNECTED, EV_CONNFAIL, EV_DATA, EV_FIN, EV_RST, G_BUFFER_BYTES, G_BUFFERS, GAUGE_WORDS,
  OP_ABORT, OP_NEW, OP_RETRY, OP_STOP, R_AF, R_C0, R_CFD, R_CPORT, R_D0, R_DAF, R_DPORT, R_OP, R_PP, R_SID,
  R_V0, R_VPORT, type RelayThreadData, TO_CORE_STRIDE, TO_RELAY_STRIDE,
} from './thread-protocol.js';

const RING_RECORDS = 1 << 16;

/** A connection relayed by another thread, as the core thread keeps it. */
class RemoteSession implements EntryOwner {
  readonly threads: RelayThreads;
  readonly sid: number;
  thread = 0;
  listener: RelayListener | null = null;
  conn = -1;
  dest: Dest | null = null;
  attempts = 0;
  live = false;
  c0 = 0;
  c1 = 0;
  c2 = 0;
  c3 = 0;
  cport = 0;
  nextFree: RemoteSession | null = null;

  constructor(threads: RelayThreads, sid: number) {
    this.threads = threads;
    this.sid = sid;
  }

  setConn(conn: number): void {
    this.threads.ctx.owners.move(this, this.conn, conn);
    this.conn = conn;
  }

  detach(): void {
    this.conn = -1;
  }

  /** The core entry expired: the relay thread resets both sides. */
  expired(): void {
    this.conn = -1;
    this.threads.send(this.thread, OP_ABORT, this, null);
  }
}

interface ThreadSlot {
  worker: Worker;
  toRelay: Ring;
  toCore: Ring;
  /** Its eventfd: signal it after putting records in toRelay. */
  eventFd: number;
  /** Live connections it relays. */
  load: number;
  /** Records that did not fit in toRelay yet, in order. */
  backlog: { op: number; s: RemoteSession; d: Dest | null; cfd: number }[];
  /** A signal is owed (the thread may sleep with records waiting). */
  owed: boolean;
}

export class RelayThreads {
  readonly ctx: ProxyContext;
  readonly relay: Relay;
  readonly #slots: ThreadSlot[] = [];
  readonly #gauges: Int32Array;
  readonly #sessions: RemoteSession[] = [];
  #free: RemoteSession | null = null;
  #wake = -1;
  #next = 0;
  #stopped = false;

  private constructor(ctx: ProxyContext, relay: Relay, n: number) {
    this.ctx = ctx;
    this.relay = relay;
    this.#gauges = new Int32Array(new SharedArrayBuffer(n * GAUGE_WORDS * 4));
  }

  /** Start n relay threads and wait until each runs. */
  static async start(ctx: ProxyContext, relay: Relay, n: number): Promise<RelayThreads> {
    const t = new RelayThreads(ctx, relay, n);
    const addon = relay.addon;
    t.#wake = addon.eventfd(relay.epfd);
    if (t.#wake < 0) throw new Error(`eventfd failed (${t.#wake})`);
    relay.own(t.#wake, { onEvents: () => t.#drain() });
    const s = ctx.settings;
    try {
      for (let i = 0; i < n; i++) {
        const toRelay = new Ring(RING_RECORDS, TO_RELAY_STRIDE);
        const toCore = new Ring(RING_RECORDS, TO_CORE_STRIDE);
        const data: RelayThreadData = {
          index: i, addonPath: relayAddonPath(), toRelay: toRelay.sab, toCore: toCore.sab, gauges: t.#gauges.buffer as SharedArrayBuffer,
          coreEventFd: t.#wake, bufferSize: s.bufferSize, bulkBufferSize: s.bulkBufferSize, poolMax: s.poolMax,
          connectTimeoutMs: s.connectTimeoutMs, housekeepingMs: s.housekeepingMs,
        };
        const worker = new Worker(new URL('./relay-worker.js', import.meta.url), { workerData: data });
        const eventFd = await new Promise<number>((resolve, reject) => {
          worker.once('message', (m: { eventFd: number }) => resolve(m.eventFd));
          worker.once('error', reject);
          worker.once('exit', (code) => reject(new Error(`relay thread ${i} exited (${code}) before it ran`)));
        });
        worker.removeAllListeners('error');
        worker.removeAllListeners('exit');
        worker.on('error', (err) => { throw err; });
        t.#slots.push({ worker, toRelay, toCore, eventFd, load: 0, backlog: [], owed: false });
      }
    } catch (err) {
      await t.stop();
      throw err;
    }
    return t;
  }

  get count(): number {
    return this.#slots.length;
  }

  /** Buffers the relay threads hold for their connections. */
  gauges(): { buffers: number; bytes: number } {
    let buffers = 0;
    let bytes = 0;
    for (let i = 0; i < this.#slots.length; i++) {
      buffers += Atomics.load(this.#gauges, i * GAUGE_WORDS + G_BUFFERS);
      bytes += Atomics.load(this.#gauges, i * GAUGE_WORDS + G_BUFFER_BYTES);
    }
    return { buffers, bytes };
  }

  /** A scheduled connection (the flow in ctx.flow, entry conn, real server d): to the least busy thread. */
  dispatch(l: RelayListener, cfd: number, conn: number, d: Dest): void {
    const ctx = this.ctx;
    const f = ctx.flow;
    let s = this.#free;
    if (s !== null) {
      this.#free = s.nextFree;
      s.nextFree = null;
    } else {
      s = new RemoteSession(this, this.#sessions.length);
      this.#sessions.push(s);
    }
    s.listener = l;
    s.attempts = 0;
    s.live = true;
    s.c0 = f.s0; s.c1 = f.s1; s.c2 = f.s2; s.c3 = f.s3;
    s.cport = f.sport;
    s.conn = -1;
    s.setConn(conn);
    s.dest = d;
    // The least loaded thread; ties go round.
    const slots = this.#slots;
    let best = this.#next;
    for (let k = 1; k < slots.length; k++) {
      const i = (this.#next + k) % slots.length;
      if (slots[i].load < slots[best].load) best = i;
    }
    this.#next = (best + 1) % slots.length;
    s.thread = best;
    slots[best].load++;
    ctx.activeFlows++;
    this.send(best, OP_NEW, s, d, cfd);
  }

  /** Queue a record for a relay thread; signals are sent after this thread's batch (flush). */
  send(thread: number, op: number, s: RemoteSession, d: Dest | null, cfd = -1): void {
    const slot = this.#slots[thread];
    if (slot === undefined) return;
    if (slot.backlog.length > 0 || !this.#put(slot, op, s, d, cfd)) slot.backlog.push({ op, s, d, cfd });
    // From a timer (an entry's expiry) rather than a batch: nothing else will flush it.
    if (!this.relay.inBatch) this.flush();
  }

  #put(slot: ThreadSlot, op: number, s: RemoteSession, d: Dest | null, cfd: number): boolean {
    const ring = slot.toRelay;
    const o = ring.reserve();
    if (o < 0) return false;
    const w = ring.data;
    w[o + R_OP] = op;
    w[o + R_SID] = s.sid;
    if (op === OP_NEW) {
      const l = s.listener as RelayListener;
      w[o + R_CFD] = cfd;
      w[o + R_AF] = l.af;
      w[o + R_C0] = s.c0; w[o + R_C0 + 1] = s.c1; w[o + R_C0 + 2] = s.c2; w[o + R_C0 + 3] = s.c3;
      w[o + R_CPORT] = s.cport;
      w[o + R_V0] = l.v0; w[o + R_V0 + 1] = l.v1; w[o + R_V0 + 2] = l.v2; w[o + R_V0 + 3] = l.v3;
      w[o + R_VPORT] = l.port;
    }
    if (d !== null) {
      const a = d.addr;
      w[o + R_DAF] = d.af;
      w[o + R_D0] = a.w0; w[o + R_D0 + 1] = a.w1; w[o + R_D0 + 2] = a.w2; w[o + R_D0 + 3] = a.w3;
      w[o + R_DPORT] = this.ctx.ipvs.connDport(s.conn);
      w[o + R_PP] = d.proxyProtocol;
    }
    if (ring.commit()) slot.owed = true;
    return true;
  }

  /** After this thread's batch: move backlogs into the rings and wake the threads that need it. */
  flush(): void {
    const addon = this.relay.addon;
    for (const slot of this.#slots) {
      if (slot.backlog.length > 0) {
        let i = 0;
        for (; i < slot.backlog.length; i++) {
          const b = slot.backlog[i];
          if (!this.#put(slot, b.op, b.s, b.d, b.cfd)) break;
        }
        slot.backlog.splice(0, i);
      }
      if (slot.owed) {
        slot.owed = false;
        addon.signal(slot.eventFd);
      }
    }
  }

  /** Apply what the relay threads report, in order. */
  #drain(): void {
    for (let i = 0; i < this.#slots.length; i++) {
      const ring = this.#slots[i].toCore;
      if (ring.length > 0) ring.drain((o) => this.#event(ring.data, o));
    }
  }

  #event(w: Int32Array, o: number): void {
    const s = this.#sessions[w[o + 1]];
    if (s === undefined || !s.live) return;
    const ctx = this.ctx;
    const ipvs = ctx.ipvs;
    const ev = w[o];
    switch (ev) {
      case EV_DATA:
        if (s.conn >= 0) ipvs.packetOnConn(s.conn, w[o + 2] as Dir, TCP_ACK, w[o + 3], this.relay.nowMs);
        return;
      case EV_CONNECTED: {
        const nowMs = this.relay.nowMs;
        ctx.markReachable(s.dest as Dest);
        if (s.attempts > 0) ctx.redispatched++;
        if (s.conn >= 0) {
          ipvs.packetOnConn(s.conn, DIR_OUT, TCP_SYN | TCP_ACK, 0, nowMs);
          ipvs.packetOnConn(s.conn, DIR_IN, TCP_ACK, 0, nowMs);
        }
        return;
      }
      case EV_FIN:
        if (s.conn >= 0) ipvs.packetOnConn(s.conn, w[o + 2] as Dir, TCP_FIN | TCP_ACK, 0, this.relay.nowMs);
        return;
      case EV_RST:
        if (s.conn >= 0) ipvs.packetOnConn(s.conn, w[o + 2] as Dir, TCP_RST, 0, this.relay.nowMs);
        return;
      case EV_CONNFAIL:
        this.#connectFailed(s, w[o + 2]);
        return;
      case EV_CLOSED: {
        s.live = false;
        if (s.conn >= 0 && ctx.owners.get(s.conn) === s) ctx.owners.delete(s.conn);
        s.conn = -1;
        s.dest = null;
        s.listener = null;
        ctx.activeFlows--;
        this.#slots[s.thread].load--;
        s.nextFree = this.#free;
        this.#free = s;
        return;
      }
      default:
    }
  }

  /** As RelaySession.onConnectFailed, with the answer sent back to the relay thread. */
  #connectFailed(s: RemoteSession, status: number): void {
    const ctx = this.ctx;
    const nowMs = this.relay.nowMs;
    ctx.connectFailures++;
    if (SERVER_DOWN.has(status)) ctx.markUnreachable(s.dest as Dest, nowMs);
    if (s.conn >= 0) ctx.ipvs.packetOnConn(s.conn, DIR_OUT, TCP_RST, 0, nowMs);
    const l = s.listener as RelayListener;
    if (s.attempts < ctx.settings.retries) {
      s.attempts++;
      const d = ctx.scheduleSyn(l.af, s.c0, s.c1, s.c2, s.c3, s.cport, l.v0, l.v1, l.v2, l.v3, l.port, nowMs);
      if (d !== null) {
        s.setConn(ctx.ipvs.curConn);
        s.dest = d;
        this.send(s.thread, OP_RETRY, s, d);
        return;
      }
    }
    ctx.drops.connectFailed++;
    this.send(s.thread, OP_ABORT, s, null);
  }

  /** Reset every connection and end the threads. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const exits: Promise<unknown>[] = [];
    for (const slot of this.#slots) {
      exits.push(new Promise((r) => slot.worker.once('exit', r)));
      const o = slot.toRelay.reserve();
      if (o >= 0) {
        slot.toRelay.data[o + R_OP] = OP_STOP;
        slot.toRelay.commit();
        this.relay.addon.signal(slot.eventFd);
      } else {
        void slot.worker.terminate();
      }
    }
    await Promise.all(exits);
    for (const s of this.#sessions) {
      if (!s.live) continue;
      s.live = false;
      if (s.conn >= 0 && this.ctx.owners.get(s.conn) === s) this.ctx.owners.delete(s.conn);
      this.ctx.activeFlows--;
    }
    if (this.#wake >= 0) this.relay.closeFd(this.#wake, false);
    this.#wake = -1;
  }
}
