/**
 * What every listener, TCP session and UDP flow of one proxy dataplane shares: the core, the
 * clock, the settings, the buffer pool, one reusable Flow, the map from core entries to the
 * sockets relaying them (so that an entry's expiry closes them), the connect deadlines, the
 * quarantine of unreachable real servers, and the counters behind Dataplane.stats().
 */
import type { Dest } from '../../core/dest.js';
import { setDestUnreachable, TSLVS_DEST_F_UNREACHABLE } from '../../core/dest.js';
import type { Af } from '../../core/addr.js';
import { Flow, TCP_SYN } from '../../core/flow.js';
import {
  type Ipvs, VERDICT_ACCEPT, VERDICT_DROP, VERDICT_FORWARD, VERDICT_NO_DEST, VERDICT_NOT_OURS, VERDICT_TABLE_FULL,
} from '../../core/ipvs.js';
import { BufferPool } from './buffer-pool.js';
import { type Connecting, ConnectDeadlines } from './connect-deadlines.js';
import type { ProxySettings } from './settings.js';
import type { Uv, WriteReq } from './uv.js';

/** Something relaying one core entry: closed when the entry expires. */
export interface EntryOwner {
  /** The core entry timed out (or was flushed): drop the sockets, the entry is gone. */
  expired(): void;
  /** The entry was taken over by a newer connection (conn_reuse_mode): stop reporting to it. */
  detach?(): void;
}

export type { Connecting } from './connect-deadlines.js';

/** Drop reasons shown by Dataplane.stats(). */
export interface DropCounters {
  /** The scheduler found no destination (ip_vs_leave: the kernel sends ICMP port unreachable; we reset). */
  noDest: number;
  /** The core dropped the packet (entry of a deleted destination, drop_packet defense). */
  dropped: number;
  /** The connection table is full (maxConns). */
  tableFull: number;
  /** Every attempt to connect to a real server failed. */
  connectFailed: number;
  /** The service matched but the core would not create an entry (FTP data port rule, ...). */
  notScheduled: number;
  /** accept(2) failed (EMFILE, ENFILE, ENOBUFS). */
  acceptFailed: number;
  /** A UDP datagram could not be relayed (socket error, send failure). */
  udpErrors: number;
}

/**
 * Core entry (a slot of the core's connection table: a small dense integer) → its owner, in an
 * array: a Map costs a hash, and its backing store churns, on every connection.
 */
export class OwnerTable {
  readonly #a: (EntryOwner | undefined)[] = [];
  #size = 0;

  get(conn: number): EntryOwner | undefined {
    return this.#a[conn];
  }

  set(conn: number, o: EntryOwner): void {
    const a = this.#a;
    while (a.length <= conn) a.push(undefined);
    if (a[conn] === undefined) this.#size++;
    a[conn] = o;
  }

  /**
   * `owner` now relays entry `to` instead of `from` (-1: none). An entry reused while its previous
   * connection still drains (conn_reuse_mode) takes the old owner's reports away (detach).
   */
  move(owner: EntryOwner, from: number, to: number): void {
    if (from === to) return;
    if (from >= 0 && this.#a[from] === owner) this.delete(from);
    const prev = this.#a[to];
    if (prev !== undefined && prev !== owner) prev.detach?.();
    this.set(to, owner);
  }

  delete(conn: number): boolean {
    const a = this.#a;
    if (a[conn] === undefined) return false;
    a[conn] = undefined;
    this.#size--;
    return true;
  }

  get size(): number {
    return this.#size;
  }

  values(): EntryOwner[] {
    const out: EntryOwner[] = [];
    for (const o of this.#a) if (o !== undefined) out.push(o);
    return out;
  }

  clear(): void {
    this.#a.length = 0;
    this.#size = 0;
  }
}

export class ProxyContext {
  readonly ipvs: Ipvs;
  readonly now: () => number;
  readonly settings: Readonly<ProxySettings>;
  readonly uv: Uv;
  readonly pool: BufferPool;
  /** Filled and passed to the core per new connection or datagram; never kept. */
  readonly flow = new Flow();
  /** Core entry (slot) → the session or UDP flow relaying it. */
  readonly owners = new OwnerTable();
  readonly drops: DropCounters = {
    noDest: 0, dropped: 0, tableFull: 0, connectFailed: 0, notScheduled: 0, acceptFailed: 0, udpErrors: 0,
  };
  /** The write request the next write uses; replaced only when a write goes async (it then belongs to that write). */
  spareWrite: WriteReq;
  /** Head of the list of live TCP sessions (Session.nextLive), so close() can reset them all. */
  liveSessions: (EntryOwner & { nextLive: unknown }) | null = null;
  /** Live TCP sessions and UDP flows. */
  activeFlows = 0;
  /** Connect attempts that failed (each retry counts). */
  connectFailures = 0;
  /** New connections that succeeded only after a retry. */
  redispatched = 0;
  /** Listeners that stopped accepting for lack of descriptors (EMFILE); housekeeping resumes them. */
  pausedListeners: { resume(): void }[] = [];

  readonly deadlines: ConnectDeadlines;

  #lastTickMs = -Infinity;

  /** Quarantined real servers and when their quarantine ends. */
  readonly #quarantine = new Map<Dest, number>();
  readonly #destText = new WeakMap<Dest, string>();

  constructor(ipvs: Ipvs, now: () => number, settings: Readonly<ProxySettings>, uv: Uv) {
    this.ipvs = ipvs;
    this.now = now;
    this.settings = settings;
    this.uv = uv;
    this.pool = new BufferPool(settings.bufferSize, settings.bulkBufferSize, settings.poolMax);
    this.deadlines = new ConnectDeadlines(settings.connectTimeoutMs);
    this.spareWrite = new uv.WriteWrap();
  }

  /** Count a verdict other than VERDICT_FORWARD for a new flow. */
  countVerdict(v: number): void {
    const d = this.drops;
    switch (v) {
      case VERDICT_NO_DEST: d.noDest++; break;
      case VERDICT_DROP: d.dropped++; break;
      case VERDICT_TABLE_FULL: d.tableFull++; break;
      case VERDICT_ACCEPT:
      case VERDICT_NOT_OURS:
      default: d.notScheduled++; break;
    }
  }

  /**
   * A client's SYN to the service, as the core sees it: for an accepted connection, and again
   * after a failed connect, as the kernel handles the client's retransmitted SYN
   * (conn_reuse_mode reschedules). Returns the destination, with the new entry in
   * ipvs.curConn, or null (verdict counted).
   */
  scheduleSyn(af: Af, c0: number, c1: number, c2: number, c3: number, cport: number,
    v0: number, v1: number, v2: number, v3: number, vport: number, nowMs: number): Dest | null {
    const f = this.flow;
    f.af = af;
    f.protocol = 6;
    f.fwmark = 0;
    f.s0 = c0; f.s1 = c1; f.s2 = c2; f.s3 = c3;
    f.sport = cport;
    f.d0 = v0; f.d1 = v1; f.d2 = v2; f.d3 = v3;
    f.dport = vport;
    f.tcpFlags = TCP_SYN;
    f.len = 0;
    const ipvs = this.ipvs;
    const v = ipvs.inPacket(f, nowMs);
    const d = ipvs.curDest;
    if (v !== VERDICT_FORWARD || d === null) {
      this.countVerdict(v);
      return null;
    }
    return d;
  }

  /** The real server's address as connect() takes it, computed once per Dest. */
  destText(d: Dest): string {
    let s = this.#destText.get(d);
    if (s === undefined) {
      s = d.addr.toString();
      this.#destText.set(d, s);
    }
    return s;
  }

  /** Queue a connect deadline (now + connectTimeoutMs); returns it. */
  watchConnect(c: Connecting, nowMs: number): number {
    return this.deadlines.watch(c, nowMs);
  }

  /**
   * The core's timers, when coreTickMs has passed since the last run: called after each batch of
   * socket events and by housekeeping. The daemon ticks once a second; at thousands of new
   * connections a second that one tick expires thousands of TIME_WAIT entries at once (about
   * 1 µs each), a pause every relayed packet waits behind. Ticking more often changes nothing
   * else: every timer of the core runs at its own time whoever calls tick.
   */
  tickCore(nowMs: number): void {
    const every = this.settings.coreTickMs;
    if (every === 0 || nowMs - this.#lastTickMs < every) return;
    this.#lastTickMs = nowMs;
    this.ipvs.tick(nowMs);
  }

  /** A real server did not accept a connection: skip it in every scheduler for quarantineMs. */
  markUnreachable(d: Dest, nowMs: number): void {
    if (this.settings.quarantineMs === 0) return;
    setDestUnreachable(d, true);
    this.#quarantine.set(d, nowMs + this.settings.quarantineMs);
  }

  /** A connect to `d` succeeded: end its quarantine at once. */
  markReachable(d: Dest): void {
    if (d.flags & TSLVS_DEST_F_UNREACHABLE) {
      setDestUnreachable(d, false);
      this.#quarantine.delete(d);
    }
  }

  get quarantined(): number {
    return this.#quarantine.size;
  }

  /** Connect timeouts, quarantine ends, the core's timers; run every housekeepingMs. */
  housekeeping(nowMs: number): void {
    this.tickCore(nowMs);
    this.deadlines.expire(nowMs);
    if (this.pausedListeners.length > 0) {
      const p = this.pausedListeners;
      this.pausedListeners = [];
      for (const l of p) l.resume();
    }
    for (const [d, until] of this.#quarantine) {
      if (until <= nowMs) {
        setDestUnreachable(d, false);
        this.#quarantine.delete(d);
      }
    }
  }

  /** Forget quarantines (dataplane closed): the flag must not outlive its owner. */
  clearQuarantine(): void {
    for (const d of this.#quarantine.keys()) setDestUnreachable(d, false);
    this.#quarantine.clear();
  }

  /** Drop a removed destination's quarantine. */
  forgetDest(d: Dest): void {
    if (this.#quarantine.delete(d)) setDestUnreachable(d, false);
  }
}
