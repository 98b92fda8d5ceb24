/**
 * `tslvs status` output: a few lines of daemon facts, then the table the way `ipvsadm -L -n`
 * prints its default view (ipvsadm.c print_title, print_service_entry; spec §3.1), in the
 * daemon's table order with destinations newest first (as `--nosort`). tslvsadm owns the full
 * set of ipvsadm listings; this is the one view `status` needs.
 */
import type { ServiceSnapshot, TableSnapshot } from '../../control/protocol.js';

const IP_VS_SVC_F_PERSISTENT = 0x0001;
const IP_VS_SVC_F_ONEPACKET = 0x0004;
const IP_VS_SVC_F_SCHED1 = 0x0008;
const IP_VS_SVC_F_SCHED2 = 0x0010;
const IP_VS_SVC_F_SCHED3 = 0x0020;
const FWD_NAMES = ['Masq', 'Local', 'Tunnel', 'Route'];
const PROTO_NAMES: Record<number, string> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

function pad(s: string | number, n: number): string {
  return String(s).padEnd(n);
}

function addrPort(af: number, addr: string, port: number): string {
  return af === 10 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function v4Mask(m: number): string {
  return `${m >>> 24}.${(m >>> 16) & 255}.${(m >>> 8) & 255}.${m & 255}`;
}

/** print_sched_flags: sh/mh name their bits, every other scheduler says flag-N. */
function schedFlags(s: ServiceSnapshot): string {
  const f: string[] = [];
  if (s.sched === 'sh' || s.sched === 'mh') {
    if (s.flags & IP_VS_SVC_F_SCHED1) f.push(`${s.sched}-fallback`);
    if (s.flags & IP_VS_SVC_F_SCHED2) f.push(`${s.sched}-port`);
  } else {
    if (s.flags & IP_VS_SVC_F_SCHED1) f.push('flag-1');
    if (s.flags & IP_VS_SVC_F_SCHED2) f.push('flag-2');
    if (s.flags & IP_VS_SVC_F_SCHED3) f.push('flag-3');
  }
  return f.join(',');
}

export function serviceLine(s: ServiceSnapshot): string {
  let name: string;
  if (s.fwmark) name = `FWM  ${s.fwmark | 0}${s.af === 10 ? ' IPv6' : ''}`;
  else {
    name = `${pad(PROTO_NAMES[s.protocol] ?? `IP_${s.protocol}`, 4)} ${addrPort(s.af, s.addr, s.port)}`;
    if (s.af === 2) name = name.slice(0, 33);
  }
  let line = `${name} ${s.sched}`;
  if (s.flags & (IP_VS_SVC_F_SCHED1 | IP_VS_SVC_F_SCHED2 | IP_VS_SVC_F_SCHED3)) line += ` (${schedFlags(s)})`;
  if (s.flags & IP_VS_SVC_F_PERSISTENT) {
    line += ` persistent ${s.timeoutS}`;
    if (s.af === 2 && s.netmask >>> 0 !== 0xffffffff) line += ` mask ${v4Mask(s.netmask)}`;
    if (s.af === 10 && s.netmask !== 128) line += ` mask ${s.netmask}`;
    if (s.pe) line += ` pe ${s.pe}`;
  }
  if (s.flags & IP_VS_SVC_F_ONEPACKET) line += ' ops';
  return line;
}

/** The `ipvsadm -L -n` default view of a table snapshot. */
export function formatTable(t: TableSnapshot): string {
  const out = [
    `IP Virtual Server version ${t.version} (size=${t.connTabSize})`,
    'Prot LocalAddress:Port Scheduler Flags',
    '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
  ];
  for (const s of t.services) {
    out.push(serviceLine(s));
    for (const d of s.dests) {
      let name = addrPort(d.af, d.addr, d.port);
      if (d.af !== 10) name = name.slice(0, 28);
      out.push(`  -> ${pad(name, 28)} ${pad(FWD_NAMES[d.fwd & 7] ?? 'Route', 7)} ${pad(d.weight, 6)} ${pad(d.activeConns, 10)} ${pad(d.inactConns, 10)}`);
    }
  }
  return `${out.join('\n')}\n`;
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
