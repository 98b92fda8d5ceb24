/**
 * `tslvs status` output: a few lines of daemon facts, then the table exactly as `ipvsadm -L -n`
 * prints it (tslvsadm's formatter: ipvsadm's sort order, widths and trailing spaces), then, with
 * -f, the health of every real server of keepalived.conf (also those out of the table).
 */
import type { TableSnapshot } from '../../control/protocol.js';
import { FMT_NUMERIC } from '../tslvsadm/command.js';
import { listAll, Namer } from '../tslvsadm/format.js';
import { Resolver } from '../tslvsadm/resolve.js';

/** The `ipvsadm -L -n` view of a table snapshot (numeric: no name lookups). */
export function formatTable(t: TableSnapshot): string {
  return listAll(t, FMT_NUMERIC, new Namer(new Resolver(), true));
}

function uptime(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const hms = `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
  return d > 0 ? `${d}d ${hms}` : hms;
}

/** The facts lines above the table. */
export function formatFacts(st: Record<string, unknown>): string {
  const lines = [
    `tslvs ${String(st.version ?? '?')} is running: pid ${String(st.pid)}, dataplane ${String(st.dataplane)}, up ${uptime(Number(st.uptimeS ?? 0))}`,
    `socket ${String(st.socket)}; state ${String(st.stateFile ?? '-')}; rules ${String(st.rulesFile ?? '-')}`,
    `${String(st.services)} services, ${String(st.dests)} real servers, ${String(st.commits)} changes since start`,
  ];
  if (typeof st.http === 'string') lines.push(`dashboard and /metrics on ${st.http}; /proc files in ${String(st.procfs ?? '-')}`);
  if (st.lastSaveError) lines.push(`last save failed: ${String(st.lastSaveError)}`);
  if (typeof st.keepalivedConf === 'string') lines.push(`keepalived.conf ${st.keepalivedConf}`);
  const r = st.lastReload as { at?: string; result?: string } | null | undefined;
  if (r) lines.push(`last reload ${String(r.at)}: ${String(r.result)}`);
  const restored = st.restored as { kind?: string; keptAs?: string } | undefined;
  if (restored?.kind === 'corrupt') lines.push(`state file was corrupt at start; kept as ${String(restored.keptAs)}`);
  return `${lines.join('\n')}\n`;
}

interface CheckerFacts {
  checker: string;
  target: string;
  up: boolean;
  lastResult: string | null;
  latencyMs: number | null;
  lastTransitionMs: number | null;
}

interface RealServerFacts {
  virtualServer: string;
  realServer: string;
  alive: boolean;
  inTable: boolean;
  weight: number;
  tableWeight?: number | null;
  lastTransitionMs: number | null;
  checkers: CheckerFacts[];
}

/** "2024-05-01 12:00:03" in local time, or "-". */
function when(ms: number | null, nowMs: number): string {
  if (ms === null) return '-';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  const ago = Math.max(0, Math.round((nowMs - ms) / 1000));
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} (${uptime(ago)} ago)`;
}

/**
 * The health section: per virtual server its quorum, per real server its state and each
 * checker's last result, latency and time of the last transition. Empty without -f.
 */
export function formatHealth(st: Record<string, unknown>, nowMs = Date.now()): string {
  const h = st.health as { file?: string; virtualServers?: { key: string; quorumUp: boolean; sorryInPool: boolean }[]; realServers?: RealServerFacts[] } | null | undefined;
  if (!h || !Array.isArray(h.realServers)) return '';
  const out = [`Health checks (keepalived.conf ${String(h.file)}):`];
  for (const vs of h.virtualServers ?? []) {
    out.push(`  VS ${vs.key}: quorum ${vs.quorumUp ? 'up' : 'DOWN'}${vs.sorryInPool ? ', sorry server in the pool' : ''}`);
    for (const r of h.realServers.filter((x) => x.virtualServer === vs.key)) {
      const state = r.alive ? 'up' : 'DOWN';
      const table = r.inTable ? `in table, weight ${r.tableWeight ?? r.weight}` : 'not in table';
      out.push(`    ${r.realServer}  ${state} (${table}), since ${when(r.lastTransitionMs, nowMs)}`);
      for (const c of r.checkers) {
        const lat = typeof c.latencyMs === 'number' ? `${c.latencyMs.toFixed(1)} ms` : '-';
        out.push(`      ${c.checker} ${c.target}: ${c.up ? 'up' : 'down'}; last result: ${c.lastResult ?? 'not checked yet'}; latency ${lat}; last transition ${when(c.lastTransitionMs, nowMs)}`);
      }
      if (r.checkers.length === 0) out.push('      no checker: always up');
    }
  }
  return `${out.join('\n')}\n`;
}
