/**
 * THE owner of the director's state (STYLE rule 4): the IPVS instance with its service table,
 * the active dataplane, the commit queue and the saved state. The control socket, the HTTP API,
 * reloads (and the health runner) all end here, and commits run one at a time.
 *
 * A command is one transaction: the table operation runs inside table.transaction(), the
 * dataplane applies the journal's diff, and if the dataplane refuses, the journal is rolled
 * back, so a command that fails changes nothing. A batch (`exec`, e.g. `ipvsadm -R` of 110,000
 * lines) is a sequence of such commands with one result each, saved once at the end. If that
 * save fails, every command of the batch is undone in the table and the dataplane, so what
 * runs always matches what is saved.
 *
 * Fast path: the `none` dataplane cannot refuse, and every table operation either throws an
 * IpvsError before changing anything or completes (service-table.ts), so consecutive commands
 * share one journal and one (no-op) apply; results are the same as command by command.
 */
import {
  type CommandError, type CommandRow, type ConnWire, rowToCommand, type ServiceIdWire, type ServiceWire, type TableCommand, type TableRows,
  type TableSnapshot,
} from '../control/protocol.js';
import { isEmptyDiff, type TableDiff } from '../core/diff.js';
import { IpvsError } from '../core/errors.js';
import type { Ipvs } from '../core/ipvs.js';
import type { VirtualService } from '../core/service.js';
import { type Journal, ServiceTable } from '../core/service-table.js';
import type { Dataplane } from '../dataplane/dataplane.js';
import { NoneDataplane } from '../dataplane/none/none-dataplane.js';
import { systemErrno, TslvsError } from '../errors.js';
import type { RuleEntry } from '../config/ipvsadm-rules.js';
import { commandsFromState, type SavedState, type StateStore } from './state-store.js';
import { buildTableRows } from './table-rows.js';
import {
  applyTableCommand, buildSnapshot, connToWire, destToWire, type HealthLookup, ipvsErrorToWire, malformedCommand, opOf, serviceIdFromWire, serviceToWire,
} from './wire.js';

export interface DirectorOptions {
  ipvs: Ipvs;
  dataplane: Dataplane;
  /** Where the table is saved after each change; null: not saved (tests, dry runs). */
  store: StateStore | null;
  /** Where problems that are not a command's answer go (a failed undo, a save at exit). */
  log?: (line: string) => void;
  /** Wall clock for `savedAt`; defaults to Date. */
  wallClock?: () => Date;
}

export interface ReloadSummary {
  added: number;
  removed: number;
  changed: number;
  unchanged: number;
}

export interface DirectorStatus {
  dataplane: string;
  services: number;
  dests: number;
  commits: number;
  lastSaveError: string | null;
  stateFile: string | null;
}

export class Director {
  readonly ipvs: Ipvs;
  readonly dataplane: Dataplane;
  readonly store: StateStore | null;
  readonly #log: (line: string) => void;
  readonly #wallClock: () => Date;
  #queue: Promise<unknown> = Promise.resolve();
  #commits = 0;
  #lastSaveError: string | null = null;
  #closed = false;
  #healthSource: (() => HealthLookup) | null = null;

  constructor(opts: DirectorOptions) {
    this.ipvs = opts.ipvs;
    this.dataplane = opts.dataplane;
    this.store = opts.store;
    this.#log = opts.log ?? (() => undefined);
    this.#wallClock = opts.wallClock ?? (() => new Date());
  }

  /** Runs `fn` after every commit queued before it; the queue survives a failing `fn`. */
  #enqueue<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.#queue.then(async () => {
      if (this.#closed) throw new Error('director is closed');
      this.#running++;
      try {
        return await fn();
      } finally {
        this.#running--;
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #running = 0;
  #requestsBegun = 0;
  #requestsInFlight = 0;
  #lastRequestEndMs = -Infinity;

  /**
   * The control socket's requests (tslvsadm, tslvs), marked as they begin and end, so that
   * background work (the /proc refresh, observe.ts) gives way to someone waiting for an answer.
   */
  requestBegun(): void {
    this.#requestsBegun++;
    this.#requestsInFlight++;
  }

  requestEnded(nowMs: number): void {
    this.#requestsInFlight--;
    this.#lastRequestEndMs = nowMs;
  }

  /** How many control requests have begun, how many are running, and when the last one ended. */
  get requests(): { begun: number; inFlight: number; lastEndMs: number } {
    return { begun: this.#requestsBegun, inFlight: this.#requestsInFlight, lastEndMs: this.#lastRequestEndMs };
  }

  /**
   * True while a queued operation runs (a batch between its commands and its save, a
   * snapshot): periodic work that can wait (the /proc refresh) does not cut into it.
   */
  get busy(): boolean {
    return this.#running > 0;
  }

  /** Waits until every queued commit has finished. */
  idle(): Promise<void> {
    return this.#enqueue(() => undefined);
  }

  /**
   * Applies a batch of table commands, each its own transaction; one result per command. A
   * command may come as a compact row (protocol.ts CommandRow), decoded when its turn comes.
   */
  exec(cmds: readonly Batched[]): Promise<(CommandError | null)[]> {
    return this.#enqueue(() => this.#exec(cmds));
  }

  /**
   * Like exec, but the batch is computed when its turn in the queue comes, from the table as it
   * is then (the health runner's changes, adapted to what operators changed meanwhile).
   */
  execComputed(build: () => readonly TableCommand[]): Promise<{ cmds: readonly TableCommand[]; results: (CommandError | null)[] }> {
    return this.#enqueue(async () => {
      const cmds = build();
      return { cmds, results: cmds.length ? await this.#exec(cmds) : [] };
    });
  }

  /** Where snapshots take each destination's health from (the daemon's health runner); null: none. */
  setHealthSource(source: (() => HealthLookup) | null): void {
    this.#healthSource = source;
  }

  async #exec(cmds: readonly Batched[]): Promise<(CommandError | null)[]> {
    const results: (CommandError | null)[] = new Array<CommandError | null>(cmds.length).fill(null);
    /** 1 for each command that changed the saved table (so a failed save must be reported on it). */
    const changed = new Uint8Array(cmds.length);
    const journals: Journal[] = [];
    if (!(this.dataplane instanceof NoneDataplane) || !this.#execMerged(cmds, results, changed, journals)) {
      results.fill(null);
      changed.fill(0);
      journals.length = 0;
      await this.#execEach(cmds, results, changed, journals);
    }
    if (journals.length > 0) {
      this.#commits++;
      try {
        await this.#save();
      } catch (err) {
        // Keep the running table equal to the saved one: undo the whole batch, newest first.
        for (let i = journals.length - 1; i >= 0; i--) await this.#undo(journals[i]);
        const e = commandErrorFromTslvs(err as TslvsError);
        for (let k = 0; k < cmds.length; k++) if (changed[k]) results[k] = { ...e, op: opOf(commandAt(cmds, k)) };
      }
    }
    return results;
  }

  /**
   * All commands in one journal (none dataplane only). Returns false, with the table as it was,
   * if a command failed in a way that is not an IpvsError (then the batch reruns one by one).
   * `changed` must match what separate journals would record: a successful command records
   * undo steps unless it is a zero (counters are not saved) or a flush of an empty table;
   * the director tests compare both paths on random batches, also with a failing save.
   */
  #execMerged(cmds: readonly Batched[], results: (CommandError | null)[], changed: Uint8Array, journals: Journal[]): boolean {
    const table = this.ipvs.table;
    let unexpected = false;
    const j = table.transaction(() => {
      for (let i = 0; i < cmds.length; i++) {
        const c = commandAt(cmds, i);
        const bad = malformedCommand(c);
        if (bad) {
          results[i] = bad;
          continue;
        }
        const emptyFlush = c.cmd === 'flush' && table.size === 0;
        try {
          applyTableCommand(table, c);
        } catch (err) {
          if (err instanceof IpvsError) {
            results[i] = ipvsErrorToWire(err);
            continue;
          }
          unexpected = true;
          return;
        }
        if (c.cmd !== 'zero' && !emptyFlush) changed[i] = 1;
      }
    });
    if (unexpected) {
      j.rollback();
      return false;
    }
    if (j.undo.length > 0) journals.push(j);
    return true;
  }

  async #execEach(cmds: readonly Batched[], results: (CommandError | null)[], changed: Uint8Array, journals: Journal[]): Promise<void> {
    const table = this.ipvs.table;
    for (let i = 0; i < cmds.length; i++) {
      const c = commandAt(cmds, i);
      const bad = malformedCommand(c);
      if (bad) {
        results[i] = bad;
        continue;
      }
      let failure: unknown = null;
      const j = table.transaction(() => {
        try {
          applyTableCommand(table, c);
        } catch (err) {
          failure = err;
        }
      });
      if (failure !== null) {
        j.rollback();
        results[i] = failure instanceof IpvsError ? ipvsErrorToWire(failure) : internalError(opOf(c), failure);
        continue;
      }
      if (!isEmptyDiff(j.diff)) {
        try {
          await this.dataplane.apply(j.diff);
        } catch (err) {
          j.rollback();
          results[i] = dataplaneError(opOf(c), err);
          continue;
        }
      }
      if (j.undo.length > 0) {
        changed[i] = 1;
        journals.push(j);
      }
    }
  }

  /** Rolls a committed journal back in the table and tells the dataplane. */
  async #undo(j: Journal): Promise<void> {
    j.rollback();
    if (isEmptyDiff(j.diff)) return;
    try {
      await this.dataplane.apply(invertDiff(j.diff));
    } catch (err) {
      this.#log(`Cannot undo a change in the ${this.dataplane.kind} dataplane after a failed save: ${(err as Error).message}; restart the daemon to resynchronise it`);
    }
  }

  async #save(): Promise<void> {
    if (!this.store) return;
    try {
      await this.store.saveTable(this.ipvs.table, this.#wallClock().toISOString());
      this.#lastSaveError = null;
    } catch (err) {
      this.#lastSaveError = (err as Error).message;
      throw err;
    }
  }

  /**
   * Rebuilds a saved table at start-up, as one transaction. Throws TslvsError
   * TSLVS_ERR_STATE_CORRUPT if the table refuses the saved content, TSLVS_ERR_RESTORE_FAILED
   * if the dataplane refuses it; either way nothing is left applied.
   */
  restore(state: SavedState, source: string): Promise<number> {
    return this.#enqueue(async () => {
      const cmds = commandsFromState(state);
      const table = this.ipvs.table;
      let failure: unknown = null;
      let at = -1;
      const j = table.transaction(() => {
        for (let i = 0; i < cmds.length; i++) {
          try {
            applyTableCommand(table, cmds[i]);
          } catch (err) {
            failure = err;
            at = i;
            return;
          }
        }
      });
      if (failure !== null) {
        j.rollback();
        const what = failure instanceof IpvsError ? failure.message : String(failure);
        throw new TslvsError('TSLVS_ERR_STATE_CORRUPT', `Saved state "${source}" refused at entry ${at + 1}: ${what}`,
          'the file was kept aside; restore the table from your rules (tslvsadm -R) or fix the file', { cause: failure });
      }
      if (!isEmptyDiff(j.diff)) {
        try {
          await this.dataplane.apply(j.diff);
        } catch (err) {
          j.rollback();
          const inner = err instanceof TslvsError ? `${err.message}; ${err.hint}` : (err as Error).message;
          throw new TslvsError('TSLVS_ERR_RESTORE_FAILED',
            `The ${this.dataplane.kind} dataplane refused the saved table "${source}": ${inner}`,
            'fix what the dataplane reports, or start with --dataplane none to inspect the table, or use another --state-dir', { cause: err, errno: systemErrno(err) ?? (err as TslvsError).errno });
        }
      }
      return state.services.length;
    });
  }

  /**
   * Makes the table equal to the rules (from a rules file) by applying only the difference, as
   * one transaction: services and destinations that did not change are not touched, so their
   * connections, counters and scheduler state live on. All or nothing.
   */
  applyRules(entries: readonly RuleEntry[], file: string, foreign?: (svc: ServiceWire) => boolean): Promise<ReloadSummary> {
    return this.#enqueue(() => this.#applyRules(entries, file, foreign));
  }

  /** `foreign`: services the rules file does not own (keepalived.conf's): never deleted for being absent from it. */
  async #applyRules(entries: readonly RuleEntry[], file: string, foreign?: (svc: ServiceWire) => boolean): Promise<ReloadSummary> {
    const desired = checkRules(entries, file);
    const { cmds, summary } = differenceCommands(this.ipvs, desired, foreign);
    if (cmds.length === 0) return summary;
    const table = this.ipvs.table;
    let failure: unknown = null;
    const j = table.transaction(() => {
      for (const c of cmds) {
        try {
          applyTableCommand(table, c);
        } catch (err) {
          failure = err;
          return;
        }
      }
    });
    if (failure !== null) {
      j.rollback();
      throw new TslvsError('TSLVS_ERR_RULES_REJECTED', `${file}: the table refused the difference: ${String((failure as Error).message)}`,
        'fix the rules file and reload again', { cause: failure });
    }
    try {
      await this.dataplane.apply(j.diff);
    } catch (err) {
      j.rollback();
      throw dataplaneTslvsError(err);
    }
    this.#commits++;
    try {
      await this.#save();
    } catch (err) {
      await this.#undo(j);
      throw err;
    }
    return summary;
  }

  /** The table, or one service (IpvsError ESRCH when it does not exist). */
  snapshot(svc?: ServiceIdWire): Promise<TableSnapshot> {
    return this.#enqueue(() => this.snapshotNow(svc));
  }

  /** Snapshot without waiting for queued commits (status output while a batch runs). */
  snapshotNow(svc?: ServiceIdWire): TableSnapshot {
    const health = this.#healthSource?.();
    if (!svc) return buildSnapshot(this.ipvs, this.dataplane.kind, undefined, health);
    const found = this.ipvs.table.find(serviceIdFromWire('get-service', svc));
    if (!found) throw new IpvsError('get-service', 'ESRCH', 'no such service');
    return buildSnapshot(this.ipvs, this.dataplane.kind, [found], health);
  }

  /** These services (and the table's totals) as a snapshot, now: the /proc refresh's slices. */
  snapshotServices(only: readonly VirtualService[]): TableSnapshot {
    return buildSnapshot(this.ipvs, this.dataplane.kind, only, this.#healthSource?.());
  }

  /**
   * The table, or one service, as compact rows (tslvsadm's listings); counters only with
   * `stats`. IpvsError ESRCH when the service does not exist.
   */
  snapshotRows(svc: ServiceIdWire | undefined, stats: boolean): Promise<TableRows> {
    return this.#enqueue(() => {
      if (!svc) return buildTableRows(this.ipvs, this.dataplane.kind, stats);
      const found = this.ipvs.table.find(serviceIdFromWire('get-service', svc));
      if (!found) throw new IpvsError('get-service', 'ESRCH', 'no such service');
      return buildTableRows(this.ipvs, this.dataplane.kind, stats, [found]);
    });
  }

  /** Connection entries as `ipvsadm -L -c` lists them (hash-table order). */
  conns(nowMs: number): ConnWire[] {
    return this.ipvs.listConns(nowMs).map(connToWire);
  }

  /**
   * The core's timers (connection expiry, estimator every 2 s from nowMs, scheduler sweeps,
   * trash) and the memory defenses (defense_work_handler), once a second from the lifecycle.
   */
  tick(nowMs: number, availMemPages = Infinity): void {
    this.ipvs.tick(nowMs);
    this.ipvs.defenseTick(nowMs, availMemPages);
  }

  status(): DirectorStatus {
    let dests = 0;
    for (const s of this.ipvs.table.services()) dests += s.numDests;
    return {
      dataplane: this.dataplane.kind,
      services: this.ipvs.table.size,
      dests,
      commits: this.#commits,
      lastSaveError: this.#lastSaveError,
      stateFile: this.store?.path ?? null,
    };
  }

  /** Lets queued commits finish, then closes the dataplane. */
  async close(): Promise<void> {
    await this.idle().catch(() => undefined);
    this.#closed = true;
    await this.dataplane.close();
  }
}

/** A batch entry: a command object, or the same as a compact row. */
export type Batched = TableCommand | CommandRow;

/**
 * Entry i of a batch as a command object (a row is decoded here, so a batch of rows never holds
 * an object per command). Something that is neither is passed on for malformedCommand to refuse.
 */
function commandAt(cmds: readonly Batched[], i: number): TableCommand {
  const c = cmds[i];
  return Array.isArray(c) ? (rowToCommand(c) ?? (c as unknown as TableCommand)) : c;
}

/** The opposite change, for a dataplane to apply after the table was rolled back. */
export function invertDiff(d: TableDiff): TableDiff {
  return {
    addedServices: d.removedServices, removedServices: d.addedServices, changedServices: d.changedServices,
    addedDests: d.removedDests, removedDests: d.addedDests, changedDests: d.changedDests,
    timeoutsChanged: d.timeoutsChanged,
  };
}

function dataplaneTslvsError(err: unknown): TslvsError {
  if (err instanceof TslvsError) return err;
  const errno = systemErrno(err);
  return new TslvsError('TSLVS_ERR_DATAPLANE_REFUSED',
    `The dataplane could not apply the change: ${String((err as Error)?.message ?? err).split('\n')[0]}`,
    'the change was undone; fix the cause and repeat the command', { cause: err, errno });
}

function commandErrorFromTslvs(e: TslvsError): CommandError {
  return { op: '', errno: e.errno ?? 'EIO', message: e.message, hint: e.hint, code: e.code };
}

/** A dataplane refusal as a command result: its own message and hint, and an errno for ipvsadm. */
function dataplaneError(op: string, err: unknown): CommandError {
  const e = dataplaneTslvsError(err);
  return { ...commandErrorFromTslvs(e), op };
}

function internalError(op: string, err: unknown): CommandError {
  return {
    op, errno: 'EFAULT', code: 'TSLVS_ERR_INTERNAL',
    message: `Internal error in ${op}: ${String((err as Error)?.message ?? err).split('\n')[0]}`,
    hint: 'nothing was changed; please report this with the command that caused it',
  };
}

interface DesiredService {
  line: number;
  svc: Extract<TableCommand, { cmd: 'add-service' }>['svc'];
  /** In file order. */
  dests: Extract<TableCommand, { cmd: 'add-dest' }>['dest'][];
}

/**
 * Checks the rules against a scratch table (same scheduler names, duplicates, families as the
 * live one would see) and groups them by service. Throws TslvsError TSLVS_ERR_RULES_REJECTED.
 */
function checkRules(entries: readonly RuleEntry[], file: string): Map<string, DesiredService> {
  const scratch = new ServiceTable();
  const out = new Map<string, DesiredService>();
  for (const e of entries) {
    try {
      applyTableCommand(scratch, e.cmd);
    } catch (err) {
      if (!(err instanceof IpvsError)) throw err;
      throw new TslvsError('TSLVS_ERR_RULES_REJECTED', `${file}:${e.line}: ${err.message}`,
        'fix that line; nothing of the file was applied', { cause: err });
    }
    if (e.cmd.cmd === 'add-service') {
      const svc = scratch.find(serviceIdFromWire('add-service', e.cmd.svc));
      if (svc) out.set(svc.key(), { line: e.line, svc: serviceToWire(svc), dests: [] });
    } else if (e.cmd.cmd === 'add-dest') {
      const svc = scratch.find(serviceIdFromWire('add-dest', e.cmd.svc));
      const d = svc?.dests()[0];
      if (svc && d) out.get(svc.key())?.dests.push(destToWire(d));
    }
  }
  return out;
}

function sameService(a: ReturnType<typeof serviceToWire>, b: ReturnType<typeof serviceToWire>): boolean {
  return a.sched === b.sched && a.flags === b.flags && a.timeoutS === b.timeoutS && a.netmask === b.netmask && a.pe === b.pe;
}

function sameDest(a: ReturnType<typeof destToWire>, b: ReturnType<typeof destToWire>): boolean {
  return a.fwd === b.fwd && a.weight === b.weight && a.uThreshold === b.uThreshold && a.lThreshold === b.lThreshold &&
    a.tunType === b.tunType && a.tunPort === b.tunPort && a.tunFlags === b.tunFlags && (a.proxyProtocol ?? 0) === (b.proxyProtocol ?? 0);
}

/** The commands that turn the live table into `desired`, touching nothing that is equal. */
function differenceCommands(ipvs: Ipvs, desired: Map<string, DesiredService>, foreign?: (svc: ServiceWire) => boolean): { cmds: TableCommand[]; summary: ReloadSummary } {
  const cmds: TableCommand[] = [];
  const summary: ReloadSummary = { added: 0, removed: 0, changed: 0, unchanged: 0 };
  const live = new Map(ipvs.table.services().map((s) => [s.key(), s]));
  for (const [key, svc] of live) {
    if (!desired.has(key) && !foreign?.(serviceToWire(svc))) {
      cmds.push({ cmd: 'del-service', svc: serviceToWire(svc) });
      summary.removed++;
    }
  }
  for (const [key, want] of desired) {
    const id = { af: want.svc.af, protocol: want.svc.protocol, addr: want.svc.addr, port: want.svc.port, fwmark: want.svc.fwmark };
    const have = live.get(key);
    if (!have) {
      cmds.push({ cmd: 'add-service', svc: want.svc });
      for (const d of want.dests) cmds.push({ cmd: 'add-dest', svc: id, dest: d });
      summary.added++;
      continue;
    }
    const before = cmds.length;
    if (!sameService(serviceToWire(have), want.svc)) cmds.push({ cmd: 'edit-service', svc: want.svc });
    const wantDests = new Map(want.dests.map((d) => [`${d.af}|${d.addr}|${d.port}`, d]));
    const haveDests = new Map(have.dests().map((d) => [`${d.af}|${d.addr.toString()}|${d.port}`, destToWire(d)]));
    for (const [k, d] of haveDests) {
      if (!wantDests.has(k)) cmds.push({ cmd: 'del-dest', svc: id, dest: { af: d.af, addr: d.addr, port: d.port } });
    }
    for (const [k, d] of wantDests) {
      const h = haveDests.get(k);
      if (!h) cmds.push({ cmd: 'add-dest', svc: id, dest: d });
      else if (!sameDest(h, d)) cmds.push({ cmd: 'edit-dest', svc: id, dest: d });
    }
    if (cmds.length > before) summary.changed++;
    else summary.unchanged++;
  }
  return { cmds, summary };
}
