/**
 * `tslvs status` output: a few lines of daemon facts, then the table exactly as `ipvsadm -L -n`
 * prints it (tslvsadm's formatter: ipvsadm's sort order, widths and trailing spaces).
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
  const r = st.lastReload as { at?: string; result?: string } | null | undefined;
  if (r) lines.push(`last reload ${String(r.at)}: ${String(r.result)}`);
  const restored = st.restored as { kind?: string; keptAs?: string } | undefined;
  if (restored?.kind === 'corrupt') lines.push(`state file was corrupt at start; kept as ${String(restored.keptAs)}`);
  return `${lines.join('\n')}\n`;
}
