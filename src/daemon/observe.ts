/**
 * Wires the observability parts to the director: the HTTP listener (src/control/http-api.ts:
 * /metrics, dashboard, API), the /proc/net/ip_vs* files under <state-dir>/proc
 * (src/control/procfs.ts, for node_exporter --path.procfs) and the scheduler pick counter.
 * Everything here reads the director's state through snapshotNow() (never waiting behind a
 * queued batch), and changes go through director.exec like any other command.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DaemonOptions } from '../config/daemon-options.js';
import { createHttpServer, type HttpListener, resolveHttpToken } from '../control/http-api.js';
import { type MetricsFacts, PickCounter } from '../control/metrics.js';
import { formatProcFiles, type ProcConn, type ProcFiles, writeProcFiles } from '../control/procfs.js';
import type { ConnWire } from '../control/protocol.js';
import { formatError, TslvsError } from '../errors.js';
import type { Director } from './director.js';

/** Most entries written to <state-dir>/proc/net/ip_vs_conn each second (the kernel's file has all). */
export const PROC_CONN_MAX = 100_000;
/** How often the /proc files are rewritten and scheduler picks folded in (at least; see refresh). */
export const OBSERVE_PERIOD_MS = 1000;

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
    const t0 = performance.now();
    try {
      const table = director.snapshotNow();
      picks.observe(table);
      const files = formatProcFiles(table, connSample(director, PROC_CONN_MAX, performance.now()).conns as ProcConn[]);
      written = await writeProcFiles(procDir, files, written);
      errorLogged = false;
    } catch (err) {
      if (!errorLogged) log(`cannot write the /proc files under "${procDir}": ${(err as Error).message}; node_exporter --path.procfs sees stale data`);
      errorLogged = true;
    }
    schedule(performance.now() - t0);
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
