// /metrics: node_ipvs_* byte for byte as Debian's prometheus-node-exporter prints them for the
// same state (it reads the /proc files tslvs writes), tslvs_* of our own, promtool-clean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIpvsadmRules } from '../../src/config/ipvsadm-rules.js';
import {
  escapeLabelValue, formatMetrics, formatNodeIpvs, goFloat, goIpString, type MetricsFacts, PickCounter,
} from '../../src/control/metrics.js';
import { formatProcFiles, writeProcFiles } from '../../src/control/procfs.js';
import type { DestSnapshot, StatsWire, TableSnapshot } from '../../src/control/protocol.js';
import { Ipvs } from '../../src/core/ipvs.js';
import { applyTableCommand, buildSnapshot } from '../../src/daemon/wire.js';
import { GOLDEN_DIR } from '../helpers/golden.js';
import {
  httpGet, missingTool, NODE_EXPORTER, nodeIpvsPart, PROMTOOL, promtoolCheck, startNodeExporter,
} from '../helpers/prom-tools.js';

function zeroStats(): StatsWire {
  return { conns: 0, inpkts: 0, outpkts: 0, inbytes: 0, outbytes: 0, cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0 };
}

/** The record-procfs.sh table (every service shape, an SCTP service among them) with counters set. */
function richTable(): TableSnapshot {
  const ipvs = new Ipvs({ random: () => 0 });
  const rules = readFileSync(join(GOLDEN_DIR, 'procfs', 'rules.txt'), 'utf8');
  for (const e of parseIpvsadmRules(rules, 'rules.txt')) applyTableCommand(ipvs.table, e.cmd);
  const t = buildSnapshot(ipvs, 'none');
  // The upstream fixture's totals (prometheus/procfs ipvs_test.go) and numbers on both sides of 10^6.
  t.totals = { ...zeroStats(), conns: 23765872, inpkts: 3811989221, outpkts: 394, inbytes: 89991519156915, outbytes: 1150976 };
  let i = 0;
  for (const s of t.services) {
    for (const d of s.dests) {
      d.activeConns = [0, 1, 999999, 1000000, 12, 1234567][i % 6];
      d.inactConns = [7, 0, 808960, 3, 1000001, 0][i % 6];
      i++;
    }
  }
  // Addresses whose text differs between glibc and Go: an IPv4-mapped real server, a zero run.
  const v6 = t.services.find((s) => s.af === 10 && s.port === 80 && s.protocol === 6);
  assert.ok(v6);
  const extra = (addr: string, port: number, weight: number): DestSnapshot => ({
    af: 10, addr, port, fwd: 3, weight, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0,
    activeConns: 2, inactConns: 1, persistConns: 0, overloaded: false, stats: zeroStats(),
  });
  v6.dests.push(extra('::ffff:198.51.100.9', 80, 2), extra('2001:db8:0:1::1', 8080, 3), extra('::198.51.100.10', 80, 1));
  return t;
}

test('numbers print as Go\'s strconv.FormatFloat(f, \'g\', -1, 64), as node_exporter shows them', () => {
  // Observed in node_exporter output (spec observability §1.8, §1.9).
  assert.equal(goFloat(0), '0');
  assert.equal(goFloat(1), '1');
  assert.equal(goFloat(394), '394');
  assert.equal(goFloat(808960), '808960');
  assert.equal(goFloat(23765872), '2.3765872e+07');
  assert.equal(goFloat(1150976), '1.150976e+06');
  assert.equal(goFloat(3811989221), '3.811989221e+09');
  assert.equal(goFloat(89991519156915), '8.9991519156915e+13');
  // Go's rules at the edges: precision 6 decides the exponent form; at least two exponent digits.
  assert.equal(goFloat(999999), '999999');
  assert.equal(goFloat(1000000), '1e+06');
  assert.equal(goFloat(0.0001), '0.0001');
  assert.equal(goFloat(0.00001234), '1.234e-05');
  assert.equal(goFloat(0.0042), '0.0042');
  assert.equal(goFloat(1e21), '1e+21');
  assert.equal(goFloat(1.5e100), '1.5e+100');
  assert.equal(goFloat(NaN), 'NaN');
  assert.equal(goFloat(Infinity), '+Inf');
});

test('addresses print as Go\'s net.IP String(), which node_exporter uses for labels', () => {
  assert.equal(goIpString(2, '192.0.2.10'), '192.0.2.10');
  assert.equal(goIpString(10, '2001:db8::10'), '2001:db8::10');
  assert.equal(goIpString(10, '::ffff:198.51.100.9'), '198.51.100.9');
  assert.equal(goIpString(10, '::198.51.100.10'), '::c633:640a');
  assert.equal(goIpString(10, '2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1');
  assert.equal(goIpString(10, '2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
  assert.equal(goIpString(10, '::'), '::');
  assert.equal(goIpString(10, '1::'), '1::');
});

test('label values escape backslash, double quote and newline', () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
});

test('node_ipvs_* is byte for byte what Debian\'s node_exporter exports from tslvs\'s /proc files (SCTP aside)', { timeout: 60000 }, async (t) => {
  const skip = missingTool(NODE_EXPORTER, 'prometheus-node-exporter');
  if (skip) return t.skip(skip);
  const dir = mkdtempSync(join(tmpdir(), 'tslvs-metrics-'));
  const table = richTable();
  try {
    await writeProcFiles(join(dir, 'proc'), formatProcFiles(table, []));
    const ne = await startNodeExporter(join(dir, 'proc'));
    let scrape: string;
    try {
      scrape = (await httpGet(ne.url)).body;
    } finally {
      await ne.stop();
    }
    assert.match(scrape, /node_scrape_collector_success\{collector="ipvs"\} 1/, 'node_exporter read the files');
    const theirs = nodeIpvsPart(scrape);
    assert.ok(theirs.includes('node_ipvs_connections_total 2.3765872e+07\n'));
    // With node_exporter's SCTP misfiling reproduced, the two are the same bytes.
    assert.equal(formatNodeIpvs(table, { sctp: 'node-exporter' }), theirs);
    // tslvs's own output differs exactly there: the SCTP real server under proto="SCTP" instead
    // of under the service printed before it.
    const ours = formatNodeIpvs(table);
    const theirLines = new Set(theirs.split('\n'));
    const ourLines = new Set(ours.split('\n'));
    const onlyOurs = [...ourLines].filter((l) => !theirLines.has(l));
    const onlyTheirs = [...theirLines].filter((l) => !ourLines.has(l));
    assert.equal(onlyOurs.length, 3);
    for (const l of onlyOurs) assert.match(l, /local_address="192\.0\.2\.30",local_mark="",local_port="5000",proto="SCTP",remote_address="198\.51\.100\.41",remote_port="5000"/);
    assert.equal(onlyTheirs.length, 3);
    for (const l of onlyTheirs) assert.match(l, /proto="(TCP|UDP)",remote_address="198\.51\.100\.41",remote_port="5000"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('node_exporter and tslvs agree on an empty table: five totals and no backend series', { timeout: 60000 }, async (t) => {
  const skip = missingTool(NODE_EXPORTER, 'prometheus-node-exporter');
  if (skip) return t.skip(skip);
  const dir = mkdtempSync(join(tmpdir(), 'tslvs-metrics-'));
  const table = buildSnapshot(new Ipvs({ random: () => 0 }), 'none');
  try {
    await writeProcFiles(join(dir, 'proc'), formatProcFiles(table, []));
    const ne = await startNodeExporter(join(dir, 'proc'));
    try {
      assert.equal(formatNodeIpvs(table), nodeIpvsPart((await httpGet(ne.url)).body));
    } finally {
      await ne.stop();
    }
    assert.doesNotMatch(formatNodeIpvs(table), /backend/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function facts(table: TableSnapshot): MetricsFacts {
  const d0 = table.services.find((s) => s.af === 10 && s.port === 80)!.dests[0];
  d0.health = { checker: 'TCP_CHECK', up: true, lastResult: 'connected', latencyMs: 1.25, lastTransitionMs: null };
  const d1 = table.services.find((s) => s.sched === 'wrr')!.dests[1];
  d1.health = { checker: 'HTTP_GET', up: false, lastResult: 'HTTP 503', latencyMs: null, lastTransitionMs: 5 };
  d1.overloaded = true;
  return {
    table, version: '0.1.0', connCount: 1234, connLimit: 4194304,
    dataplane: { kind: 'proxy', activeFlows: 17, drops: { 'no-dest': 3, 'table-full': 0, 'odd "reason"\\x': 1 } },
    changes: 42, picks: { wrr: 10, rr: 0 },
  };
}

test('the whole /metrics page passes promtool check metrics', async (t) => {
  const skip = missingTool(PROMTOOL, 'prometheus');
  if (skip) return t.skip(skip);
  const text = formatMetrics(facts(richTable()));
  const r = promtoolCheck(text);
  assert.equal(r.output, '');
  assert.equal(r.status, 0);
});

test('tslvs_* reports health, check latency, drops by reason, picks, the connection table and changes', () => {
  const table = richTable();
  const text = formatMetrics(facts(table));
  const v6 = 'local_address="2001:db8::10",local_mark="",local_port="80",proto="TCP",remote_address="2001:db8:1::11",remote_port="80"';
  assert.ok(text.includes(`tslvs_backend_up{${v6}} 1\n`));
  assert.ok(text.includes(`tslvs_backend_check_latency_seconds{${v6}} 0.00125\n`));
  assert.match(text, /tslvs_backend_up\{local_address="192\.0\.2\.10",local_mark="",local_port="80",proto="TCP",remote_address="198\.51\.100\.12",remote_port="8080"\} 0\n/);
  assert.equal((text.match(/^tslvs_backend_up\{/gm) ?? []).length, 2, 'only real servers with a checker');
  assert.equal((text.match(/^tslvs_backend_check_latency_seconds\{/gm) ?? []).length, 1, 'only checks that measured a latency');
  assert.ok(text.includes('tslvs_dataplane_drops_total{reason="no-dest"} 3\n'));
  assert.ok(text.includes('tslvs_dataplane_drops_total{reason="odd \\"reason\\"\\\\x"} 1\n'));
  assert.ok(text.includes('tslvs_scheduler_picks_total{scheduler="wrr"} 10\n'));
  assert.ok(text.includes('tslvs_connections 1234\n'));
  assert.ok(text.includes('tslvs_connections_limit 4.194304e+06\n'));
  assert.ok(text.includes('tslvs_control_changes_total 42\n'));
  assert.ok(text.includes('tslvs_info{dataplane="proxy",version="0.1.0"} 1\n'));
  assert.ok(text.includes('# TYPE tslvs_backend_connections_total counter\n'));
  // node_ipvs_* comes first and unchanged.
  assert.ok(text.startsWith(formatNodeIpvs(table)));
});

test('families are sorted by name and samples by label values, as client_golang gathers them', () => {
  const text = formatNodeIpvs(richTable());
  const names = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
  assert.deepEqual(names, [...names].sort());
  const weights = text.split('\n').filter((l) => l.startsWith('node_ipvs_backend_weight{'));
  const keys = weights.map((l) => [...l.matchAll(/="([^"]*)"/g)].map((m) => m[1]));
  const sorted = [...keys].sort((a, b) => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
  });
  assert.deepEqual(keys, sorted);
  assert.equal(keys[0][0], '', 'fwmark services (empty local_address) sort first');
});

function svcWith(sched: string, conns: number, port = 80): TableSnapshot['services'][number] {
  return {
    af: 2, protocol: 6, addr: '192.0.2.1', port, fwmark: 0, sched, flags: 0, timeoutS: 0, netmask: 0xffffffff, pe: '',
    dests: [], stats: { ...zeroStats(), conns },
  };
}

function tableOf(...services: TableSnapshot['services']): TableSnapshot {
  return { version: '1.2.1', connTabSize: 4096, timeouts: { tcp: 900, tcpfin: 120, udp: 300 }, services, totals: zeroStats(), dataplane: 'none' };
}

test('scheduler picks never go down: zeroing, a scheduler change and a deleted service keep what was counted', () => {
  const p = new PickCounter();
  p.observe(tableOf(svcWith('wrr', 5), svcWith('rr', 2, 81)));
  assert.deepEqual(p.totals(), { wrr: 5, rr: 2 });
  p.observe(tableOf(svcWith('wrr', 9), svcWith('rr', 2, 81)));
  assert.deepEqual(p.totals(), { wrr: 9, rr: 2 });
  p.observe(tableOf(svcWith('wrr', 1), svcWith('rr', 3, 81))); // wrr service zeroed, then one more
  assert.deepEqual(p.totals(), { wrr: 10, rr: 3 });
  p.observe(tableOf(svcWith('sh', 4), svcWith('rr', 3, 81))); // scheduler changed to sh
  assert.deepEqual(p.totals(), { wrr: 10, rr: 3, sh: 3 });
  p.observe(tableOf(svcWith('sh', 4))); // rr service deleted
  p.observe(tableOf(svcWith('sh', 4), svcWith('rr', 1, 81))); // re-added: counts from 0
  assert.deepEqual(p.totals(), { wrr: 10, rr: 4, sh: 3 });
});
