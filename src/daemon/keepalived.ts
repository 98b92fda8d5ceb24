/**
 * keepalived.conf in the daemon (`tslvs run -f FILE`): loads the file all or nothing, runs the
 * health runner (src/health/runner.ts) on it, and turns its decisions into director commands,
 * serialised through the director's queue like every other change.
 *
 * What the file owns (the coexistence rule with --rules and tslvsadm, docs/operations.md):
 *   - the IPVS services its virtual servers stand for (every address of a group), and on them
 *     the destinations of its real and sorry servers. Health decisions and reloads change only
 *     those; a service the file does not define is never touched, and a destination an operator
 *     added by hand to one of its services is left alone (neither checked nor removed).
 *   - an operator's edit of something the file owns lasts until the runner next decides about
 *     that server (a transition) or the next reload, as with keepalived beside ipvsadm.
 *   - a service defined by both the file and --rules is refused (TSLVS_ERR_KEEPALIVED_CONFIG):
 *     one owner per service.
 *
 * Start and reload apply a difference, not a list of commands: the table the runner means
 * (intendedTable) is compared with the live one, so a table restored from state.json, an
 * unchanged real server (its connections, counters and health) and an operator's extra
 * destinations all live on.
 */
import { performance } from 'node:perf_hooks';
import type { RuleEntry } from '../config/ipvsadm-rules.js';
import { CONFIG_DEPRECATED, CONFIG_WARNING, type Diagnostic, formatDiagnostic } from '../config/keepalived/diagnostics.js';
import { inactiveNotices, loadKeepalivedConfig, type LoadResult } from '../config/keepalived/load.js';
import { destOf, servicesOf } from '../config/keepalived/to-ipvs.js';
import type { KeepalivedConfig } from '../config/keepalived/types.js';
import type { CommandError, HealthWire, ServiceWire, TableCommand } from '../control/protocol.js';
import type { VirtualService } from '../core/service.js';
import { TslvsError } from '../errors.js';
import {
  createHealthRunner, destKeyOf, type HealthDecision, type HealthRunner, type HealthRunnerOptions, healthWireOf, serviceKeyOf,
  type ServiceEntries, tableDifference,
} from '../health/runner.js';
import type { Director } from './director.js';
import { destIdFromWire, destToWire, type HealthLookup, serviceIdFromWire, serviceIdToWire, serviceToWire } from './wire.js';

/** A keepalived.conf the daemon accepts, with the messages to print once. */
export interface AcceptedConfig {
  readonly path: string;
  readonly config: KeepalivedConfig;
  /** Messages keepalived only warns about or logs: printed once, nothing stops. */
  readonly warnings: readonly string[];
}

/** A refused file: every message, so the daemon can print them all before the one-line error. */
export class KeepalivedConfigError extends TslvsError {
  constructor(readonly lines: readonly string[], message: string, hint: string) {
    super('TSLVS_ERR_KEEPALIVED_CONFIG', message, hint);
  }
}

/**
 * Whether the daemon refuses a message: everything keepalived counts as an error (an unknown
 * keyword, a bad value, a brace, a security violation) and tslvs's own refusals; keepalived's
 * warnings, deprecations and log-only lines are printed and let the start go on.
 */
export function refuses(d: Diagnostic): boolean {
  if (d.logOnly) return false;
  if (d.kaText === '') return true;
  return d.cls !== CONFIG_WARNING && d.cls !== CONFIG_DEPRECATED;
}

/** Judges a load result: the accepted configuration, or KeepalivedConfigError naming file:line:col. */
export function acceptConfig(path: string, r: LoadResult): AcceptedConfig {
  const refused = r.diagnostics.filter(refuses);
  if (refused.length === 0 && r.config !== null) {
    return Object.freeze({ path, config: r.config, warnings: Object.freeze(r.diagnostics.map(formatDiagnostic)) });
  }
  const lines = (refused.length ? refused : r.diagnostics).map(formatDiagnostic);
  const first = lines[0] ?? `keepalived would stop reading "${path}" (exit ${r.verdict})`;
  const more = lines.length > 1 ? ` (and ${lines.length - 1} more)` : '';
  throw new KeepalivedConfigError(lines, `keepalived.conf "${path}" refused: ${first}${more}`,
    `fix the file as ${lines.length > 1 ? 'the messages say' : 'the message says'} (keepalived -t -f FILE reports the same); nothing of the file was applied`);
}

/** Loads and judges a keepalived.conf (all or nothing, STYLE rule 7). */
export function loadAcceptedConfig(path: string): AcceptedConfig {
  return acceptConfig(path, loadKeepalivedConfig(path));
}

/** Every IPVS service a configuration stands for, by service key. */
export function servicesOfConfig(config: KeepalivedConfig): Map<string, ServiceWire> {
  const out = new Map<string, ServiceWire>();
  for (const vs of config.virtualServers) for (const s of servicesOf(config, vs)) out.set(serviceKeyOf(s.svc), s.svc);
  return out;
}

/** Per service key, the destination keys of the real and sorry servers the configuration names. */
function ownedDests(config: KeepalivedConfig): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const vs of config.virtualServers) {
    for (const s of servicesOf(config, vs)) {
      const set = out.get(serviceKeyOf(s.svc)) ?? new Set<string>();
      for (const rs of vs.realServers) set.add(destKeyOf(destOf(s, rs, 0)));
      if (vs.sorryServer) set.add(destKeyOf(destOf(s, vs.sorryServer, 0)));
      out.set(serviceKeyOf(s.svc), set);
    }
  }
  return out;
}

/** Refuses a rules file that defines a service keepalived.conf defines too (one owner per service). */
export function checkRulesClash(config: KeepalivedConfig, rules: readonly RuleEntry[], rulesFile: string, confPath: string): void {
  const owned = servicesOfConfig(config);
  const vsOf = new Map<string, string>();
  for (const vs of config.virtualServers) for (const s of servicesOf(config, vs)) vsOf.set(serviceKeyOf(s.svc), vs.key);
  for (const e of rules) {
    if (e.cmd.cmd !== 'add-service') continue;
    const k = serviceKeyOf(e.cmd.svc);
    if (owned.has(k)) {
      throw new TslvsError('TSLVS_ERR_KEEPALIVED_CONFIG',
        `${rulesFile}:${e.line}: this service is also virtual server ${vsOf.get(k)} of keepalived.conf "${confPath}"`,
        'one owner per service: remove it from the rules file or from keepalived.conf; nothing was applied');
    }
  }
}

export interface KeepalivedPartOptions {
  readonly director: Director;
  readonly accepted: AcceptedConfig;
  readonly log: (line: string) => void;
  /** Passed to the health runner (tests and benches: bootstrap delay, probes, clock). */
  readonly runner?: Partial<Omit<HealthRunnerOptions, 'config' | 'onChange'>>;
}

export interface KeepalivedPart {
  readonly path: string;
  /** Prints the file's warnings and inactive notices, applies the startup table, starts checking. */
  start(): Promise<void>;
  /** Moves to an accepted new configuration, applying only the difference; a one-line summary. */
  reload(next: AcceptedConfig): Promise<string>;
  /** Stops checking; the table stays as it is (saved, and reconciled at the next start). */
  stop(): Promise<void>;
  /** Whether the current configuration defines this service. */
  owns(svc: ServiceWire): boolean;
  /** The health of each destination the configuration checks, for table snapshots. */
  lookup(): HealthLookup;
  /** For `tslvs status`: the file, per virtual server the quorum, per real server its checkers. */
  facts(): Record<string, unknown>;
}

/** Monotonic runner time (performance.now) to Unix epoch milliseconds, for the wire. */
function epochMs(t: number | null): number | null {
  return t === null ? null : Math.round(performance.timeOrigin + t);
}

function describe(c: TableCommand): string {
  switch (c.cmd) {
    case 'add-dest': case 'edit-dest': return `${c.cmd} ${c.dest.addr}:${c.dest.port} weight ${c.dest.weight} on ${c.svc.addr}:${c.svc.port}`;
    case 'del-dest': return `del-dest ${c.dest.addr}:${c.dest.port} on ${c.svc.addr}:${c.svc.port}`;
    case 'add-service': case 'edit-service': case 'del-service': return `${c.cmd} ${c.svc.fwmark ? `fwmark ${c.svc.fwmark}` : `${c.svc.addr}:${c.svc.port}`}`;
    default: return c.cmd;
  }
}

export function createKeepalivedPart(opts: KeepalivedPartOptions): KeepalivedPart {
  const { director, log } = opts;
  let accepted = opts.accepted;
  let config = accepted.config;
  let services = servicesOfConfig(config);
  let owned = ownedDests(config);
  /** Per real server (in status order) the "service#dest" keys it appears under. */
  let healthKeys: string[][] = [];
  let lastReload: { at: string; result: string } | null = null;
  const computeHealthKeys = () => {
    healthKeys = [];
    for (const vs of config.virtualServers) {
      const svcs = servicesOf(config, vs);
      for (const rs of vs.realServers) healthKeys.push(svcs.map((s) => `${serviceKeyOf(s.svc)}#${destKeyOf(destOf(s, rs, 0))}`));
    }
  };
  computeHealthKeys();

  let started: Promise<void> | null = null;
  const runner: HealthRunner = createHealthRunner({
    ...opts.runner,
    config,
    onChange: (d) => onDecision(d),
    onError: (e) => log(`health: ${(e as Error)?.message ?? String(e)}`),
  });

  const liveEntries = (wanted: Iterable<ServiceWire>): ServiceEntries[] => {
    const out: ServiceEntries[] = [];
    for (const w of wanted) {
      const svc = director.ipvs.table.find(serviceIdFromWire('get-service', w));
      if (svc) out.push({ svc: serviceToWire(svc), dests: svc.dests().map(destToWire) });
    }
    return out;
  };

  const reportResults = (what: string, cmds: readonly TableCommand[], results: readonly (CommandError | null)[]) => {
    results.forEach((r, i) => {
      if (r) log(`${what}: ${describe(cmds[i])} refused: ${r.message ?? r.errno}${r.hint ? `; ${r.hint}` : ''}`);
    });
  };

  /** Makes the live table match the runner's, for the services of `oldServices` and the current ones. */
  const reconcile = async (what: string, oldServices: Map<string, ServiceWire>, oldOwned: Map<string, Set<string>>) => {
    const { cmds, results } = await director.execComputed(() => {
      const after = runner.intendedTable();
      const all = new Map(oldServices);
      for (const [k, s] of services) all.set(k, s);
      const before = liveEntries(all.values());
      const ours = (sk: string, dk: string) => (owned.get(sk)?.has(dk) ?? false) || (oldOwned.get(sk)?.has(dk) ?? false);
      return tableDifference(before, after, (sk, dk) => !ours(sk, dk));
    });
    reportResults(what, cmds, results);
    return { cmds, failed: results.filter((r) => r !== null).length };
  };

  /**
   * A decision's commands against the table as it is now: what an operator changed meanwhile
   * (a destination removed or added by hand) turns an add into an edit, an edit of a missing
   * destination into an add, and drops a delete of something already gone.
   */
  const adapt = (cmds: readonly TableCommand[]): TableCommand[] => {
    const out: TableCommand[] = [];
    const t = director.ipvs.table;
    const svcPresent = new Map<string, boolean>();
    const destPresent = new Map<string, boolean>();
    const hasSvc = (w: Parameters<typeof serviceIdFromWire>[1]) => {
      const k = serviceKeyOf(w as ServiceWire);
      const known = svcPresent.get(k);
      return known ?? t.find(serviceIdFromWire('get-service', w)) !== undefined;
    };
    const hasDest = (c: Extract<TableCommand, { dest: unknown }>) => {
      const k = `${serviceKeyOf(c.svc)}#${destKeyOf(c.dest)}`;
      const known = destPresent.get(k);
      if (known !== undefined) return known;
      const svc = t.find(serviceIdFromWire('get-service', c.svc));
      if (!svc) return false;
      const id = destIdFromWire('edit-dest', c.dest);
      return svc.dests().some((d) => d.af === id.af && d.port === id.port && d.addr.toString() === id.addr.toString());
    };
    for (const c of cmds) {
      switch (c.cmd) {
        case 'add-service':
          if (!hasSvc(c.svc)) out.push(c);
          svcPresent.set(serviceKeyOf(c.svc), true);
          break;
        case 'del-service':
          if (hasSvc(c.svc)) out.push(c);
          svcPresent.set(serviceKeyOf(c.svc), false);
          break;
        case 'add-dest':
        case 'edit-dest': {
          if (!hasSvc(c.svc)) {
            log(`health: ${describe(c)} skipped: the service is not in the table (removed by hand?); a reload puts it back`);
            break;
          }
          out.push({ ...c, cmd: hasDest(c) ? 'edit-dest' : 'add-dest' });
          destPresent.set(`${serviceKeyOf(c.svc)}#${destKeyOf(c.dest)}`, true);
          break;
        }
        case 'del-dest':
          if (hasSvc(c.svc) && hasDest(c)) out.push(c);
          destPresent.set(`${serviceKeyOf(c.svc)}#${destKeyOf(c.dest)}`, false);
          break;
        default:
          out.push(c);
      }
    }
    return out;
  };

  const onDecision = (d: HealthDecision) => {
    if (d.reason === 'start') {
      // The startup table (initialCommands) as a difference from what is live (a restored state.json).
      started = reconcile('keepalived.conf start', new Map(), new Map()).then(({ cmds, failed }) => {
        log(`keepalived.conf "${accepted.path}": ${config.virtualServers.length} virtual servers, ` +
          `${config.virtualServers.reduce((n, v) => n + v.realServers.length, 0)} real servers; ${cmds.length} table changes` +
          `${failed ? ` (${failed} refused)` : ''}; health checks start in ${((opts.runner?.bootstrapDelayMs ?? 1000) / 1000).toFixed(1)} s`);
      });
      return;
    }
    if (d.reason === 'stop') return;
    if (d.source) log(`${d.source.checker} on service ${d.source.realServer} of VS ${d.source.virtualServer}: ${d.source.result}`);
    for (const line of d.log) log(line);
    if (!d.commands.length) return;
    director.execComputed(() => adapt(d.commands)).then(
      ({ cmds, results }) => reportResults('health', cmds, results),
      (e: unknown) => log(`health: cannot apply a decision: ${(e as Error)?.message ?? String(e)}`),
    );
  };

  return {
    get path() { return accepted.path; },

    async start() {
      for (const w of accepted.warnings) log(w);
      for (const n of inactiveNotices(config)) log(n);
      runner.start();
      await started;
    },

    async reload(next) {
      const oldServices = services;
      const oldOwned = owned;
      const oldCount = config.virtualServers.length;
      const decision = runner.update(next.config);
      accepted = next;
      config = next.config;
      services = servicesOfConfig(config);
      owned = ownedDests(config);
      computeHealthKeys();
      for (const w of next.warnings) log(w);
      for (const line of decision.log) log(line);
      const { cmds, failed } = await reconcile('keepalived.conf reload', oldServices, oldOwned);
      const count = (c: TableCommand['cmd']) => cmds.filter((x) => x.cmd === c).length;
      const result = `Reloaded keepalived.conf "${next.path}": ${config.virtualServers.length} virtual servers (was ${oldCount}); ` +
        `${cmds.length} table changes (services +${count('add-service')} -${count('del-service')} ~${count('edit-service')}, ` +
        `real servers +${count('add-dest')} -${count('del-dest')} ~${count('edit-dest')})${failed ? `, ${failed} refused (see the log)` : ''}; ` +
        'unchanged real servers kept their connections and health';
      lastReload = { at: new Date().toISOString(), result };
      return result;
    },

    async stop() {
      await runner.stop({ keepTable: true });
    },

    owns(svc) {
      return services.has(serviceKeyOf(svc));
    },

    lookup() {
      const st = runner.status();
      const map = new Map<string, HealthWire>();
      st.realServers.forEach((r, i) => {
        const w = healthWireOf(r);
        const wire: HealthWire = { ...w, lastTransitionMs: epochMs(w.lastTransitionMs) };
        for (const k of healthKeys[i] ?? []) map.set(k, wire);
      });
      if (map.size === 0) return () => undefined;
      return (svc: VirtualService, d) => map.get(`${serviceKeyOf(serviceIdToWire(svc))}#${d.af}|${d.addr.toString()}|${d.port}`);
    },

    facts() {
      const st = runner.status();
      const sorryIn = new Set(st.virtualServers.filter((v) => v.sorryInPool).map((v) => v.key));
      return {
        file: accepted.path,
        running: st.running,
        lastReload,
        virtualServers: st.virtualServers,
        realServers: st.realServers.map((r) => ({
          virtualServer: r.virtualServer, realServer: r.realServer, alive: r.alive, inTable: r.inTable, weight: r.weight,
          // The weight in the table: 0 for an inhibited server that is down or out of the pool (sorry server in).
          tableWeight: r.inTable ? (r.alive && !sorryIn.has(r.virtualServer) ? r.weight : 0) : null,
          lastTransitionMs: epochMs(r.lastTransitionMs),
          checkers: r.checkers.map((c) => ({
            checker: c.checker, target: c.target, up: c.up, lastResult: c.lastResult, lastOk: c.lastOk,
            latencyMs: c.latencyMs === null ? null : Math.round(c.latencyMs * 1000) / 1000,
            lastCheckMs: epochMs(c.lastCheckMs), lastTransitionMs: epochMs(c.lastTransitionMs), retries: c.retries,
          })),
        })),
      };
    },
  };
}
