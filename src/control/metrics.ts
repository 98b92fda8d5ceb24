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
  if (v > 0 && v < 1e6 && Number.isInteger(v)) return String(v);
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

/** One sample: its sort key (label values in label-name order, joined by NUL), its `{...}` text, its value. */
interface Sample {
  key: string;
  text: string;
  value: number;
}

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Sample[];
  /** Instead of samples: the sample lines, already rendered in order ('' when there are none). */
  body?: string;
}

function esc(v: string): string {
  return /[\\"\n]/.test(v) ? escapeLabelValue(v) : v;
}

/** A sample's key and text from label pairs (names sorted, as client_golang prints them). */
function labelled(labels: Record<string, string>, value: number): Sample {
  const names = Object.keys(labels).sort();
  return {
    key: names.map((n) => labels[n]).join('\u0000'),
    text: names.length === 0 ? '' : `{${names.map((n) => `${n}="${esc(labels[n])}"`).join(',')}}`,
    value,
  };
}

/**
 * Families sorted by name, samples by label values (client_golang's metricSorter compares the
 * values in label-name order as byte strings; joining them with NUL, which sorts below every
 * other character, gives the same order). Families without samples are left out.
 */
export function renderFamilies(families: readonly Family[]): string {
  let out = '';
  for (const f of [...families].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (f.body !== undefined) {
      if (f.body !== '') out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n${f.body}`;
      continue;
    }
    if (f.samples.length === 0) continue;
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    const samples = [...f.samples].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const x of samples) out += `${f.name}${x.text} ${goFloat(x.value)}\n`;
  }
  return out;
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

/** goIpString of the addresses seen lately (a scrape of 10^5 real servers repeats few addresses). */
const ipText = new Map<string, string>();

function goIp(af: number, addr: string): string {
  const k = `${af}|${addr}`;
  let v = ipText.get(k);
  if (v === undefined) {
    if (ipText.size > 100_000) ipText.clear();
    v = goIpString(af, addr);
    ipText.set(k, v);
  }
  return v;
}

interface SvcLabels {
  proto: string;
  localAddress: string;
  localPort: string;
  localMark: string;
}

/** The real servers that share one label set (node_exporter sums them), with that set's key and text. */
interface Group {
  key: string;
  text: string;
  dests: DestSnapshot[];
}

function serviceLabelParts(s: ServiceSnapshot): SvcLabels {
  if (s.fwmark) return { proto: 'FWM', localAddress: '', localPort: '0', localMark: (s.fwmark >>> 0).toString(16).toUpperCase().padStart(8, '0') };
  return { proto: protoName(s.protocol), localAddress: goIp(s.af, s.addr), localPort: String(s.port), localMark: '' };
}

/**
 * Every real server under its six labels (local_address, local_mark, local_port, proto,
 * remote_address, remote_port: already name order), grouped by label set and sorted, in
 * /proc/net/ip_vs order before that (address services, then fwmark services). With the
 * node-exporter SCTP mode, an SCTP service's real servers take the labels of the service before
 * it, and those before any other service get empty ones, as parseIPVSBackendStatus leaves them.
 */
function backendGroups(t: TableSnapshot, sctp: 'correct' | 'node-exporter'): Group[] {
  const ordered = [...t.services.filter((s) => !s.fwmark), ...t.services.filter((s) => s.fwmark)];
  const byKey = new Map<string, Group>();
  let cur: SvcLabels = { proto: '', localAddress: '', localPort: '0', localMark: '' };
  for (const s of ordered) {
    if (sctp === 'correct' || s.fwmark || s.protocol !== 132) cur = serviceLabelParts(s);
    for (const d of s.dests) {
      const ra = goIp(d.af, d.addr);
      const rp = String(d.port);
      const key = `${cur.localAddress}\u0000${cur.localMark}\u0000${cur.localPort}\u0000${cur.proto}\u0000${ra}\u0000${rp}`;
      const g = byKey.get(key);
      if (g) {
        g.dests.push(d);
        continue;
      }
      const text = `{local_address="${esc(cur.localAddress)}",local_mark="${esc(cur.localMark)}",local_port="${cur.localPort}",` +
        `proto="${esc(cur.proto)}",remote_address="${esc(ra)}",remote_port="${rp}"}`;
      byKey.set(key, { key, text, dests: [d] });
    }
  }
  return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** One per-real-server family: the sum over each group's real servers (those `include` keeps). */
function backendFamily(name: string, help: string, groups: readonly Group[], value: (d: DestSnapshot) => number,
  type: 'counter' | 'gauge' = 'gauge', include?: (d: DestSnapshot) => boolean): Family {
  // Rendered here, in the groups' order: a scrape of 10^4 real servers makes 10^5 lines, and
  // one string per line (no sample objects) is what keeps that cheap.
  let body = '';
  for (const g of groups) {
    let v = 0;
    let any = false;
    for (const d of g.dests) {
      if (include && !include(d)) continue;
      v += value(d);
      any = true;
    }
    if (any) body += name + g.text + ' ' + goFloat(v) + '\n';
  }
  return { name, help, type, samples: [], body };
}

function total(name: string, help: string, v: number): Family {
  return { name, help, type: 'counter', samples: [{ key: '', text: '', value: v }] };
}

function nodeFamilies(t: TableSnapshot, groups: readonly Group[]): Family[] {
  const s: StatsWire = t.totals;
  return [
    total('node_ipvs_connections_total', 'The total number of connections made.', s.conns),
    total('node_ipvs_incoming_packets_total', 'The total number of incoming packets.', s.inpkts),
    total('node_ipvs_outgoing_packets_total', 'The total number of outgoing packets.', s.outpkts),
    total('node_ipvs_incoming_bytes_total', 'The total amount of incoming data.', s.inbytes),
    total('node_ipvs_outgoing_bytes_total', 'The total amount of outgoing data.', s.outbytes),
    backendFamily('node_ipvs_backend_connections_active', 'The current active connections by local and remote address.', groups, (d) => d.activeConns),
    backendFamily('node_ipvs_backend_connections_inactive', 'The current inactive connections by local and remote address.', groups, (d) => d.inactConns),
    backendFamily('node_ipvs_backend_weight', 'The current backend weight by local and remote address.', groups, (d) => d.weight),
  ];
}

/** node_ipvs_* only, as node_exporter's ipvs collector prints them. */
export function formatNodeIpvs(t: TableSnapshot, opts: MetricsOptions = {}): string {
  return renderFamilies(nodeFamilies(t, backendGroups(t, opts.sctp ?? 'correct')));
}

// ------------------------------------------------------------------------------------------
// tslvs's own
// ------------------------------------------------------------------------------------------

function tslvsFamilies(f: MetricsFacts, groups: readonly Group[]): Family[] {
  const byLabel = (values: Readonly<Record<string, number>>, label: string): Sample[] =>
    Object.keys(values).map((k) => labelled({ [label]: k }, values[k]));
  const one = (v: number): Sample[] => [{ key: '', text: '', value: v }];
  return [
    { name: 'tslvs_info', help: 'tslvs version and dataplane; always 1.', type: 'gauge', samples: [labelled({ version: f.version, dataplane: f.dataplane.kind }, 1)] },
    backendFamily('tslvs_backend_up', 'Health of the real server as its checker last decided: 1 up, 0 down (only real servers with a checker).', groups,
      (d) => (d.health?.up ? 1 : 0), 'gauge', (d) => d.health !== undefined),
    backendFamily('tslvs_backend_check_latency_seconds', 'How long the last health check of the real server took.', groups,
      (d) => (d.health?.latencyMs ?? 0) / 1000, 'gauge', (d) => typeof d.health?.latencyMs === 'number'),
    backendFamily('tslvs_backend_overloaded', 'Whether the real server is overloaded (its upper connection threshold reached): 1 yes, 0 no.', groups,
      (d) => (d.overloaded ? 1 : 0)),
    backendFamily('tslvs_backend_persistent_connections', 'Persistence templates that point to the real server.', groups, (d) => d.persistConns),
    backendFamily('tslvs_backend_connections_total', 'Connections scheduled to the real server (reset by tslvsadm -Z).', groups, (d) => d.stats.conns, 'counter'),
    backendFamily('tslvs_backend_incoming_packets_total', 'Packets from clients to the real server (reset by tslvsadm -Z).', groups, (d) => d.stats.inpkts, 'counter'),
    backendFamily('tslvs_backend_outgoing_packets_total', 'Packets from the real server to clients (reset by tslvsadm -Z).', groups, (d) => d.stats.outpkts, 'counter'),
    backendFamily('tslvs_backend_incoming_bytes_total', 'Bytes from clients to the real server (reset by tslvsadm -Z).', groups, (d) => d.stats.inbytes, 'counter'),
    backendFamily('tslvs_backend_outgoing_bytes_total', 'Bytes from the real server to clients (reset by tslvsadm -Z).', groups, (d) => d.stats.outbytes, 'counter'),
    { name: 'tslvs_scheduler_picks_total', help: 'New connections scheduled by the services that use each scheduler, since the daemon started.', type: 'counter',
      samples: byLabel(f.picks, 'scheduler') },
    { name: 'tslvs_connections', help: 'Entries in the connection table, persistence templates included.', type: 'gauge', samples: one(f.connCount) },
    { name: 'tslvs_connections_limit', help: 'The most entries the connection table may hold; new connections are dropped beyond it.', type: 'gauge', samples: one(f.connLimit) },
    { name: 'tslvs_dataplane_active_flows', help: 'Flows the dataplane relays or tracks right now.', type: 'gauge', samples: one(f.dataplane.activeFlows) },
    { name: 'tslvs_dataplane_drops_total', help: 'Packets or connections the dataplane dropped, by reason.', type: 'counter', samples: byLabel(f.dataplane.drops, 'reason') },
    { name: 'tslvs_control_changes_total', help: 'Table changes committed (commands from tslvsadm, reloads, the HTTP API), since the daemon started.', type: 'counter',
      samples: one(f.changes) },
    { name: 'tslvs_services', help: 'Virtual services in the table.', type: 'gauge', samples: one(f.table.services.length) },
  ];
}

/** The whole /metrics page: node_ipvs_* first, then tslvs_*, each part sorted. */
export function formatMetrics(f: MetricsFacts, opts: MetricsOptions = {}): string {
  const groups = backendGroups(f.table, opts.sctp ?? 'correct');
  // tslvs_* always files SCTP real servers under their own service.
  const own = (opts.sctp ?? 'correct') === 'correct' ? groups : backendGroups(f.table, 'correct');
  return renderFamilies(nodeFamilies(f.table, groups)) + renderFamilies(tslvsFamilies(f, own));
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
