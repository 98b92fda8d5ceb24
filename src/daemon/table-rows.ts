/**
 * The table as compact rows (get-table with `rows`, protocol.ts TableRows): what tslvsadm's
 * listings print, as arrays instead of an object per entry, and counters only when asked for.
 * `ipvsadm -L -n` of 10^5 real servers is then about a sixth of the full snapshot's bytes, and
 * neither side builds or decodes 10^5 objects. The full snapshot (wire.ts buildSnapshot) stays
 * what --json, the HTTP API and the /proc files use.
 */
import type { DestRow, ServiceRow, TableRows } from '../control/protocol.js';
import { type Dest, IP_VS_CONN_F_FWD_MASK } from '../core/dest.js';
import type { Ipvs } from '../core/ipvs.js';
import type { VirtualService } from '../core/service.js';
import type { Stats } from '../core/stats/counters.js';
import { IPVS_VERSION, statsToWire } from './wire.js';

/** Appends the ten StatsWire values in STATS_FIELDS order. */
function pushStats(row: (string | number | DestRow[])[], s: Stats): void {
  const v = statsToWire(s);
  row.push(v.conns, v.inpkts, v.outpkts, v.inbytes, v.outbytes, v.cps, v.inpps, v.outpps, v.inbps, v.outbps);
}

function serviceRow(svc: VirtualService, stats: boolean): ServiceRow {
  const dests: DestRow[] = [];
  const head = svc.destinations;
  for (let n = head.next; n !== head; n = n.next) {
    const d = n as Dest;
    const r: DestRow = [
      d.af, d.addr.toString(), d.port, d.connFlags & IP_VS_CONN_F_FWD_MASK, d.weight, d.uThreshold, d.lThreshold,
      d.tunType, d.tunPort, d.tunFlags, d.proxyProtocol, d.activeConns, d.inactConns, d.persistConns, d.isOverloaded() ? 1 : 0,
    ];
    if (stats) pushStats(r, d.stats);
    dests.push(r);
  }
  const row: ServiceRow = [
    svc.af, svc.protocol, svc.addr.toString(), svc.port, svc.fwmark, svc.schedName, svc.flags, svc.timeoutS, svc.netmask, svc.peName, dests,
  ];
  if (stats) pushStats(row, svc.stats);
  return row;
}

/** The whole table (or the given services) as compact rows; counters only with `stats`. */
export function buildTableRows(ipvs: Ipvs, dataplane: string, stats: boolean, only?: readonly VirtualService[]): TableRows {
  const t = ipvs.table;
  const services = only ?? t.services();
  const rows: ServiceRow[] = new Array<ServiceRow>(services.length);
  for (let i = 0; i < services.length; i++) rows[i] = serviceRow(services[i], stats);
  const out: TableRows = {
    version: IPVS_VERSION,
    connTabSize: 2 ** ipvs.connTabBits,
    timeouts: { ...t.timeouts },
    services: rows,
    dataplane,
  };
  if (stats) out.totals = statsToWire(t.totStats);
  return out;
}
