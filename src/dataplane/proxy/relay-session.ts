/**
 * One relayed TCP connection on the native relay (relay.ts): the client's socket, the real
 * server's socket (both plain descriptors) and the core entry between them. The core sees
 * exactly what tcp-session.ts shows it (the table in its header): accept = INPUT SYN, connected
 * = OUTPUT SYN+ACK then INPUT ACK, each read = one packet with its bytes, end of stream = FIN,
 * reset or error = RST, a failed connect = OUTPUT RST then a rescheduled SYN.
 *
 * How the relay moves bytes, as HAProxy's event loop does:
 * - Sockets are edge-triggered. An IN edge marks the side readable; it is read until a short
 *   read, EAGAIN or end of stream. A short read after the peer's FIN was reported (RDHUP without
 *   an error) is the end of stream: no extra read to see the 0.
 * - Every read goes into the relay's one scratch buffer and is written to the other socket at
 *   once. Nearly always the kernel takes it all and no buffer is held. When it does not, the
 *   session keeps the scratch buffer as that direction's pending data (the relay takes a fresh
 *   one) and stops reading the source until the OUT edge lets the rest go: a direction holds at
 *   most one buffer, an idle connection none.
 * - The client's socket is read only once the real server is connected (a failed connect is
 *   retried elsewhere with nothing consumed); the request that arrived meanwhile is read right
 *   after the connect completes, in the same turn.
 * - End of stream is passed on with shutdown(SHUT_WR) once the direction's pending data is out;
 *   when both directions have ended and nothing is pending, both sockets are closed.
 * Sessions are recycled through a free list: no allocation per connection once warm.
 */
import { constants } from 'node:os';
import { AF_INET6, formatIPv4, formatIPv6 } from '../../core/addr.js';
import type { Dest } from '../../core/dest.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../core/flow.js';
import { VERDICT_FORWARD } from '../../core/ipvs.js';
import type { Connecting, EntryOwner, ProxyContext } from './context.js';
import { encodeProxyV1, encodeProxyV2 } from './proxy-protocol.js';
import type { FdOwner, Relay } from './relay.js';
import { EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP } from './relay-addon.js';
import type { RelayListener } from './relay-listener.js';

const DIR_IN = 0;
const DIR_OUT = 1;

const E = constants.errno;
const EAGAIN = -E.EAGAIN;
/** A connect that failed this way says the real server is down; others (EADDRNOTAVAIL: no local port left, EMFILE) are ours. */
const SERVER_DOWN = new Set([-E.ECONNREFUSED, -E.EHOSTUNREACH, -E.ENETUNREACH, -E.ETIMEDOUT, -E.ECONNRESET, -E.ECONNABORTED]);
/** Our own connect timeout, reported as ETIMEDOUT. */
const TIMED_OUT = -E.ETIMEDOUT;

// Session flag bits.
const CONNECTING = 0x0001;
const RELAYING = 0x0002;
const CLOSED = 0x0004;
/** An IN edge came and the side has not been read dry since. */
const C_READABLE = 0x0010;
const B_READABLE = 0x0020;
/** The peer's FIN was reported (RDHUP without error): a short read is the end of stream. */
const C_RDHUP = 0x0040;
const B_RDHUP = 0x0080;
const CLIENT_EOF = 0x0100;
const BACKEND_EOF = 0x0200;
/** We sent our FIN (shutdown SHUT_WR) on that socket. */
const CLIENT_SHUT = 0x0400;
const BACKEND_SHUT = 0x0800;
/** A hang-up or error was reported (HUP/ERR): read on past a short read, to the 0 or the error. */
const C_HUP = 0x1000;
const B_HUP = 0x2000;

const READ_BITS = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;

export class RelaySession implements FdOwner, EntryOwner, Connecting {
  readonly ctx: ProxyContext;
  readonly relay: Relay;
  listener: RelayListener;
  cfd = -1;
  bfd = -1;
  /** The core entry, or -1 once it is gone (expired, or taken over by a newer session). */
  conn = -1;
  dest: Dest | null = null;
  flags = 0;
  connectDeadlineMs = 0;
  attempts = 0;
  // Data read from one side that the other has not taken yet: buffer, start, end.
  c2b: Buffer | null = null;
  c2bOff = 0;
  c2bEnd = 0;
  b2c: Buffer | null = null;
  b2cOff = 0;
  b2cEnd = 0;
  /** Live sessions form a list in the context (close() resets them all). */
  prevLive: RelaySession | null = null;
  nextLive: RelaySession | null = null;
  /** The free list, when recycled. */
  nextFree: RelaySession | null = null;
  // The client as the flow saw it, kept for retries and the PROXY header.
  cport = 0;
  c0 = 0;
  c1 = 0;
  c2 = 0;
  c3 = 0;

  constructor(ctx: ProxyContext, relay: Relay, l: RelayListener) {
    this.ctx = ctx;
    this.relay = relay;
    this.listener = l;
  }

  /** Start relaying an accepted client whose flow ctx.flow describes, scheduled to `dest`. */
  start(l: RelayListener, cfd: number, conn: number, dest: Dest, nowMs: number): void {
    const ctx = this.ctx;
    const f = ctx.flow;
    this.listener = l;
    this.cfd = cfd;
    this.bfd = -1;
    this.conn = -1;
    this.dest = dest;
    this.flags = 0;
    this.connectDeadlineMs = 0;
    this.attempts = 0;
    this.cport = f.sport;
    this.c0 = f.s0; this.c1 = f.s1; this.c2 = f.s2; this.c3 = f.s3;
    const head = ctx.liveSessions as RelaySession | null;
    this.prevLive = null;
    this.nextLive = head;
    if (head !== null) head.prevLive = this;
    ctx.liveSessions = this;
    ctx.activeFlows++;
    this.relay.own(cfd, this);
    this.relay.hold(1);
    this.setConn(conn);
    this.connect(nowMs);
  }

  /** Connect to the scheduled real server. */
  connect(nowMs: number): void {
    const ctx = this.ctx;
    const relay = this.relay;
    const d = this.dest as Dest;
    const a = d.addr;
    const port = ctx.ipvs.connDport(this.conn);
    const fd = relay.addon.connect(relay.epfd, d.af, a.w0, a.w1, a.w2, a.w3, port);
    if (fd < 0) {
      this.connectFailed(fd, nowMs);
      return;
    }
    this.bfd = fd;
    relay.own(fd, this);
    this.flags |= CONNECTING;
    this.connectDeadlineMs = ctx.watchConnect(this, nowMs);
  }

  onEvents(fd: number, ev: number): void {
    let flags = this.flags;
    if (flags & CLOSED) return;
    if (fd === this.bfd) {
      if (flags & CONNECTING) {
        if (ev & (EPOLLERR | EPOLLHUP)) {
          const err = this.relay.addon.soError(fd);
          this.#attemptFailed(err < 0 ? err : -E.ECONNREFUSED);
          return;
        }
        if (!(ev & EPOLLOUT)) return;
        this.connected(this.ctx.now());
        flags = this.flags;
        if (flags & CLOSED) return;
      }
      if (ev & READ_BITS) {
        flags |= B_READABLE;
        if (ev & (EPOLLHUP | EPOLLERR)) flags |= B_HUP;
        else if (ev & EPOLLRDHUP) flags |= B_RDHUP;
        this.flags = flags;
        this.pumpB2C();
        if (this.flags & CLOSED) return;
      }
      if ((ev & EPOLLOUT) && this.c2b !== null) this.flushC2B();
      return;
    }
    if (fd !== this.cfd) return;
    if (ev & READ_BITS) {
      flags |= C_READABLE;
      if (ev & (EPOLLHUP | EPOLLERR)) flags |= C_HUP;
      else if (ev & EPOLLRDHUP) flags |= C_RDHUP;
      this.flags = flags;
      // Until the real server is connected the client is only marked readable.
      if (flags & RELAYING) {
        this.pumpC2B();
        if (this.flags & CLOSED) return;
      }
    }
    if ((ev & EPOLLOUT) && this.b2c !== null) this.flushB2C();
  }

  /** Connected: finish the handshake in the core, send the PROXY header, read what the client sent. */
  connected(nowMs: number): void {
    const ctx = this.ctx;
    const ipvs = ctx.ipvs;
    this.flags = (this.flags & ~CONNECTING) | RELAYING;
    this.connectDeadlineMs = 0;
    const d = this.dest as Dest;
    ctx.markReachable(d);
    if (this.attempts > 0) ctx.redispatched++;
    if (this.conn >= 0) {
      ipvs.packetOnConn(this.conn, DIR_OUT, TCP_SYN | TCP_ACK, 0, nowMs);
      ipvs.packetOnConn(this.conn, DIR_IN, TCP_ACK, 0, nowMs);
    }
    const pp = d.proxyProtocol;
    if ((pp === 1 || pp === 2) && !this.#sendProxyHeader(pp)) return;
    if (this.flags & C_READABLE) this.pumpC2B();
  }

  /** Returns false when the session ended (write error). */
  #sendProxyHeader(version: number): boolean {
    const l = this.listener;
    const hdr = version === 1
      ? encodeProxyV1(l.af, this.#clientText(), l.vaddrText, this.cport, l.port)
      : encodeProxyV2(l.af, this.c0, this.c1, this.c2, this.c3, l.v0, l.v1, l.v2, l.v3, this.cport, l.port);
    const w = this.relay.addon.write(this.bfd, hdr, 0, hdr.length);
    if (w === hdr.length) return true;
    if (w < 0 && w !== EAGAIN) {
      this.backendFailed(w);
      return false;
    }
    // A new socket always has room for ~100 bytes; kept anyway, as pending data.
    const buf = this.ctx.pool.bulk();
    hdr.copy(buf, 0);
    this.c2b = buf;
    this.c2bOff = w > 0 ? w : 0;
    this.c2bEnd = hdr.length;
    return true;
  }

  #clientText(): string {
    return this.listener.af === AF_INET6 ? formatIPv6([this.c0, this.c1, this.c2, this.c3]) : formatIPv4(this.c0);
  }

  /** Client → real server: read while readable, write each read at once; stop when a write falls short. */
  pumpC2B(): void {
    const relay = this.relay;
    const addon = relay.addon;
    const ctx = this.ctx;
    for (;;) {
      const flags = this.flags;
      if (!(flags & C_READABLE) || (flags & (CLIENT_EOF | CLOSED)) || this.c2b !== null) return;
      const buf = relay.scratch;
      const n = addon.read(this.cfd, buf, 0, buf.length);
      if (n > 0) {
        if (this.conn >= 0) ctx.ipvs.packetOnConn(this.conn, DIR_IN, TCP_ACK, n, ctx.now());
        const w = addon.write(this.bfd, buf, 0, n);
        if (w !== n) {
          if (w < 0 && w !== EAGAIN) {
            this.backendFailed(w);
            return;
          }
          // The real server's socket is full: keep the rest, wait for its OUT edge.
          this.c2b = buf;
          this.c2bOff = w > 0 ? w : 0;
          this.c2bEnd = n;
          relay.scratch = ctx.pool.bulk();
          if (n < buf.length) this.#drainedClient();
          return;
        }
        if (n < buf.length && !(flags & C_HUP)) {
          this.#drainedClient();
          return;
        }
        continue;
      }
      if (n === EAGAIN) {
        this.flags = flags & ~C_READABLE;
        return;
      }
      this.flags = flags & ~C_READABLE;
      if (n === 0) this.clientEof();
      else this.clientFailed(n);
      return;
    }
  }

  /**
   * A short read from the client: dry for now, or at its end if its FIN was reported. After a
   * hang-up or an error the side stays readable, so the next pass reads the 0 or the error.
   */
  #drainedClient(): void {
    const flags = this.flags;
    if (flags & C_HUP) return;
    this.flags = flags & ~C_READABLE;
    if (flags & C_RDHUP) this.clientEof();
  }

  /** Real server → client, as pumpC2B. */
  pumpB2C(): void {
    const relay = this.relay;
    const addon = relay.addon;
    const ctx = this.ctx;
    for (;;) {
      const flags = this.flags;
      if (!(flags & B_READABLE) || (flags & (BACKEND_EOF | CLOSED)) || this.b2c !== null) return;
      const buf = relay.scratch;
      const n = addon.read(this.bfd, buf, 0, buf.length);
      if (n > 0) {
        if (this.conn >= 0) ctx.ipvs.packetOnConn(this.conn, DIR_OUT, TCP_ACK, n, ctx.now());
        const w = addon.write(this.cfd, buf, 0, n);
        if (w !== n) {
          if (w < 0 && w !== EAGAIN) {
            this.clientFailed(w);
            return;
          }
          this.b2c = buf;
          this.b2cOff = w > 0 ? w : 0;
          this.b2cEnd = n;
          relay.scratch = ctx.pool.bulk();
          if (n < buf.length) this.#drainedBackend();
          return;
        }
        if (n < buf.length && !(flags & B_HUP)) {
          this.#drainedBackend();
          return;
        }
        continue;
      }
      if (n === EAGAIN) {
        this.flags = flags & ~B_READABLE;
        return;
      }
      this.flags = flags & ~B_READABLE;
      if (n === 0) this.backendEof();
      else this.backendFailed(n);
      return;
    }
  }

  #drainedBackend(): void {
    const flags = this.flags;
    if (flags & B_HUP) return;
    this.flags = flags & ~B_READABLE;
    if (flags & B_RDHUP) this.backendEof();
  }

  /** The real server's socket has room again: write what is pending, then read the client on. */
  flushC2B(): void {
    const buf = this.c2b as Buffer;
    const len = this.c2bEnd - this.c2bOff;
    const w = this.relay.addon.write(this.bfd, buf, this.c2bOff, len);
    if (w !== len) {
      if (w < 0 && w !== EAGAIN) this.backendFailed(w);
      else if (w > 0) this.c2bOff += w;
      return;
    }
    this.c2b = null;
    this.ctx.pool.release(buf);
    const flags = this.flags;
    if (flags & CLIENT_EOF) {
      if (flags & BACKEND_EOF) this.#finishWhenFlushed();
      else this.#shutdown(false);
      return;
    }
    this.pumpC2B();
  }

  flushB2C(): void {
    const buf = this.b2c as Buffer;
    const len = this.b2cEnd - this.b2cOff;
    const w = this.relay.addon.write(this.cfd, buf, this.b2cOff, len);
    if (w !== len) {
      if (w < 0 && w !== EAGAIN) this.clientFailed(w);
      else if (w > 0) this.b2cOff += w;
      return;
    }
    this.b2c = null;
    this.ctx.pool.release(buf);
    const flags = this.flags;
    if (flags & BACKEND_EOF) {
      if (flags & CLIENT_EOF) this.#finishWhenFlushed();
      else this.#shutdown(true);
      return;
    }
    this.pumpB2C();
  }

  /** Client sent FIN: pass it on once what it sent before is out. */
  clientEof(): void {
    const ctx = this.ctx;
    this.flags |= CLIENT_EOF;
    if (this.conn >= 0) ctx.ipvs.packetOnConn(this.conn, DIR_IN, TCP_FIN | TCP_ACK, 0, ctx.now());
    if (this.flags & BACKEND_EOF) {
      this.#finishWhenFlushed();
      return;
    }
    if (this.c2b === null) this.#shutdown(false);
  }

  /** Real server sent FIN. */
  backendEof(): void {
    const ctx = this.ctx;
    this.flags |= BACKEND_EOF;
    if (this.conn >= 0) ctx.ipvs.packetOnConn(this.conn, DIR_OUT, TCP_FIN | TCP_ACK, 0, ctx.now());
    if (this.flags & CLIENT_EOF) {
      this.#finishWhenFlushed();
      return;
    }
    if (this.b2c === null) this.#shutdown(true);
  }

  /** shutdown(SHUT_WR) on the client's socket (toClient) or the real server's. */
  #shutdown(toClient: boolean): void {
    const fd = toClient ? this.cfd : this.bfd;
    this.flags |= toClient ? CLIENT_SHUT : BACKEND_SHUT;
    if (this.relay.addon.shutdown(fd) !== 0) this.abort();
  }

  /** Both sides sent FIN: close both once our writes are out (close(2) sends the FIN after the queued data). */
  #finishWhenFlushed(): void {
    if (this.c2b === null && this.b2c === null) this.close();
  }

  /** The client reset or failed: pass the reset on. */
  clientFailed(_err: number): void {
    if (this.conn >= 0) this.ctx.ipvs.packetOnConn(this.conn, DIR_IN, TCP_RST, 0, this.ctx.now());
    this.abort();
  }

  backendFailed(_err: number): void {
    if (this.conn >= 0) this.ctx.ipvs.packetOnConn(this.conn, DIR_OUT, TCP_RST, 0, this.ctx.now());
    this.abort();
  }

  connectTimedOut(nowMs: number): void {
    if (!(this.flags & CONNECTING) || (this.flags & CLOSED)) return;
    this.#attemptFailed(TIMED_OUT, nowMs);
  }

  /** This attempt's socket is dropped; then as connectFailed. */
  #attemptFailed(status: number, nowMs = this.ctx.now()): void {
    this.flags &= ~CONNECTING;
    this.connectDeadlineMs = 0;
    if (this.bfd >= 0) {
      this.relay.closeFd(this.bfd, false);
      this.bfd = -1;
    }
    this.connectFailed(status, nowMs);
  }

  /**
   * The real server refused, was unreachable or did not answer: quarantine it (not for errors
   * of our own, such as no local port left), tell the core what IPVS would have seen (the
   * server's RST: SYN_RECV → CLOSE) and schedule again, as a client's retransmitted SYN would
   * be rescheduled; give up after `retries`.
   */
  connectFailed(status: number, nowMs: number): void {
    const ctx = this.ctx;
    const ipvs = ctx.ipvs;
    ctx.connectFailures++;
    if (SERVER_DOWN.has(status)) ctx.markUnreachable(this.dest as Dest, nowMs);
    if (this.conn >= 0) ipvs.packetOnConn(this.conn, DIR_OUT, TCP_RST, 0, nowMs);
    while (this.attempts < ctx.settings.retries) {
      this.attempts++;
      const f = ctx.flow;
      const l = this.listener;
      f.af = l.af;
      f.protocol = 6;
      f.fwmark = 0;
      f.s0 = this.c0; f.s1 = this.c1; f.s2 = this.c2; f.s3 = this.c3;
      f.sport = this.cport;
      f.d0 = l.v0; f.d1 = l.v1; f.d2 = l.v2; f.d3 = l.v3;
      f.dport = l.port;
      f.tcpFlags = TCP_SYN;
      f.len = 0;
      const v = ipvs.inPacket(f, nowMs);
      const d = ipvs.curDest;
      if (v !== VERDICT_FORWARD || d === null) {
        ctx.countVerdict(v);
        break;
      }
      this.setConn(ipvs.curConn);
      this.dest = d;
      this.connect(nowMs);
      return;
    }
    ctx.drops.connectFailed++;
    this.abort();
  }

  setConn(conn: number): void {
    if (conn === this.conn) return;
    const owners = this.ctx.owners;
    if (this.conn >= 0 && owners.get(this.conn) === this) owners.delete(this.conn);
    this.conn = conn;
    const prev = owners.get(conn);
    // An entry reused while its previous connection still drains: the old one stops reporting.
    if (prev !== undefined && prev !== this && prev instanceof RelaySession) prev.conn = -1;
    owners.set(conn, this);
  }

  /** The core entry expired (idle timeout, expire_nodest_conn): reset both sides. */
  expired(): void {
    this.conn = -1;
    this.abort();
  }

  /** Orderly end: close both sockets (FIN). */
  close(): void {
    if (this.flags & CLOSED) return;
    this.#end(false);
  }

  /** Abortive end: reset both sockets. */
  abort(): void {
    if (this.flags & CLOSED) return;
    this.#end(true);
  }

  #end(reset: boolean): void {
    const ctx = this.ctx;
    const relay = this.relay;
    const flags = this.flags;
    this.flags = flags | CLOSED;
    this.connectDeadlineMs = 0;
    ctx.activeFlows--;
    if (this.prevLive !== null) this.prevLive.nextLive = this.nextLive;
    else ctx.liveSessions = this.nextLive;
    if (this.nextLive !== null) this.nextLive.prevLive = this.prevLive;
    this.prevLive = null;
    this.nextLive = null;
    if (this.conn >= 0 && ctx.owners.get(this.conn) === this) ctx.owners.delete(this.conn);
    this.conn = -1;
    // A side we already sent our FIN on is closed normally, as Node's handles would (no reset after shutdown).
    relay.closeFd(this.cfd, reset && !(flags & CLIENT_SHUT));
    this.cfd = -1;
    if (this.bfd >= 0) {
      relay.closeFd(this.bfd, reset && !(flags & BACKEND_SHUT));
      this.bfd = -1;
    }
    const pool = ctx.pool;
    if (this.c2b !== null) pool.release(this.c2b);
    if (this.b2c !== null) pool.release(this.b2c);
    this.c2b = null;
    this.b2c = null;
    this.dest = null;
    relay.hold(-1);
    this.listener.recycle(this);
  }
}
