/**
 * The options of `tslvs run` and of the client subcommands, parsed once into a frozen, typed
 * value (STYLE rule 7): defaults in one table, then the environment, then argv. The first
 * unknown flag or bad value throws TslvsError TSLVS_ERR_BAD_OPTION naming the fix; nothing
 * partial is ever returned. Paths come back absolute, so logs and errors show where things are.
 */
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { defaultSocketPath } from '../control/protocol.js';
import type { IpvsSysctls } from '../core/ipvs.js';
import { TslvsError } from '../errors.js';

export type DataplaneChoice = 'proxy' | 'packet' | 'none';
export const DATAPLANE_CHOICES: readonly DataplaneChoice[] = ['proxy', 'packet', 'none'];

export interface DaemonOptions {
  dataplane: DataplaneChoice;
  /** Control socket path. */
  socket: string;
  /** Directory of the saved table. */
  stateDir: string;
  /** ipvsadm save-format rules applied at start and on every reload, or null. */
  rules: string | null;
  /** HTTP listener (/metrics, dashboard, API) as ADDR:PORT; null: none (--http off). */
  http: string | null;
  /** Whether --http was given: then failing to bind stops the start; the default only logs. */
  httpExplicit: boolean;
  /** Token that allows changes over HTTP; null: <state-dir>/http-token (made at first start). */
  httpToken: string | null;
  /** keepalived.conf (-f): its virtual servers, health-checked; null: none. */
  keepalivedConf: string | null;
  /**
   * Settings handed to the dataplane as they are (DataplaneOptions.settings), from --interface
   * and --dataplane-opt KEY=VALUE; each dataplane validates its own and refuses unknown keys.
   */
  dataplaneSettings: Readonly<Record<string, string | number | boolean>>;
  /** How often the core's timers run (Ipvs.tick); the estimator keeps its own 2 s cadence. */
  tickMs: number;
  /** Most connection entries (templates included); a new connection beyond it is dropped. */
  maxConns: number;
  /** /proc/sys/net/ipv4/vs values given with --sysctl NAME=VALUE, set before the first tick. */
  sysctls: Readonly<Partial<IpvsSysctls>>;
}

export interface ClientOptions {
  socket: string;
}

/** Every default in one place; socket and state dir depend on the user and are computed. */
export const DEFAULTS = Object.freeze({
  dataplane: 'proxy' as DataplaneChoice,
  rules: null,
  http: '127.0.0.1:9180',
  httpToken: null,
  keepalivedConf: null,
  tickMs: 1000,
  /** The core's DEFAULT_MAX_CONNS (4 Mi entries). */
  maxConns: 1 << 22,
  rootStateDir: '/var/lib/tslvs',
});

/**
 * --sysctl names, as /proc/sys/net/ipv4/vs/ spells them (Documentation/networking/ipvs-sysctl.rst),
 * and the Ipvs sysctl each sets. The defense modes take 0..3 as the kernel's proc_do_defense_mode.
 */
export const IPVS_SYSCTL_NAMES: Readonly<Record<string, keyof IpvsSysctls>> = Object.freeze({
  am_droprate: 'amDroprate',
  amemthresh: 'amemthresh',
  cache_bypass: 'cacheBypass',
  conn_reuse_mode: 'connReuseMode',
  drop_entry: 'dropEntry',
  drop_packet: 'dropPacket',
  expire_nodest_conn: 'expireNodestConn',
  expire_quiescent_template: 'expireQuiescentTemplate',
  lblc_expiration: 'lblcExpirationS',
  lblcr_expiration: 'lblcrExpirationS',
  nat_icmp_send: 'natIcmpSend',
  run_estimation: 'runEstimation',
  schedule_icmp: 'schedule_icmp',
  secure_tcp: 'secureTcp',
  sloppy_sctp: 'sloppySctp',
  sloppy_tcp: 'sloppyTcp',
});
const DEFENSE_MODES = new Set(['drop_entry', 'drop_packet', 'secure_tcp']);

interface OptionSpec {
  flags: readonly string[];
  key: 'dataplane' | 'socket' | 'stateDir' | 'rules' | 'http' | 'httpToken' | 'keepalivedConf' | 'interface' | 'dataplaneOpt' | 'maxConns' | 'sysctl';
  value: string;
  help: string;
  /** May be given more than once (each value is kept). */
  repeat?: boolean;
}

/** The options of `tslvs run`, in the order `tslvs help` shows them. */
export const RUN_OPTIONS: readonly OptionSpec[] = [
  { flags: ['--dataplane'], key: 'dataplane', value: 'proxy|packet|none', help: `how traffic is forwarded (default ${DEFAULTS.dataplane}; none: dry run, forwards nothing)` },
  { flags: ['--socket'], key: 'socket', value: 'PATH', help: 'control socket (env TSLVS_SOCKET; default /run/tslvs/tslvs.sock as root, else $XDG_RUNTIME_DIR/tslvs/tslvs.sock)' },
  { flags: ['--state-dir'], key: 'stateDir', value: 'DIR', help: 'where the table is saved (env TSLVS_STATE_DIR; default /var/lib/tslvs as root, else $XDG_STATE_HOME/tslvs)' },
  { flags: ['--rules'], key: 'rules', value: 'FILE', help: 'ipvsadm -S -n rules applied at start and on every reload (SIGHUP, tslvs reload)' },
  { flags: ['--http'], key: 'http', value: 'ADDR:PORT|off', help: `/metrics, dashboard and API (default ${DEFAULTS.http}; port 0 picks one; off: none)` },
  { flags: ['--http-token'], key: 'httpToken', value: 'TOKEN', help: 'token that allows changes over HTTP (default: the file <state-dir>/http-token, made at first start)' },
  { flags: ['-f', '--use-file'], key: 'keepalivedConf', value: 'FILE', help: 'keepalived.conf: its virtual servers, health-checked (reloaded with SIGHUP, tslvs reload)' },
  { flags: ['--interface'], key: 'interface', value: 'IF', help: 'the interface the packet dataplane forwards on (its required setting)' },
  { flags: ['--dataplane-opt'], key: 'dataplaneOpt', value: 'KEY=VALUE', repeat: true,
    help: 'a dataplane setting, repeatable (proxy: connectTimeoutMs, retries, ...; packet: netns, localAddr, gateway, ...)' },
  { flags: ['--max-conns'], key: 'maxConns', value: 'N', help: `most connection entries; new connections beyond are dropped (default ${DEFAULTS.maxConns})` },
  { flags: ['--sysctl'], key: 'sysctl', value: 'NAME=VALUE', repeat: true,
    help: 'an IPVS sysctl as /proc/sys/net/ipv4/vs/NAME, repeatable (drop_entry=1, amemthresh=..., expire_nodest_conn=1, ...)' },
];

/** "NAME=VALUE" of --sysctl: a known name and a non-negative integer (0..3 for the defense modes). */
export function parseSysctlOpt(arg: string): [keyof IpvsSysctls, number] {
  const eq = arg.indexOf('=');
  const name = eq > 0 ? arg.slice(0, eq) : arg;
  const key = Object.hasOwn(IPVS_SYSCTL_NAMES, name) ? IPVS_SYSCTL_NAMES[name] : undefined;
  if (key === undefined) {
    throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Unknown IPVS sysctl "${name}" for --sysctl`,
      `give it as NAME=VALUE with one of ${Object.keys(IPVS_SYSCTL_NAMES).join(', ')}`);
  }
  const raw = eq > 0 ? arg.slice(eq + 1) : '';
  const v = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  const max = DEFENSE_MODES.has(name) ? 3 : 0x7fffffff;
  if (!(v <= max)) {
    throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Invalid value "${raw}" for --sysctl ${name}`,
      `give an integer from 0 to ${max}${DEFENSE_MODES.has(name) ? ' (0 off, 1 automatic, 2 automatic and on, 3 always on)' : ''}`);
  }
  return [key, v];
}

/** "KEY=VALUE" of --dataplane-opt: numbers and true/false become numbers and booleans. */
export function parseDataplaneOpt(arg: string): [string, string | number | boolean] {
  const eq = arg.indexOf('=');
  const key = eq > 0 ? arg.slice(0, eq) : '';
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(key)) {
    throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Invalid value "${arg}" for --dataplane-opt`,
      'give it as KEY=VALUE, for example --dataplane-opt connectTimeoutMs=500 (docs/dataplanes.md lists the keys)');
  }
  const raw = arg.slice(eq + 1);
  if (raw === 'true' || raw === 'false') return [key, raw === 'true'];
  if (/^-?\d+(\.\d+)?$/.test(raw)) return [key, Number(raw)];
  return [key, raw];
}

const CLIENT_OPTIONS: readonly OptionSpec[] = [RUN_OPTIONS[1]];

/** $XDG_STATE_HOME/tslvs or ~/.local/state/tslvs; /var/lib/tslvs for root. */
export function defaultStateDir(env: NodeJS.ProcessEnv, uid: number): string {
  if (env.TSLVS_STATE_DIR) return resolve(env.TSLVS_STATE_DIR);
  if (uid === 0) return DEFAULTS.rootStateDir;
  if (env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/')) return resolve(env.XDG_STATE_HOME, 'tslvs');
  return resolve(env.HOME || homedir(), '.local', 'state', 'tslvs');
}

function currentUid(): number {
  return process.getuid?.() ?? 0;
}

/** Parses `tslvs run` arguments (after the subcommand). */
export function parseDaemonOptions(argv: readonly string[], env: NodeJS.ProcessEnv, uid = currentUid()): Readonly<DaemonOptions> {
  const given = parseFlags(argv, RUN_OPTIONS, 'tslvs run');
  const dataplane = given.dataplane ?? DEFAULTS.dataplane;
  if (!(DATAPLANE_CHOICES as readonly string[]).includes(dataplane)) {
    throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Invalid value "${dataplane}" for --dataplane`,
      `expected ${DATAPLANE_CHOICES.join(', ')}`);
  }
  if (given.http !== undefined && given.http !== 'off' && !/^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):\d{1,5}$/.test(given.http)) {
    throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Invalid value "${given.http}" for --http`, 'expected ADDR:PORT, for example 127.0.0.1:9180 or [::1]:9180, or off');
  }
  if (given.httpToken !== undefined && /\s/.test(given.httpToken)) {
    throw new TslvsError('TSLVS_ERR_BAD_OPTION', 'Invalid value for --http-token: it contains white space', 'give one word (letters, digits, punctuation)');
  }
  const settings: Record<string, string | number | boolean> = {};
  for (const arg of given.dataplaneOpt ?? []) {
    const [k, v] = parseDataplaneOpt(arg);
    if (k in settings) throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Dataplane setting "${k}" given twice`, 'give each --dataplane-opt key once');
    settings[k] = v;
  }
  if (given.interface !== undefined) {
    if ('interface' in settings) {
      throw new TslvsError('TSLVS_ERR_BAD_OPTION', 'The interface is given twice (--interface and --dataplane-opt interface=...)', 'give it once, with --interface');
    }
    settings.interface = given.interface[0];
  }
  const sysctls: Partial<Record<keyof IpvsSysctls, number>> = {};
  for (const arg of given.sysctl ?? []) {
    const [k, v] = parseSysctlOpt(arg);
    if (k in sysctls) throw new TslvsError('TSLVS_ERR_BAD_OPTION', `IPVS sysctl "${arg.slice(0, arg.indexOf('='))}" given twice`, 'give each --sysctl name once');
    sysctls[k] = v;
  }
  let maxConns: number = DEFAULTS.maxConns;
  if (given.maxConns !== undefined) {
    maxConns = /^\d{1,10}$/.test(given.maxConns) ? Number(given.maxConns) : NaN;
    if (!(maxConns >= 1 && maxConns <= 0x7fffffff)) {
      throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Invalid value "${given.maxConns}" for --max-conns`, 'give a whole number of entries from 1 up, for example --max-conns 1000000');
    }
  }
  if (dataplane === 'none' && Object.keys(settings).length > 0) {
    throw new TslvsError('TSLVS_ERR_BAD_OPTION', `The none dataplane takes no settings (got ${Object.keys(settings).join(', ')})`,
      'leave out --interface and --dataplane-opt, or choose --dataplane proxy or packet');
  }
  return Object.freeze({
    dataplane: dataplane as DataplaneChoice,
    socket: resolve(given.socket ?? defaultSocketPath(env, uid)),
    stateDir: given.stateDir !== undefined ? resolve(given.stateDir) : defaultStateDir(env, uid),
    rules: given.rules !== undefined ? resolve(given.rules) : DEFAULTS.rules,
    http: given.http === 'off' ? null : given.http ?? DEFAULTS.http,
    httpExplicit: given.http !== undefined,
    httpToken: given.httpToken ?? DEFAULTS.httpToken,
    keepalivedConf: given.keepalivedConf !== undefined ? resolve(given.keepalivedConf) : DEFAULTS.keepalivedConf,
    dataplaneSettings: Object.freeze(settings),
    tickMs: DEFAULTS.tickMs,
    maxConns,
    sysctls: Object.freeze(sysctls),
  });
}

/** Parses the options of `tslvs status|reload|stop`. */
export function parseClientOptions(argv: readonly string[], env: NodeJS.ProcessEnv, sub: string, uid = currentUid()): Readonly<ClientOptions> {
  const given = parseFlags(argv, CLIENT_OPTIONS, `tslvs ${sub}`);
  return Object.freeze({ socket: resolve(given.socket ?? defaultSocketPath(env, uid)) });
}

type Given = Partial<Record<Exclude<OptionSpec['key'], 'interface' | 'dataplaneOpt' | 'sysctl'>, string>> & { interface?: string[]; dataplaneOpt?: string[]; sysctl?: string[] };

function parseFlags(argv: readonly string[], specs: readonly OptionSpec[], cmd: string): Given {
  const out: Given = {};
  const multi = out as Record<string, string[] | undefined>;
  const single = out as Record<string, string | undefined>;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = specs.find((s) => s.flags.includes(flag));
    if (!spec) {
      const known = specs.flatMap((s) => s.flags.filter((f) => f.startsWith('--')));
      const near = closest(flag, known);
      throw new TslvsError('TSLVS_ERR_BAD_OPTION',
        arg.startsWith('-') ? `Unknown option "${flag}" for "${cmd}"` : `Unexpected argument "${arg}" for "${cmd}"`,
        `${near ? `did you mean "${near}"? ` : ''}${known.length ? `known options: ${known.join(', ')}` : `"${cmd}" takes no options but --socket`}; "tslvs help" explains them`);
    }
    let value: string;
    if (eq > 0) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i];
    else throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Option "${flag}" needs a value`, `give it as ${flag} ${spec.value}`);
    if (value === '') throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Option "${flag}" has an empty value`, `give it as ${flag} ${spec.value}`);
    if (spec.key === 'interface' || spec.key === 'dataplaneOpt' || spec.key === 'sysctl') {
      const list = multi[spec.key] ?? [];
      if (list.length > 0 && !spec.repeat) throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Option "${flag}" given twice`, 'give it once');
      list.push(value);
      multi[spec.key] = list;
      continue;
    }
    if (single[spec.key] !== undefined) throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Option "${flag}" given twice`, 'give it once');
    single[spec.key] = value;
  }
  return out;
}

/** The known flag nearest to a typo (edit distance at most 3), or null. */
function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = 4;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}
