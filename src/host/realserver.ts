/**
 * `tslvs realserver start|stop|status`: the seed's LVS-DR real-server script, done right.
 *
 * What start does, and why each step (the seed's ifconfig/route lines in brackets):
 * - each VIP on the loopback interface as a host address, /32 or /128 [`ifconfig lo:0 VIP
 *   netmask 255.255.255.255 up`]: the real server must accept packets to the VIP, which the
 *   director forwards unchanged (DR). The seed's `route add -host VIP dev lo:0` is not
 *   repeated: adding the address already installs `local VIP dev lo` in the local table, which
 *   is the route that delivers those packets; a main-table route adds nothing. Nor is
 *   `ifconfig lo down; up`, which would drop every connection over loopback.
 * - for IPv4 VIPs, arp_ignore=1 and arp_announce=2 on "all" and on each interface [the four
 *   echo lines]: the real server must never answer ARP for the VIP (arp_ignore=1: answer only
 *   for addresses of the interface the request came in on) nor use it as the sender of its own
 *   requests (arp_announce=2), or clients would bypass the director. The kernel uses the
 *   larger of "all" and the interface's value for both, so "all" alone would do; the
 *   interfaces are set as well so the intent shows on each. IPv6 needs nothing: Linux answers
 *   neighbour solicitations only for addresses of the interface they arrive on.
 * - with --gateway, the default route via that address (a NAT real server must send its
 *   replies back through the director); the default routes it replaces are kept and put back.
 *
 * Every change is recorded with the value it replaced in `<state-dir>/realserver.json`
 * (atomically, before the change is made); stop undoes exactly those, newest first, and does
 * not undo what was already there before start. Status checks the live system (addresses,
 * effective ARP settings, routes), not the state file: exit 0 when everything is in place, 3
 * when not. A failed start undoes what it did.
 */
import { defaultStateDir } from '../config/daemon-options.js';
import { AF_INET, parseAddr } from '../core/addr.js';
import { TslvsError } from '../errors.js';
import { flagHelp, type FlagSpec, parseArgs } from './args.js';
import { type Change, describe, type Host, Journal, type JournalState } from './changes.js';
import { type AddrInfo, Ip, type LinkInfo, type RouteSpec } from './ip.js';
import { readStateFile, removeStateFile } from './state-file.js';
import { confKey, Sysctl } from './sysctl.js';
import { join, resolve } from 'node:path';

export const REALSERVER_STATE_FILE = 'realserver.json';
const FORMAT = 'tslvs-realserver';

export const REALSERVER_FLAGS: readonly FlagSpec[] = [
  { flags: ['--vip'], key: 'vip', value: 'ADDR', help: 'a virtual IP to accept on lo (repeat for several; IPv4 or IPv6)', repeat: true },
  { flags: ['--interface'], key: 'interface', value: 'IF', help: 'set the ARP parameters on this interface (repeat; default: every interface but lo)', repeat: true },
  { flags: ['--gateway'], key: 'gateway', value: 'ADDR', help: 'default route via ADDR (NAT real servers: the director\'s address)' },
  { flags: ['--state-dir'], key: 'stateDir', value: 'DIR', help: 'where realserver.json is kept (env TSLVS_STATE_DIR; default /var/lib/tslvs as root)' },
];

export interface RealserverOptions {
  action: 'start' | 'stop' | 'status';
  vips: readonly string[];
  interfaces: readonly string[] | null;
  gateway: string | null;
  stateDir: string;
}

export interface RealserverState extends JournalState {
  format: typeof FORMAT;
  version: 1;
  startedAt: string;
  updatedAt: string;
  vips: string[];
  /** The interfaces whose ARP parameters start set. */
  interfaces: string[];
  gateway: string | null;
}

export interface Deps {
  host?: Host;
  out?: (text: string) => void;
  now?: () => Date;
}

/** The canonical text of an address, or a BAD_OPTION error naming the flag. */
export function canonicalAddr(s: string, flag: string): { text: string; family: 4 | 6 } {
  const a = parseAddr(s);
  if (a === null) throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Invalid address "${s}" for ${flag}`, `give a numeric IPv4 or IPv6 address, for example ${flag} 203.0.113.10`);
  const text = a.toString();
  const family = a.af === AF_INET ? 4 : 6;
  const w0 = a.w0;
  const unusable = family === 4 ? (w0 === 0 || w0 >>> 24 === 127 || w0 >>> 28 === 14 || w0 >>> 28 === 15)
    : (a.words().every((w) => w === 0) || text === '::1' || w0 >>> 24 === 0xff);
  if (unusable) throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Address "${s}" for ${flag} is not a unicast address`, 'give the service\'s unicast address (not 0.0.0.0, loopback, multicast or broadcast)');
  return { text, family };
}

export function parseRealserverArgs(argv: readonly string[], env: NodeJS.ProcessEnv, uid = process.getuid?.() ?? 0): RealserverOptions {
  const { action, values } = parseArgs(argv, REALSERVER_FLAGS, 'tslvs realserver', ['start', 'stop', 'status']);
  const vips = [...new Set((values.get('vip') ?? []).map((v) => canonicalAddr(v, '--vip').text))];
  const gateway = values.has('gateway') ? canonicalAddr(values.get('gateway')![0], '--gateway').text : null;
  const interfaces = values.get('interface') ?? null;
  for (const i of interfaces ?? []) {
    if (i.length > 15 || /[\s/]/.test(i) || i === '.' || i === '..') throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Invalid interface name "${i}"`, 'give a name as "ip link" shows it (at most 15 characters)');
  }
  if (action === 'start' && vips.length === 0 && gateway === null) {
    throw new TslvsError('TSLVS_ERR_BAD_OPTION', '"tslvs realserver start" needs --vip ADDR (or --gateway ADDR)', 'name the virtual IP the director forwards to this server, for example --vip 203.0.113.10');
  }
  const stateDir = values.has('stateDir') ? resolve(values.get('stateDir')![0]) : defaultStateDir(env, uid);
  return Object.freeze({ action: action as RealserverOptions['action'], vips, interfaces, gateway, stateDir });
}

export function realserverUsage(): string[] {
  return [
    '  realserver start|stop|status --vip ADDR [--vip ADDR...] [options]',
    '                       a DR real server: VIP on lo, ARP kept quiet; stop undoes it',
    ...flagHelp(REALSERVER_FLAGS).map((l) => `    ${l.trimStart()}`),
  ];
}

function defaultHost(): Host {
  return { ip: new Ip(), sysctl: new Sysctl() };
}

const ARP_PARAMS: readonly [string, string][] = [['arp_ignore', '1'], ['arp_announce', '2']];

/** `tslvs realserver ...`; returns the exit status. */
export async function realserverMain(argv: readonly string[], env: NodeJS.ProcessEnv, deps: Deps = {}): Promise<number> {
  const out = deps.out ?? ((t: string) => process.stdout.write(t));
  if (argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    out(`Usage: tslvs${realserverUsage().join('\n').slice(1)}\n`);
    return 0;
  }
  const opts = parseRealserverArgs(argv, env);
  const host = deps.host ?? defaultHost();
  const now = deps.now ?? (() => new Date());
  const path = join(opts.stateDir, REALSERVER_STATE_FILE);
  switch (opts.action) {
    case 'start': return start(opts, host, path, out, now);
    case 'stop': return stop(opts, host, path, out);
    case 'status': return status(opts, host, path, out);
  }
}

function loopbackOf(links: readonly LinkInfo[]): string {
  return links.find((l) => l.loopback)?.name ?? 'lo';
}

function sameAddr(a: string, b: string): boolean {
  const x = parseAddr(a);
  const y = parseAddr(b);
  return x !== null && y !== null && x.equals(y);
}

async function start(opts: RealserverOptions, host: Host, path: string, out: (t: string) => void, now: () => Date): Promise<number> {
  const previous = await readStateFile<RealserverState>(path, FORMAT);
  const links = await host.ip.links();
  const lo = loopbackOf(links);
  for (const i of opts.interfaces ?? []) {
    if (!links.some((l) => l.name === i)) {
      throw new TslvsError('TSLVS_ERR_HOST_INTERFACE', `No interface "${i}" for --interface (ENODEV)`, 'name an existing interface ("ip link" lists them), or leave --interface out for all of them');
    }
  }
  const interfaces = opts.interfaces ? [...opts.interfaces] : links.filter((l) => !l.loopback).map((l) => l.name);
  const addrs = await host.ip.addrs();

  // Plan everything from what is there now, before changing anything.
  const plan: Change[] = [];
  for (const vip of opts.vips) {
    const elsewhere = addrs.find((a) => a.dev !== lo && sameAddr(a.addr, vip));
    if (elsewhere) {
      throw new TslvsError('TSLVS_ERR_HOST_CONFLICT', `VIP ${vip} is an address of "${elsewhere.dev}" on this real server: it would answer ARP for it and take the clients from the director`,
        `remove it there (ip addr del ${elsewhere.addr}/${elsewhere.prefixLen} dev ${elsewhere.dev}); start puts it on ${lo}`);
    }
    if (addrs.some((a) => a.dev === lo && sameAddr(a.addr, vip))) continue;
    const family = canonicalAddr(vip, '--vip').family;
    plan.push({ kind: 'addr-add', addr: { dev: lo, family, addr: vip, prefixLen: family === 4 ? 32 : 128 }, vip });
  }
  const allVips = [...new Set([...(previous?.vips ?? []), ...opts.vips])];
  if (allVips.some((v) => canonicalAddr(v, '--vip').family === 4)) {
    for (const where of ['all', ...interfaces]) {
      for (const [name, value] of ARP_PARAMS) {
        const key = confKey(4, where, name);
        const cur = await host.sysctl.get(key);
        if (cur !== value && !plan.some((c) => c.kind === 'sysctl' && c.key === key)) plan.push({ kind: 'sysctl', key, prev: cur, value });
      }
    }
  }
  if (opts.gateway !== null) plan.push(...await gatewayPlan(host, opts.gateway));

  const state: RealserverState = previous ?? {
    format: FORMAT, version: 1, startedAt: now().toISOString(), updatedAt: now().toISOString(), vips: [], interfaces: [], gateway: null, changes: [],
  };
  const journal = new Journal(host, path, state);
  try {
    for (const c of plan) await journal.make(c);
    state.vips = allVips;
    state.interfaces = [...new Set([...state.interfaces, ...(allVips.some((v) => !v.includes(':')) ? interfaces : [])])];
    if (opts.gateway !== null) state.gateway = opts.gateway;
    state.updatedAt = now().toISOString();
    await journal.save();
  } catch (err) {
    await journal.rollback().catch(() => undefined);
    if (previous === null) await removeStateFile(path).catch(() => undefined);
    throw err;
  }
  const made = plan.map(describe);
  out(`tslvs realserver started: VIP ${allVips.join(', ') || '-'} on ${lo}${state.gateway ? `, default route via ${state.gateway}` : ''}` +
    `${made.length === 0 ? ' (everything was in place already)' : ''}\n`);
  for (const m of made) out(`  ${m}\n`);
  out(`state: ${path}\n`);
  return 0;
}

/** Default routes via `gateway`: the ones there now removed (and kept), then ours. */
async function gatewayPlan(host: Host, gateway: string): Promise<Change[]> {
  const family = canonicalAddr(gateway, '--gateway').family;
  const current = await host.ip.routes(family, { dst: 'default' });
  if (current.length === 1 && current[0].via !== undefined && sameAddr(current[0].via, gateway) && current[0].metric === undefined) return [];
  const ours: RouteSpec = { family, dst: 'default', via: gateway };
  return [...current.map((route): Change => ({ kind: 'route-del', route })), { kind: 'route-add', route: ours }];
}

async function stop(opts: RealserverOptions, host: Host, path: string, out: (t: string) => void): Promise<number> {
  const state = await readStateFile<RealserverState>(path, FORMAT);
  if (state === null) {
    out(`tslvs realserver is not started (no "${path}"): nothing to undo\n`);
    return 0;
  }
  const journal = new Journal(host, path, state);
  const only = opts.vips.filter((v) => state.vips.includes(v));
  const remaining = state.vips.filter((v) => !only.includes(v));
  if (opts.vips.length > 0 && remaining.length > 0) {
    // Only some VIPs: take their addresses away, keep the rest running.
    const notes = await journal.undoWhere((c) => c.vip !== undefined && only.includes(c.vip));
    state.vips = remaining;
    await journal.save();
    out(`tslvs realserver: removed VIP ${only.join(', ') || '(none of them was started)'}; still serving ${remaining.join(', ')}\n`);
    for (const n of notes) out(`note: ${n}\n`);
    return 0;
  }
  const undone = state.changes.length;
  const notes = await journal.undoWhere(() => true);
  await removeStateFile(path);
  out(`tslvs realserver stopped: ${undone} change(s) undone${state.vips.length ? ` (VIP ${state.vips.join(', ')})` : ''}\n`);
  for (const n of notes) out(`note: ${n}\n`);
  return 0;
}

/** One fact status checked: true when it is as a running real server needs. */
export interface Check {
  ok: boolean;
  text: string;
}

/** The live checks for these VIPs (and gateway): what `status` prints. */
export async function realserverChecks(host: Host, vips: readonly string[], gateway: string | null): Promise<Check[]> {
  const checks: Check[] = [];
  const links = await host.ip.links();
  const lo = loopbackOf(links);
  const addrs: AddrInfo[] = await host.ip.addrs();
  for (const vip of vips) {
    const on = addrs.find((a) => a.dev === lo && sameAddr(a.addr, vip));
    checks.push(on ? { ok: true, text: `VIP ${vip} is on ${lo}` } : { ok: false, text: `VIP ${vip} is not on ${lo}` });
    const elsewhere = addrs.find((a) => a.dev !== lo && sameAddr(a.addr, vip));
    if (elsewhere) checks.push({ ok: false, text: `VIP ${vip} is also on ${elsewhere.dev}: this server answers ARP for it` });
  }
  if (vips.some((v) => !v.includes(':'))) {
    const all = Object.fromEntries(await Promise.all(ARP_PARAMS.map(async ([n]) => [n, Number(await host.sysctl.get(confKey(4, 'all', n)))] as const)));
    const quiet: string[] = [];
    for (const l of links.filter((x) => !x.loopback)) {
      const ignore = Math.max(all.arp_ignore, Number(await host.sysctl.getIfExists(confKey(4, l.name, 'arp_ignore')) ?? 0));
      const announce = Math.max(all.arp_announce, Number(await host.sysctl.getIfExists(confKey(4, l.name, 'arp_announce')) ?? 0));
      // arpignore in net/ipv4/arp.c: 1, 2, 3 and 8 keep quiet about addresses on lo; 0 and the
      // reserved 4-7 answer. arp_announce: only 2 avoids the VIP as sender (other values act as 0).
      const ignoreOk = [1, 2, 3, 8].includes(ignore);
      if (ignoreOk && announce === 2) quiet.push(l.name);
      else checks.push({ ok: false, text: `${l.name} would ${ignoreOk ? 'announce the VIP in its ARP requests' : 'answer ARP for the VIP'}: arp_ignore ${ignore}, arp_announce ${announce} (the larger of all and ${l.name}; need 1 and 2)` });
    }
    if (quiet.length) checks.push({ ok: true, text: `ARP kept quiet about the VIP on ${quiet.join(', ')} (arp_ignore 1, arp_announce 2)` });
  }
  if (gateway !== null) {
    const family = gateway.includes(':') ? 6 : 4;
    const defaults = await host.ip.routes(family, { dst: 'default' });
    const ok = defaults.some((r) => r.via !== undefined && sameAddr(r.via, gateway));
    checks.push(ok ? { ok: true, text: `default route via ${gateway}` } : { ok: false, text: `no default route via ${gateway}` });
  }
  return checks;
}

async function status(opts: RealserverOptions, host: Host, path: string, out: (t: string) => void): Promise<number> {
  const state = await readStateFile<RealserverState>(path, FORMAT);
  const vips = [...new Set([...(state?.vips ?? []), ...opts.vips])];
  const gateway = opts.gateway ?? state?.gateway ?? null;
  if (vips.length === 0 && gateway === null) {
    out(`tslvs realserver is stopped (no "${path}"; give --vip ADDR to check a VIP configured otherwise)\n`);
    return 3;
  }
  const checks = await realserverChecks(host, vips, gateway);
  const running = checks.every((c) => c.ok);
  out(running ? 'tslvs realserver is running\n'
    : state ? 'tslvs realserver is not running as started (something was undone since; "tslvs realserver start" again puts it back)\n'
      : 'tslvs realserver is stopped\n');
  for (const c of checks) out(`  ${c.ok ? 'ok  ' : 'MISS'} ${c.text}\n`);
  return running ? 0 : 3;
}
