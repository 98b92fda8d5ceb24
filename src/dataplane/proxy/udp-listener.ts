/**
 * One UDP virtual service: a socket bound to VIP:port, and a flow per client address and port
 * (the IPVS UDP entry, state "UDP"). A flow owns a socket towards its real server; the server's
 * replies go back to the client from the VIP. The flow lives as long as its core entry: every
 * datagram in either direction re-arms the entry's timer (--set udp, 300 s by default) and the
 * entry's expiry closes the flow (ProxyContext.owners).
 *
 * One-packet scheduling (-o, IP_VS_SVC_F_ONEPACKET): every datagram is scheduled on its own and
 * the core keeps no entry (ip_vs_conn_put frees it at once). The client still needs a way back,
 * so a one-packet flow keeps just the socket, taking replies from any real server, and is closed
 * after the udp timeout without traffic.
 *
 * Counting: each datagram is one packet; bytes are its payload (the kernel counts IP length).
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { AF_INET6, type Af, type IpAddr, parseIPv6 } from '../../core/addr.js';
import type { Dest } from '../../core/dest.js';
import { VERDICT_FORWARD } from '../../core/ipvs.js';
import { IP_VS_SVC_F_ONEPACKET } from '../../core/service.js';
import { bindError } from './bind-error.js';
import type { EntryOwner, ProxyContext } from './context.js';
import { parseV4 } from './tcp-listener.js';

const DIR_IN = 0;
const DIR_OUT = 1;

export class UdpListener {
  readonly ctx: ProxyContext;
  readonly af: Af;
  readonly vaddr: IpAddr;
  readonly vaddrText: string;
  readonly port: number;
  #sock: Socket | null = null;
  /** Client key (IPv4: address * 65536 + port; IPv6: "address|port") → flow. */
  readonly flows = new Map<number | string, UdpFlow>();

  constructor(ctx: ProxyContext, vaddr: IpAddr, port: number) {
    this.ctx = ctx;
    this.af = vaddr.af;
    this.vaddr = vaddr;
    this.vaddrText = vaddr.toString();
    this.port = port;
  }

  get socket(): Socket | null {
    return this.#sock;
  }

  /** Bind; rejects with a TslvsError naming the fix. */
  open(): Promise<void> {
    const v6 = this.af === AF_INET6;
    const sock = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
    return new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        sock.close();
        reject(bindError('UDP', this.vaddr, this.port, err));
      };
      sock.once('error', onError);
      sock.bind({ address: this.vaddrText, port: this.port, exclusive: true }, () => {
        sock.removeListener('error', onError);
        sock.on('error', () => { this.ctx.drops.udpErrors++; });
        sock.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo));
        this.#sock = sock;
        resolve();
      });
    });
  }

  /** Stop serving: the VIP socket and every flow's socket close (the core entries expire on their own). */
  close(): void {
    const s = this.#sock;
    if (s === null) return;
    this.#sock = null;
    s.close();
    for (const fl of [...this.flows.values()]) fl.close();
  }

  #onMessage(msg: Buffer, r: RemoteInfo): void {
    const ctx = this.ctx;
    const ipvs = ctx.ipvs;
    const v6 = this.af === AF_INET6;
    const c4 = v6 ? 0 : parseV4(r.address);
    const key: number | string = v6 ? `${r.address}|${r.port}` : c4 * 65536 + r.port;
    const nowMs = ctx.now();
    let fl = this.flows.get(key);
    if (fl !== undefined && fl.conn >= 0) {
      ipvs.packetOnConn(fl.conn, DIR_IN, 0, msg.length, nowMs);
      fl.send(msg, fl.destText, fl.dport);
      return;
    }
    const f = ctx.flow;
    f.af = this.af;
    f.protocol = 17;
    f.fwmark = 0;
    if (v6) {
      const pct = r.address.indexOf('%');
      const w = parseIPv6(pct >= 0 ? r.address.slice(0, pct) : r.address) ?? [0, 0, 0, 0];
      f.s0 = w[0]; f.s1 = w[1]; f.s2 = w[2]; f.s3 = w[3];
    } else {
      f.s0 = c4; f.s1 = 0; f.s2 = 0; f.s3 = 0;
    }
    f.sport = r.port;
    const va = this.vaddr;
    f.d0 = va.w0; f.d1 = va.w1; f.d2 = va.w2; f.d3 = va.w3;
    f.dport = this.port;
    f.tcpFlags = 0;
    f.len = msg.length;
    const v = ipvs.inPacket(f, nowMs);
    const d = ipvs.curDest;
    const svc = ipvs.curSvc;
    if (v !== VERDICT_FORWARD || d === null) {
      // The kernel answers ICMP port unreachable; a socket cannot, so the datagram is dropped.
      ctx.countVerdict(v);
      return;
    }
    if (svc !== null && (svc.flags & IP_VS_SVC_F_ONEPACKET)) {
      if (fl === undefined) fl = this.#newFlow(key, r, -1, null, nowMs);
      fl.lastMs = nowMs;
      fl.send(msg, ctx.destText(d), d.port || this.port);
      return;
    }
    if (fl !== undefined) fl.close(); // a one-packet flow left from before -o was removed
    fl = this.#newFlow(key, r, ipvs.curConn, d, nowMs);
    fl.send(msg, fl.destText, fl.dport);
  }

  #newFlow(key: number | string, r: RemoteInfo, conn: number, d: Dest | null, nowMs: number): UdpFlow {
    const ctx = this.ctx;
    const fl = new UdpFlow(this, key, r.address, r.port, conn, d, conn >= 0 ? ctx.ipvs.connDport(conn) : 0);
    fl.lastMs = nowMs;
    this.flows.set(key, fl);
    ctx.activeFlows++;
    if (conn >= 0) ctx.owners.set(conn, fl);
    return fl;
  }

  /** Close one-packet flows idle for the udp timeout. */
  sweep(nowMs: number): void {
    const idleMs = this.ctx.ipvs.table.timeouts.udp * 1000;
    for (const fl of this.flows.values()) {
      if (fl.conn < 0 && nowMs - fl.lastMs >= idleMs) fl.close();
    }
  }
}

export class UdpFlow implements EntryOwner {
  readonly listener: UdpListener;
  readonly key: number | string;
  readonly caddr: string;
  readonly cport: number;
  /** Core entry, or -1 for a one-packet flow. */
  conn: number;
  readonly dest: Dest | null;
  readonly destText: string;
  readonly dport: number;
  lastMs = 0;
  #sock: Socket | null;

  constructor(l: UdpListener, key: number | string, caddr: string, cport: number, conn: number, dest: Dest | null, dport: number) {
    this.listener = l;
    this.key = key;
    this.caddr = caddr;
    this.cport = cport;
    this.conn = conn;
    this.dest = dest;
    this.destText = dest === null ? '' : l.ctx.destText(dest);
    this.dport = dport;
    const sock = createSocket(l.af === AF_INET6 ? 'udp6' : 'udp4');
    sock.on('error', () => { l.ctx.drops.udpErrors++; });
    sock.on('message', (m, r) => this.#onReply(m, r));
    this.#sock = sock;
  }

  send(msg: Buffer, addr: string, port: number): void {
    const s = this.#sock;
    if (s === null) return;
    s.send(msg, port, addr);
  }

  #onReply(m: Buffer, r: RemoteInfo): void {
    const l = this.listener;
    const vip = l.socket;
    if (vip === null) return;
    const ctx = l.ctx;
    if (this.conn >= 0) {
      if (r.port !== this.dport || r.address !== this.destText) return; // not from our real server
      ctx.ipvs.packetOnConn(this.conn, DIR_OUT, 0, m.length, ctx.now());
    } else {
      this.lastMs = ctx.now();
    }
    vip.send(m, this.cport, this.caddr);
  }

  expired(): void {
    this.conn = -1;
    this.close();
  }

  close(): void {
    const s = this.#sock;
    if (s === null) return;
    this.#sock = null;
    const l = this.listener;
    const ctx = l.ctx;
    if (l.flows.get(this.key) === this) l.flows.delete(this.key);
    if (this.conn >= 0 && ctx.owners.get(this.conn) === this) ctx.owners.delete(this.conn);
    ctx.activeFlows--;
    s.close();
  }
}
