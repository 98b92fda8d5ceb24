/**
 * A relay thread (worker_threads): connects to the real servers the core thread chose and relays
 * the bytes, with a native relay (epoll set) of its own. It never schedules and holds no core
 * state: what the core must see (connected, each read, FIN, RST, a failed connect, the end) goes
 * back to the core thread as records in a ring, in order (thread-protocol.ts). Accepted client
 * descriptors come from the core thread (the process's descriptors are shared by its threads).
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { BufferPool } from './buffer-pool.js';
import { ConnectDeadlines } from './connect-deadlines.js';
import { Relay } from './relay.js';
import type { RelayAddon } from './relay-addon.js';
import { type Dir, type RelayEnv, RelayConn } from './relay-conn.js';
import { Ring } from './ring.js';
import {
  EV_CLOSED, EV_CONNECTED, EV_CONNFAIL, EV_DATA, EV_FIN, EV_RST, G_BUFFER_BYTES, G_BUFFERS, GAUGE_WORDS,
  OP_ABORT, OP_NEW, OP_RETRY, OP_STOP, R_AF, R_C0, R_CFD, R_CPORT, R_D0, R_DAF, R_DPORT, R_OP, R_PP, R_SID,
  R_V0, R_VPORT, type RelayThreadData, TO_CORE_STRIDE, TO_RELAY_STRIDE,
} from './thread-protocol.js';

const data = workerData as RelayThreadData;
const addon = createRequire(import.meta.url)(data.addonPath) as RelayAddon;
const pool = new BufferPool(data.bufferSize, data.bulkBufferSize, data.poolMax);
const toRelay = new Ring(data.toRelay, TO_RELAY_STRIDE);
const toCore = new Ring(data.toCore, TO_CORE_STRIDE);
const gauges = new Int32Array(data.gauges, data.index * GAUGE_WORDS * 4, GAUGE_WORDS);
/** Records that did not fit in toCore, in order, sent before anything newer. */
const backlog: number[] = [];
let owed = false;

/** Queue one event for the core thread (order kept even when the ring is full). */
function report(ev: number, sid: number, a: number, b: number): void {
  if (backlog.length === 0) {
    const o = toCore.reserve();
    if (o >= 0) {
      const w = toCore.data;
      w[o] = ev; w[o + 1] = sid; w[o + 2] = a; w[o + 3] = b;
      if (toCore.commit()) owed = true;
      return;
    }
  }
  backlog.push(ev, sid, a, b);
}

function flushBacklog(): void {
  let i = 0;
  while (i < backlog.length) {
    const o = toCore.reserve();
    if (o < 0) break;
    const w = toCore.data;
    w[o] = backlog[i]; w[o + 1] = backlog[i + 1]; w[o + 2] = backlog[i + 2]; w[o + 3] = backlog[i + 3];
    if (toCore.commit()) owed = true;
    i += 4;
  }
  if (i > 0) backlog.splice(0, i);
}

/** After a batch: publish the gauges, wake the core thread if it may be asleep. */
function afterBatch(): void {
  if (backlog.length > 0) flushBacklog();
  Atomics.store(gauges, G_BUFFERS, pool.inUse - 1);
  Atomics.store(gauges, G_BUFFER_BYTES, pool.bytesInUse - pool.bulkSize);
  if (owed) {
    owed = false;
    addon.signal(data.coreEventFd);
  }
}

const now = (): number => performance.now();
const relay = new Relay(addon, pool.bulk(), now, afterBatch);
const deadlines = new ConnectDeadlines(data.connectTimeoutMs);
const env: RelayEnv = { relay, pool, deadlines, now };

class WorkerConn extends RelayConn {
  sid = -1;
  nextFree: WorkerConn | null = null;

  start(w: Int32Array, o: number, nowMs: number): void {
    const cfd = w[o + R_CFD];
    this.sid = w[o + R_SID];
    if (addon.adopt(relay.epfd, cfd) !== 0) {
      // Cannot watch it (ENOMEM): as a client that reset at once.
      addon.closeFd(cfd, true);
      report(EV_RST, this.sid, 0, 0);
      report(EV_CLOSED, this.sid, 0, 0);
      return;
    }
    this.adopt(cfd);
    this.af = w[o + R_AF];
    this.c0 = w[o + R_C0] >>> 0; this.c1 = w[o + R_C0 + 1] >>> 0; this.c2 = w[o + R_C0 + 2] >>> 0; this.c3 = w[o + R_C0 + 3] >>> 0;
    this.cport = w[o + R_CPORT];
    this.v0 = w[o + R_V0] >>> 0; this.v1 = w[o + R_V0 + 1] >>> 0; this.v2 = w[o + R_V0 + 2] >>> 0; this.v3 = w[o + R_V0 + 3] >>> 0;
    this.vport = w[o + R_VPORT];
    live[this.sid] = this;
    this.retry(w, o, nowMs);
  }

  retry(w: Int32Array, o: number, nowMs: number): void {
    this.daf = w[o + R_DAF];
    this.d0 = w[o + R_D0] >>> 0; this.d1 = w[o + R_D0 + 1] >>> 0; this.d2 = w[o + R_D0 + 2] >>> 0; this.d3 = w[o + R_D0 + 3] >>> 0;
    this.dport = w[o + R_DPORT];
    this.proxyProtocol = w[o + R_PP];
    this.connectTo(nowMs);
  }

  protected onConnected(): void { report(EV_CONNECTED, this.sid, 0, 0); }
  protected onData(dir: Dir, n: number): void { report(EV_DATA, this.sid, dir, n); }
  protected onFin(dir: Dir): void { report(EV_FIN, this.sid, dir, 0); }
  protected onRst(dir: Dir): void { report(EV_RST, this.sid, dir, 0); }
  /** The core thread decides: a RETRY or an ABORT follows. */
  protected onConnectFailed(status: number): void { report(EV_CONNFAIL, this.sid, status, 0); }

  protected onEnd(): void {
    report(EV_CLOSED, this.sid, 0, 0);
    live[this.sid] = undefined;
    this.sid = -1;
    this.nextFree = free;
    free = this;
  }
}

/** Live connections by the core thread's session id. */
const live: (WorkerConn | undefined)[] = [];
let free: WorkerConn | null = null;
let stopping = false;

function onRecord(o: number): void {
  const w = toRelay.data;
  const op = w[o + R_OP];
  if (op === OP_NEW) {
    let c = free;
    if (c !== null) {
      free = c.nextFree;
      c.nextFree = null;
    } else {
      c = new WorkerConn(env);
    }
    c.start(w, o, relay.nowMs);
  } else if (op === OP_RETRY) {
    live[w[o + R_SID]]?.retry(w, o, relay.nowMs);
  } else if (op === OP_ABORT) {
    live[w[o + R_SID]]?.abort();
  } else if (op === OP_STOP) {
    stopping = true;
  }
}

const wake = addon.eventfd(relay.epfd);
if (wake < 0) throw new Error(`relay thread ${data.index}: eventfd failed (${wake})`);
relay.own(wake, {
  onEvents(): void {
    toRelay.drain(onRecord);
    if (stopping) stop();
  },
});
relay.hold(1);

// Connect deadlines; their failures go to the core thread like any other event.
const timer = setInterval(() => {
  deadlines.expire(performance.now());
  afterBatch();
}, data.housekeepingMs);

function stop(): void {
  clearInterval(timer);
  for (const c of live) c?.abort();
  afterBatch();
  relay.closeFd(wake, false);
  relay.hold(-1);
  relay.close();
  parentPort?.postMessage({ stopped: true });
  parentPort?.close();
}

parentPort?.postMessage({ ready: true, eventFd: wake });
