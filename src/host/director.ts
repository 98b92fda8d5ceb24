/**
 * `tslvs director start|stop|status`: the seed's director script, done right.
 *
 * The seed's start puts the VIP on eth0:1, turns IP forwarding on, flushes iptables and the
 * IPVS table, and adds the services with ipvsadm. Here:
 * - The daemon (`tslvs run`) owns the table; start runs it in the background (detached, its
 *   output appended to `<state-dir>/director.log`), waits until its control socket answers, and
 *   on failure reports the line the daemon died with. Rules come from `--rules FILE` (ipvsadm
 *   save format) or `-f keepalived.conf`, or later from `tslvsadm` — no `ipvsadm -C`: the
 *   daemon restores its saved table, as a kernel director keeps its table until reboot.
 * - iptables is left alone (the seed's `iptables -F; iptables -Z` throws away every firewall
 *   rule of the host; nothing here needs that).
 * - With the packet dataplane (the default) the VIPs are NOT addresses of the director: the
 *   dataplane answers ARP (and IPv6 neighbour solicitations) for them itself, and the director's
 *   own stack must not answer its copy of each frame (docs/packet-dataplane.md). So start
 *   refuses a VIP that is a local address, turns IPv4 forwarding OFF on the interface
 *   (`net.ipv4.conf.IF.forwarding=0`: the kernel drops its copies silently instead of routing
 *   NAT replies out unrewritten — the opposite of the seed's `echo 1 > ip_forward`, which the
 *   kernel's IPVS needs because it rewrites inside the forwarding path), and for IPv6 VIPs adds
 *   `blackhole VIP/128` routes (without a route the IPv6 stack answers its copies with "no
 *   route") and turns `net.ipv6.conf.all.forwarding` off (IPv6 has no per-interface switch).
 * - With the proxy dataplane the VIPs are addresses of the interface, /32 or /128, as the
 *   seed's `ifconfig eth0:1 VIP netmask 255.255.255.255`; its `route add -host VIP` is not
 *   repeated (the address installs the local route that matters). Forwarding is not needed:
 *   the proxy terminates connections.
 * Every change is recorded, before it is made, in `<state-dir>/director.json` with the value
 * it replaced; stop stops the daemon and undoes exactly those. Status asks the daemon and
 * prints the table as `tslvs status` does (exit 0), or says it is stopped (exit 3).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from '../cli/control-client.js';
import { formatFacts, formatTable } from '../cli/tslvs/status.js';
import { defaultStateDir } from '../config/daemon-options.js';
import { parseIpvsadmRules } from '../config/ipvsadm-rules.js';
import { loadKeepalivedConfig } from '../config/keepalived/load.js';
import { servicesOf } from '../config/keepalived/to-ipvs.js';
import { defaultSocketPath, PROTOCOL_VERSION, type Response } from '../control/protocol.js';
import { parseAddr } from '../core/addr.js';
import { systemErrno, TslvsError } from '../errors.js';
import { flagHelp, type FlagSpec, parseArgs } from './args.js';
import { type Change, describe, type Host, Journal, type JournalState } from './changes.js';
import { Ip } from './ip.js';
import { canonicalAddr, type Check } from './realserver.js';
import { readStateFile, removeStateFile } from './state-file.js';
import { confKey, Sysctl } from './sysctl.js';

export const DIRECTOR_STATE_FILE = 'director.json';
export const DIRECTOR_LOG_FILE = 'director.log';
const FORMAT = 'tslvs-director';
/** How long start waits for the daemon's socket to answer (the packet dataplane opens a ring). */
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;

export type DirectorDataplane = 'packet' | 'proxy';

export const DIRECTOR_FLAGS: readonly FlagSpec[] = [
  { flags: ['--dataplane'], key: 'dataplane', value: 'packet|proxy', help: 'packet (default): DR/NAT/TUN at the frame level, VIPs not on the director; proxy: VIPs on the interface' },
  { flags: ['--interface'], key: 'interface', value: 'IF', help: 'the interface clients and real servers are on (default: the one of the default route)' },
  { flags: ['--vip'], key: 'vip', value: 'ADDR', help: 'a virtual IP to prepare the host for (repeat; the VIPs of --rules and -f are added)', repeat: true },
  { flags: ['--rules'], key: 'rules', value: 'FILE', help: 'ipvsadm -S -n rules for the daemon (tslvs run --rules)' },
  { flags: ['-f', '--use-file'], key: 'keepalivedConf', value: 'FILE', help: 'keepalived.conf for the daemon (tslvs run -f)' },
  { flags: ['--dataplane-opt'], key: 'dataplaneOpt', value: 'KEY=VALUE', help: 'passed to the daemon (tslvs run --dataplane-opt)', repeat: true },
  { flags: ['--http'], key: 'http', value: 'ADDR:PORT|off', help: 'passed to the daemon (tslvs run --http)' },
  { flags: ['--socket'], key: 'socket', value: 'PATH', help: 'control socket (env TSLVS_SOCKET)' },
  { flags: ['--state-dir'], key: 'stateDir', value: 'DIR', help: 'state, director.json and director.log (env TSLVS_STATE_DIR)' },
];
const STOP_FLAGS = DIRECTOR_FLAGS.filter((f) => f.key === 'socket' || f.key === 'stateDir');

export interface DirectorOptions {
  action: 'start' | 'stop' | 'status';
  dataplane: DirectorDataplane;
  interface: string | null;
  vips: readonly string[];
  rules: string | null;
  keepalivedConf: string | null;
  dataplaneOpts: readonly string[];
  http: string | null;
  socket: string;
  socketGiven: boolean;
  stateDir: string;
}

export interface DirectorState extends JournalState {
  format: typeof FORMAT;
  version: 1;
  startedAt: string;
  dataplane: DirectorDataplane;
  interface: string;
  vips: string[];
  socket: string;
  log: string;
  /** The daemon's pid, once spawned. */
  pid: number | null;
  /** The daemon's arguments after `tslvs`. */
  daemonArgs: string[];
}

export interface DirectorDeps {
  host?: Host;
  out?: (text: string) => void;
  now?: () => Date;
  /** The `tslvs` entry point the daemon is started from (default: this build's main.js). */
  mainJs?: string;
  env?: NodeJS.ProcessEnv;
}

export function parseDirectorArgs(argv: readonly string[], env: NodeJS.ProcessEnv, uid = process.getuid?.() ?? 0): DirectorOptions {
  const action = argv[0];
  const specs = action === 'start' ? DIRECTOR_FLAGS : STOP_FLAGS;
  const { values } = parseArgs(argv, specs, 'tslvs director', ['start', 'stop', 'status']);
  const one = (k: string): string | null => values.get(k)?.[0] ?? null;
  const dataplane = one('dataplane') ?? 'packet';
  if (dataplane !== 'packet' && dataplane !== 'proxy') {
    throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Invalid value "${dataplane}" for --dataplane`, 'expected packet or proxy (tslvs run also has none, a dry run)');
  }
  const ifname = one('interface');
  if (ifname !== null && (ifname.length > 15 || /[\s/]/.test(ifname) || ifname === '.' || ifname === '..')) {
    throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Invalid interface name "${ifname}"`, 'give a name as "ip link" shows it (at most 15 characters)');
  }
  const vips = [...new Set((values.get('vip') ?? []).map((v) => canonicalAddr(v, '--vip').text))];
  const socketGiven = values.has('socket');
  return Object.freeze({
    action: action as DirectorOptions['action'],
    dataplane,
    interface: ifname,
    vips,
    rules: one('rules') !== null ? resolve(one('rules')!) : null,
    keepalivedConf: one('keepalivedConf') !== null ? resolve(one('keepalivedConf')!) : null,
    dataplaneOpts: values.get('dataplaneOpt') ?? [],
    http: one('http'),
    socket: resolve(one('socket') ?? defaultSocketPath(env, uid)),
    socketGiven,
    stateDir: one('stateDir') !== null ? resolve(one('stateDir')!) : defaultStateDir(env, uid),
  });
}

export function directorUsage(): string[] {
  return [
    '  director start [options] | stop | status',
    '                       the director: host prepared for the dataplane, the daemon in the',
    '                       background (log in <state-dir>/director.log); stop undoes it all',
    ...flagHelp(DIRECTOR_FLAGS).map((l) => `    ${l.trimStart()}`),
  ];
}

function defaultMainJs(): string {
  return fileURLToPath(new URL('../cli/tslvs/main.js', import.meta.url));
}

/** `tslvs director ...`; returns the exit status. */
export async function directorMain(argv: readonly string[], env: NodeJS.ProcessEnv, deps: DirectorDeps = {}): Promise<number> {
  if (argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    (deps.out ?? ((t: string) => process.stdout.write(t)))(`Usage: tslvs${directorUsage().join('\n').slice(1)}\n`);
    return 0;
  }
  const opts = parseDirectorArgs(argv, env);
  const ctx: Ctx = {
    opts,
    host: deps.host ?? { ip: new Ip(), sysctl: new Sysctl() },
    out: deps.out ?? ((t: string) => process.stdout.write(t)),
    now: deps.now ?? (() => new Date()),
    mainJs: deps.mainJs ?? defaultMainJs(),
    env: deps.env ?? env,
    path: join(opts.stateDir, DIRECTOR_STATE_FILE),
  };
  switch (opts.action) {
    case 'start': return start(ctx);
    case 'stop': return stop(ctx);
    case 'status': return status(ctx);
  }
}

interface Ctx {
  opts: DirectorOptions;
  host: Host;
  out: (t: string) => void;
  now: () => Date;
  mainJs: string;
  env: NodeJS.ProcessEnv;
  path: string;
}

/** The daemon's pid if it answers on `socket`, else null. */
async function daemonPid(socket: string, timeoutMs = 2000): Promise<number | null> {
  try {
    const res = await request({ type: 'hello', version: PROTOCOL_VERSION }, { socketPath: socket, timeoutMs });
    return res.type === 'hello' ? res.pid : null;
  } catch {
    return null;
  }
}

/** Whether the process exists and is not a zombie (a killed daemon waits for its reaper). */
function isAlive(pid: number | null): boolean {
  if (pid === null || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (systemErrno(err) !== 'EPERM') return false;
  }
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Waits until a dead daemon's pid is reaped, so its lock in the state directory reads as stale. */
async function waitReaped(pid: number | null): Promise<void> {
  if (pid === null) return;
  for (let t = 0; t < 100; t++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
}

/** The VIPs of a rules file and of a keepalived.conf (fwmark services have none). */
function vipsOfConfig(opts: DirectorOptions): string[] {
  const out: string[] = [];
  if (opts.rules !== null) {
    let text: string;
    try {
      text = readFileSync(opts.rules, 'utf8');
    } catch (err) {
      throw new TslvsError('TSLVS_ERR_RULES_READ', `Cannot read rules file "${opts.rules}" (${systemErrno(err) ?? 'error'})`,
        'check the path and its permissions; "ipvsadm -S -n > FILE" writes one', { cause: err });
    }
    for (const e of parseIpvsadmRules(text, opts.rules)) {
      if (e.cmd.cmd === 'add-service' && e.cmd.svc.fwmark === 0) out.push(e.cmd.svc.addr);
    }
  }
  if (opts.keepalivedConf !== null) {
    // Only the VIPs are taken here; the daemon reads the file again and reports its errors.
    const r = loadKeepalivedConfig(opts.keepalivedConf);
    if (r.config === null) {
      throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Cannot read keepalived.conf "${opts.keepalivedConf}"`, 'check the path given with -f and its permissions');
    }
    for (const vs of r.config.virtualServers) {
      for (const s of servicesOf(r.config, vs)) if (s.svc.fwmark === 0) out.push(s.svc.addr);
    }
  }
  return out.map((a) => parseAddr(a)!.toString());
}

async function defaultInterface(host: Host): Promise<string> {
  for (const family of [4, 6] as const) {
    const r = (await host.ip.routes(family, { dst: 'default' })).find((x) => x.dev !== undefined);
    if (r?.dev) return r.dev;
  }
  throw new TslvsError('TSLVS_ERR_BAD_OPTION', 'No --interface given and this host has no default route to take it from',
    'name the interface clients and real servers are reached on, for example --interface eth0');
}

function sameAddr(a: string, b: string): boolean {
  const x = parseAddr(a);
  const y = parseAddr(b);
  return x !== null && y !== null && x.equals(y);
}

/** What start changes on this host, read from what is there now. */
async function plan(host: Host, dp: DirectorDataplane, ifname: string, vips: readonly string[]): Promise<Change[]> {
  const changes: Change[] = [];
  const addrs = await host.ip.addrs();
  if (dp === 'packet') {
    for (const vip of vips) {
      const local = addrs.find((a) => sameAddr(a.addr, vip));
      if (local) {
        throw new TslvsError('TSLVS_ERR_HOST_CONFLICT',
          `VIP ${vip} is an address of this director (on ${local.dev}): with the packet dataplane the VIPs must not be, the dataplane answers ARP for them itself`,
          `remove it (ip addr del ${local.addr}/${local.prefixLen} dev ${local.dev}), or use --dataplane proxy (docs/packet-dataplane.md has a third way, with tc)`);
      }
    }
    const key = confKey(4, ifname, 'forwarding');
    const fwd = await host.sysctl.get(key);
    if (fwd !== '0') changes.push({ kind: 'sysctl', key, prev: fwd, value: '0' });
    const v6 = vips.filter((v) => v.includes(':'));
    if (v6.length > 0) {
      const fwd6 = await host.sysctl.get('net.ipv6.conf.all.forwarding');
      if (fwd6 !== '0') changes.push({ kind: 'sysctl', key: 'net.ipv6.conf.all.forwarding', prev: fwd6, value: '0' });
      const holes = await host.ip.routes(6, { type: 'blackhole' });
      for (const vip of v6) {
        const dst = `${vip}/128`;
        if (!holes.some((r) => r.dst === dst)) changes.push({ kind: 'route-add', route: { family: 6, type: 'blackhole', dst }, vip });
      }
    }
  } else {
    for (const vip of vips) {
      if (addrs.some((a) => sameAddr(a.addr, vip))) continue;
      const family = vip.includes(':') ? 6 : 4;
      changes.push({ kind: 'addr-add', addr: { dev: ifname, family, addr: vip, prefixLen: family === 4 ? 32 : 128 }, vip });
    }
  }
  return changes;
}

async function start(ctx: Ctx): Promise<number> {
  const { opts, host, out } = ctx;
  const previous = await readStateFile<DirectorState>(ctx.path, FORMAT);
  if (previous !== null) {
    const pid = await daemonPid(previous.socket);
    if (pid !== null) {
      out(`tslvs director is already running (pid ${pid}, socket ${previous.socket}); "tslvs director stop" stops it\n`);
      return 0;
    }
    // A start whose daemon has died since: undo what it left, then start afresh.
    await stopDaemonProcess(previous);
    await waitReaped(previous.pid);
    const notes = await new Journal(host, ctx.path, previous).undoWhere(() => true);
    await removeStateFile(ctx.path);
    out(`tslvs director: the daemon of the previous start (pid ${previous.pid ?? '-'}) is gone; its host changes were undone\n`);
    for (const n of notes) out(`note: ${n}\n`);
  }
  const other = await daemonPid(opts.socket);
  if (other !== null) {
    throw new TslvsError('TSLVS_ERR_DAEMON_RUNNING', `A tslvs daemon (pid ${other}) already answers on "${opts.socket}", not started by "tslvs director start"`,
      'stop it first ("tslvs stop"), or give this director its own --socket and --state-dir');
  }

  // Everything the daemon will be given is read first: bad input changes nothing.
  const vips = [...new Set([...opts.vips, ...vipsOfConfig(opts)])];
  const ifname = opts.interface ?? await defaultInterface(host);
  const link = await host.ip.link(ifname);
  if (link === null) {
    throw new TslvsError('TSLVS_ERR_HOST_INTERFACE', `No network interface "${ifname}" (ENODEV)`, 'name an existing interface with --interface ("ip link" lists them)');
  }
  if (!link.up) {
    throw new TslvsError('TSLVS_ERR_HOST_INTERFACE', `Interface "${ifname}" is down`, `bring it up first (ip link set ${ifname} up)`);
  }
  const changes = await plan(host, opts.dataplane, ifname, vips);

  const log = join(opts.stateDir, DIRECTOR_LOG_FILE);
  const daemonArgs = ['run', '--dataplane', opts.dataplane, '--socket', opts.socket, '--state-dir', opts.stateDir];
  if (opts.dataplane === 'packet') daemonArgs.push('--interface', ifname);
  for (const o of opts.dataplaneOpts) daemonArgs.push('--dataplane-opt', o);
  if (opts.rules !== null) daemonArgs.push('--rules', opts.rules);
  if (opts.keepalivedConf !== null) daemonArgs.push('-f', opts.keepalivedConf);
  if (opts.http !== null) daemonArgs.push('--http', opts.http);

  const state: DirectorState = {
    format: FORMAT, version: 1, startedAt: ctx.now().toISOString(), dataplane: opts.dataplane, interface: ifname, vips,
    socket: opts.socket, log, pid: null, daemonArgs, changes: [],
  };
  const journal = new Journal(host, ctx.path, state);
  const undo = async () => {
    await journal.rollback().catch(() => undefined);
    await removeStateFile(ctx.path).catch(() => undefined);
  };
  try {
    for (const c of changes) await journal.make(c);
    const { pid, logOffset, exited } = spawnDaemon(ctx, daemonArgs, log);
    state.pid = pid;
    await journal.save();
    await waitReady(ctx, state, logOffset, exited);
  } catch (err) {
    await undo();
    throw err;
  }
  out(`tslvs director started: daemon pid ${state.pid}, ${opts.dataplane} dataplane on ${ifname}` +
    `${vips.length ? `, VIP ${vips.join(', ')}` : ''}\n`);
  for (const c of changes) out(`  ${describe(c)}\n`);
  out(`socket ${opts.socket}; log ${log}; state ${ctx.path}\n`);
  return 0;
}

interface Spawned {
  pid: number;
  logOffset: number;
  exited: Promise<number | string>;
}

/** The daemon, detached into its own session, its output appended to the log. */
function spawnDaemon(ctx: Ctx, args: readonly string[], log: string): Spawned {
  let fd: number;
  try {
    mkdirSync(dirname(log), { recursive: true, mode: 0o755 });
    fd = openSync(log, 'a', 0o640);
  } catch (err) {
    throw new TslvsError('TSLVS_ERR_HOST_STATE', `Cannot open the daemon's log "${log}" (${systemErrno(err) ?? 'error'})`,
      'run as root (default /var/lib/tslvs), or choose a writable directory with --state-dir DIR or TSLVS_STATE_DIR', { cause: err });
  }
  try {
    writeSync(fd, `${START_MARK}${ctx.now().toISOString()}: tslvs ${args.join(' ')}\n`);
    const logOffset = statSync(log).size;
    const child = spawn(process.execPath, [ctx.mainJs, ...args], { detached: true, stdio: ['ignore', fd, fd], env: ctx.env });
    const exited = new Promise<number | string>((res) => {
      child.once('exit', (code, sig) => res(code ?? sig ?? 'unknown'));
      child.once('error', (err) => res(systemErrno(err) ?? err.message));
    });
    child.unref();
    if (child.pid === undefined) {
      throw new TslvsError('TSLVS_ERR_DAEMON_START', `Cannot start "${process.execPath} ${ctx.mainJs}"`, 'check that node and the tslvs build are installed and readable');
    }
    return { pid: child.pid, logOffset, exited };
  } finally {
    closeSync(fd);
  }
}

/** The line a failed daemon ended with (its error line), read from this start's part of the log. */
export function failureLine(logText: string): string {
  const lines = logText.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  for (let i = lines.length - 1; i >= 0; i--) if (/\(TSLVS_ERR_[A-Z_]+\)$/.test(lines[i])) return lines[i];
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i].startsWith('tslvs:') || /Error\b/.test(lines[i])) return lines[i];
  return lines.length ? lines[lines.length - 1] : '(the log is empty)';
}

function readLogFrom(log: string, offset: number): string {
  try {
    return readFileSync(log, 'utf8').slice(offset);
  } catch {
    return '';
  }
}

const START_MARK = '--- tslvs director start at ';

/** What the daemon of the last start wrote (the log is appended to by every start). */
function lastRunLog(log: string): string {
  const text = readLogFrom(log, 0);
  const at = text.lastIndexOf(START_MARK);
  if (at < 0) return text;
  const nl = text.indexOf('\n', at);
  return nl < 0 ? '' : text.slice(nl + 1);
}

async function waitReady(ctx: Ctx, state: DirectorState, logOffset: number, exited: Promise<number | string>): Promise<void> {
  let exit: number | string | null = null;
  void exited.then((e) => { exit = e; });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exit !== null) {
      const line = failureLine(readLogFrom(state.log, logOffset));
      throw new TslvsError('TSLVS_ERR_DAEMON_START', `The daemon exited during start (${typeof exit === 'number' ? `status ${exit}` : exit}): ${line}`,
        `fix what it says and start again; the host changes were undone, the whole log is "${state.log}"`);
    }
    let res: Response | null = null;
    try {
      res = await request({ type: 'status' }, { socketPath: state.socket, timeoutMs: 2000 });
    } catch {
      res = null;
    }
    if (res?.type === 'status') return;
    if (Date.now() > deadline) {
      await stopDaemonProcess(state);
      throw new TslvsError('TSLVS_ERR_DAEMON_START', `The daemon (pid ${state.pid}) did not answer on "${state.socket}" within ${START_TIMEOUT_MS / 1000} s; it was stopped`,
        `read its log "${state.log}" for the reason`);
    }
    await sleep(50);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether `pid` is the daemon this state started (its command line names our socket). */
function isOurDaemon(state: DirectorState): boolean {
  if (!isAlive(state.pid)) return false;
  try {
    const cmd = readFileSync(`/proc/${state.pid}/cmdline`, 'utf8').split('\0');
    return cmd.includes('run') && cmd.includes(state.socket);
  } catch {
    return false;
  }
}

/** Ends a daemon that does not answer: SIGTERM, then SIGKILL after 10 s. */
async function stopDaemonProcess(state: DirectorState): Promise<void> {
  if (!isOurDaemon(state)) return;
  try { process.kill(state.pid!, 'SIGTERM'); } catch { return; }
  for (let t = 0; t < 200 && isAlive(state.pid); t++) await sleep(50);
  if (isAlive(state.pid)) {
    try { process.kill(state.pid!, 'SIGKILL'); } catch { /* gone */ }
    for (let t = 0; t < 100 && isAlive(state.pid); t++) await sleep(20);
  }
}

async function stop(ctx: Ctx): Promise<number> {
  const { host, out } = ctx;
  const state = await readStateFile<DirectorState>(ctx.path, FORMAT);
  if (state === null) {
    const pid = await daemonPid(ctx.opts.socket);
    out(`tslvs director is not started (no "${ctx.path}"): nothing to undo` +
      `${pid !== null ? `; a daemon started otherwise (pid ${pid}) answers on "${ctx.opts.socket}": "tslvs stop" stops it` : ''}\n`);
    return 0;
  }
  const pid = await daemonPid(state.socket);
  if (pid !== null) {
    const res = await request({ type: 'shutdown' }, { socketPath: state.socket, timeoutMs: 10_000 });
    if (res.type === 'error') throw new TslvsError('TSLVS_ERR_PROTOCOL', `The daemon refused to stop: ${res.error.message ?? res.error.errno}`, `stop it with "kill -TERM ${pid}"`);
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while ((await daemonPid(state.socket, 1000)) !== null || isAlive(pid)) {
      if (Date.now() > deadline) {
        throw new TslvsError('TSLVS_ERR_PROTOCOL', `The daemon (pid ${pid}) did not stop within ${STOP_TIMEOUT_MS / 1000} s`,
          `read its log "${state.log}"; "kill -KILL ${pid}" ends it, then run "tslvs director stop" again to undo the host changes`);
      }
      await sleep(50);
    }
  } else {
    await stopDaemonProcess(state);
  }
  const undone = state.changes.length;
  const notes = await new Journal(host, ctx.path, state).undoWhere(() => true);
  await removeStateFile(ctx.path);
  out(`tslvs director stopped (daemon pid ${state.pid ?? '-'}; ${undone} host change(s) undone)\n`);
  for (const n of notes) out(`note: ${n}\n`);
  return 0;
}

/** Whether the host is still as start left it. */
export async function directorChecks(host: Host, state: DirectorState): Promise<Check[]> {
  const checks: Check[] = [];
  const addrs = await host.ip.addrs();
  if (state.dataplane === 'packet') {
    const fwd = await host.sysctl.getIfExists(confKey(4, state.interface, 'forwarding'));
    checks.push(fwd === '0' ? { ok: true, text: `IPv4 forwarding is off on ${state.interface}` }
      : { ok: false, text: `IPv4 forwarding is ${fwd === null ? 'unknown (no interface)' : 'on'} on ${state.interface}: the kernel would also route NAT replies, unrewritten (sysctl -w ${confKey(4, state.interface, 'forwarding')}=0)` });
    for (const vip of state.vips) {
      const local = addrs.find((a) => sameAddr(a.addr, vip));
      if (local) checks.push({ ok: false, text: `VIP ${vip} is an address of ${local.dev} now: the director's stack answers its copies` });
    }
    const v6 = state.vips.filter((v) => v.includes(':'));
    if (v6.length) {
      const holes = await host.ip.routes(6, { type: 'blackhole' });
      for (const vip of v6) {
        if (!holes.some((r) => r.dst === `${vip}/128`)) checks.push({ ok: false, text: `no blackhole route for ${vip}: the director answers its copies with "no route"` });
      }
    }
  } else {
    for (const vip of state.vips) {
      const ok = addrs.some((a) => sameAddr(a.addr, vip));
      checks.push(ok ? { ok, text: `VIP ${vip} is an address of this director` } : { ok, text: `VIP ${vip} is not an address of this director: the proxy cannot listen on it` });
    }
  }
  return checks;
}

async function status(ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const state = await readStateFile<DirectorState>(ctx.path, FORMAT);
  const socket = ctx.opts.socketGiven || state === null ? ctx.opts.socket : state.socket;
  let st: Response;
  let table: Response;
  try {
    st = await request({ type: 'status' }, { socketPath: socket, timeoutMs: 10_000 });
    table = await request({ type: 'get-table' }, { socketPath: socket, timeoutMs: 10_000 });
  } catch (err) {
    if (!(err instanceof TslvsError) || (err.code !== 'TSLVS_ERR_NO_DAEMON' && err.code !== 'TSLVS_ERR_PROTOCOL')) throw err;
    if (state === null) {
      out('tslvs director is stopped\n');
    } else {
      const run = lastRunLog(state.log);
      const died = /\(TSLVS_ERR_[A-Z_]+\)\s*$/.test(run.trim()) ? `; it ended with: ${failureLine(run)}` : ' (its log shows no error: stopped or killed from outside?)';
      out(`tslvs director is stopped: its daemon (pid ${state.pid ?? '-'}) does not answer on "${socket}"${died}\n`);
      out(`"tslvs director stop" undoes the host changes; the log is "${state.log}"\n`);
    }
    return 3;
  }
  if (st.type !== 'status' || table.type !== 'table') {
    throw new TslvsError('TSLVS_ERR_PROTOCOL', 'Unexpected answer to "status"', 'use a CLI of the same version as the daemon');
  }
  out(formatFacts(st.status));
  if (state !== null) {
    for (const c of await directorChecks(ctx.host, state)) if (!c.ok) out(`warning: ${c.text}\n`);
  } else {
    out(`note: this daemon was not started by "tslvs director start" (no "${ctx.path}")\n`);
  }
  out(formatTable(table.table));
  return 0;
}
