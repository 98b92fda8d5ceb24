/**
 * One relayed TCP connection: the client's socket, the real server's socket and the core entry
 * (IPVS connection) between them. LVS masquerading done as a full proxy.
 *
 * The core's TCP state machine is driven with the socket events as IPVS sees the packets of a
 * NAT connection (ip_vs_proto_tcp.c, directions INPUT = client→server, OUTPUT = server→client):
 *   accept                    → INPUT SYN (inPacket: lookup, schedule, new entry: SYN_RECV)
 *   real server connected     → OUTPUT SYN+ACK, then INPUT ACK (the client's handshake ACK,
 *                               already received by the kernel before accept): ESTABLISHED
 *   a read of n bytes         → ACK with len = n, in its direction
 *   end of stream (FIN)       → FIN in its direction (half-close: the other way stays open)
 *   reset / read or write error → RST in the failing side's direction
 *   connect refused/timed out → OUTPUT RST (entry to CLOSE), then a new INPUT SYN, which
 *                               conn_reuse_mode reschedules (ip_vs_in_hook is_new_conn_expected)
 * so ActiveConn/InActConn, the timers and the counters behave as with IPVS. The entry outlives
 * the sockets (TIME_WAIT, 120 s), as in the kernel; its expiry while the sockets are open is the
 * idle timeout (--set tcp/tcpfin, or the state's fixed timeout) and resets both sockets.
 *
 * The relay: each socket reads into a buffer of its own (pooled); the bytes are written from that
 * same buffer to the other socket. A write the kernel takes at once (the common case) leaves the
 * buffer free for the next read. A write that has to wait keeps its buffer (pinned until it
 * completes) and the socket reads on into a fresh one; with MAX_PENDING writes waiting the source
 * stops reading until one completes (backpressure), so a direction holds at most three buffers.
 */
import { constants } from 'node:os';
import { AF_INET6 } from '../../core/addr.js';
import type { Dest } from '../../core/dest.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../core/flow.js';
import type { Connecting, EntryOwner, ProxyContext } from './context.js';
import { encodeProxyV1, encodeProxyV2 } from './proxy-protocol.js';
import type { TcpListener } from './tcp-listener.js';
import { type ConnectReq, type ShutdownReq, type TcpHandle, UV_EOF, type WriteReq } from './uv.js';

const DIR_IN = 0;
const DIR_OUT = 1;

/** A connect that failed this way says the real server is down; others (EADDRNOTAVAIL: no local port left, EMFILE) are ours. */
const E = constants.errno;
const SERVER_DOWN = new Set([-E.ECONNREFUSED, -E.EHOSTUNREACH, -E.ENETUNREACH, -E.ETIMEDOUT, -E.ECONNRESET, -E.ECONNABORTED]);
/** Our own connect timeout, reported as ETIMEDOUT. */
const TIMED_OUT = -E.ETIMEDOUT;

// Session flag bits.
const CONNECTING = 0x001;
const RELAYING = 0x002;
const CLIENT_EOF = 0x004;
const BACKEND_EOF = 0x008;
/**
 * Writes a direction may have waiting in libuv before its source stops reading. Two keep the
 * pipe full (the next chunk is queued while the kernel drains the previous one, as HAProxy
 * keeps receiving into the free part of its buffer) and bound memory at three buffers.
 */
const MAX_PENDING = 2;
const CLIENT_SHUT = 0x040;
const BACKEND_SHUT = 0x080;
const CLOSED = 0x100;

/** Handles and requests carry their session in an own property (as Node's owner_symbol). */
type SHandle = TcpHandle & { session: Session | null };
type SWrite = WriteReq & { session: Session | null; buf: Buffer | null };
type SShutdown = ShutdownReq & { session: Session | null };
type SConnect = ConnectReq & { session: Session | null };

export class Session implements EntryOwner, Connecting {
  readonly ctx: ProxyContext;
  readonly listener: TcpListener;
  readonly client: SHandle;
  backend: SHandle | null = null;
  /** The core entry, or -1 once it is gone (expired, or taken over by a newer session). */
  conn: number;
  dest: Dest;
  flags = 0;
  /** Read buffers (never pinned: a buffer whose write waits moves to the write request). */
  cBuf: Buffer | null = null;
  bBuf: Buffer | null = null;
  /** Writes waiting in libuv, client→server and server→client. */
  c2bPending = 0;
  b2cPending = 0;
  connectDeadlineMs = 0;
  attempts = 0;
  /** Live sessions form a list in the context (close() resets them all). */
  prevLive: Session | null = null;
  nextLive: Session | null = null;
  // The client as the flow saw it, kept for retries and the PROXY header.
  readonly caddr: string;
  readonly cport: number;
  readonly c0: number;
  readonly c1: number;
  readonly c2: number;
  readonly c3: number;

  constructor(ctx: ProxyContext, l: TcpListener, client: TcpHandle, conn: number, dest: Dest, caddr: string, cport: number) {
    this.ctx = ctx;
    this.listener = l;
    this.client = client as SHandle;
    this.client.session = this;
    this.conn = conn;
    this.dest = dest;
    this.caddr = caddr;
    this.cport = cport;
    const f = ctx.flow;
    this.c0 = f.s0;
    this.c1 = f.s1;
    this.c2 = f.s2;
    this.c3 = f.s3;
    const head = ctx.liveSessions as Session | null;
    this.nextLive = head;
    if (head !== null) head.prevLive = this;
    ctx.liveSessions = this;
    ctx.activeFlows++;
  }

  /** Connect to the scheduled real server. */
  connect(nowMs: number): void {
    const ctx = this.ctx;
    const uv = ctx.uv;
    const d = this.dest;
    const h = new uv.TCP(uv.SOCKET) as SHandle;
    h.session = this;
    const req = new uv.TCPConnectWrap() as SConnect;
    req.oncomplete = onConnect;
    req.session = this;
    const port = ctx.ipvs.connDport(this.conn);
    const addr = ctx.destText(d);
    const err = d.af === AF_INET6 ? h.connect6(req, addr, port) : h.connect(req, addr, port);
    if (err !== 0) {
      h.close();
      this.connectFailed(err, nowMs);
      return;
    }
    this.backend = h;
    this.flags |= CONNECTING;
    this.connectDeadlineMs = ctx.watchConnect(this, nowMs);
    // Reading can start now: libuv completes the connect before it delivers any read, and asking
    // for POLLIN together with the connect's POLLOUT saves an epoll_ctl per connection.
    const buf = ctx.pool.small();
    this.bBuf = buf;
    h.useUserBuffer(buf);
    h.onread = onBackendRead;
    h.readStart();
  }

  /** Drop the real server's socket of a failed attempt. */
  #dropBackend(h: SHandle): void {
    h.session = null;
    h.close();
    if (this.backend === h) this.backend = null;
    if (this.bBuf !== null) {
      this.ctx.pool.release(this.bBuf);
      this.bBuf = null;
    }
  }

  dropBackend(h: TcpHandle): void {
    this.#dropBackend(h as SHandle);
  }

  connectTimedOut(nowMs: number): void {
    const h = this.backend;
    this.flags &= ~CONNECTING;
    this.connectDeadlineMs = 0;
    // The pending connect completes with ECANCELED; onConnect ignores it.
    if (h !== null) this.#dropBackend(h);
    this.connectFailed(TIMED_OUT, nowMs);
  }

  /**
   * The real server refused, was unreachable or did not answer: quarantine it (not for errors
   * of our own, such as no local port left), tell the core
   * what IPVS would have seen (the server's RST: SYN_RECV → CLOSE) and schedule again, as a
   * client's retransmitted SYN would be rescheduled; give up after `retries`.
   */
  connectFailed(status: number, nowMs: number): void {
    const ctx = this.ctx;
    const ipvs = ctx.ipvs;
    ctx.connectFailures++;
    if (SERVER_DOWN.has(status)) ctx.markUnreachable(this.dest, nowMs);
    if (this.conn >= 0) ipvs.packetOnConn(this.conn, DIR_OUT, TCP_RST, 0, nowMs);
    while (this.attempts < ctx.settings.retries) {
      this.attempts++;
      const l = this.listener;
      const d = ctx.scheduleSyn(l.af, this.c0, this.c1, this.c2, this.c3, this.cport, l.v0, l.v1, l.v2, l.v3, l.port, nowMs);
      if (d === null) break;
      this.setConn(ipvs.curConn);
      this.dest = d;
      this.connect(nowMs);
      return;
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

  /** Connected: finish the handshake in the core, send the PROXY header, start relaying. */
  connected(nowMs: number): void {
    const ctx = this.ctx;
    const ipvs = ctx.ipvs;
    const b = this.backend as SHandle;
    const c = this.client;
    this.flags = (this.flags & ~CONNECTING) | RELAYING;
    this.connectDeadlineMs = 0;
    ctx.markReachable(this.dest);
    if (this.attempts > 0) ctx.redispatched++;
    if (this.conn >= 0) {
      ipvs.packetOnConn(this.conn, DIR_OUT, TCP_SYN | TCP_ACK, 0, nowMs);
      ipvs.packetOnConn(this.conn, DIR_IN, TCP_ACK, 0, nowMs);
    }
    c.setNoDelay(true);
    b.setNoDelay(true);
    this.cBuf = ctx.pool.small();
    c.useUserBuffer(this.cBuf);
    c.onread = onClientRead;
    const pp = this.dest.proxyProtocol;
    // The header goes first; client bytes written after it queue behind it in libuv.
    if ((pp === 1 || pp === 2) && !this.#sendProxyHeader(pp)) return;
    c.readStart();
  }

  /** Returns false when the session ended (write error). */
  #sendProxyHeader(version: number): boolean {
    const l = this.listener;
    const hdr = version === 1
      ? encodeProxyV1(l.af, this.caddr, l.vaddrText, this.cport, l.port)
      : encodeProxyV2(l.af, this.c0, this.c1, this.c2, this.c3, l.v0, l.v1, l.v2, l.v3, this.cport, l.port);
    const req = new this.ctx.uv.WriteWrap() as SWrite;
    req.oncomplete = onC2BWritten;
    req.session = this;
    req.buf = null;
    const err = (this.backend as SHandle).writeBuffer(req, hdr);
    if (err !== 0) {
      this.#backendFailed(err);
      return false;
    }
    if (this.ctx.uv.state[this.ctx.uv.kLastWriteWasAsync] !== 0) this.c2bPending++;
    else req.session = null;
    return true;
  }

  /** Client sent FIN. */
  clientEof(): void {
    const ipvs = this.ctx.ipvs;
    this.flags |= CLIENT_EOF;
    if (this.conn >= 0) ipvs.packetOnConn(this.conn, DIR_IN, TCP_FIN | TCP_ACK, 0, this.ctx.now());
    if (this.flags & BACKEND_EOF) {
      this.#finishWhenFlushed();
      return;
    }
    this.#shutdown(this.backend as SHandle, BACKEND_SHUT);
  }

  /** Real server sent FIN. */
  backendEof(): void {
    const ipvs = this.ctx.ipvs;
    this.flags |= BACKEND_EOF;
    if (this.conn >= 0) ipvs.packetOnConn(this.conn, DIR_OUT, TCP_FIN | TCP_ACK, 0, this.ctx.now());
    if (this.flags & CLIENT_EOF) {
      this.#finishWhenFlushed();
      return;
    }
    this.#shutdown(this.client, CLIENT_SHUT);
  }

  /** shutdown(SHUT_WR) after the pending writes (uv_shutdown waits for them). */
  #shutdown(h: SHandle, bit: number): void {
    const req = new this.ctx.uv.ShutdownWrap() as SShutdown;
    req.oncomplete = onShutdown;
    req.session = this;
    this.flags |= bit;
    if (h.shutdown(req) !== 0) this.abort();
  }

  /** Both sides sent FIN: close both once our writes are out (close(2) sends the FIN after the queued data). */
  #finishWhenFlushed(): void {
    if (this.c2bPending === 0 && this.b2cPending === 0) this.close();
  }

  /** A write completed or a shutdown finished: continue. */
  afterWrite(): void {
    if ((this.flags & (CLIENT_EOF | BACKEND_EOF)) === (CLIENT_EOF | BACKEND_EOF)) this.#finishWhenFlushed();
  }

  /** The client reset or failed: pass the reset on. */
  clientFailed(_err: number): void {
    if (this.conn >= 0) this.ctx.ipvs.packetOnConn(this.conn, DIR_IN, TCP_RST, 0, this.ctx.now());
    this.abort();
  }

  #backendFailed(_err: number): void {
    if (this.conn >= 0) this.ctx.ipvs.packetOnConn(this.conn, DIR_OUT, TCP_RST, 0, this.ctx.now());
    this.abort();
  }

  backendFailed(err: number): void {
    this.#backendFailed(err);
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
    const c = this.client;
    const b = this.backend;
    c.session = null;
    // uv_tcp_close_reset refuses while a shutdown is pending: close those normally.
    if (reset && !(flags & CLIENT_SHUT)) c.reset();
    else c.close();
    if (b !== null) {
      b.session = null;
      if (reset && !(flags & BACKEND_SHUT)) b.reset();
      else b.close();
    }
    // Buffers pinned by pending writes come back when those complete (ECANCELED after close).
    const pool = ctx.pool;
    if (this.cBuf !== null) pool.release(this.cBuf);
    if (this.bBuf !== null) pool.release(this.bBuf);
    this.cBuf = null;
    this.bBuf = null;
  }
}

// ---- libuv callbacks: module functions, `this` is the handle or request ----

function onConnect(this: SConnect, status: number, handle: TcpHandle): void {
  const s = this.session;
  this.session = null;
  if (s === null || (s.flags & CLOSED) || s.backend !== handle || !(s.flags & CONNECTING)) return;
  const nowMs = s.ctx.now();
  if (status < 0) {
    s.flags &= ~CONNECTING;
    s.connectDeadlineMs = 0;
    s.dropBackend(handle);
    s.connectFailed(status, nowMs);
    return;
  }
  s.connected(nowMs);
}

function onClientRead(this: SHandle): Uint8Array | undefined {
  const s = this.session;
  if (s === null) return undefined;
  const ctx = s.ctx;
  const uv = ctx.uv;
  const n = uv.state[uv.kReadBytesOrError];
  if (n > 0) {
    if (s.conn >= 0) ctx.ipvs.packetOnConn(s.conn, DIR_IN, TCP_ACK, n, ctx.now());
    const buf = s.cBuf as Buffer;
    const req = ctx.spareWrite as SWrite;
    req.oncomplete = onC2BWritten;
    req.session = s;
    const err = (s.backend as SHandle).writeBuffer(req, n === buf.length ? buf : buf.subarray(0, n));
    if (err !== 0) {
      req.session = null;
      ctx.spareWrite = new uv.WriteWrap(); // a failed write may have wrapped it
      s.backendFailed(err);
      return undefined;
    }
    const pool = ctx.pool;
    if (uv.state[uv.kLastWriteWasAsync] !== 0) {
      // The kernel did not take it all: the request keeps the buffer, reads go on into a fresh one.
      ctx.spareWrite = new uv.WriteWrap();
      req.buf = buf;
      if (++s.c2bPending >= MAX_PENDING) this.readStop();
      return (s.cBuf = n === buf.length || buf.length === pool.bulkSize ? pool.bulk() : pool.small());
    }
    req.session = null;
    return resized(s, buf, n, true);
  }
  if (n === UV_EOF) s.clientEof();
  else if (n < 0) s.clientFailed(n);
  return undefined;
}

function onBackendRead(this: SHandle): Uint8Array | undefined {
  const s = this.session;
  if (s === null) return undefined;
  const ctx = s.ctx;
  const uv = ctx.uv;
  const n = uv.state[uv.kReadBytesOrError];
  if (n > 0) {
    if (s.conn >= 0) ctx.ipvs.packetOnConn(s.conn, DIR_OUT, TCP_ACK, n, ctx.now());
    const buf = s.bBuf as Buffer;
    const req = ctx.spareWrite as SWrite;
    req.oncomplete = onB2CWritten;
    req.session = s;
    const err = s.client.writeBuffer(req, n === buf.length ? buf : buf.subarray(0, n));
    if (err !== 0) {
      req.session = null;
      ctx.spareWrite = new uv.WriteWrap();
      s.clientFailed(err);
      return undefined;
    }
    const pool = ctx.pool;
    if (uv.state[uv.kLastWriteWasAsync] !== 0) {
      ctx.spareWrite = new uv.WriteWrap();
      req.buf = buf;
      if (++s.b2cPending >= MAX_PENDING) this.readStop();
      return (s.bBuf = n === buf.length || buf.length === pool.bulkSize ? pool.bulk() : pool.small());
    }
    req.session = null;
    return resized(s, buf, n, false);
  }
  if (n === UV_EOF) s.backendEof();
  else if (n < 0) s.backendFailed(n);
  return undefined;
}

/**
 * After a read whose write completed at once: a full read means more is coming, so read in
 * bulk; a short read into a bulk buffer goes back to a small one. Returns the buffer for the
 * next read, or undefined to keep the current one.
 */
function resized(s: Session, buf: Buffer, n: number, client: boolean): Buffer | undefined {
  const pool = s.ctx.pool;
  let next: Buffer;
  if (n === buf.length) {
    if (buf.length >= pool.bulkSize) return undefined;
    next = pool.bulk();
  } else if (buf.length > pool.smallSize && n <= pool.smallSize) {
    next = pool.small();
  } else {
    return undefined;
  }
  pool.release(buf);
  if (client) s.cBuf = next;
  else s.bBuf = next;
  return next;
}

function onC2BWritten(this: SWrite, status: number): void {
  const s = this.session;
  const buf = this.buf;
  this.session = null;
  this.buf = null;
  if (s === null) return;
  if (buf !== null) s.ctx.pool.release(buf);
  const was = s.c2bPending--;
  if (s.flags & CLOSED) return;
  if (status < 0) {
    s.backendFailed(status);
    return;
  }
  if (was === MAX_PENDING && !(s.flags & CLIENT_EOF)) s.client.readStart();
  if (s.c2bPending === 0) s.afterWrite();
}

function onB2CWritten(this: SWrite, status: number): void {
  const s = this.session;
  const buf = this.buf;
  this.session = null;
  this.buf = null;
  if (s === null) return;
  if (buf !== null) s.ctx.pool.release(buf);
  const was = s.b2cPending--;
  if (s.flags & CLOSED) return;
  if (status < 0) {
    s.clientFailed(status);
    return;
  }
  if (was === MAX_PENDING && !(s.flags & BACKEND_EOF)) (s.backend as SHandle).readStart();
  if (s.b2cPending === 0) s.afterWrite();
}

function onShutdown(this: SShutdown, status: number): void {
  const s = this.session;
  this.session = null;
  if (s === null || (s.flags & CLOSED)) return;
  // ENOTCONN and friends: the peer is gone; its read side reports the reset.
  if (status < 0) return;
  s.afterWrite();
}
