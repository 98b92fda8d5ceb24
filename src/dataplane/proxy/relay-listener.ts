/**
 * The listening socket of one TCP virtual service on the native relay. Accepted connections come
 * in batches with their peer address (accept4, no getpeername); each is the SYN IPVS would see:
 * it goes through the core (inPacket: lookup, scheduler, persistence, new entry) and becomes a
 * RelaySession to the chosen real server. No destination, a full table or a core drop resets
 * the client at once, as tcp-listener.ts does.
 */
import { type Af, type IpAddr } from '../../core/addr.js';
import { bindError } from './bind-error.js';
import type { ProxyContext } from './context.js';
import type { FdOwner, Relay } from './relay.js';
import type { RelayEnv } from './relay-conn.js';
import type { RelayThreads } from './relay-threads.js';
import { L_REUSEPORT } from './relay-addon.js';
import { RelaySession } from './relay-session.js';

/** Connections taken per accept call; the listener stays ready (level-triggered) if more wait. */
const ACCEPT_BATCH = 64;
/** Free sessions kept for reuse. */
const FREE_MAX = 4096;

export class RelayListener implements FdOwner {
  readonly ctx: ProxyContext;
  readonly relay: Relay;
  readonly af: Af;
  readonly vaddr: IpAddr;
  readonly vaddrText: string;
  readonly port: number;
  readonly v0: number;
  readonly v1: number;
  readonly v2: number;
  readonly v3: number;
  #fd = -1;
  /** Paused after accept failed for lack of descriptors (EMFILE): resumed by housekeeping. */
  #paused = false;
  #free: RelaySession | null = null;
  #freeCount = 0;

  /** What the sessions of this listener relay with. */
  readonly env: RelayEnv;

  /** Relay threads to hand connections to, or null: relayed here. */
  readonly threads: RelayThreads | null;

  constructor(ctx: ProxyContext, env: RelayEnv, vaddr: IpAddr, port: number, threads: RelayThreads | null = null) {
    this.ctx = ctx;
    this.threads = threads;
    this.env = env;
    this.relay = env.relay;
    this.af = vaddr.af;
    this.vaddr = vaddr;
    this.vaddrText = vaddr.toString();
    this.port = port;
    this.v0 = vaddr.w0;
    this.v1 = vaddr.w1;
    this.v2 = vaddr.w2;
    this.v3 = vaddr.w3;
  }

  /** Bind and listen; throws a TslvsError with the fix. `reusePort`: other threads bind the same VIP:port. */
  open(reusePort = false): void {
    const r = this.relay;
    const fd = r.addon.listen(r.epfd, this.af, this.vaddrText, this.port, this.ctx.settings.backlog, reusePort ? L_REUSEPORT : 0);
    if (fd < 0) throw bindError('TCP', this.vaddr, this.port, fd);
    this.#fd = fd;
    r.own(fd, this);
    r.hold(1);
  }

  /** Stop accepting; live sessions go on. */
  close(): void {
    if (this.#fd < 0) return;
    this.relay.closeFd(this.#fd, false);
    this.#fd = -1;
    this.relay.hold(-1);
    this.#free = null;
    this.#freeCount = 0;
  }

  /** Accept again after a pause for lack of descriptors. */
  resume(): void {
    if (!this.#paused || this.#fd < 0) return;
    this.#paused = false;
    this.relay.addon.watch(this.relay.epfd, this.#fd, true);
  }

  onEvents(_fd: number, _events: number): void {
    const ctx = this.ctx;
    const relay = this.relay;
    const addon = relay.addon;
    const threads = this.threads;
    const n = addon.accept(relay.h, this.#fd, ACCEPT_BATCH, threads === null);
    if (n <= 0) {
      if (n === 0 || n === -11 /* EAGAIN */) return;
      ctx.drops.acceptFailed++;
      // Out of descriptors: the listener would stay ready and spin; wait for housekeeping.
      if (!this.#paused) {
        this.#paused = true;
        addon.watch(relay.epfd, this.#fd, false);
        ctx.pausedListeners.push(this);
      }
      return;
    }
    const acc = relay.h.accepted;
    const stride = addon.ACC_STRIDE;
    const ipvs = ctx.ipvs;
    const nowMs = relay.nowMs;
    for (let i = 0; i < n; i++) {
      const o = i * stride;
      const cfd = acc[o];
      const d = ctx.scheduleSyn(this.af, acc[o + 2] >>> 0, acc[o + 3] >>> 0, acc[o + 4] >>> 0, acc[o + 5] >>> 0, acc[o + 1],
        this.v0, this.v1, this.v2, this.v3, this.port, nowMs);
      if (d === null) {
        relay.closeFd(cfd, true);
        continue;
      }
      if (threads !== null) {
        threads.dispatch(this, cfd, ipvs.curConn, d);
        continue;
      }
      let s = this.#free;
      if (s !== null) {
        this.#free = s.nextFree;
        s.nextFree = null;
        this.#freeCount--;
      } else {
        s = new RelaySession(ctx, this.env, this);
      }
      s.start(this, cfd, ipvs.curConn, d, nowMs);
    }
  }

  /** An ended session, for the next accepted connection. */
  recycle(s: RelaySession): void {
    if (this.#fd < 0 || this.#freeCount >= FREE_MAX) return;
    s.nextFree = this.#free;
    this.#free = s;
    this.#freeCount++;
  }
}
