/**
 * The proxy dataplane: LVS masquerading done with sockets, no root needed. Each TCP or UDP
 * virtual service is a listening socket on VIP:port; the core schedules every new connection
 * (or datagram flow) and the dataplane relays it to the chosen real server (tcp-session.ts,
 * udp-listener.ts).
 *
 * apply() reconciles the listeners with the table the diff produced: services in the diff that
 * are in the table get a listener, those no longer in it lose theirs. New listeners are bound
 * first; if one fails, the ones this call bound are closed and nothing else has changed (a
 * delete-and-re-add of the same VIP:port keeps its socket). Refused before anything is bound:
 * destinations other than masquerading (route -g and tunnel -i rewrite packets, a socket cannot)
 * and services a socket cannot serve (fwmark, port 0, SCTP): those need --dataplane packet.
 */
import { type Dest, IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_FWD_MASK, IP_VS_CONN_F_TUNNEL } from '../../core/dest.js';
import type { TableDiff } from '../../core/diff.js';
import type { Ipvs } from '../../core/ipvs.js';
import { IPPROTO_TCP, IPPROTO_UDP, type VirtualService } from '../../core/service.js';
import { TslvsError } from '../../errors.js';
import type { Dataplane, DataplaneKind, DataplaneOptions, DataplaneStats } from '../dataplane.js';
import { addrPortText } from './bind-error.js';
import { ProxyContext } from './context.js';
import { Relay } from './relay.js';
import type { RelayEnv } from './relay-conn.js';
import { RelayThreads } from './relay-threads.js';
import { loadRelayAddon, type RelayAddon, relayUnavailable } from './relay-addon.js';
import { RelayListener } from './relay-listener.js';
import { parseProxySettings } from './settings.js';
import { TcpListener } from './tcp-listener.js';
import { UdpListener } from './udp-listener.js';
import { loadUv } from './uv.js';

type Listener = TcpListener | RelayListener | UdpListener;

const PACKET_HINT = 'use --dataplane packet, which rewrites packets as the kernel does';

/** How often one-packet UDP flows are checked for idleness. */
const UDP_SWEEP_MS = 1000;

export class ProxyDataplane implements Dataplane {
  readonly kind: DataplaneKind = 'proxy';
  readonly ctx: ProxyContext;
  /** The native relay's addon, or null: TCP goes through Node's TCP handles (setting nativeRelay 0, or the addon is not built). */
  readonly #relayAddon: RelayAddon | null;
  /** Why the native relay is not used ('' when it is). */
  readonly relayUnavailable: string = '';
  /** The native relay, made with the first TCP listener. */
  #relay: Relay | null = null;
  #env: RelayEnv | null = null;
  /** The relay threads (setting threads ≥ 1), or null: connections are relayed on this thread. */
  #threads: RelayThreads | null = null;
  /** Listener key (protocol, family, address, port) → its socket. */
  readonly #listeners = new Map<string, Listener>();
  #timer: NodeJS.Timeout | null = null;
  #lastSweepMs = 0;
  #closed = false;

  constructor(opts: DataplaneOptions) {
    const settings = parseProxySettings(opts.settings);
    this.ctx = new ProxyContext(opts.ipvs, opts.now, settings, loadUv());
    this.#relayAddon = settings.nativeRelay === 1 ? loadRelayAddon() : null;
    if (this.#relayAddon === null) this.relayUnavailable = settings.nativeRelay === 1 ? relayUnavailable() : 'nativeRelay is 0';
    const owners = this.ctx.owners;
    opts.ipvs.onExpire((conn) => {
      const o = owners.get(conn);
      if (o === undefined) return;
      owners.delete(conn);
      o.expired();
    });
    this.#timer = setInterval(() => this.#housekeeping(), settings.housekeepingMs);
    this.#timer.unref();
  }

  get ipvs(): Ipvs {
    return this.ctx.ipvs;
  }

  async apply(diff: TableDiff): Promise<void> {
    if (this.#closed) throw new TslvsError('TSLVS_ERR_DATAPLANE_REFUSED', 'The proxy dataplane is closed', 'restart the daemon');
    const table = this.ctx.ipvs.table;
    // 1. Refuse what a socket cannot do, before touching anything.
    for (const svc of diff.addedServices) if (inTable(this.ctx.ipvs, svc)) checkService(svc);
    for (const svc of diff.changedServices) if (inTable(this.ctx.ipvs, svc)) checkService(svc);
    for (const d of diff.addedDests) if (d.isAvailable()) checkDest(d);
    for (const d of diff.changedDests) if (d.isAvailable()) checkDest(d);

    // 2. What the listeners must become, for every service the diff touched.
    const want = new Map<string, VirtualService>();
    const drop = new Set<string>();
    for (const svc of [...diff.removedServices, ...diff.addedServices]) {
      const k = listenerKey(svc);
      const live = table.find(svc);
      if (live !== null && live === svc) want.set(k, svc);
      else if (live === null) drop.add(k);
    }
    for (const k of want.keys()) drop.delete(k);

    // 3. Bind the new ones; on failure close what this call bound and throw.
    const bound: string[] = [];
    try {
      for (const [k, svc] of want) {
        if (this.#listeners.has(k)) continue;
        const l = svc.protocol === IPPROTO_UDP
          ? new UdpListener(this.ctx, svc.addr, svc.port)
          : this.#relayAddon !== null
            ? new RelayListener(this.ctx, await this.#relayEnv(this.#relayAddon), svc.addr, svc.port, this.#threads)
            : new TcpListener(this.ctx, svc.addr, svc.port);
        if (l instanceof UdpListener) await l.open();
        else l.open();
        this.#listeners.set(k, l);
        bound.push(k);
      }
    } catch (err) {
      for (const k of bound) {
        this.#listeners.get(k)?.close();
        this.#listeners.delete(k);
      }
      throw err;
    }

    // 4. Then close the removed ones (their live connections go on, as IPVS entries do).
    for (const k of drop) {
      const l = this.#listeners.get(k);
      if (l === undefined) continue;
      l.close();
      this.#listeners.delete(k);
    }
    for (const d of diff.removedDests) if (!d.isAvailable()) this.ctx.forgetDest(d);
  }

  stats(): DataplaneStats {
    const c = this.ctx;
    return {
      activeFlows: c.activeFlows,
      drops: { ...c.drops },
    };
  }

  /** Everything Dataplane.stats() has, and the proxy's own gauges (for tests and status). */
  details(): {
    engine: 'native' | 'uv'; threads: number; listeners: number; activeFlows: number; buffersInUse: number; bufferBytesInUse: number;
    connectFailures: number; redispatched: number; quarantined: number; drops: Record<string, number>;
  } {
    const c = this.ctx;
    // The native relay's scratch buffer belongs to no session.
    const held = this.#relay !== null ? 1 : 0;
    const t = this.#threads?.gauges() ?? { buffers: 0, bytes: 0 };
    return {
      engine: this.#relayAddon !== null ? 'native' : 'uv',
      threads: this.#threads?.count ?? 0,
      listeners: this.#listeners.size,
      activeFlows: c.activeFlows,
      buffersInUse: c.pool.inUse - held + t.buffers,
      bufferBytesInUse: c.pool.bytesInUse - held * c.pool.bulkSize + t.bytes,
      connectFailures: c.connectFailures,
      redispatched: c.redispatched,
      quarantined: c.quarantined,
      drops: { ...c.drops },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    for (const l of this.#listeners.values()) l.close();
    this.#listeners.clear();
    const owners = [...this.ctx.owners.values()];
    this.ctx.owners.clear();
    for (const o of owners) o.expired();
    // Sessions no entry points at any more (taken over by a newer connection) are reset too.
    while (this.ctx.liveSessions !== null) this.ctx.liveSessions.expired();
    if (this.#threads !== null) {
      await this.#threads.stop();
      this.#threads = null;
    }
    if (this.#relay !== null) {
      this.#relay.close();
      this.ctx.pool.release(this.#relay.scratch);
      this.#relay = null;
      this.#env = null;
    }
    this.ctx.ipvs.onExpire(null);
    this.ctx.clearQuarantine();
    this.ctx.pool.clear();
    // Let the handle closes run before the caller goes on.
    await new Promise<void>((r) => setImmediate(r));
  }

  /** The native relay (and the relay threads, with threads ≥ 1), made with the first TCP listener. */
  async #relayEnv(addon: RelayAddon): Promise<RelayEnv> {
    if (this.#env === null) {
      const ctx = this.ctx;
      const relay = new Relay(addon, ctx.pool.bulk(), ctx.now, () => {
        ctx.tickCore(relay.nowMs);
        this.#threads?.flush();
      });
      if (ctx.settings.threads > 0) {
        try {
          this.#threads = await RelayThreads.start(ctx, relay, ctx.settings.threads);
        } catch (err) {
          relay.close();
          ctx.pool.release(relay.scratch);
          throw new TslvsError('TSLVS_ERR_DATAPLANE_UNAVAILABLE',
            `Cannot start ${ctx.settings.threads} relay threads: ${(err as Error).message}`, 'set the proxy setting threads to 0', { cause: err });
        }
      }
      this.#relay = relay;
      this.#env = { relay, pool: ctx.pool, deadlines: ctx.deadlines, now: ctx.now };
    }
    return this.#env;
  }

  #housekeeping(): void {
    const nowMs = this.ctx.now();
    this.ctx.housekeeping(nowMs);
    if (nowMs - this.#lastSweepMs >= UDP_SWEEP_MS) {
      this.#lastSweepMs = nowMs;
      for (const l of this.#listeners.values()) if (l instanceof UdpListener) l.sweep(nowMs);
    }
  }
}

function inTable(ipvs: Ipvs, svc: VirtualService): boolean {
  return ipvs.table.find(svc) === svc;
}

function listenerKey(svc: VirtualService): string {
  return `${svc.protocol}|${svc.af}|${svc.addr.key()}|${svc.port}`;
}

function svcText(svc: VirtualService): string {
  if (svc.fwmark) return `FWM ${svc.fwmark}`;
  const p = svc.protocol === IPPROTO_TCP ? 'TCP' : svc.protocol === IPPROTO_UDP ? 'UDP' : 'SCTP';
  return `${p} ${addrPortText(svc.addr, svc.port)}`;
}

function checkService(svc: VirtualService): void {
  if (svc.fwmark) {
    throw new TslvsError('TSLVS_ERR_DATAPLANE_REFUSED',
      `The proxy dataplane cannot serve fwmark service "${svcText(svc)}": a socket never sees firewall marks`, PACKET_HINT);
  }
  if (svc.protocol !== IPPROTO_TCP && svc.protocol !== IPPROTO_UDP) {
    throw new TslvsError('TSLVS_ERR_DATAPLANE_REFUSED',
      `The proxy dataplane cannot serve "${svcText(svc)}": only TCP and UDP have sockets in Node.js`, PACKET_HINT);
  }
  if (svc.port === 0) {
    throw new TslvsError('TSLVS_ERR_DATAPLANE_REFUSED',
      `The proxy dataplane cannot serve port-0 service "${svcText(svc)}": a socket listens on one port`,
      `give the service a port, or ${PACKET_HINT}`);
  }
}

function checkDest(d: Dest): void {
  const m = d.connFlags & IP_VS_CONN_F_FWD_MASK;
  const svc = d.svc;
  if (m === IP_VS_CONN_F_DROUTE || m === IP_VS_CONN_F_TUNNEL) {
    const how = m === IP_VS_CONN_F_DROUTE ? 'direct routing (-g)' : 'tunnelling (-i)';
    throw new TslvsError('TSLVS_ERR_DATAPLANE_REFUSED',
      `The proxy dataplane cannot forward to "${addrPortText(d.addr, d.port)}" of "${svcText(svc)}" by ${how}: it only masquerades (-m)`,
      `use -m for this real server, or ${PACKET_HINT}`);
  }
  if (d.proxyProtocol && svc.protocol === IPPROTO_UDP) {
    throw new TslvsError('TSLVS_ERR_DATAPLANE_REFUSED',
      `The proxy dataplane cannot send a PROXY protocol header to "${addrPortText(d.addr, d.port)}" of "${svcText(svc)}": it is sent on TCP connections only`,
      'turn the PROXY protocol off for this real server');
  }
}

export function createProxyDataplane(opts: DataplaneOptions): ProxyDataplane {
  return new ProxyDataplane(opts);
}
