/**
 * Wires the observability parts to the director: the HTTP listener (src/control/http-api.ts:
 * /metrics, dashboard, API), the /proc/net/ip_vs* files under <state-dir>/proc
 * (src/control/procfs.ts, for node_exporter --path.procfs) and the scheduler pick counter.
 * Everything here reads the director's state through snapshotNow()/snapshotServices() (never waiting behind a
 * queued batch), and changes go through director.exec like any other command.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DaemonOptions } from '../config/daemon-options.js';
import { createHttpServer, type HttpListener, resolveHttpToken } from '../control/http-api.js';
import { type MetricsFacts, PickCounter } from '../control/metrics.js';
import { formatIpVsConn, formatIpVsStats, formatIpVsTableServices, ipVsHeader, type ProcConn, type ProcFiles, writeProcFiles } from '../control/procfs.js';
import type { ConnWire, ServiceSnapshot } from '../control/protocol.js';
import { formatError, TslvsError } from '../errors.js';
import type { VirtualService } from '../core/service.js';
import type { Director } from './director.js';
import { statsToWire } from './wire.js';

/** Most entries written to <state-dir>/proc/net/ip_vs_conn each second (the kernel's file has all). */
export const PROC_CONN_MAX = 100_000;
/** How often the /proc files are rewritten and scheduler picks folded in (at least; see refresh). */
export const OBSERVE_PERIOD_MS = 1000;
/**
 * A table of at least this many entries (services and real servers) is refreshed only once the
 * control socket has been quiet for OBSERVE_QUIET_MS, and never left older than
 * OBSERVE_MAX_STALE_MS; smaller tables format in a few milliseconds and refresh every period.
 */
export const OBSERVE_QUIET_ENTRIES = 10_000;
export const OBSERVE_QUIET_MS = 5000;
export const OBSERVE_MAX_STALE_MS = 30_000;
/** Entries formatted between two turns of the event loop. */
export const OBSERVE_SLICE_ENTRIES = 4096;

export interface Observability {
  /** http://ADDR:PORT/ of the listener, or null when there is none. */
  readonly httpUrl: string | null;
  /** Where the /proc files are written (<state-dir>/proc). */
  readonly procDir: string;
  close(): Promise<void>;
}

/** Up to `limit` connection entries in the core's hash order, and how many there are. */
export function connSample(director: Director, limit: number, nowMs: number): { total: number; conns: ConnWire[] } {
  const ipvs = director.ipvs;
  const t = ipvs.conns;
  const out: ConnWire[] = [];
  for (let b = 0; b < t.bucketCount && out.length < limit; b++) {
    for (let c = t.bucketHead(b); c >= 0 && out.length < limit; c = t.hnext(c)) out.push(ipvs.connInfo(c, nowMs));
  }
  return { total: ipvs.connCount, conns: out };
}

/** What the pick counter reads of a service: its identity, scheduler and counters (no real servers). */
function pickEntry(svc: VirtualService): ServiceSnapshot {
  return {
    af: svc.af, protocol: svc.protocol, addr: svc.addr.toString(), port: svc.port, fwmark: svc.fwmark,
    sched: svc.schedName, flags: svc.flags, timeoutS: svc.timeoutS, netmask: svc.netmask, pe: svc.peName,
    dests: [], stats: statsToWire(svc.stats),
  };
}

/**
 * /proc/net/ip_vs's service lines for `services` (address services first, then fwmark services,
 * as ip_vs_info_array walks its two hash tables), formatted about `sliceEntries` entries at a
 * time with a turn of the event loop between slices: a control request that arrives meanwhile
 * is answered after one slice. After each turn `stop()` may end the work (null is returned); a
 * table that changes between slices shows in the later ones, as a reader of the kernel's
 * seq_file may see changes between two reads. Also returns the services' identities and
 * counters without their real servers (for the pick counter) and the time spent formatting, turns left out.
 */
export async function formatIpVsSliced(director: Director, services: readonly VirtualService[], sliceEntries: number, stop: () => boolean):
  Promise<{ ipVs: string; seen: ServiceSnapshot[]; workMs: number } | null> {
  const ordered = [...services.filter((s) => !s.fwmark), ...services.filter((s) => s.fwmark)];
  const out: string[] = [];
  const seen: ServiceSnapshot[] = [];
  let workMs = 0;
  let t0 = performance.now();
  for (let i = 0; i < ordered.length;) {
    const from = i;
    for (let n = 0; i < ordered.length && n < sliceEntries; i++) n += 1 + ordered[i].numDests;
    formatIpVsTableServices(ordered.slice(from, i), out);
    for (let k = from; k < i; k++) seen.push(pickEntry(ordered[k]));
    if (i < ordered.length) {
      workMs += performance.now() - t0;
      await new Promise<void>((r) => setImmediate(r));
      t0 = performance.now();
      if (stop()) return null;
    }
  }
  workMs += performance.now() - t0;
  return { ipVs: out.join(''), seen, workMs };
}

export async function startObservability(director: Director, options: Readonly<DaemonOptions>, version: string, log: (line: string) => void): Promise<Observability> {
  const picks = new PickCounter();
  const facts = (): MetricsFacts => {
    const table = director.snapshotNow();
    picks.observe(table);
    const dp = director.dataplane.stats();
    return {
      table, version,
      connCount: director.ipvs.connCount, connLimit: director.ipvs.maxConns,
      dataplane: { kind: director.dataplane.kind, activeFlows: dp.activeFlows, drops: dp.drops },
      changes: director.status().commits,
      picks: picks.totals(),
    };
  };

  let http: HttpListener | null = null;
  let httpUrl: string | null = null;
  if (options.http !== null) {
    const token = await resolveHttpToken(options.stateDir, options.httpToken);
    if (token.warning) log(token.warning);
    http = createHttpServer({
      facts,
      conns: (limit) => connSample(director, limit, performance.now()),
      exec: (cmds) => director.exec(cmds),
      token: token.token,
      tokenHint: token.hint,
      log,
    });
    try {
      httpUrl = (await http.listen(options.http)).url;
      log(`HTTP on ${httpUrl} (/metrics, dashboard; changes need the token)`);
    } catch (err) {
      await http.close().catch(() => undefined);
      http = null;
      if (options.httpExplicit || !(err instanceof TslvsError) || err.code !== 'TSLVS_ERR_HTTP_LISTEN') throw err;
      log(`no HTTP listener: ${formatError(err, '').replace(/^: /, '')}`);
    }
  }

  const procDir = join(options.stateDir, 'proc');
  let written: Partial<ProcFiles> = {};
  let errorLogged = false;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  let lastDoneMs = performance.now();
  // Formatting a huge table (10^5 services, 10^5 connection entries) takes a while: the next
  // refresh waits ten times as long as this one took, so the files never cost more than ~10% CPU.
  const schedule = (tookMs: number): void => {
    if (closed) return;
    timer = setTimeout(() => void refresh(), Math.max(OBSERVE_PERIOD_MS, tookMs * 10));
    timer.unref();
  };
  const refresh = async (): Promise<void> => {
    // A batch is waiting for its save (a 10^5-line restore): do not hold its answer up.
    if (director.busy) return schedule(0);
    const start = performance.now();
    const req = director.requests;
    const forced = start - lastDoneMs >= OBSERVE_MAX_STALE_MS;
    const services = director.ipvs.table.services();
    let entries = services.length;
    for (const svc of services) entries += svc.numDests;
    // A big table waits until the control socket has been quiet for a while: `tslvsadm -R` is
    // usually followed by `tslvsadm -L`, which must not queue behind (or share a CPU with) this.
    if (!forced && entries >= OBSERVE_QUIET_ENTRIES && (req.inFlight > 0 || start - req.lastEndMs < OBSERVE_QUIET_MS)) return schedule(0);
    let workMs = 0;
    try {
      const sliced = await formatIpVsSliced(director, services, OBSERVE_SLICE_ENTRIES,
        () => closed || (!forced && (director.busy || director.requests.begun !== req.begun)));
      if (sliced === null) return schedule(0);
      workMs = sliced.workMs;
      const t1 = performance.now();
      const { ipVs, seen } = sliced;
      const table = director.snapshotServices([]);
      picks.observe({ ...table, services: seen });
      const files: ProcFiles = {
        'net/ip_vs': ipVsHeader(table) + ipVs,
        'net/ip_vs_stats': formatIpVsStats(table.totals),
        'net/ip_vs_conn': formatIpVsConn(connSample(director, PROC_CONN_MAX, performance.now()).conns as ProcConn[]),
      };
      workMs += performance.now() - t1;
      written = await writeProcFiles(procDir, files, written);
      lastDoneMs = performance.now();
      errorLogged = false;
    } catch (err) {
      if (!errorLogged) log(`cannot write the /proc files under "${procDir}": ${(err as Error).message}; node_exporter --path.procfs sees stale data`);
      errorLogged = true;
    }
    schedule(workMs);
  };
  await refresh();

  return {
    httpUrl,
    procDir,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await http?.close();
    },
  };
}
