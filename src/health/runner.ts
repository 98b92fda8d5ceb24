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
import type { HealthWire, TableCommand } from '../control/protocol.js';
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
import { type Action, type CheckerSpec, type EpilogStyle, HealthVerdict, type ServerRef, type VerdictSpec } from './verdict.js';

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
  readonly reason: 'start' | 'check' | 'file' | 'stop';
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
  status(): HealthStatus;
  /** The per real server health in the control protocol's shape, keyed "vsKey rsKey". */
  healthWire(): Map<string, HealthWire>;
}

interface Slot {
  readonly vi: number;
  readonly ri: number;
  readonly ci: number;
  readonly cfg: CheckerConfig;
  readonly probe: Probe | null;
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

export function createHealthRunner(opts: HealthRunnerOptions): HealthRunner {
  const config = opts.config;
  const now = opts.now ?? (() => performance.now());
  const random = opts.random ?? Math.random;
  const rb = opts.randomBytes ?? ((n: number) => new Uint8Array(cryptoRandomBytes(n)));
  const limit = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
  const runScripts = opts.runScripts ?? true;
  const bootstrap = opts.bootstrapDelayMs ?? BOOTSTRAP_DELAY_MS;
  const spec = verdictSpecOf(config);
  const verdict = new HealthVerdict(spec);
  const services = config.virtualServers.map((vs) => servicesOf(config, vs));
  const slots: Slot[] = [];
  const heap = new MinHeap();
  const ready: Slot[] = [];
  // Per real server: alive as last seen, and when that last changed (for status()).
  const aliveSeen: boolean[][] = config.virtualServers.map((vs) => vs.realServers.map(() => false));
  const transitionMs: (number | null)[][] = config.virtualServers.map((vs) => vs.realServers.map(() => null));
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

  config.virtualServers.forEach((vs, vi) => vs.realServers.forEach((rs, ri) => rs.checkers.forEach((c, ci) => {
    const ctx = { vsDelayLoopMs: vs.delayLoopMs, randomBytes: rb, config, pingCommand: opts.pingCommand };
    const probe = opts.probeFactory?.(c, ctx) ?? defaultProbe(c, ctx);
    slots.push({ vi, ri, ci, cfg: c, probe, dueMs: 0, url: 0, running: false, lastResult: null, latencyMs: null, lastCheckMs: null, watcher: null });
  })));

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

  const deliver = (reason: HealthDecision['reason'], actions: readonly Action[], source: HealthDecision['source']) => {
    const at = now();
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
      }
    }
    const commands = commandsOf(config, services, actions);
    if (reason === 'check' && !changes.length && !scripts.length && !log.length) return;
    const decision: HealthDecision = Object.freeze({ atMs: at, reason, source, changes: Object.freeze(changes), commands: Object.freeze(commands), scripts: Object.freeze(scripts), log: Object.freeze(log) });
    try {
      opts.onChange(decision);
    } catch (e) {
      report(e);
    }
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
      launch(s);
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
        if (!running || signal.aborted) return;
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
    if (s.cfg.kind !== 'FILE_CHECK') return;
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

  return {
    start() {
      if (started) throw new Error('health runner already started');
      started = true;
      running = true;
      abort = new AbortController();
      // One listener per probe in flight: the bound is the concurrency limit, not a leak.
      setMaxListeners(limit + 16, abort.signal);
      const t0 = now();
      const startActions = verdict.start(t0, (vi, ri, ci) => {
        const c = config.virtualServers[vi].realServers[ri].checkers[ci];
        if (c.kind !== 'FILE_CHECK') return 0;
        const v = readTrackFile(c.path) ?? 0;
        const s = slots.find((x) => x.vi === vi && x.ri === ri && x.ci === ci)!;
        s.lastResult = { ok: true, detail: `value ${v}` };
        return v;
      });
      config.virtualServers.forEach((_, vi) => noteTransitions(vi, t0));
      deliver('start', startActions, null);
      for (const s of slots) {
        if (s.cfg.kind === 'BFD_CHECK') continue;
        if (s.cfg.kind === 'FILE_CHECK') {
          const c = s.cfg;
          s.watcher = watchTrackFile(c, () => { if (running) pollFile(s); });
          schedule(s, t0 + c.delayLoopMs);
          continue;
        }
        // check_api.c register_checkers_thread: BOOTSTRAP_DELAY + warmup * random()
        schedule(s, t0 + bootstrap + (s.cfg.warmupMs ? s.cfg.warmupMs * random() : 0));
      }
      arm();
    },

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
            const s = slots.find((x) => x.vi === vi && x.ri === ri && x.ci === ci)!;
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
      for (const r of this.status().realServers) {
        const last = r.checkers.reduce<CheckerStatus | null>((a, c) => (c.lastCheckMs !== null && (!a || (a.lastCheckMs ?? -1) < c.lastCheckMs) ? c : a), null);
        out.set(`${r.virtualServer} ${r.realServer}`, {
          checker: r.checkers.map((c) => c.checker).join('+') || 'none',
          up: r.alive,
          lastResult: last?.lastResult ?? (r.checkers.length ? 'not checked yet' : 'no checker: always up'),
          latencyMs: last?.latencyMs ?? null,
          lastTransitionMs: r.lastTransitionMs,
        });
      }
      return out;
    },
  };
}
