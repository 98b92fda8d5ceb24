/**
 * A connection relayed on the thread that owns the core (RelayConn does the sockets): the core
 * sees exactly what tcp-session.ts shows it (the table in its header): accept = INPUT SYN,
 * connected = OUTPUT SYN+ACK then INPUT ACK, each read = one packet with its bytes, end of
 * stream = FIN, reset or error = RST, a failed connect = OUTPUT RST then a rescheduled SYN.
 * Sessions are recycled through their listener's free list: no allocation per connection once
 * warm.
 */
import { constants } from 'node:os';
import type { Dest } from '../../core/dest.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../core/flow.js';
import type { EntryOwner, ProxyContext } from './context.js';
import { DIR_IN, DIR_OUT, type Dir, type RelayEnv, RelayConn } from './relay-conn.js';
import type { RelayListener } from './relay-listener.js';

const E = constants.errno;
/** A connect that failed this way says the real server is down; others (EADDRNOTAVAIL: no local port left, EMFILE) are ours. */
export const SERVER_DOWN = new Set([-E.ECONNREFUSED, -E.EHOSTUNREACH, -E.ENETUNREACH, -E.ETIMEDOUT, -E.ECONNRESET, -E.ECONNABORTED]);

export class RelaySession extends RelayConn implements EntryOwner {
  readonly ctx: ProxyContext;
  listener: RelayListener;
  /** The core entry, or -1 once it is gone (expired, or taken over by a newer session). */
  conn = -1;
  dest: Dest | null = null;
  attempts = 0;
  /** Live sessions form a list in the context (close() resets them all). */
  prevLive: RelaySession | null = null;
  nextLive: RelaySession | null = null;
  /** The free list, when recycled. */
  nextFree: RelaySession | null = null;

  constructor(ctx: ProxyContext, env: RelayEnv, l: RelayListener) {
    super(env);
    this.ctx = ctx;
    this.listener = l;
  }

  /** Start relaying an accepted client whose flow ctx.flow describes, scheduled to `dest`. */
  start(l: RelayListener, cfd: number, conn: number, dest: Dest, nowMs: number): void {
    const ctx = this.ctx;
    const f = ctx.flow;
    this.listener = l;
    this.adopt(cfd);
    this.conn = -1;
    this.attempts = 0;
    this.af = l.af;
    this.cport = f.sport;
    this.c0 = f.s0; this.c1 = f.s1; this.c2 = f.s2; this.c3 = f.s3;
    this.v0 = l.v0; this.v1 = l.v1; this.v2 = l.v2; this.v3 = l.v3;
    this.vport = l.port;
    const head = ctx.liveSessions as RelaySession | null;
    this.prevLive = null;
    this.nextLive = head;
    if (head !== null) head.prevLive = this;
    ctx.liveSessions = this;
    ctx.activeFlows++;
    this.env.relay.hold(1);
    this.setConn(conn);
    this.#target(dest);
    this.connectTo(nowMs);
  }

  #target(d: Dest): void {
    this.dest = d;
    const a = d.addr;
    this.daf = d.af;
    this.d0 = a.w0; this.d1 = a.w1; this.d2 = a.w2; this.d3 = a.w3;
    this.dport = this.ctx.ipvs.connDport(this.conn);
    this.proxyProtocol = d.proxyProtocol;
  }

  protected onConnected(nowMs: number): void {
    const ctx = this.ctx;
    ctx.markReachable(this.dest as Dest);
    if (this.attempts > 0) ctx.redispatched++;
    if (this.conn >= 0) {
      ctx.ipvs.packetOnConn(this.conn, DIR_OUT, TCP_SYN | TCP_ACK, 0, nowMs);
      ctx.ipvs.packetOnConn(this.conn, DIR_IN, TCP_ACK, 0, nowMs);
    }
  }

  protected onData(dir: Dir, n: number): void {
    if (this.conn >= 0) this.ctx.ipvs.packetOnConn(this.conn, dir, TCP_ACK, n, this.env.relay.nowMs);
  }

  protected onFin(dir: Dir): void {
    if (this.conn >= 0) this.ctx.ipvs.packetOnConn(this.conn, dir, TCP_FIN | TCP_ACK, 0, this.env.relay.now());
  }

  protected onRst(dir: Dir): void {
    if (this.conn >= 0) this.ctx.ipvs.packetOnConn(this.conn, dir, TCP_RST, 0, this.env.relay.now());
  }

  /**
   * The real server refused, was unreachable or did not answer: quarantine it (not for errors
   * of our own, such as no local port left), tell the core what IPVS would have seen (the
   * server's RST: SYN_RECV → CLOSE) and schedule again, as a client's retransmitted SYN would
   * be rescheduled; give up after `retries`.
   */
  protected onConnectFailed(status: number, nowMs: number): void {
    const ctx = this.ctx;
    ctx.connectFailures++;
    if (SERVER_DOWN.has(status)) ctx.markUnreachable(this.dest as Dest, nowMs);
    if (this.conn >= 0) ctx.ipvs.packetOnConn(this.conn, DIR_OUT, TCP_RST, 0, nowMs);
    const l = this.listener;
    if (this.attempts < ctx.settings.retries) {
      this.attempts++;
      const d = ctx.scheduleSyn(l.af, this.c0, this.c1, this.c2, this.c3, this.cport, l.v0, l.v1, l.v2, l.v3, l.port, nowMs);
      if (d !== null) {
        this.setConn(ctx.ipvs.curConn);
        this.#target(d);
        this.connectTo(nowMs);
        return;
      }
    }
    ctx.drops.connectFailed++;
    this.abort();
  }

  setConn(conn: number): void {
    this.ctx.owners.move(this, this.conn, conn);
    this.conn = conn;
  }

  /** The core entry was taken over by a newer connection: stop reporting to it. */
  detach(): void {
    this.conn = -1;
  }

  /** The core entry expired (idle timeout, expire_nodest_conn): reset both sides. */
  expired(): void {
    this.conn = -1;
    this.abort();
  }

  protected onEnd(): void {
    const ctx = this.ctx;
    ctx.activeFlows--;
    if (this.prevLive !== null) this.prevLive.nextLive = this.nextLive;
    else ctx.liveSessions = this.nextLive;
    if (this.nextLive !== null) this.nextLive.prevLive = this.prevLive;
    this.prevLive = null;
    this.nextLive = null;
    if (this.conn >= 0 && ctx.owners.get(this.conn) === this) ctx.owners.delete(this.conn);
    this.conn = -1;
    this.dest = null;
    this.env.relay.hold(-1);
    this.listener.recycle(this);
  }
}
