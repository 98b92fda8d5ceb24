/**
 * The listening socket of one TCP virtual service (VIP:port). Each accepted connection is the
 * SYN IPVS would see: it goes through the core (ipvs.inPacket: connection lookup, scheduler,
 * persistence, new entry) and becomes a Session to the chosen real server. No destination, a
 * full table or a core drop resets the client at once (the kernel answers ICMP port
 * unreachable; a reset is what a proxy that already accepted can give).
 */
import { AF_INET6, type Af, type IpAddr, parseIPv6 } from '../../core/addr.js';
import { type Flow, TCP_SYN } from '../../core/flow.js';
import { VERDICT_FORWARD } from '../../core/ipvs.js';
import { bindError } from './bind-error.js';
import type { ProxyContext } from './context.js';
import { Session } from './tcp-session.js';
import type { SockAddrOut, TcpHandle } from './uv.js';

type LHandle = TcpHandle & { listener: TcpListener | null };

export class TcpListener {
  readonly ctx: ProxyContext;
  readonly af: Af;
  readonly vaddr: IpAddr;
  readonly vaddrText: string;
  readonly port: number;
  readonly v0: number;
  readonly v1: number;
  readonly v2: number;
  readonly v3: number;
  #handle: LHandle | null = null;
  /** getpeername's output object, reused. */
  readonly #peer: SockAddrOut = {};

  constructor(ctx: ProxyContext, vaddr: IpAddr, port: number) {
    this.ctx = ctx;
    this.af = vaddr.af;
    this.vaddr = vaddr;
    this.vaddrText = vaddr.toString();
    this.port = port;
    this.v0 = vaddr.w0;
    this.v1 = vaddr.w1;
    this.v2 = vaddr.w2;
    this.v3 = vaddr.w3;
  }

  /** Bind and listen; throws a TslvsError with the fix. */
  open(): void {
    const uv = this.ctx.uv;
    const h = new uv.TCP(uv.SERVER) as LHandle;
    let err = this.af === AF_INET6
      ? h.bind6(this.vaddrText, this.port, uv.UV_TCP_IPV6ONLY)
      : h.bind(this.vaddrText, this.port);
    if (err === 0) {
      h.listener = this;
      h.onconnection = onConnection;
      err = h.listen(this.ctx.settings.backlog);
    }
    if (err !== 0) {
      h.close();
      throw bindError('TCP', this.vaddr, this.port, err);
    }
    this.#handle = h;
  }

  /** Stop accepting; live sessions go on. */
  close(): void {
    const h = this.#handle;
    if (h === null) return;
    this.#handle = null;
    h.listener = null;
    h.close();
  }

  accept(client: TcpHandle): void {
    const ctx = this.ctx;
    const peer = this.#peer;
    if (client.getpeername(peer) !== 0) {
      client.close(); // gone before we looked (ENOTCONN)
      return;
    }
    const caddr = peer.address as string;
    const cport = peer.port as number;
    const f = ctx.flow;
    f.af = this.af;
    f.protocol = 6;
    f.fwmark = 0;
    if (this.af === AF_INET6) setV6(f, caddr);
    else {
      f.s0 = parseV4(caddr);
      f.s1 = 0; f.s2 = 0; f.s3 = 0;
    }
    f.sport = cport;
    f.d0 = this.v0; f.d1 = this.v1; f.d2 = this.v2; f.d3 = this.v3;
    f.dport = this.port;
    f.tcpFlags = TCP_SYN;
    f.len = 0;
    const nowMs = ctx.now();
    const ipvs = ctx.ipvs;
    const v = ipvs.inPacket(f, nowMs);
    const d = ipvs.curDest;
    if (v !== VERDICT_FORWARD || d === null) {
      ctx.countVerdict(v);
      client.reset();
      return;
    }
    const s = new Session(ctx, this, client, -1, d, caddr, cport);
    s.setConn(ipvs.curConn);
    s.connect(nowMs);
    ctx.tickCore(nowMs);
  }
}

function onConnection(this: LHandle, status: number, client?: TcpHandle): void {
  const l = this.listener;
  if (status < 0 || client === undefined) {
    if (l !== null) l.ctx.drops.acceptFailed++;
    return;
  }
  if (l === null) {
    client.close();
    return;
  }
  l.accept(client);
}

/** Dotted quad → host-order u32, for the addresses getpeername gives (always well formed). */
export function parseV4(s: string): number {
  let v = 0;
  let part = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      v = v * 256 + part;
      part = 0;
    } else {
      part = part * 10 + (c - 48);
    }
  }
  return (v * 256 + part) >>> 0;
}

function setV6(f: Flow, s: string): void {
  // getpeername gives a scope suffix for link-local peers ("fe80::1%eth0").
  const pct = s.indexOf('%');
  const w = parseIPv6(pct >= 0 ? s.slice(0, pct) : s);
  if (w === null) {
    f.s0 = 0; f.s1 = 0; f.s2 = 0; f.s3 = 0;
    return;
  }
  f.s0 = w[0]; f.s1 = w[1]; f.s2 = w[2]; f.s3 = w[3];
}
