/**
 * The options of `tslvs run` and of the client subcommands, parsed once into a frozen, typed
 * value (STYLE rule 7): defaults in one table, then the environment, then argv. The first
 * unknown flag or bad value throws TslvsError TSLVS_ERR_BAD_OPTION naming the fix; nothing
 * partial is ever returned. Paths come back absolute, so logs and errors show where things are.
 */
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { defaultSocketPath } from '../control/protocol.js';
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
  rootStateDir: '/var/lib/tslvs',
});

interface OptionSpec {
  flags: readonly string[];
  key: 'dataplane' | 'socket' | 'stateDir' | 'rules' | 'http' | 'httpToken' | 'keepalivedConf' | 'interface' | 'dataplaneOpt';
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
];

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
  });
}

/** Parses the options of `tslvs status|reload|stop`. */
export function parseClientOptions(argv: readonly string[], env: NodeJS.ProcessEnv, sub: string, uid = currentUid()): Readonly<ClientOptions> {
  const given = parseFlags(argv, CLIENT_OPTIONS, `tslvs ${sub}`);
  return Object.freeze({ socket: resolve(given.socket ?? defaultSocketPath(env, uid)) });
}

type Given = Partial<Record<Exclude<OptionSpec['key'], 'interface' | 'dataplaneOpt'>, string>> & { interface?: string[]; dataplaneOpt?: string[] };

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
    if (spec.key === 'interface' || spec.key === 'dataplaneOpt') {
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
