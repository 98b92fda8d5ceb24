/**
 * /metrics in the Prometheus text format 0.0.4. Two parts:
 * - node_ipvs_*: exactly what Prometheus' node_exporter (collector/ipvs_linux.go, fed by
 *   prometheus/procfs ipvs.go) exports for the same IPVS state: names, types, help texts,
 *   labels, label escaping, sorting and Go's float formatting, byte for byte, so Grafana
 *   dashboards built on node_exporter work unchanged. One deliberate difference: node_exporter
 *   skips SCTP service lines and files their real servers under the previous service (procfs
 *   parseIPVSBackendStatus knows only TCP, UDP and FWM); tslvs exports them as proto="SCTP".
 *   `sctp: 'node-exporter'` reproduces the misfiling, for the compatibility tests.
 * - tslvs_*: what only tslvs knows: health and check latency per real server, per-real-server
 *   counters, scheduler picks, the connection table's size and limit, dataplane drops by reason,
 *   control-plane changes.
 * Pure: facts in, text out. The daemon gathers the facts at scrape time.
 */
import { parseIPv4, parseIPv6 } from '../core/addr.js';
import type { DestSnapshot, ServiceSnapshot, StatsWire, TableSnapshot } from './protocol.js';

const AF_INET6 = 10;

/** What the daemon knows at scrape time, besides the table. */
export interface MetricsFacts {
  table: TableSnapshot;
  version: string;
  /** Connection entries (templates included) and the most the table may hold. */
  connCount: number;
  connLimit: number;
  dataplane: { kind: string; activeFlows: number; drops: Readonly<Record<string, number>> };
  /** Table changes committed since the daemon started. */
  changes: number;
  /** New connections scheduled per scheduler name since the daemon started (PickCounter). */
  picks: Readonly<Record<string, number>>;
}

export interface MetricsOptions {
  /** 'correct' (default): SCTP services as proto="SCTP"; 'node-exporter': misfiled as node_exporter does. */
  sctp?: 'correct' | 'node-exporter';
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

// ------------------------------------------------------------------------------------------
// Exposition helpers (client_golang expfmt text_create.go)
// ------------------------------------------------------------------------------------------

/**
 * A float64 as expfmt writes it: strconv.FormatFloat(f, 'g', -1, 64). Shortest round-trip
 * digits; Go's %g with the shortest precision switches to exponent form when the decimal
 * exponent is below -4 or at least 6 (so 999999 prints plainly and 1000000 as 1e+06), and the
 * exponent carries a sign and at least two digits.
 */
export function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const e = v.toExponential(); // shortest round-trip digits, "d.ddde+N"
  const at = e.indexOf('e');
  const mant = e.slice(0, at);
  const exp = Number(e.slice(at + 1));
  if (exp < -4 || exp >= 6) {
    const a = Math.abs(exp);
    return `${mant}e${exp < 0 ? '-' : '+'}${a < 10 ? '0' : ''}${a}`;
  }
  // Plain form with the same digits: JavaScript prints plainly from 1e-6 up to 1e21.
  return String(v);
}

/** A label value inside double quotes: backslash, double quote and newline escaped. */
export function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

type Labels = readonly (readonly [string, string])[];

interface Sample {
  /** Label pairs sorted by name. */
  labels: Labels;
  value: number;
}

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Sample[];
}

function compareSamples(a: Sample, b: Sample): number {
  // client_golang's metricSorter: label values compared in order, as byte strings.
  const n = Math.min(a.labels.length, b.labels.length);
  for (let i = 0; i < n; i++) {
    const x = a.labels[i][1];
    const y = b.labels[i][1];
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.labels.length - b.labels.length;
}

function sortedLabels(labels: Record<string, string>): Labels {
  return Object.keys(labels).sort().map((k) => [k, labels[k]] as const);
}

/** Families sorted by name, samples by label values; families without samples are left out. */
export function renderFamilies(families: readonly Family[]): string {
  const out: string[] = [];
  for (const f of [...families].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (f.samples.length === 0) continue;
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`);
    for (const s of [...f.samples].sort(compareSamples)) {
      const l = s.labels.length === 0 ? '' : `{${s.labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
      out.push(`${f.name}${l} ${goFloat(s.value)}\n`);
    }
  }
  return out.join('');
}

// ------------------------------------------------------------------------------------------
// node_exporter's ipvs collector
// ------------------------------------------------------------------------------------------

/** Go's net.IP.String(): IPv4-mapped IPv6 as dotted quad; otherwise RFC 5952 without the ::a.b.c.d form. */
export function goIpString(af: number, text: string): string {
  if (af !== AF_INET6) {
    const v = parseIPv4(text);
    return v === null ? text : `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const w = parseIPv6(text);
  if (w === null) return text;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) {
    const v = w[3];
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(w[i] >>> 16, w[i] & 0xffff);
  // The longest run of zero groups (the first if tied), if at least two groups long.
  let e0 = -1;
  let e1 = -1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > e1 - e0) {
      e0 = i;
      e1 = j;
    }
    i = j === i ? i + 1 : j;
  }
  if (e1 - e0 <= 1) {
    e0 = -1;
    e1 = -1;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === e0) {
      out += '::';
      i = e1 - 1;
      continue;
    }
    if (i > 0 && i !== e1) out += ':';
    out += g[i].toString(16);
  }
  return out;
}

function protoName(p: number): string {
  return p === 6 ? 'TCP' : p === 17 ? 'UDP' : p === 132 ? 'SCTP' : `IP_${p}`;
}

/** The six backend labels of node_exporter for one real server of one service. */
interface Backend {
  labels: Labels;
  dest: DestSnapshot;
}

function backendLabels(svc: { proto: string; localAddress: string; localPort: string; localMark: string }, d: DestSnapshot): Labels {
  return sortedLabels({
    local_address: svc.localAddress,
    local_port: svc.localPort,
    remote_address: goIpString(d.af, d.addr),
    remote_port: String(d.port),
    proto: svc.proto,
    local_mark: svc.localMark,
  });
}

function serviceLabelParts(s: ServiceSnapshot): { proto: string; localAddress: string; localPort: string; localMark: string } {
  if (s.fwmark) return { proto: 'FWM', localAddress: '', localPort: '0', localMark: (s.fwmark >>> 0).toString(16).toUpperCase().padStart(8, '0') };
  return { proto: protoName(s.protocol), localAddress: goIpString(s.af, s.addr), localPort: String(s.port), localMark: '' };
}

/**
 * Every real server with its labels, in /proc/net/ip_vs order (address services, then fwmark
 * services). With the node-exporter SCTP mode, an SCTP service's real servers take the labels
 * of the service before it, and those before any other service get empty ones, as
 * parseIPVSBackendStatus leaves its variables.
 */
function backends(t: TableSnapshot, sctp: 'correct' | 'node-exporter'): Backend[] {
  const ordered = [...t.services.filter((s) => !s.fwmark), ...t.services.filter((s) => s.fwmark)];
  const out: Backend[] = [];
  let current = { proto: '', localAddress: '', localPort: '0', localMark: '' };
  for (const s of ordered) {
    if (sctp === 'correct' || s.fwmark || s.protocol !== 132) current = serviceLabelParts(s);
    for (const d of s.dests) out.push({ labels: backendLabels(current, d), dest: d });
  }
  return out;
}

/**
 * Per-real-server gauges keyed by the label set, summed where label sets coincide, as
 * node_exporter's Update does (`sums[key]`).
 */
function backendFamily(name: string, help: string, list: readonly Backend[], value: (d: DestSnapshot) => number, type: 'counter' | 'gauge' = 'gauge'): Family {
  const byKey = new Map<string, Sample>();
  for (const b of list) {
    const key = b.labels.map(([, v]) => v).join('\u0000');
    const prev = byKey.get(key);
    if (prev) prev.value += value(b.dest);
    else byKey.set(key, { labels: b.labels, value: value(b.dest) });
  }
  return { name, help, type, samples: [...byKey.values()] };
}

function total(name: string, help: string, v: number): Family {
  return { name, help, type: 'counter', samples: [{ labels: [], value: v }] };
}

/** The eight node_ipvs_* families. */
export function nodeIpvsFamilies(t: TableSnapshot, opts: MetricsOptions = {}): Family[] {
  const list = backends(t, opts.sctp ?? 'correct');
  const s: StatsWire = t.totals;
  return [
    total('node_ipvs_connections_total', 'The total number of connections made.', s.conns),
    total('node_ipvs_incoming_packets_total', 'The total number of incoming packets.', s.inpkts),
    total('node_ipvs_outgoing_packets_total', 'The total number of outgoing packets.', s.outpkts),
    total('node_ipvs_incoming_bytes_total', 'The total amount of incoming data.', s.inbytes),
    total('node_ipvs_outgoing_bytes_total', 'The total amount of outgoing data.', s.outbytes),
    backendFamily('node_ipvs_backend_connections_active', 'The current active connections by local and remote address.', list, (d) => d.activeConns),
    backendFamily('node_ipvs_backend_connections_inactive', 'The current inactive connections by local and remote address.', list, (d) => d.inactConns),
    backendFamily('node_ipvs_backend_weight', 'The current backend weight by local and remote address.', list, (d) => d.weight),
  ];
}

/** node_ipvs_* only, as node_exporter's ipvs collector prints them. */
export function formatNodeIpvs(t: TableSnapshot, opts: MetricsOptions = {}): string {
  return renderFamilies(nodeIpvsFamilies(t, opts));
}

// ------------------------------------------------------------------------------------------
// tslvs's own
// ------------------------------------------------------------------------------------------

function tslvsFamilies(f: MetricsFacts): Family[] {
  const list = backends(f.table, 'correct');
  const checked = list.filter((b) => b.dest.health !== undefined);
  const timed = checked.filter((b) => typeof b.dest.health?.latencyMs === 'number');
  const labelled = (values: Record<string, number>, label: string): Sample[] =>
    Object.keys(values).map((k) => ({ labels: [[label, k]] as const, value: values[k] }));
  return [
    { name: 'tslvs_info', help: 'tslvs version and dataplane; always 1.', type: 'gauge',
      samples: [{ labels: sortedLabels({ version: f.version, dataplane: f.dataplane.kind }), value: 1 }] },
    backendFamily('tslvs_backend_up', 'Health of the real server as its checker last decided: 1 up, 0 down (only real servers with a checker).', checked,
      (d) => (d.health?.up ? 1 : 0)),
    backendFamily('tslvs_backend_check_latency_seconds', 'How long the last health check of the real server took.', timed,
      (d) => (d.health?.latencyMs ?? 0) / 1000),
    backendFamily('tslvs_backend_overloaded', 'Whether the real server is overloaded (its upper connection threshold reached): 1 yes, 0 no.', list,
      (d) => (d.overloaded ? 1 : 0)),
    backendFamily('tslvs_backend_persistent_connections', 'Persistence templates that point to the real server.', list, (d) => d.persistConns),
    backendFamily('tslvs_backend_connections_total', 'Connections scheduled to the real server (reset by tslvsadm -Z).', list, (d) => d.stats.conns, 'counter'),
    backendFamily('tslvs_backend_incoming_packets_total', 'Packets from clients to the real server (reset by tslvsadm -Z).', list, (d) => d.stats.inpkts, 'counter'),
    backendFamily('tslvs_backend_outgoing_packets_total', 'Packets from the real server to clients (reset by tslvsadm -Z).', list, (d) => d.stats.outpkts, 'counter'),
    backendFamily('tslvs_backend_incoming_bytes_total', 'Bytes from clients to the real server (reset by tslvsadm -Z).', list, (d) => d.stats.inbytes, 'counter'),
    backendFamily('tslvs_backend_outgoing_bytes_total', 'Bytes from the real server to clients (reset by tslvsadm -Z).', list, (d) => d.stats.outbytes, 'counter'),
    { name: 'tslvs_scheduler_picks_total', help: 'New connections scheduled by the services that use each scheduler, since the daemon started.', type: 'counter',
      samples: labelled(f.picks as Record<string, number>, 'scheduler') },
    { name: 'tslvs_connections', help: 'Entries in the connection table, persistence templates included.', type: 'gauge',
      samples: [{ labels: [], value: f.connCount }] },
    { name: 'tslvs_connections_limit', help: 'The most entries the connection table may hold; new connections are dropped beyond it.', type: 'gauge',
      samples: [{ labels: [], value: f.connLimit }] },
    { name: 'tslvs_dataplane_active_flows', help: 'Flows the dataplane relays or tracks right now.', type: 'gauge',
      samples: [{ labels: [], value: f.dataplane.activeFlows }] },
    { name: 'tslvs_dataplane_drops_total', help: 'Packets or connections the dataplane dropped, by reason.', type: 'counter',
      samples: labelled(f.dataplane.drops as Record<string, number>, 'reason') },
    { name: 'tslvs_control_changes_total', help: 'Table changes committed (commands from tslvsadm, reloads, the HTTP API), since the daemon started.', type: 'counter',
      samples: [{ labels: [], value: f.changes }] },
    { name: 'tslvs_services', help: 'Virtual services in the table.', type: 'gauge', samples: [{ labels: [], value: f.table.services.length }] },
  ];
}

/** The whole /metrics page: node_ipvs_* first, then tslvs_*, each part sorted. */
export function formatMetrics(f: MetricsFacts, opts: MetricsOptions = {}): string {
  return formatNodeIpvs(f.table, opts) + renderFamilies(tslvsFamilies(f));
}

/**
 * Scheduler picks as a counter that never goes down. The core counts new connections per
 * service (struct ip_vs_stats conns, bumped as the scheduler creates an entry); this folds the
 * increase of each service into its scheduler's total at every observation. A service that was
 * zeroed counts its whole new value; one whose scheduler changed counts from then on under the
 * new name; the counts of a service deleted since the last observation are lost (at most one
 * estimator period: the daemon observes every second).
 */
export class PickCounter {
  readonly #last = new Map<string, { sched: string; conns: number }>();
  readonly #totals: Record<string, number> = {};

  observe(t: TableSnapshot): void {
    const seen = new Set<string>();
    for (const s of t.services) {
      const key = s.fwmark ? `f${s.af}|${s.fwmark}` : `${s.af}|${s.protocol}|${s.addr}|${s.port}`;
      seen.add(key);
      const sched = s.sched === '' ? 'none' : s.sched;
      const prev = this.#last.get(key);
      const now = s.stats.conns;
      let delta = now;
      if (prev && prev.sched === sched && now >= prev.conns) delta = now - prev.conns;
      else if (prev && prev.sched !== sched) delta = now >= prev.conns ? now - prev.conns : now;
      this.#totals[sched] = (this.#totals[sched] ?? 0) + delta;
      this.#last.set(key, { sched, conns: now });
    }
    for (const k of [...this.#last.keys()]) if (!seen.has(k)) this.#last.delete(k);
  }

  totals(): Readonly<Record<string, number>> {
    return { ...this.#totals };
  }
}
