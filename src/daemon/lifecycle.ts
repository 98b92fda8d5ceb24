/**
 * The daemon's life: start (read --rules and -f keepalived.conf whole, claim the control socket,
 * open the state directory, create the dataplane with its settings, restore the saved table,
 * apply --rules, set up keepalived.conf's services and start its health checks), run (drive the
 * core's timers, answer requests, reload both files on SIGHUP), stop (SIGTERM/SIGINT or a
 * `shutdown` request: stop the checks, stop accepting, let queued commits finish, close the
 * dataplane, remove the socket).
 *
 * Order matters at start: the socket is claimed first, because it is what makes this daemon the
 * only owner (a second daemon on the same socket is refused before it touches the dataplane or
 * the state); requests that arrive before the table is restored wait for it.
 */
import { getRandomValues } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { freemem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseIpvsadmRules, type RuleEntry } from '../config/ipvsadm-rules.js';
import type { DaemonOptions } from '../config/daemon-options.js';
import { ControlSocket } from '../control/control-socket.js';
import { Ipvs } from '../core/ipvs.js';
import type { RandomU32 } from '../core/sched/scheduler.js';
import type { Dataplane } from '../dataplane/dataplane.js';
import { createDataplane } from '../dataplane/factory.js';
import { formatError, systemErrno, TslvsError } from '../errors.js';
import { serviceKeyOf } from '../health/runner.js';
import { Director } from './director.js';
import { type Observability, startObservability } from './observe.js';
import { type AcceptedConfig, checkRulesClash, createKeepalivedPart, type KeepalivedConfigError, type KeepalivedPart, type KeepalivedPartOptions, loadAcceptedConfig, servicesOfConfig } from './keepalived.js';
import { handleRequest } from './requests.js';
import { type StateFs, StateStore } from './state-store.js';

/** The page size the memory defenses count in (amemthresh is in pages, as the kernel's). */
const PAGE_SIZE = 4096;

export interface DaemonDeps {
  /** Use this dataplane instead of creating `options.dataplane` (tests inject a failing one). */
  dataplane?: Dataplane;
  /** Where the daemon's log lines go; default stderr. */
  log?: (line: string) => void;
  /** Install SIGTERM/SIGINT (stop) and SIGHUP (reload) handlers; `tslvs run` does. */
  handleSignals?: boolean;
  random?: RandomU32;
  /** File operations of the state store (tests simulate crashes with it). */
  stateFs?: StateFs;
  /** Health runner options for -f (tests: bootstrap delay, probes). */
  healthRunner?: KeepalivedPartOptions['runner'];
}

export interface RestoreReport {
  kind: 'none' | 'loaded' | 'corrupt';
  services: number;
  /** For a corrupt file: where it was kept and why it was refused. */
  keptAs?: string;
  reason?: string;
}

export interface RunningDaemon {
  readonly options: Readonly<DaemonOptions>;
  readonly director: Director;
  readonly socketPath: string;
  readonly restored: RestoreReport;
  /** Re-reads --rules and applies the difference; resolves to a one-line summary. */
  reload(): Promise<string>;
  stop(reason: string): Promise<void>;
  /** Resolves once the daemon has stopped. */
  readonly stopped: Promise<void>;
}

/** prandom_u32 for the schedulers that draw (twos): crypto-quality, refilled in blocks. */
export function cryptoRandomU32(): RandomU32 {
  const pool = new Uint32Array(1024);
  let i = pool.length;
  return () => {
    if (i === pool.length) {
      getRandomValues(pool);
      i = 0;
    }
    return pool[i++];
  };
}

async function readRules(file: string): Promise<RuleEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const errno = systemErrno(err);
    throw new TslvsError('TSLVS_ERR_RULES_READ', `Cannot read rules file "${file}"${errno ? ` (${errno})` : ''}`,
      'check the path and its permissions; "ipvsadm -S -n > FILE" writes one', { cause: err });
  }
  return parseIpvsadmRules(text, file);
}

export async function startDaemon(options: Readonly<DaemonOptions>, deps: DaemonDeps = {}): Promise<RunningDaemon> {
  const log = deps.log ?? ((line: string) => process.stderr.write(`tslvs: ${line}\n`));
  // All or nothing: a bad rules file or keepalived.conf stops the start before anything is touched.
  const initialRules = options.rules ? await readRules(options.rules) : null;
  const initialKa = options.keepalivedConf ? loadKeepalived(options.keepalivedConf, log) : null;
  if (initialKa && initialRules && options.rules) checkRulesClash(initialKa.config, initialRules, options.rules, initialKa.path);
  const store = new StateStore(options.stateDir, deps.stateFs ? { fs: deps.stateFs } : {});

  let ready!: () => void;
  let failed!: (e: unknown) => void;
  const readyP = new Promise<void>((res, rej) => { ready = res; failed = rej; });
  readyP.catch(() => undefined);
  let daemon: RunningDaemon | null = null;
  let stopRequested = false;

  const socket = await ControlSocket.listen({
    path: options.socket,
    log,
    handler: async (req) => {
      await readyP;
      return handleRequest(ctx, req);
    },
  });

  let dataplane: Dataplane | null = deps.dataplane ?? null;
  let director: Director;
  let restored: RestoreReport;
  let obs: Observability;
  let ka: KeepalivedPart | null = null;
  let locked = false;
  const ipvs = new Ipvs({ random: deps.random ?? cryptoRandomU32(), startMs: performance.now(), maxConns: options.maxConns });
  // --sysctl: as written to /proc/sys/net/ipv4/vs before the first defense tick applies them.
  Object.assign(ipvs.sysctl, options.sysctls);
  try {
    await store.init();
    locked = true;
    dataplane ??= await createDataplane(options.dataplane, { ipvs, now: () => performance.now(), settings: options.dataplaneSettings });
    director = new Director({ ipvs, dataplane, store, log });
    restored = await restoreState(director, store, log);
    const kaServices = initialKa ? servicesOfConfig(initialKa.config) : null;
    if (initialRules && options.rules) {
      const s = await director.applyRules(initialRules, options.rules, (svc) => kaServices?.has(serviceKeyOf(svc)) ?? false);
      log(`rules "${options.rules}": ${summaryText(s)}`);
    }
    if (initialKa) {
      const part = createKeepalivedPart({ director, accepted: initialKa, log, runner: deps.healthRunner });
      ka = part;
      director.setHealthSource(() => part.lookup());
      await part.start();
    }
    obs = await startObservability(director, options, tslvsVersion(), log);
  } catch (err) {
    failed(err);
    await ka?.stop().catch(() => undefined);
    await socket.close();
    await dataplane?.close().catch(() => undefined);
    if (locked) await store.unlock();
    throw err;
  }

  const startedAt = new Date();
  let lastReload: { at: string; result: string } | null = null;
  const reload = async (): Promise<string> => {
    let result: string;
    try {
      if (!options.rules && !ka) {
        result = 'Nothing to reload: the daemon was started without --rules FILE or -f FILE';
      } else {
        // Parse everything first: a bad file changes nothing.
        const rules = options.rules ? await readRules(options.rules) : null;
        const next = ka && options.keepalivedConf ? loadKeepalived(options.keepalivedConf, log) : null;
        if (next && rules && options.rules) checkRulesClash(next.config, rules, options.rules, next.path);
        const parts: string[] = [];
        if (rules && options.rules) {
          const nextServices = next ? servicesOfConfig(next.config) : null;
          const s = await director.applyRules(rules, options.rules, (svc) => (nextServices?.has(serviceKeyOf(svc)) ?? false) || (ka?.owns(svc) ?? false));
          parts.push(`Reloaded "${options.rules}": ${summaryText(s)}`);
        }
        if (ka && next) parts.push(await ka.reload(next));
        result = parts.join('; ');
      }
    } catch (err) {
      lastReload = { at: new Date().toISOString(), result: `failed: ${(err as Error).message}` };
      throw err;
    }
    lastReload = { at: new Date().toISOString(), result };
    return result;
  };

  const ctx = {
    director,
    reload,
    shutdown: () => {
      // After this answer is written: the write is queued before any immediate runs.
      setImmediate(() => void daemon?.stop('shutdown request'));
    },
    facts: (): Record<string, unknown> => ({
      pid: process.pid,
      version: tslvsVersion(),
      startedAt: startedAt.toISOString(),
      uptimeS: Math.floor((Date.now() - startedAt.getTime()) / 1000),
      socket: options.socket,
      stateDir: options.stateDir,
      http: obs.httpUrl,
      procfs: obs.procDir,
      rulesFile: options.rules,
      keepalivedConf: options.keepalivedConf,
      health: ka?.facts() ?? null,
      restored,
      lastReload,
      stopping: stopRequested,
      // The connection table against its limit (--max-conns), its typed arrays' bytes, and the
      // process's memory: what an operator watches during a flood.
      connTable: { conns: ipvs.connCount, limit: ipvs.maxConns, bytes: ipvs.connBytes },
      memory: (({ rss, heapUsed, arrayBuffers }) => ({ rss, heapUsed, arrayBuffers }))(process.memoryUsage()),
      // The defense sysctls as /proc/sys/net/ipv4/vs shows them (an automatic mode reads 2 while on).
      defense: { drop_entry: ipvs.sysctl.dropEntry, drop_packet: ipvs.sysctl.dropPacket, secure_tcp: ipvs.sysctl.secureTcp, amemthresh: ipvs.sysctl.amemthresh },
    }),
  };

  let tickErrorLogged = false;
  const timer = setInterval(() => {
    try {
      director.tick(performance.now(), freemem() / PAGE_SIZE);
    } catch (err) {
      if (!tickErrorLogged) log(`timer: ${(err as Error).message}`);
      tickErrorLogged = true;
    }
  }, options.tickMs);

  const onStop = (sig: NodeJS.Signals) => {
    if (stopRequested) {
      log(`${sig} again while stopping: exiting now`);
      process.exit(1);
    }
    void daemon?.stop(sig);
  };
  const onHup = () => {
    reload().then((r) => log(`SIGHUP: ${r}`), (err) => log(`SIGHUP: reload refused, nothing changed: ${formatError(err, '').replace(/^: /, '')}`));
  };
  if (deps.handleSignals) {
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', onHup);
  }

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((res) => { resolveStopped = res; });
  let stopping: Promise<void> | null = null;
  daemon = {
    options,
    director,
    socketPath: socket.path,
    restored,
    reload,
    stopped,
    stop(reason: string): Promise<void> {
      if (stopping) return stopping;
      stopRequested = true;
      stopping = (async () => {
        log(`stopping (${reason})`);
        clearInterval(timer);
        await ka?.stop();
        await obs.close();
        await socket.close();
        await director.close();
        await store.unlock();
        if (deps.handleSignals) {
          process.off('SIGTERM', onStop);
          process.off('SIGINT', onStop);
          process.off('SIGHUP', onHup);
        }
        log('stopped');
        resolveStopped();
      })();
      return stopping;
    },
  };
  ready();
  log(`listening on "${socket.path}" (dataplane ${dataplane.kind}, pid ${process.pid}, ${ipvs.table.size} services)`);
  return daemon;
}

/** Loads -f's file; a refused one has every message logged, then throws TSLVS_ERR_KEEPALIVED_CONFIG. */
function loadKeepalived(path: string, log: (line: string) => void): AcceptedConfig {
  try {
    return loadAcceptedConfig(path);
  } catch (err) {
    const lines = (err as Partial<KeepalivedConfigError>).lines;
    if (Array.isArray(lines)) for (const l of lines) log(l);
    throw err;
  }
}

async function restoreState(director: Director, store: StateStore, log: (line: string) => void): Promise<RestoreReport> {
  const loaded = await store.load();
  if (loaded.kind === 'none') return { kind: 'none', services: 0 };
  if (loaded.kind === 'corrupt') {
    log(corruptLine(store.path, loaded.reason, loaded.keptAs));
    return { kind: 'corrupt', services: 0, keptAs: loaded.keptAs, reason: loaded.reason };
  }
  try {
    const n = await director.restore(loaded.state, store.path);
    log(`restored ${n} services from "${store.path}"`);
    return { kind: 'loaded', services: n };
  } catch (err) {
    if (!(err instanceof TslvsError) || err.code !== 'TSLVS_ERR_STATE_CORRUPT') throw err;
    const keptAs = await store.keepAside();
    log(corruptLine(store.path, err.message, keptAs));
    return { kind: 'corrupt', services: 0, keptAs, reason: err.message };
  }
}

function corruptLine(path: string, reason: string, keptAs: string): string {
  return `Saved state "${path}" is corrupt (${reason}); kept it as "${keptAs}" and started with an empty table; ` +
    'restore the table from your rules (tslvsadm -R) or fix the file (TSLVS_ERR_STATE_CORRUPT)';
}

function summaryText(s: { added: number; removed: number; changed: number; unchanged: number }): string {
  return `${s.added} services added, ${s.removed} removed, ${s.changed} changed, ${s.unchanged} unchanged`;
}

let versionCache: string | null = null;

/** The package version, for `status`. */
function tslvsVersion(): string {
  if (versionCache !== null) return versionCache;
  versionCache = 'unknown';
  try {
    // dist/src/daemon/lifecycle.js → package.json at the repository root.
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    if (typeof pkg.version === 'string') versionCache = pkg.version;
  } catch {
    // a missing package.json leaves 'unknown'
  }
  return versionCache;
}
