/**
 * The packet dataplane: real DR, NAT and TUN forwarding in userspace, at the frame level, on
 * one interface, through the native AF_PACKET addon (loaded lazily, only here). It keeps the
 * kernel's view of the table in the socket's BPF filter, answers ARP for the VIPs (which are
 * NOT configured on the director: its own stack must not answer them; with IP forwarding off,
 * the director's kernel drops its copy of every frame this dataplane forwards), resolves real
 * servers itself, and hands each batch of frames to the Forwarder.
 *
 * Settings (DataplaneOptions.settings):
 *   interface   (string, required) the interface clients and real servers are reached on
 *   netns       (string) open the socket in this network namespace (/run/netns name or path)
 *   answerArp   (boolean, default true) answer ARP for IPv4 VIPs and announce them at start
 *   localAddr   (string "a.b.c.d" or "a.b.c.d/len") the director's address on the link;
 *               default: the interface's primary IPv4 address
 *   localAddr6  (string) the director's IPv6 address on the link (source of neighbour
 *               solicitations); without it IPv6 real servers cannot be resolved
 *   gateway     (string) next hop for real servers outside localAddr's prefix
 *   slots       (number, default 128) receive batch size (64 KiB each)
 *   pmtuDisc    (boolean, default true) as /proc/sys/net/ipv4/vs/pmtu_disc
 *   ring        (boolean, default true) receive through a TPACKET_V3 ring (false: recvmmsg)
 */
import { AF_INET, IpAddr, parseIPv4, parseIPv6 } from '../../core/addr.js';
import type { Dest } from '../../core/dest.js';
import type { TableDiff } from '../../core/diff.js';
import { IPPROTO_TCP, IPPROTO_UDP, type VirtualService } from '../../core/service.js';
import { TslvsError } from '../../errors.js';
import type { Dataplane, DataplaneKind, DataplaneOptions, DataplaneStats } from '../dataplane.js';
import { buildFilter, encodeFilter, type FilterNatDest, type FilterVip } from './filter.js';
import { Forwarder } from './forwarder.js';
import { openPacketSocket, type PacketAddon, type PacketHandle } from './native.js';
import { IP_VS_CONN_F_FWD_MASK, IP_VS_CONN_F_MASQ } from '../../core/dest.js';
import { D_TX_ERROR, DROP_NAMES } from './xmit/env.js';

export interface PacketSettings {
  interface: string;
  netns?: string;
  answerArp: boolean;
  localAddr?: string;
  localAddr6?: string;
  gateway?: string;
  slots: number;
  pmtuDisc: boolean;
  ring: boolean;
}

const HOUSEKEEPING_MS = 250;

function bad(msg: string, hint: string): TslvsError {
  return new TslvsError('TSLVS_ERR_BAD_OPTION', msg, hint);
}

/** Validates the settings once, all or nothing (STYLE rule 7). */
export function parsePacketSettings(s: Readonly<Record<string, unknown>>): Readonly<PacketSettings> {
  const known = new Set(['interface', 'netns', 'answerArp', 'localAddr', 'localAddr6', 'gateway', 'slots', 'pmtuDisc', 'ring']);
  for (const k of Object.keys(s)) {
    if (!known.has(k) && s[k] !== undefined) throw bad(`Unknown packet dataplane setting "${k}"`, `use one of ${[...known].join(', ')}`);
  }
  const ifname = s.interface;
  if (typeof ifname !== 'string' || ifname.length === 0 || ifname.length > 15) {
    throw bad(`The packet dataplane needs an interface name, got "${String(ifname)}"`, 'name the interface with --interface (see `ip link`)');
  }
  const bool = (k: string, d: boolean): boolean => {
    const v = s[k];
    if (v === undefined) return d;
    if (typeof v !== 'boolean') throw bad(`Setting "${k}" must be true or false, got "${String(v)}"`, `set ${k} to true or false`);
    return v;
  };
  const str = (k: string): string | undefined => {
    const v = s[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw bad(`Setting "${k}" must be a string, got "${String(v)}"`, `give ${k} as text`);
    return v;
  };
  const localAddr = str('localAddr');
  if (localAddr !== undefined && parseLocal(localAddr) === null) {
    throw bad(`Bad local address "${localAddr}"`, 'give an IPv4 address, optionally with a prefix length, like 198.51.100.1/24');
  }
  const localAddr6 = str('localAddr6');
  if (localAddr6 !== undefined && parseIPv6(localAddr6) === null) {
    throw bad(`Bad local IPv6 address "${localAddr6}"`, 'give an IPv6 address like 2001:db8::1');
  }
  const gateway = str('gateway');
  if (gateway !== undefined && parseIPv4(gateway) === null) throw bad(`Bad gateway "${gateway}"`, 'give an IPv4 address like 198.51.100.254');
  const slots = s.slots === undefined ? 128 : s.slots;
  if (typeof slots !== 'number' || !Number.isInteger(slots) || slots < 1 || slots > 4096) {
    throw bad(`Setting "slots" must be an integer from 1 to 4096, got "${String(slots)}"`, 'leave it out for the default 128');
  }
  return Object.freeze({
    interface: ifname, netns: str('netns'), answerArp: bool('answerArp', true), localAddr, localAddr6, gateway, slots,
    pmtuDisc: bool('pmtuDisc', true), ring: bool('ring', true),
  });
}

function parseLocal(s: string): [number, number] | null {
  const [a, l] = s.split('/');
  const addr = parseIPv4(a);
  if (addr === null) return null;
  if (l === undefined) return [addr, 0];
  const n = Number(l);
  return Number.isInteger(n) && n >= 0 && n <= 32 ? [addr, n] : null;
}

function words16(w: readonly number[]): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 4; i++) {
    out[i * 4] = w[i] >>> 24; out[i * 4 + 1] = (w[i] >>> 16) & 255; out[i * 4 + 2] = (w[i] >>> 8) & 255; out[i * 4 + 3] = w[i] & 255;
  }
  return out;
}

export class PacketDataplane implements Dataplane {
  readonly kind: DataplaneKind = 'packet';
  readonly settings: Readonly<PacketSettings>;
  readonly forwarder: Forwarder;
  readonly #opts: DataplaneOptions;
  readonly #addon: PacketAddon;
  readonly #h: PacketHandle;
  readonly #services = new Set<VirtualService>();
  readonly #dests = new Set<Dest>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  txFrames = 0;
  txErrors = 0;
  batches = 0;

  constructor(opts: DataplaneOptions, settings: Readonly<PacketSettings>, addon: PacketAddon, h: PacketHandle) {
    this.#opts = opts;
    this.settings = settings;
    this.#addon = addon;
    this.#h = h;
    const local = settings.localAddr !== undefined ? parseLocal(settings.localAddr) : null;
    this.forwarder = new Forwarder({
      ipvs: opts.ipvs,
      buffer: new Uint8Array(h.buffer),
      txMeta: h.txMeta,
      txCap: h.txBatch,
      scratchStart: h.scratchOffset,
      scratchEnd: h.scratchOffset + h.scratch,
      mac: h.mac,
      mtu: h.mtu,
      local4: local ? local[0] : h.ipv4,
      answerArp: settings.answerArp,
      gateway4: settings.gateway !== undefined ? parseIPv4(settings.gateway)! : 0,
      onLink4: local && local[1] > 0 ? [local[0], local[1]] : undefined,
      local6: settings.localAddr6 !== undefined ? words16(parseIPv6(settings.localAddr6)!) : undefined,
    });
    this.forwarder.env.pmtuDisc = settings.pmtuDisc;
    this.forwarder.env.flusher = () => this.#flush();
  }

  /** Opens the socket with an empty filter and starts reading. */
  start(): void {
    this.#setFilter();
    this.#addon.poll(this.#h, () => this.#onReadable());
    this.#timer = setInterval(() => this.#housekeeping(), HOUSEKEEPING_MS);
    this.#timer.unref();
  }

  #onReadable(): void {
    if (this.#closed) return;
    const fw = this.forwarder;
    const env = fw.env;
    const h = this.#h;
    // Drain what is waiting, one batch per recvmmsg, one sendmmsg per batch.
    for (let rounds = 0; rounds < 64; rounds++) {
      const n = this.#addon.recv(h);
      if (n === 0) break;
      this.batches++;
      env.resetBatch();
      fw.processBatch(h.rxMeta, n, this.#opts.now());
      this.#flush();
    }
  }

  #flush(): void {
    const env = this.forwarder.env;
    if (env.txN === 0) return;
    const sent = this.#addon.send(this.#h, env.txN);
    this.txFrames += sent;
    if (sent < env.txN) {
      this.txErrors += env.txN - sent;
      env.drops[D_TX_ERROR] += env.txN - sent;
    }
    env.txN = 0;
  }

  #housekeeping(): void {
    if (this.#closed) return;
    const env = this.forwarder.env;
    env.resetBatch();
    this.forwarder.housekeeping(this.#opts.now());
    this.#flush();
  }

  /** Sends gratuitous ARP for every IPv4 VIP now. */
  announce(): void {
    if (!this.settings.answerArp) return;
    const env = this.forwarder.env;
    env.resetBatch();
    this.forwarder.announce();
    this.#flush();
  }

  #setFilter(): void {
    const vips: FilterVip[] = [];
    for (const s of this.#services) {
      vips.push({ af: s.af, w: s.addr.words(), protocol: s.protocol, port: s.port });
    }
    const nat: FilterNatDest[] = [];
    for (const d of this.#dests) {
      if ((d.connFlags & IP_VS_CONN_F_FWD_MASK) === IP_VS_CONN_F_MASQ) nat.push({ af: d.af, w: d.addr.words() });
    }
    this.#addon.setFilter(this.#h, encodeFilter(buildFilter(vips, nat)));
  }

  apply(diff: TableDiff): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('packet dataplane: apply after close'));
    const fw = this.forwarder;
    const newVip4: number[] = [];
    const undo: (() => void)[] = [];
    // A fwmark service would be accepted and never see a packet: frames read from a packet
    // socket carry no netfilter mark. Refuse it rather than pretend.
    const fwm = diff.addedServices.find((s) => s.fwmark !== 0);
    if (fwm) {
      return Promise.reject(new TslvsError('TSLVS_ERR_DATAPLANE_REFUSED',
        `The packet dataplane cannot serve fwmark service "FWM ${fwm.fwmark}": frames read from a packet socket carry no firewall marks`,
        'give each VIP and port its own service (-t/-u ADDR:PORT); the table is unchanged'));
    }
    const sctp = diff.addedServices.find((s) => s.protocol !== IPPROTO_TCP && s.protocol !== IPPROTO_UDP);
    if (sctp) {
      return Promise.reject(new TslvsError('TSLVS_ERR_DATAPLANE_REFUSED',
        `The packet dataplane cannot serve SCTP service "${sctp.addr.toString()}:${sctp.port}": it forwards TCP and UDP only`,
        'use a TCP or UDP service; the table is unchanged'));
    }
    try {
      for (const s of diff.addedServices) {
        if (this.#services.has(s)) continue;
        this.#services.add(s);
        fw.addVip(s.addr);
        if (s.af === AF_INET) newVip4.push(s.addr.w0);
        undo.push(() => { this.#services.delete(s); fw.delVip(s.addr); });
      }
      for (const s of diff.removedServices) {
        if (!this.#services.delete(s)) continue;
        fw.delVip(s.addr);
        undo.push(() => { this.#services.add(s); fw.addVip(s.addr); });
      }
      for (const d of diff.addedDests) {
        if (this.#dests.has(d)) continue;
        this.#dests.add(d);
        fw.addDest(d);
        undo.push(() => { this.#dests.delete(d); fw.delDest(d); });
      }
      for (const d of diff.removedDests) {
        if (!this.#dests.delete(d)) continue;
        fw.delDest(d);
        undo.push(() => { this.#dests.add(d); fw.addDest(d); });
      }
      for (const d of diff.changedDests) {
        // The method or address family may have changed: re-register.
        if (!this.#dests.has(d)) continue;
        fw.delDest(d);
        fw.addDest(d);
      }
      this.#setFilter();
    } catch (err) {
      for (let i = undo.length - 1; i >= 0; i--) undo[i]();
      try { this.#setFilter(); } catch { /* keep the old filter */ }
      return Promise.reject(new TslvsError('TSLVS_ERR_DATAPLANE_REFUSED',
        `The packet dataplane could not apply the change on "${this.settings.interface}": ${(err as Error).message}`,
        'check the interface with `ip link`; the table is unchanged', { cause: err }));
    }
    // Resolve new real servers and announce new VIPs at once rather than at the next tick.
    this.#housekeeping();
    if (newVip4.length > 0) this.announce();
    return Promise.resolve();
  }

  stats(): DataplaneStats {
    const drops: Record<string, number> = {};
    const d = this.forwarder.env.drops;
    for (let i = 0; i < DROP_NAMES.length; i++) if (d[i] > 0) drops[DROP_NAMES[i]] = d[i];
    return { activeFlows: this.#opts.ipvs.connCount, drops };
  }

  /** The MAC the dataplane resolved for an IPv4 next hop, as text, or null (for status and tests). */
  neighbour(addr: IpAddr): string | null {
    const s = this.forwarder.neigh.lookup(addr.w0);
    if (s < 0) return null;
    const m = this.forwarder.neigh.macs;
    return [...m.subarray(s * 6, s * 6 + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    try { this.#addon.pollStop(this.#h); } catch { /* closed already */ }
    this.#addon.close(this.#h);
    return Promise.resolve();
  }
}

/** The factory src/dataplane/factory.ts loads for `--dataplane packet`. */
export async function createDataplane(opts: DataplaneOptions): Promise<Dataplane> {
  const settings = parsePacketSettings(opts.settings);
  const { addon, h } = openPacketSocket(settings.interface, {
    netns: settings.netns,
    slots: settings.slots,
    ring: settings.ring ? 1 : 0,
    // Every slot takes a GSO super-frame (up to 64 KiB) whole.
    slotSize: 65536 + 512,
    headroom: 128,
    // Room for the segments of a few GSO frames cut for a tunnel within one batch.
    scratch: 1024 * 1024,
  });
  const dp = new PacketDataplane(opts, settings, addon, h);
  dp.start();
  if (opts.ipvs.table.size > 0) {
    const svcs = opts.ipvs.table.services();
    const dests = svcs.flatMap((s) => s.dests());
    await dp.apply({ addedServices: svcs, removedServices: [], changedServices: [], addedDests: dests, removedDests: [], changedDests: [], timeoutsChanged: false });
  }
  return dp;
}
