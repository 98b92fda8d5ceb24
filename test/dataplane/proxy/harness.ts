// A director for proxy dataplane tests: a real Ipvs on the real clock, the proxy dataplane,
// ipvsadm-like table edits applied as one transaction each (as the daemon commits them), the
// core's timers ticking, real servers on loopback, clients, and `ipvsadm -L -n` style reads.
import net from 'node:net';
import { AF_INET, AF_INET6, IpAddr, parseAddr } from '../../../src/core/addr.js';
import {
  type Dest, IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_MASQ, IP_VS_CONN_F_TUNNEL,
} from '../../../src/core/dest.js';
import { Ipvs } from '../../../src/core/ipvs.js';
import {
  DEFAULT_NETMASK_V4, IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT, IPPROTO_TCP, IPPROTO_UDP,
  type VirtualService,
} from '../../../src/core/service.js';
import type { ServiceId } from '../../../src/core/service-table.js';
import { statsView } from '../../../src/core/stats/counters.js';
import { ProxyDataplane } from '../../../src/dataplane/proxy/proxy-dataplane.js';
import { xorshift32 } from '../../../src/core/random.js';

export function ip(s: string): IpAddr {
  const a = parseAddr(s);
  if (!a) throw new Error(`bad address ${s}`);
  return a;
}

/** xorshift32 for the core's RandomU32. */
export const seeded = (seed = 0x2545f491): (() => number) => xorshift32(seed);

export interface SvcOpts {
  sched?: string;
  persistentS?: number;
  netmask?: number;
  ops?: boolean;
}

export interface DestOpts {
  method?: 'g' | 'm' | 'i';
  weight?: number;
  x?: number;
  y?: number;
  proxyProtocol?: number;
}

/**
 * Which TCP relay the tests run: the native relay when it is built (the default), Node's TCP
 * handles with TSLVS_TEST_PROXY_RELAY=uv, two relay threads with TSLVS_TEST_PROXY_RELAY=threads
 * (the *-uv.test.ts and *-threads.test.ts files set it and run the same tests).
 */
export function relaySettings(): Record<string, unknown> {
  switch (process.env.TSLVS_TEST_PROXY_RELAY) {
    case 'uv': return { nativeRelay: 0 };
    case 'threads': return { threads: 2 };
    default: return {};
  }
}

export class Director {
  readonly ipvs: Ipvs;
  readonly dp: ProxyDataplane;
  readonly #tick: NodeJS.Timeout;

  constructor(settings: Record<string, unknown> = {}, tickMs = 50) {
    this.ipvs = new Ipvs({ random: seeded(), startMs: performance.now() });
    this.dp = new ProxyDataplane({ ipvs: this.ipvs, now: () => performance.now(), settings: { ...relaySettings(), ...settings } });
    this.#tick = setInterval(() => this.ipvs.tick(performance.now()), tickMs);
  }

  /** One table change as one transaction, applied to the dataplane; rolled back if it refuses. */
  async txn(fn: () => void): Promise<void> {
    const j = this.ipvs.table.transaction(fn);
    try {
      await this.dp.apply(j.diff);
    } catch (err) {
      j.rollback();
      throw err;
    }
  }

  svcId(proto: 'tcp' | 'udp', vip: string, port: number): ServiceId {
    const addr = ip(vip);
    return { af: addr.af, protocol: proto === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP, addr, port, fwmark: 0 };
  }

  async addService(proto: 'tcp' | 'udp', vip: string, port: number, o: SvcOpts = {}): Promise<ServiceId> {
    const id = this.svcId(proto, vip, port);
    let flags = 0;
    if (o.persistentS !== undefined) flags |= IP_VS_SVC_F_PERSISTENT;
    if (o.ops) flags |= IP_VS_SVC_F_ONEPACKET;
    await this.txn(() => {
      this.ipvs.table.addService({
        ...id, schedName: o.sched ?? 'rr', flags, timeoutS: o.persistentS ?? 0,
        netmask: o.netmask ?? (id.af === AF_INET6 ? 128 : DEFAULT_NETMASK_V4), peName: '',
      });
    });
    return id;
  }

  async delService(id: ServiceId): Promise<void> {
    await this.txn(() => this.ipvs.table.delService(id));
  }

  service(id: ServiceId): VirtualService {
    const s = this.ipvs.table.find(id);
    if (!s) throw new Error('no service');
    return s;
  }

  async addDest(id: ServiceId, addr: string, port: number, o: DestOpts = {}): Promise<Dest> {
    const a = ip(addr);
    let d: Dest | null = null;
    await this.txn(() => {
      d = this.ipvs.table.addDest(id, {
        af: a.af, addr: a, port, connFlags: methodFlag(o.method ?? 'm'), weight: o.weight ?? 1,
        uThreshold: o.x ?? 0, lThreshold: o.y ?? 0, tunType: 0, tunPort: 0, tunFlags: 0, proxyProtocol: o.proxyProtocol ?? 0,
      });
    });
    return d as unknown as Dest;
  }

  async editDest(id: ServiceId, d: Dest, o: DestOpts): Promise<void> {
    await this.txn(() => this.ipvs.table.editDest(id, {
      af: d.af, addr: d.addr, port: d.port, connFlags: o.method ? methodFlag(o.method) : d.connFlags & 7,
      weight: o.weight ?? d.weight, uThreshold: o.x ?? d.uThreshold, lThreshold: o.y ?? d.lThreshold,
      tunType: 0, tunPort: 0, tunFlags: 0, proxyProtocol: o.proxyProtocol ?? d.proxyProtocol,
    }));
  }

  async delDest(id: ServiceId, d: Dest): Promise<void> {
    await this.txn(() => this.ipvs.table.delDest(id, d.af, d.addr, d.port));
  }

  async setTimeouts(tcp: number, tcpfin: number, udp: number): Promise<void> {
    await this.txn(() => this.ipvs.table.setTimeouts({ tcp, tcpfin, udp }));
  }

  /** ActiveConn / InActConn of a dest as `ipvsadm -L -n` shows them. */
  conns(d: Dest): { active: number; inact: number } {
    return { active: d.activeConns, inact: d.inactConns };
  }

  /** The live counters of a dest (not the 2-second snapshot). */
  counters(d: Dest): { conns: number; inpkts: number; outpkts: number; inbytes: number; outbytes: number } {
    const s = d.stats;
    return { conns: s.conns, inpkts: s.inpkts, outpkts: s.outpkts, inbytes: s.inbytes, outbytes: s.outbytes };
  }

  view(d: Dest): ReturnType<typeof statsView> {
    return statsView(d.stats);
  }

  /** The states of the live core entries, as `ipvsadm -L -n -c` shows them. */
  states(): string[] {
    return this.ipvs.listConns(performance.now()).filter((c) => !c.template).map((c) => c.state);
  }

  async close(): Promise<void> {
    clearInterval(this.#tick);
    await this.dp.close();
  }
}

function methodFlag(m: 'g' | 'm' | 'i'): number {
  return m === 'm' ? IP_VS_CONN_F_MASQ : m === 'i' ? IP_VS_CONN_F_TUNNEL : IP_VS_CONN_F_DROUTE;
}

/** A real server on loopback: answers each connection with its name, then echoes. */
export interface RealServer {
  readonly server: net.Server;
  readonly port: number;
  readonly name: string;
  readonly sockets: Set<net.Socket>;
  /** Connections accepted so far. */
  accepted: number;
  close(): Promise<void>;
  /** Destroy every open connection and stop listening (a crash as clients see it). */
  kill(): Promise<void>;
}

export type Behaviour = 'name-echo' | 'echo' | 'silent' | 'no-read';

export async function realServer(name: string, host = '127.0.0.1', behaviour: Behaviour = 'name-echo', port = 0): Promise<RealServer> {
  const sockets = new Set<net.Socket>();
  const rs: RealServer = {
    server: net.createServer(), port: 0, name, sockets, accepted: 0,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); rs.server.close(() => r()); }),
    kill: () => new Promise<void>((r) => { rs.server.close(() => r()); for (const s of sockets) s.destroy(); }),
  };
  rs.server.on('connection', (s) => {
    rs.accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    if (behaviour === 'no-read') {
      s.pause();
      return;
    }
    if (behaviour === 'name-echo') s.write(`${name}\n`);
    if (behaviour !== 'silent') s.pipe(s);
  });
  await new Promise<void>((resolve, reject) => {
    rs.server.once('error', reject);
    rs.server.listen({ host, port }, () => resolve());
  });
  (rs as { port: number }).port = (rs.server.address() as net.AddressInfo).port;
  return rs;
}

/** A loopback port that nothing listens on right now. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen({ host, port: 0 }, () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** Connect, read the first line (the real server's name), and end. */
export function whoServes(host: string, port: number, localAddress?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, localAddress });
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        s.end();
        resolve(buf.slice(0, i));
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error(`closed before a line (got "${buf}")`)));
  });
}

/** Resolves when `cond()` holds, polling; rejects after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * An assertion about the core that must hold once it has seen what the sockets saw: at once when
 * the relay runs on the core's thread, a moment later with relay threads (their events reach
 * the core on its next loop turn). Retries until it passes; the last failure after `ms`.
 */
export async function eventually(check: () => void, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export { AF_INET };
