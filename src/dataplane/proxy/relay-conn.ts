/**
 * One relayed TCP connection on the native relay (relay.ts): the client's socket and the real
 * server's socket, plain descriptors, and the bytes between them. What the core sees of it is
 * left to the subclass: RelaySession calls the core on the same thread; WorkerConn (a relay
 * thread) reports to the core thread, which calls the core in the same order.
 *
 * How the bytes move, as HAProxy's event loop moves them:
 * - Sockets are edge-triggered. An IN edge marks the side readable; it is read until a short
 *   read, EAGAIN or end of stream. A short read after the peer's FIN was reported (RDHUP without
 *   an error) is the end of stream: no extra read to see the 0. After a hang-up or an error
 *   the side is read on to the 0 or the error.
 * - Every read goes into the relay's one scratch buffer and is written to the other socket at
 *   once. Nearly always the kernel takes it all and no buffer is held. When it does not, the
 *   connection keeps the scratch buffer as that direction's pending data (the relay takes a
 *   fresh one) and stops reading the source until the OUT edge lets the rest go: a direction
 *   holds at most one buffer, an idle connection none.
 * - The client's socket is read only once the real server is connected (a failed connect is
 *   retried elsewhere with nothing consumed); what the client sent meanwhile is read right
 *   after the connect completes, in the same turn.
 * - End of stream is passed on with shutdown(SHUT_WR) once the direction's pending data is out;
 *   when both directions have ended and nothing is pending, both sockets are closed.
 * - A connect's outcome is the real server socket's first readiness (OUT: connected; ERR/HUP:
 *   SO_ERROR says why); deadlines are kept in a queue (connect-deadlines.ts), not timers.
 */
import { constants } from 'node:os';
import { AF_INET6, formatIPv4, formatIPv6 } from '../../core/addr.js';
import type { BufferPool } from './buffer-pool.js';
import type { ConnectDeadlines, Connecting } from './connect-deadlines.js';
import { encodeProxyV1, encodeProxyV2 } from './proxy-protocol.js';
import type { Deferred, FdOwner, Relay } from './relay.js';
import { EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP } from './relay-addon.js';

export const DIR_IN = 0;
export const DIR_OUT = 1;
/** INPUT (client → real server) or OUTPUT, as the core's packetOnConn takes it. */
export type Dir = 0 | 1;

const E = constants.errno;
const EAGAIN = -E.EAGAIN;
/** Our own connect timeout, reported as ETIMEDOUT. */
export const TIMED_OUT = -E.ETIMEDOUT;

// Flag bits.
const CONNECTING = 0x0001;
const RELAYING = 0x0002;
export const CLOSED = 0x0004;
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
/** A FIN to pass on after this batch (shutdown of the client's socket, or the real server's). */
const C_SHUT_LATER = 0x4000;
const B_SHUT_LATER = 0x8000;

const READ_BITS = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;

/** What a relay thread needs besides the sockets. */
export interface RelayEnv {
  readonly relay: Relay;
  readonly pool: BufferPool;
  readonly deadlines: ConnectDeadlines;
  now(): number;
}

export abstract class RelayConn implements FdOwner, Connecting, Deferred {
  readonly env: RelayEnv;
  cfd = -1;
  bfd = -1;
  flags = 0;
  connectDeadlineMs = 0;
  // Data read from one side that the other has not taken yet: buffer, start, end.
  c2b: Buffer | null = null;
  c2bOff = 0;
  c2bEnd = 0;
  b2c: Buffer | null = null;
  b2cOff = 0;
  b2cEnd = 0;
  // The real server of the current attempt, and the PROXY protocol version it wants (0: none).
  daf = 0;
  d0 = 0;
  d1 = 0;
  d2 = 0;
  d3 = 0;
  dport = 0;
  proxyProtocol = 0;
  // The connection as the client made it (the PROXY header's source and destination).
  af = 0;
  c0 = 0;
  c1 = 0;
  c2 = 0;
  c3 = 0;
  cport = 0;
  v0 = 0;
  v1 = 0;
  v2 = 0;
  v3 = 0;
  vport = 0;

  constructor(env: RelayEnv) {
    this.env = env;
  }

  // ---- what the core sees: the subclass's part ----

  /** The real server accepted (OUTPUT SYN+ACK, then the client's INPUT ACK). */
  protected abstract onConnected(nowMs: number): void;
  /** A read of n bytes in a direction. */
  protected abstract onData(dir: Dir, n: number): void;
  /** End of stream from that direction's sender. */
  protected abstract onFin(dir: Dir): void;
  /** A reset or an error on that direction's sender. */
  protected abstract onRst(dir: Dir): void;
  /** The attempt failed (its socket is closed): connect elsewhere (connectTo) or abort. */
  protected abstract onConnectFailed(status: number, nowMs: number): void;
  /** Both sockets are closed. */
  protected abstract onEnd(): void;

  /** Take over an accepted client socket (already in this relay's epoll set). */
  protected adopt(cfd: number): void {
    this.cfd = cfd;
    this.bfd = -1;
    this.flags = 0;
    this.connectDeadlineMs = 0;
    this.env.relay.own(cfd, this);
  }

  /** Connect to the real server in daf/d0..d3/dport; a synchronous failure goes to onConnectFailed. */
  connectTo(nowMs: number): void {
    const env = this.env;
    const relay = env.relay;
    const fd = relay.addon.connect(relay.epfd, this.daf, this.d0, this.d1, this.d2, this.d3, this.dport);
    if (fd < 0) {
      this.onConnectFailed(fd, nowMs);
      return;
    }
    this.bfd = fd;
    relay.own(fd, this);
    this.flags |= CONNECTING;
    this.connectDeadlineMs = env.deadlines.watch(this, nowMs);
  }

  onEvents(fd: number, ev: number): void {
    let flags = this.flags;
    if (flags & CLOSED) return;
    if (fd === this.bfd) {
      if (flags & CONNECTING) {
        if (ev & (EPOLLERR | EPOLLHUP)) {
          const err = this.env.relay.addon.soError(fd);
          this.#attemptFailed(err < 0 ? err : -E.ECONNREFUSED, this.env.relay.nowMs);
          return;
        }
        if (!(ev & EPOLLOUT)) return;
        this.#connected(this.env.relay.nowMs);
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

  /** Connected: tell the core, send the PROXY header, read what the client sent. */
  #connected(nowMs: number): void {
    this.flags = (this.flags & ~CONNECTING) | RELAYING;
    this.connectDeadlineMs = 0;
    this.onConnected(nowMs);
    if (this.flags & CLOSED) return;
    const pp = this.proxyProtocol;
    if ((pp === 1 || pp === 2) && !this.#sendProxyHeader(pp)) return;
    if (this.flags & C_READABLE) this.pumpC2B();
  }

  /** Returns false when the connection ended (write error). */
  #sendProxyHeader(version: number): boolean {
    const v6 = this.af === AF_INET6;
    const hdr = version === 1
      ? encodeProxyV1(this.af === AF_INET6 ? AF_INET6 : 2,
        v6 ? formatIPv6([this.c0, this.c1, this.c2, this.c3]) : formatIPv4(this.c0),
        v6 ? formatIPv6([this.v0, this.v1, this.v2, this.v3]) : formatIPv4(this.v0), this.cport, this.vport)
      : encodeProxyV2(v6 ? AF_INET6 : 2, this.c0, this.c1, this.c2, this.c3, this.v0, this.v1, this.v2, this.v3, this.cport, this.vport);
    const w = this.env.relay.addon.write(this.bfd, hdr, 0, hdr.length);
    if (w === hdr.length) return true;
    if (w < 0 && w !== EAGAIN) {
      this.#backendFailed();
      return false;
    }
    // A new socket always has room for ~100 bytes; kept anyway, as pending data.
    const buf = this.env.pool.bulk();
    hdr.copy(buf, 0);
    this.c2b = buf;
    this.c2bOff = w > 0 ? w : 0;
    this.c2bEnd = hdr.length;
    return true;
  }

  /** Client → real server: read while readable, write each read at once; stop when a write falls short. */
  pumpC2B(): void {
    const relay = this.env.relay;
    const addon = relay.addon;
    for (;;) {
      const flags = this.flags;
      if (!(flags & C_READABLE) || (flags & (CLIENT_EOF | CLOSED)) || this.c2b !== null) return;
      const n = addon.pump(relay.id, this.cfd, this.bfd);
      if (n > 0) {
        this.onData(DIR_IN, n);
        const w = relay.io[0];
        const buf = relay.scratch;
        if (w !== n) {
          if (w < 0 && w !== EAGAIN) {
            this.#backendFailed();
            return;
          }
          // The real server's socket is full: keep the rest, wait for its OUT edge.
          this.c2b = buf;
          this.c2bOff = w > 0 ? w : 0;
          this.c2bEnd = n;
          relay.scratch = this.env.pool.bulk();
          if (n < buf.length) this.#drainedClient();
          return;
        }
        if (n < buf.length && !(flags & C_HUP)) {
          this.#drainedClient();
          return;
        }
        continue;
      }
      this.flags = flags & ~C_READABLE;
      if (n === EAGAIN) return;
      if (n === 0) this.#clientEof();
      else this.#clientFailed();
      return;
    }
  }

  /** A short read from the client: dry for now, or at its end if its FIN was reported. */
  #drainedClient(): void {
    const flags = this.flags;
    if (flags & C_HUP) return;
    this.flags = flags & ~C_READABLE;
    if (flags & C_RDHUP) this.#clientEof();
  }

  /** Real server → client, as pumpC2B. */
  pumpB2C(): void {
    const relay = this.env.relay;
    const addon = relay.addon;
    for (;;) {
      const flags = this.flags;
      if (!(flags & B_READABLE) || (flags & (BACKEND_EOF | CLOSED)) || this.b2c !== null) return;
      const n = addon.pump(relay.id, this.bfd, this.cfd);
      if (n > 0) {
        this.onData(DIR_OUT, n);
        const w = relay.io[0];
        const buf = relay.scratch;
        if (w !== n) {
          if (w < 0 && w !== EAGAIN) {
            this.#clientFailed();
            return;
          }
          this.b2c = buf;
          this.b2cOff = w > 0 ? w : 0;
          this.b2cEnd = n;
          relay.scratch = this.env.pool.bulk();
          if (n < buf.length) this.#drainedBackend();
          return;
        }
        if (n < buf.length && !(flags & B_HUP)) {
          this.#drainedBackend();
          return;
        }
        continue;
      }
      this.flags = flags & ~B_READABLE;
      if (n === EAGAIN) return;
      if (n === 0) this.#backendEof();
      else this.#backendFailed();
      return;
    }
  }

  #drainedBackend(): void {
    const flags = this.flags;
    if (flags & B_HUP) return;
    this.flags = flags & ~B_READABLE;
    if (flags & B_RDHUP) this.#backendEof();
  }

  /** The real server's socket has room again: write what is pending, then read the client on. */
  flushC2B(): void {
    const buf = this.c2b as Buffer;
    const len = this.c2bEnd - this.c2bOff;
    const w = this.env.relay.addon.write(this.bfd, buf, this.c2bOff, len);
    if (w !== len) {
      if (w < 0 && w !== EAGAIN) this.#backendFailed();
      else if (w > 0) this.c2bOff += w;
      return;
    }
    this.c2b = null;
    this.env.pool.release(buf);
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
    const w = this.env.relay.addon.write(this.cfd, buf, this.b2cOff, len);
    if (w !== len) {
      if (w < 0 && w !== EAGAIN) this.#clientFailed();
      else if (w > 0) this.b2cOff += w;
      return;
    }
    this.b2c = null;
    this.env.pool.release(buf);
    const flags = this.flags;
    if (flags & BACKEND_EOF) {
      if (flags & CLIENT_EOF) this.#finishWhenFlushed();
      else this.#shutdown(true);
      return;
    }
    this.pumpB2C();
  }

  /** Client sent FIN: pass it on once what it sent before is out. */
  #clientEof(): void {
    this.flags |= CLIENT_EOF;
    this.onFin(DIR_IN);
    if (this.flags & CLOSED) return;
    if (this.flags & BACKEND_EOF) {
      this.#finishWhenFlushed();
      return;
    }
    if (this.c2b === null) this.#shutdown(false);
  }

  /** Real server sent FIN. */
  #backendEof(): void {
    this.flags |= BACKEND_EOF;
    this.onFin(DIR_OUT);
    if (this.flags & CLOSED) return;
    if (this.flags & CLIENT_EOF) {
      this.#finishWhenFlushed();
      return;
    }
    if (this.b2c === null) this.#shutdown(true);
  }

  /**
   * Pass an end of stream on: shutdown(SHUT_WR) on the client's socket (toClient) or the real
   * server's, after the current batch. The other side's FIN is often in the same batch (a
   * client that closes as soon as it has the answer): then both sockets are simply closed, the
   * client's FIN came first, and this end of the connection needs no shutdown and no TIME_WAIT,
   * as HAProxy, which handles a batch's readiness before acting on it, does.
   */
  #shutdown(toClient: boolean): void {
    const later = toClient ? C_SHUT_LATER : B_SHUT_LATER;
    if (this.flags & later) return;
    this.flags |= later;
    if (!this.env.relay.defer(this)) this.runDeferred();
  }

  /** The deferred shutdowns, unless the connection was closed meanwhile. */
  runDeferred(): void {
    const flags = this.flags;
    this.flags = flags & ~(C_SHUT_LATER | B_SHUT_LATER);
    if (flags & CLOSED) return;
    const addon = this.env.relay.addon;
    if (flags & C_SHUT_LATER) {
      this.flags |= CLIENT_SHUT;
      if (addon.shutdown(this.cfd) !== 0) {
        this.abort();
        return;
      }
    }
    if (flags & B_SHUT_LATER) {
      this.flags |= BACKEND_SHUT;
      if (addon.shutdown(this.bfd) !== 0) this.abort();
    }
  }

  /** Both sides sent FIN: close both once our writes are out (close(2) sends the FIN after the queued data). */
  #finishWhenFlushed(): void {
    if (this.c2b === null && this.b2c === null) this.close();
  }

  /** The client reset or failed: pass the reset on. */
  #clientFailed(): void {
    this.onRst(DIR_IN);
    this.abort();
  }

  #backendFailed(): void {
    this.onRst(DIR_OUT);
    this.abort();
  }

  connectTimedOut(nowMs: number): void {
    if (!(this.flags & CONNECTING) || (this.flags & CLOSED)) return;
    this.#attemptFailed(TIMED_OUT, nowMs);
  }

  /** Drop this attempt's socket, then let the subclass decide. */
  #attemptFailed(status: number, nowMs: number): void {
    this.flags &= ~CONNECTING;
    this.connectDeadlineMs = 0;
    if (this.bfd >= 0) {
      this.env.relay.closeFd(this.bfd, false);
      this.bfd = -1;
    }
    this.onConnectFailed(status, nowMs);
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
    const env = this.env;
    const relay = env.relay;
    const flags = this.flags;
    this.flags = flags | CLOSED;
    this.connectDeadlineMs = 0;
    // A side we already sent our FIN on is closed normally, as Node's handles would (no reset after shutdown).
    if (this.cfd >= 0) relay.closeFd(this.cfd, reset && !(flags & CLIENT_SHUT));
    this.cfd = -1;
    if (this.bfd >= 0) relay.closeFd(this.bfd, reset && !(flags & BACKEND_SHUT));
    this.bfd = -1;
    const pool = env.pool;
    if (this.c2b !== null) pool.release(this.c2b);
    if (this.b2c !== null) pool.release(this.b2c);
    this.c2b = null;
    this.b2c = null;
    this.onEnd();
  }
}
