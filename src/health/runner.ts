/**
 * The health runner: schedules every checker of a keepalived configuration, runs the probes
 * with a bounded number of sockets/processes in flight, feeds the results to the pure verdict
 * (verdict.ts) and hands each resulting decision to the daemon as data (onChange). It applies
 * nothing itself: the daemon turns `commands` into table changes. It does run the
 * notify_up/notify_down/quorum_up/quorum_down scripts, as keepalived's checker process does.
 *
 * Scheduling follows keepalived (check_api.c register_checkers_thread and the epilogs): the
 * first probe of a checker runs 1 s after start plus a random part of warmup; the next one
 * delay_loop (or delay_before_retry while retrying) after the previous one finished, MISC_CHECK
 * counting from when the script started. Without drift: a probe that starts late (a busy event
 * loop, or waiting for a free slot) does not push its successors later; the next due time is
 * computed from the due time, not from when the timer fired. One timer serves all checkers
 * (a min-heap of due times), so hundreds of real servers cost one pending timeout.
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { FSWatcher } from 'node:fs';
import type { DestIdWire, DestWire, HealthWire, ServiceIdWire, ServiceWire, TableCommand } from '../control/protocol.js';
import { parseAddr } from '../core/addr.js';
import { destOf, type IpvsService, serviceId, servicesOf } from '../config/keepalived/to-ipvs.js';
import type { CheckerConfig, KeepalivedConfig, RealServer, Script, SorryServer, VirtualServer } from '../config/keepalived/types.js';
import type { Probe, ProbeContext, ProbeFactory, ProbeResult } from './checker.js';
import { createDnsProbe } from './dns-check.js';
import { readTrackFile, watchTrackFile } from './file-check.js';
import { createHttpProbe } from './http-get.js';
import { createMiscProbe, runScript } from './misc-check.js';
import { createPingProbe } from './ping-check.js';
import { createSmtpProbe } from './smtp-check.js';
import { createTcpProbe } from './tcp-check.js';
import { createUdpProbe } from './udp-check.js';
import { type Action, type CheckerSpec, type EpilogStyle, HealthVerdict, type ServerRef, type VerdictCarry, type VerdictSpec } from './verdict.js';

/** keepalived/include/check_api.h BOOTSTRAP_DELAY: 1 s before the first checks. */
export const BOOTSTRAP_DELAY_MS = 1000;
/** Default bound on probes in flight (sockets or child processes). */
export const DEFAULT_CONCURRENCY = 256;

export interface DestChange {
  readonly virtualServer: string;
  readonly server: string;
  readonly role: 'real' | 'sorry';
  readonly op: 'add' | 'edit' | 'del';
  /** The IPVS weight set (null for del). */
  readonly weight: number | null;
}

export interface HealthDecision {
  /** now() when it was decided. */
  readonly atMs: number;
  readonly reason: 'start' | 'check' | 'file' | 'stop' | 'reload';
  /** The check that caused it (reason 'check' or 'file'). */
  readonly source: { readonly virtualServer: string; readonly realServer: string; readonly checker: string; readonly result: string } | null;
  /** Destination changes per virtual server (not yet expanded to group services). */
  readonly changes: readonly DestChange[];
  /** Ready to execute: the same changes as control-protocol table commands, for every IPVS service. */
  readonly commands: readonly TableCommand[];
  /** Scripts started for this decision. */
  readonly scripts: readonly { readonly script: 'notify_up' | 'notify_down' | 'quorum_up' | 'quorum_down'; readonly argv: readonly string[] }[];
  /** keepalived's own log lines for what happened. */
  readonly log: readonly string[];
}

export interface CheckerStatus {
  readonly checker: CheckerConfig['kind'];
  readonly target: string;
  readonly up: boolean;
  readonly lastResult: string | null;
  readonly lastOk: boolean | null;
  readonly latencyMs: number | null;
  readonly lastCheckMs: number | null;
  readonly lastTransitionMs: number | null;
  readonly retries: number;
  readonly nextCheckMs: number | null;
}

export interface RealServerStatus {
  readonly virtualServer: string;
  readonly realServer: string;
  readonly alive: boolean;
  readonly inTable: boolean;
  readonly weight: number;
  readonly lastTransitionMs: number | null;
  readonly checkers: readonly CheckerStatus[];
}

export interface HealthStatus {
  readonly running: boolean;
  readonly inFlight: number;
  readonly queued: number;
  readonly virtualServers: readonly { readonly key: string; readonly quorumUp: boolean; readonly sorryInPool: boolean }[];
  readonly realServers: readonly RealServerStatus[];
}

export interface HealthRunnerOptions {
  readonly config: KeepalivedConfig;
  /** Monotonic milliseconds (default performance.now). */
  readonly now?: () => number;
  /** Called with every decision, in order; a throw is caught and reported through onError. */
  readonly onChange: (decision: HealthDecision) => void;
  readonly onError?: (err: unknown) => void;
  /** Uniform in [0, 1) for the warmup spread (default Math.random). */
  readonly random?: () => number;
  readonly randomBytes?: (n: number) => Uint8Array;
  /** Max probes in flight (default 256). */
  readonly concurrency?: number;
  /** Replace how probes are built (tests); return null to use the built-in one. */
  readonly probeFactory?: ProbeFactory;
  /** Run notify/quorum scripts (default true). */
  readonly runScripts?: boolean;
  /** Override the 1 s bootstrap delay (tests and benches). */
  readonly bootstrapDelayMs?: number;
  /** `ping` binary for PING_CHECK (default "ping" from PATH). */
  readonly pingCommand?: string;
}

export interface HealthRunner {
  /** Computes the startup table (delivered as the first decision) and starts the checks. */
  start(): void;
  /** Stops every check. Unless keepTable, delivers the shutdown decision (remove everything, omega scripts). */
  stop(opts?: { keepTable?: boolean }): Promise<void>;
  /**
   * Reload with a new configuration (already loaded and accepted): keeps the health state, the
   * schedule and a probe in flight of every checker whose virtual server, real server and
   * target stay the same (see HealthVerdict.startFrom); new checkers start as at a first start.
   * Returns the 'reload' decision (not passed to onChange): its log lines and scripts, and as
   * `commands` the difference between the table before and after (intendedTable()).
   */
  update(config: KeepalivedConfig): HealthDecision;
  /** Every IPVS service of the configuration with the destinations the decisions so far put on it. */
  intendedTable(): ServiceEntries[];
  status(): HealthStatus;
  /** The per real server health in the control protocol's shape, keyed "vsKey rsKey". */
  healthWire(): Map<string, HealthWire>;
}

interface Slot {
  vi: number;
  ri: number;
  ci: number;
  cfg: CheckerConfig;
  probe: Probe | null;
  /** Its checker left the configuration at a reload: a probe still in flight is ignored. */
  dead: boolean;
  dueMs: number;
  url: number;
  running: boolean;
  lastResult: ProbeResult | null;
  latencyMs: number | null;
  lastCheckMs: number | null;
  watcher: FSWatcher | null;
}

const STYLE: Record<CheckerConfig['kind'], EpilogStyle> = {
  TCP_CHECK: 'tcp', UDP_CHECK: 'udp', PING_CHECK: 'udp', DNS_CHECK: 'dns', SMTP_CHECK: 'smtp', MISC_CHECK: 'misc',
  HTTP_GET: 'http', SSL_GET: 'http', FILE_CHECK: 'file', BFD_CHECK: 'none',
};

/** The verdict's view of a configuration (keys, weights, retry counts). */
export function verdictSpecOf(config: KeepalivedConfig): VerdictSpec {
  return {
    rsInitNotifies: config.globalDefs.rsInitNotifies,
    virtualServers: config.virtualServers.map((vs) => ({
      key: vs.key,
      quorum: vs.quorum,
      hysteresis: vs.hysteresis,
      omega: vs.omega,
      sorry: vs.sorryServer ? { key: sorryKey(vs, vs.sorryServer), inhibit: vs.sorryServer.inhibit, isRealServer: vs.sorryServer.isRealServer } : null,
      realServers: vs.realServers.map((rs) => ({
        key: rs.key,
        weight: rs.weight,
        inhibit: rs.inhibitOnFailure,
        checkers: rs.checkers.map((c): CheckerSpec => ({
          style: STYLE[c.kind], kind: c.kind, retry: c.retry, delayLoopMs: c.delayLoopMs, delayBeforeRetryMs: c.delayBeforeRetryMs,
          alpha: c.alpha, urls: c.kind === 'HTTP_GET' || c.kind === 'SSL_GET' ? c.urls.length : 1,
          fastRecovery: (c.kind === 'HTTP_GET' || c.kind === 'SSL_GET') && c.fastRecovery,
          dynamic: c.kind === 'MISC_CHECK' && c.dynamic,
          fileWeight: c.kind === 'FILE_CHECK' ? c.weight : 0, fileReverse: c.kind === 'FILE_CHECK' && c.reverse,
        })),
      })),
    })),
  };
}

function sorryKey(vs: VirtualServer, s: SorryServer): string {
  const proto = vs.protocol === 6 ? 'tcp' : vs.protocol === 17 ? 'udp' : vs.protocol === 132 ? 'sctp' : 'none';
  return `[${s.addr}]:${proto}:${s.port}`;
}

/** The built-in probe of each checker kind. */
export function defaultProbe(c: CheckerConfig, ctx: ProbeContext & { config?: KeepalivedConfig; pingCommand?: string }): Probe | null {
  switch (c.kind) {
    case 'TCP_CHECK': return createTcpProbe(c);
    case 'HTTP_GET':
    case 'SSL_GET': return createHttpProbe(c, ctx.config);
    case 'MISC_CHECK': return createMiscProbe(c);
    case 'DNS_CHECK': return createDnsProbe(c, ctx);
    case 'SMTP_CHECK': return createSmtpProbe(c);
    case 'UDP_CHECK': return createUdpProbe(c, ctx);
    case 'PING_CHECK': return createPingProbe(c, ctx.pingCommand);
    case 'FILE_CHECK':
    case 'BFD_CHECK': return null;
  }
}

/** Turns verdict actions into control-protocol commands, expanded to every IPVS service of each VS. */
export function commandsOf(config: KeepalivedConfig, services: readonly IpvsService[][], actions: readonly Action[]): TableCommand[] {
  const out: TableCommand[] = [];
  const serverOf = (vs: VirtualServer, ref: ServerRef): RealServer | SorryServer => (ref.kind === 'rs' ? vs.realServers[ref.rs] : vs.sorryServer!);
  for (const a of actions) {
    if (a.type === 'log' || a.type === 'notify') continue;
    const vs = config.virtualServers[a.vs];
    for (const s of services[a.vs]) {
      if (a.type === 'add-service') out.push({ cmd: 'add-service', svc: s.svc });
      else if (a.type === 'del-service') out.push({ cmd: 'del-service', svc: serviceId(s.svc) });
      else if (a.type === 'add-dest') out.push({ cmd: 'add-dest', svc: serviceId(s.svc), dest: destOf(s, serverOf(vs, a.server), a.weight) });
      else if (a.type === 'edit-dest') out.push({ cmd: 'edit-dest', svc: serviceId(s.svc), dest: destOf(s, serverOf(vs, a.server), a.weight) });
      else {
        const d = destOf(s, serverOf(vs, a.server), 0);
        out.push({ cmd: 'del-dest', svc: serviceId(s.svc), dest: { af: d.af, addr: d.addr, port: d.port } });
      }
    }
  }
  return out;
}

/** The table keepalived sets up at start, before any check has run (alpha, inhibit and sorry servers applied). */
export function initialCommands(config: KeepalivedConfig, fileValue: (path: string) => number = (p) => readTrackFile(p) ?? 0): TableCommand[] {
  const v = new HealthVerdict(verdictSpecOf(config));
  const services = config.virtualServers.map((vs) => servicesOf(config, vs));
  const actions = v.start(0, (vi, ri, ci) => {
    const c = config.virtualServers[vi].realServers[ri].checkers[ci];
    return c.kind === 'FILE_CHECK' ? fileValue(c.path) : 0;
  });
  return commandsOf(config, services, actions);
}

class MinHeap {
  readonly #a: Slot[] = [];
  get size(): number { return this.#a.length; }
  peek(): Slot | undefined { return this.#a[0]; }
  push(s: Slot): void {
    const a = this.#a;
    a.push(s);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p].dueMs <= a[i].dueMs) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }
  pop(): Slot | undefined {
    const a = this.#a;
    if (!a.length) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l].dueMs < a[m].dueMs) m = l;
        if (r < a.length && a[r].dueMs < a[m].dueMs) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
  clear(): void { this.#a.length = 0; }
}

/** One IPVS service and the destinations meant to be on it. */
export interface ServiceEntries {
  readonly svc: ServiceWire;
  readonly dests: readonly DestWire[];
}

/** "af|proto|addr|port|fwmark" with the address in canonical text (fwmark services: "af|fwm|N"). */
export function serviceKeyOf(s: ServiceIdWire): string {
  if (s.fwmark) return `${s.af}|fwm|${s.fwmark}`;
  return `${s.af}|${s.protocol}|${canonicalAddr(s.addr)}|${s.port}`;
}

/** "af|addr|port" of a destination. */
export function destKeyOf(d: DestIdWire): string {
  return `${d.af}|${canonicalAddr(d.addr)}|${d.port}`;
}

function canonicalAddr(a: string): string {
  return parseAddr(a)?.toString() ?? a;
}

function sameServiceAttrs(a: ServiceWire, b: ServiceWire): boolean {
  return a.sched === b.sched && a.flags === b.flags && a.timeoutS === b.timeoutS && a.netmask === b.netmask && (a.pe ?? '') === (b.pe ?? '');
}

function sameDestAttrs(a: DestWire, b: DestWire): boolean {
  return a.fwd === b.fwd && a.weight === b.weight && a.uThreshold === b.uThreshold && a.lThreshold === b.lThreshold &&
    a.tunType === b.tunType && a.tunPort === b.tunPort && a.tunFlags === b.tunFlags && (a.proxyProtocol ?? 0) === (b.proxyProtocol ?? 0);
}

/**
 * The commands that turn `before` into `after`, touching nothing that is equal (an unchanged
 * destination keeps its connections and counters). Services only in `before` are deleted;
 * destinations only in `before` are deleted unless `keepDest` says they are someone else's.
 */
export function tableDifference(before: readonly ServiceEntries[], after: readonly ServiceEntries[],
  keepDest: (svcKey: string, destKey: string) => boolean = () => false): TableCommand[] {
  const out: TableCommand[] = [];
  const b = new Map(before.map((e) => [serviceKeyOf(e.svc), e]));
  const a = new Map(after.map((e) => [serviceKeyOf(e.svc), e]));
  for (const [k, e] of b) if (!a.has(k)) out.push({ cmd: 'del-service', svc: serviceId(e.svc) });
  for (const [k, want] of a) {
    const have = b.get(k);
    const id = serviceId(want.svc);
    if (!have) {
      out.push({ cmd: 'add-service', svc: want.svc });
      for (const d of want.dests) out.push({ cmd: 'add-dest', svc: id, dest: d });
      continue;
    }
    if (!sameServiceAttrs(have.svc, want.svc)) out.push({ cmd: 'edit-service', svc: want.svc });
    const wantD = new Map(want.dests.map((d) => [destKeyOf(d), d]));
    const haveD = new Map(have.dests.map((d) => [destKeyOf(d), d]));
    for (const [dk, d] of haveD) {
      if (!wantD.has(dk) && !keepDest(k, dk)) out.push({ cmd: 'del-dest', svc: id, dest: { af: d.af, addr: d.addr, port: d.port } });
    }
    for (const [dk, d] of wantD) {
      const h = haveD.get(dk);
      if (!h) out.push({ cmd: 'add-dest', svc: id, dest: d });
      else if (!sameDestAttrs(h, d)) out.push({ cmd: 'edit-dest', svc: id, dest: d });
    }
  }
  return out;
}

/** What a checker probes: reload keeps a checker's state when its kind and target stay the same (keepalived's checker compare()). */
export function checkerIdentity(c: CheckerConfig): string {
  switch (c.kind) {
    case 'MISC_CHECK': return `${c.kind} ${JSON.stringify(c.script.argv)}`;
    case 'FILE_CHECK': return `${c.kind} ${c.path} ${c.weight} ${c.reverse}`;
    case 'BFD_CHECK': return `${c.kind} ${c.name}`;
    case 'HTTP_GET':
    case 'SSL_GET': return `${c.kind} ${JSON.stringify(c.connect)} ${JSON.stringify(c.urls)}`;
    case 'DNS_CHECK': return `${c.kind} ${JSON.stringify(c.connect)} ${c.type} ${c.name}`;
    default: return `${c.kind} ${JSON.stringify(c.connect)}`;
  }
}

/** The sorry server's identity: same address, port and forwarding (clear_diff_s_srv's rs_iseq). */
function sorryIdentity(vs: VirtualServer): string | null {
  const s = vs.sorryServer;
  return s ? `${s.af}|${s.addr}|${s.port}|${s.forwarding}|${s.inhibit}` : null;
}

/**
 * What a reload keeps from `old` in `next`: virtual servers matched by keepalived's name for
 * them, real servers by theirs within a matched virtual server, checkers by what they probe
 * (checkerIdentity, each old checker used once), the sorry server when it is the same.
 */
export function carryOf(old: KeepalivedConfig, next: KeepalivedConfig): VerdictCarry {
  const vsIndex = new Map(old.virtualServers.map((v, i) => [v.key, i]));
  const vs = next.virtualServers.map((v) => vsIndex.get(v.key) ?? -1);
  const rs: number[][] = [];
  const ck: number[][][] = [];
  const sorry: boolean[] = [];
  next.virtualServers.forEach((v, vi) => {
    const ov = vs[vi] >= 0 ? old.virtualServers[vs[vi]] : null;
    const rsIdx = new Map((ov?.realServers ?? []).map((r, i) => [r.key, i]));
    const rsRow = v.realServers.map((r) => rsIdx.get(r.key) ?? -1);
    rs.push(rsRow);
    ck.push(v.realServers.map((r, ri) => {
      const ori = rsRow[ri];
      if (ori < 0 || !ov) return r.checkers.map(() => -1);
      const oldIds = ov.realServers[ori].checkers.map(checkerIdentity);
      const used = new Set<number>();
      return r.checkers.map((c) => {
        const id = checkerIdentity(c);
        const j = oldIds.findIndex((x, k) => x === id && !used.has(k));
        if (j >= 0) used.add(j);
        return j;
      });
    }));
    sorry.push(!!ov && sorryIdentity(v) !== null && sorryIdentity(v) === sorryIdentity(ov));
  });
  return { vs, rs, ck, sorry };
}

export function createHealthRunner(opts: HealthRunnerOptions): HealthRunner {
  let config = opts.config;
  const now = opts.now ?? (() => performance.now());
  const random = opts.random ?? Math.random;
  const rb = opts.randomBytes ?? ((n: number) => new Uint8Array(cryptoRandomBytes(n)));
  const limit = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
  const runScripts = opts.runScripts ?? true;
  const bootstrap = opts.bootstrapDelayMs ?? BOOTSTRAP_DELAY_MS;
  let verdict = new HealthVerdict(verdictSpecOf(config));
  let services = config.virtualServers.map((vs) => servicesOf(config, vs));
  let slots: Slot[] = [];
  /** slotAt[vs][rs][checker] */
  let slotAt: Slot[][][] = [];
  const heap = new MinHeap();
  let ready: Slot[] = [];
  // Per real server: alive as last seen, and when that last changed (for status()).
  let aliveSeen: boolean[][] = config.virtualServers.map((vs) => vs.realServers.map(() => false));
  let transitionMs: (number | null)[][] = config.virtualServers.map((vs) => vs.realServers.map(() => null));
  // What the decisions so far put in the table, per virtual server: server ("rs <key>" or "sorry") → weight.
  let intended: Map<string, number>[] = config.virtualServers.map(() => new Map());
  const noteTransitions = (vi: number, at: number) => {
    config.virtualServers[vi].realServers.forEach((_, ri) => {
      const alive = verdict.status(vi, ri).alive;
      if (alive !== aliveSeen[vi][ri]) {
        aliveSeen[vi][ri] = alive;
        transitionMs[vi][ri] = at;
      }
    });
  };
  let inFlight = 0;
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  let started = false;
  let abort = new AbortController();
  const inflightDone = new Set<Promise<void>>();

  const makeSlot = (vi: number, ri: number, ci: number, c: CheckerConfig): Slot => {
    const vs = config.virtualServers[vi];
    const ctx = { vsDelayLoopMs: vs.delayLoopMs, randomBytes: rb, config, pingCommand: opts.pingCommand };
    const probe = opts.probeFactory?.(c, ctx) ?? defaultProbe(c, ctx);
    return { vi, ri, ci, cfg: c, probe, dueMs: 0, url: 0, running: false, lastResult: null, latencyMs: null, lastCheckMs: null, watcher: null, dead: false };
  };
  slotAt = config.virtualServers.map((vs, vi) => vs.realServers.map((rs, ri) => rs.checkers.map((c, ci) => makeSlot(vi, ri, ci, c))));
  slots = slotAt.flat(2);

  const report = (e: unknown) => {
    if (opts.onError) opts.onError(e);
  };

  const scriptOf = (a: Extract<Action, { type: 'notify' }>): Script | null => {
    const vs = config.virtualServers[a.vs];
    if (a.script === 'quorum_up') return vs.quorumUp;
    if (a.script === 'quorum_down') return vs.quorumDown;
    const rs = vs.realServers[a.rs!];
    return a.script === 'notify_up' ? rs.notifyUp : rs.notifyDown;
  };

  const serverKey = (ref: ServerRef, vs: VirtualServer): string => (ref.kind === 'rs' ? `rs ${vs.realServers[ref.rs].key}` : 'sorry');

  /** Scripts, change records and log lines of a list of actions; updates `intended`. */
  const digest = (actions: readonly Action[]) => {
    const changes: DestChange[] = [];
    const scripts: { script: 'notify_up' | 'notify_down' | 'quorum_up' | 'quorum_down'; argv: readonly string[] }[] = [];
    const log: string[] = [];
    for (const a of actions) {
      if (a.type === 'log') log.push(a.text);
      else if (a.type === 'notify') {
        const s = scriptOf(a);
        if (!s) continue;
        scripts.push({ script: a.script, argv: s.argv });
        if (runScripts) {
          const ac = new AbortController();
          void runScript(s.argv, 60_000, { url: 0, signal: ac.signal }, s.uid, s.gid);
        }
      } else if (a.type === 'add-dest' || a.type === 'edit-dest' || a.type === 'del-dest') {
        const vs = config.virtualServers[a.vs];
        const server = a.server.kind === 'rs' ? vs.realServers[a.server.rs].key : sorryKey(vs, vs.sorryServer!);
        changes.push({
          virtualServer: vs.key, server, role: a.server.kind === 'rs' ? 'real' : 'sorry',
          op: a.type === 'add-dest' ? 'add' : a.type === 'edit-dest' ? 'edit' : 'del', weight: a.type === 'del-dest' ? null : a.weight,
        });
        if (a.type === 'del-dest') intended[a.vs].delete(serverKey(a.server, vs));
        else intended[a.vs].set(serverKey(a.server, vs), a.weight);
      } else if (a.type === 'del-service') intended[a.vs].clear();
    }
    return { changes, scripts, log };
  };

  const decide = (reason: HealthDecision['reason'], actions: readonly Action[], source: HealthDecision['source'], commands?: readonly TableCommand[], extraLog: readonly string[] = []): HealthDecision | null => {
    const at = now();
    const { changes, scripts, log } = digest(actions);
    log.unshift(...extraLog);
    const cmds = commands ?? commandsOf(config, services, actions);
    if (reason === 'check' && !changes.length && !scripts.length && !log.length) return null;
    return Object.freeze({ atMs: at, reason, source, changes: Object.freeze(changes), commands: Object.freeze([...cmds]), scripts: Object.freeze(scripts), log: Object.freeze(log) });
  };

  const deliver = (reason: HealthDecision['reason'], actions: readonly Action[], source: HealthDecision['source']) => {
    const decision = decide(reason, actions, source);
    if (!decision) return;
    try {
      opts.onChange(decision);
    } catch (e) {
      report(e);
    }
  };

  const intendedTable = (): ServiceEntries[] => {
    const out: ServiceEntries[] = [];
    if (!started) return out;
    config.virtualServers.forEach((vs, vi) => {
      for (const s of services[vi]) {
        const dests: DestWire[] = [];
        for (const [k, w] of intended[vi]) {
          const server = k === 'sorry' ? vs.sorryServer : vs.realServers.find((r) => `rs ${r.key}` === k);
          if (server) dests.push(destOf(s, server, w));
        }
        out.push({ svc: s.svc, dests });
      }
    });
    return out;
  };

  const arm = () => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (!running) return;
    const top = heap.peek();
    if (!top) return;
    const wait = Math.max(0, top.dueMs - now());
    timer = setTimeout(onTimer, Math.min(wait, 2_147_483_647));
    timer.unref?.();
  };

  const onTimer = () => {
    timer = null;
    const t = now();
    for (let s = heap.peek(); s && s.dueMs <= t; s = heap.peek()) ready.push(heap.pop()!);
    pump();
    arm();
  };

  const pump = () => {
    while (running && ready.length && inFlight < limit) {
      const s = ready.shift()!;
      if (!s.dead) launch(s);
    }
  };

  const schedule = (s: Slot, dueMs: number) => {
    s.dueMs = dueMs;
    heap.push(s);
  };

  const launch = (s: Slot) => {
    if (s.cfg.kind === 'FILE_CHECK') {
      pollFile(s);
      schedule(s, s.dueMs + s.cfg.delayLoopMs);
      return;
    }
    if (!s.probe) return;
    s.running = true;
    inFlight++;
    const startedAt = now();
    const due = s.dueMs;
    const signal = abort.signal;
    const p = s.probe.run({ url: s.url, signal, now }).catch((e: unknown): ProbeResult => ({ ok: false, detail: `probe error: ${(e as Error)?.message ?? String(e)}` }))
      .then((r) => {
        inFlight--;
        s.running = false;
        if (!running || signal.aborted || s.dead) {
          pump();
          return;
        }
        // The probe's own settle time: other probes launched in the same turn do not count as its duration.
        const finished = r.finishedMs ?? now();
        s.lastResult = r;
        s.latencyMs = finished - startedAt;
        s.lastCheckMs = finished;
        const step = verdict.probeDone(s.vi, s.ri, s.ci, { ok: r.ok, exitStatus: r.exitStatus }, finished);
        s.url = step.nextUrl;
        noteTransitions(s.vi, finished);
        const vs = config.virtualServers[s.vi];
        deliver('check', step.actions, { virtualServer: vs.key, realServer: vs.realServers[s.ri].key, checker: s.cfg.kind, result: r.detail });
        // No drift: count from the due time, not from when the probe actually started.
        const base = s.cfg.kind === 'MISC_CHECK' ? due : due + (finished - startedAt);
        schedule(s, Math.max(base + step.nextDelayMs, finished));
        pump();
        arm();
      });
    const tracked = p.finally(() => inflightDone.delete(tracked));
    inflightDone.add(tracked);
  };

  const pollFile = (s: Slot) => {
    if (s.cfg.kind !== 'FILE_CHECK' || s.dead) return;
    const v = readTrackFile(s.cfg.path);
    if (v === null) return;
    const prev = s.lastResult;
    const detail = `value ${v}`;
    s.lastResult = { ok: true, detail };
    s.lastCheckMs = now();
    if (prev && prev.detail === detail) return;
    const actions = verdict.fileChanged(s.vi, s.ri, s.ci, v, now());
    noteTransitions(s.vi, now());
    const vs = config.virtualServers[s.vi];
    if (actions.length) deliver('file', actions, { virtualServer: vs.key, realServer: vs.realServers[s.ri].key, checker: 'FILE_CHECK', result: detail });
  };

  /** Starts watching/scheduling a slot from t0 (a new checker: bootstrap delay plus warmup). */
  const arrange = (s: Slot, t0: number) => {
    if (s.cfg.kind === 'BFD_CHECK') return;
    if (s.cfg.kind === 'FILE_CHECK') {
      const c = s.cfg;
      s.watcher = watchTrackFile(c, () => { if (running) pollFile(s); });
      schedule(s, t0 + c.delayLoopMs);
      return;
    }
    // check_api.c register_checkers_thread: BOOTSTRAP_DELAY + warmup * random()
    schedule(s, t0 + bootstrap + (s.cfg.warmupMs ? s.cfg.warmupMs * random() : 0));
  };

  const fileValueAt = (vi: number, ri: number, ci: number): number => {
    const c = config.virtualServers[vi].realServers[ri].checkers[ci];
    if (c.kind !== 'FILE_CHECK') return 0;
    const v = readTrackFile(c.path) ?? 0;
    slotAt[vi][ri][ci].lastResult = { ok: true, detail: `value ${v}` };
    return v;
  };

  const update = (next: KeepalivedConfig): HealthDecision => {
    if (!started) throw new Error('health runner not started');
    const old = config;
    const oldVerdict = verdict;
    const oldSlotAt = slotAt;
    const oldIntended = intended;
    const oldAlive = aliveSeen;
    const oldTransition = transitionMs;
    const before = intendedTable();
    const t0 = now();
    const extraLog: string[] = [];

    const fullCarry = carryOf(old, next);
    const carry = fullCarry;
    const rsCarry = fullCarry.rs;
    const ckCarry = fullCarry.ck;
    const sorry = fullCarry.sorry;
    old.virtualServers.forEach((ov, oi) => {
      const vi = carry.vs.indexOf(oi);
      if (vi < 0) {
        extraLog.push(`Removing Virtual Server ${ov.key}`);
        return;
      }
      ov.realServers.forEach((r, ori) => {
        if (!rsCarry[vi].includes(ori)) extraLog.push(`service ${r.key} no longer exist`);
      });
    });

    // The new state, built from the old one.
    config = next;
    services = next.virtualServers.map((vs) => servicesOf(next, vs));
    verdict = new HealthVerdict(verdictSpecOf(next));
    intended = next.virtualServers.map((v, vi) => {
      const m = new Map<string, number>();
      const oi = carry.vs[vi];
      if (oi < 0) return m;
      const ov = old.virtualServers[oi];
      v.realServers.forEach((r, ri) => {
        const ori = rsCarry[vi][ri];
        if (ori < 0) return;
        const w = oldIntended[oi].get(`rs ${ov.realServers[ori].key}`);
        if (w !== undefined) m.set(`rs ${r.key}`, w);
      });
      if (sorry[vi]) {
        const w = oldIntended[oi].get('sorry');
        if (w !== undefined) m.set('sorry', w);
      }
      return m;
    });
    aliveSeen = next.virtualServers.map((v, vi) => v.realServers.map((_, ri) => {
      const oi = carry.vs[vi];
      const ori = rsCarry[vi][ri];
      return oi >= 0 && ori >= 0 ? oldAlive[oi][ori] : false;
    }));
    transitionMs = next.virtualServers.map((v, vi) => v.realServers.map((_, ri) => {
      const oi = carry.vs[vi];
      const ori = rsCarry[vi][ri];
      return oi >= 0 && ori >= 0 ? oldTransition[oi][ori] : null;
    }));

    // Slots: a kept checker keeps its slot (its schedule, last result and a probe in flight); the others go.
    const kept = new Set<Slot>();
    const fresh: Slot[] = [];
    slotAt = next.virtualServers.map((v, vi) => v.realServers.map((r, ri) => r.checkers.map((c, ci) => {
      const oi = carry.vs[vi];
      const ori = rsCarry[vi][ri];
      const oci = ckCarry[vi][ri][ci];
      if (oi >= 0 && ori >= 0 && oci >= 0) {
        const s = oldSlotAt[oi][ori][oci];
        const ns = makeSlot(vi, ri, ci, c);
        // Same target: carry what it learnt; take the new settings (timeouts, delays) from here on.
        s.vi = vi; s.ri = ri; s.ci = ci; s.cfg = c; s.probe = ns.probe;
        kept.add(s);
        return s;
      }
      const s = makeSlot(vi, ri, ci, c);
      fresh.push(s);
      return s;
    })));
    for (const s of slots) {
      if (kept.has(s)) continue;
      s.dead = true;
      s.watcher?.close();
    }
    slots = slotAt.flat(2);

    const actions = verdict.startFrom(oldVerdict, fullCarry, t0, fileValueAt);
    next.virtualServers.forEach((_, vi) => noteTransitions(vi, t0));

    // Rebuild the timer heap: kept checkers keep their due times, new ones start as at a first start.
    heap.clear();
    ready = ready.filter((s) => !s.dead);
    const queued = new Set(ready);
    for (const s of slots) {
      if (!kept.has(s) || s.running || queued.has(s)) continue;
      if (s.cfg.kind === 'BFD_CHECK') continue;
      heap.push(s);
    }
    if (running) for (const s of fresh) arrange(s, t0);
    arm();

    const decision = decide('reload', actions, null, [], extraLog);
    return Object.freeze({ ...decision!, commands: Object.freeze(tableDifference(before, intendedTable())) });
  };

  return {
    start() {
      if (started) throw new Error('health runner already started');
      started = true;
      running = true;
      abort = new AbortController();
      // One listener per probe in flight: the bound is the concurrency limit, not a leak.
      setMaxListeners(limit + 16, abort.signal);
      const t0 = now();
      const startActions = verdict.start(t0, fileValueAt);
      config.virtualServers.forEach((_, vi) => noteTransitions(vi, t0));
      deliver('start', startActions, null);
      for (const s of slots) arrange(s, t0);
      arm();
    },

    update,
    intendedTable,

    async stop(stopOpts = {}) {
      if (!running) return;
      running = false;
      if (timer) clearTimeout(timer);
      timer = null;
      heap.clear();
      ready.length = 0;
      abort.abort();
      for (const s of slots) s.watcher?.close();
      await Promise.allSettled([...inflightDone]);
      if (!stopOpts.keepTable) deliver('stop', verdict.stop(now()), null);
    },

    status(): HealthStatus {
      const realServers: RealServerStatus[] = [];
      config.virtualServers.forEach((vs, vi) => vs.realServers.forEach((rs, ri) => {
        const st = verdict.status(vi, ri);
        realServers.push({
          virtualServer: vs.key, realServer: rs.key, alive: st.alive, inTable: st.inTable, weight: st.weight,
          lastTransitionMs: transitionMs[vi][ri],
          checkers: rs.checkers.map((c, ci) => {
            const s = slotAt[vi][ri][ci];
            const cs = st.checkers[ci];
            return {
              checker: c.kind, target: s.probe?.target ?? (c.kind === 'FILE_CHECK' ? c.path : ''), up: cs.up,
              lastResult: s.lastResult?.detail ?? null, lastOk: s.lastResult ? s.lastResult.ok : null, latencyMs: s.latencyMs,
              lastCheckMs: s.lastCheckMs, lastTransitionMs: cs.lastChangeMs, retries: cs.retries,
              nextCheckMs: running && !s.running ? s.dueMs : null,
            };
          }),
        });
      }));
      return {
        running, inFlight, queued: ready.length,
        virtualServers: config.virtualServers.map((vs, vi) => ({ key: vs.key, quorumUp: verdict.quorumUp(vi), sorryInPool: verdict.sorryInPool(vi) })),
        realServers,
      };
    },

    healthWire() {
      const out = new Map<string, HealthWire>();
      for (const r of this.status().realServers) out.set(`${r.virtualServer} ${r.realServer}`, healthWireOf(r));
      return out;
    },
  };
}

/** One real server's health in the control protocol's shape (the checker that ran last speaks for it). */
export function healthWireOf(r: RealServerStatus): HealthWire {
  const last = r.checkers.reduce<CheckerStatus | null>((a, c) => (c.lastCheckMs !== null && (!a || (a.lastCheckMs ?? -1) < c.lastCheckMs) ? c : a), null);
  return {
    checker: r.checkers.map((c) => c.checker).join('+') || 'none',
    up: r.alive,
    lastResult: last?.lastResult ?? (r.checkers.length ? 'not checked yet' : 'no checker: always up'),
    latencyMs: last?.latencyMs ?? null,
    lastTransitionMs: r.lastTransitionMs,
  };
}
