// /proc/net/ip_vs, ip_vs_stats and ip_vs_conn as the kernel writes them. The goldens under
// test/golden/procfs were recorded by record-procfs.sh on Debian's 6.1 kernel: the table is
// built here from the same rules file through tslvs's own parser and table, and the counters
// come from what `ipvsadm -L -n` (netlink, not /proc) printed at the same moment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIpvsadmRules } from '../../src/config/ipvsadm-rules.js';
import {
  formatConnLine, formatIpVs, formatIpVsConn, formatIpVsStats, formatProcFiles, IP_VS_CONN_HEADER, type ProcConn, writeProcFiles,
} from '../../src/control/procfs.js';
import type { DestSnapshot, StatsWire, TableSnapshot } from '../../src/control/protocol.js';
import { parseAddr } from '../../src/core/addr.js';
import { Flow, TCP_SYN } from '../../src/core/flow.js';
import { Ipvs } from '../../src/core/ipvs.js';
import { applyTableCommand, buildSnapshot } from '../../src/daemon/wire.js';
import { GOLDEN_DIR } from '../helpers/golden.js';

const DIR = join(GOLDEN_DIR, 'procfs');

/** A golden file without its first "# ..." provenance line. */
function golden(name: string): string {
  const text = readFileSync(join(DIR, name), 'utf8');
  return text.slice(text.indexOf('\n') + 1);
}

function tableFromRules(): TableSnapshot {
  const ipvs = new Ipvs({ random: () => 0 });
  for (const e of parseIpvsadmRules(readFileSync(join(DIR, 'rules.txt'), 'utf8'), 'rules.txt')) applyTableCommand(ipvs.table, e.cmd);
  return buildSnapshot(ipvs, 'none');
}

/**
 * The file as header + the set of service blocks (a service line and its real servers, in
 * order). The kernel lists services in its hash order, which mixes in a kernel pointer; tslvs
 * lists them in table order (docs/observability.md), so blocks are compared as a set.
 */
function blocks(text: string): { header: string; blocks: string[] } {
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'the file ends with a newline');
  const header = lines.slice(0, 3).join('\n');
  const out: string[] = [];
  for (const l of lines.slice(3)) {
    if (l.startsWith('  -> ')) out[out.length - 1] += `\n${l}`;
    else out.push(l);
  }
  return { header, blocks: out.sort() };
}

/** ipvsadm -L -n: active and inactive connections by "SERVICE|REALSERVER" as ipvsadm names them. */
function ipvsadmCounts(text: string): Map<string, { active: number; inact: number }> {
  const m = new Map<string, { active: number; inact: number }>();
  let svc = '';
  for (const l of text.split('\n')) {
    const d = /^ {2}-> (\S+)\s+\S+\s+\d+\s+(\d+)\s+(\d+)/.exec(l);
    if (d) m.set(`${svc}|${d[1]}`, { active: Number(d[2]), inact: Number(d[3]) });
    else if (/^(TCP|UDP|SCTP|FWM) /.test(l)) svc = l.split(/\s+/).slice(0, 2).join(' ');
  }
  return m;
}

function ipvsadmName(s: TableSnapshot['services'][number]): string {
  if (s.fwmark) return `FWM ${s.fwmark}`;
  const proto = s.protocol === 6 ? 'TCP' : s.protocol === 17 ? 'UDP' : 'SCTP';
  return `${proto} ${s.af === 10 ? `[${s.addr}]` : s.addr}:${s.port}`;
}

test('/proc/net/ip_vs is what Linux 6.1 writes for every kind of service line', () => {
  const ours = blocks(formatIpVs(tableFromRules()));
  const kernel = blocks(golden('ip_vs-table.txt'));
  assert.equal(ours.header, kernel.header);
  assert.deepEqual(ours.blocks, kernel.blocks);
});

test('/proc/net/ip_vs shows the active and inactive counts that ipvsadm -L showed, as the kernel did', () => {
  const t = tableFromRules();
  const counts = ipvsadmCounts(golden('ipvsadm-L-traffic.txt'));
  let nonzero = 0;
  for (const s of t.services) {
    for (const d of s.dests) {
      const c = counts.get(`${ipvsadmName(s)}|${d.af === 10 ? `[${d.addr}]` : d.addr}:${d.port}`);
      assert.ok(c, `ipvsadm listed ${ipvsadmName(s)} -> ${d.addr}`);
      d.activeConns = c.active;
      d.inactConns = c.inact;
      nonzero += c.active + c.inact;
    }
  }
  assert.ok(nonzero > 0, 'the golden has connections');
  assert.deepEqual(blocks(formatIpVs(t)), blocks(golden('ip_vs-traffic.txt')));
});

test('/proc/net/ip_vs puts address services before fwmark services, real servers newest first', () => {
  const text = formatIpVs(tableFromRules());
  const lines = text.split('\n');
  const firstFwm = lines.findIndex((l) => l.startsWith('FWM'));
  const lastAddr = lines.map((l) => /^(TCP|UDP|SCTP) /.test(l)).lastIndexOf(true);
  assert.ok(firstFwm > lastAddr);
  const wrr = lines.indexOf('TCP  C000020A:0050 wrr  ');
  assert.deepEqual(lines.slice(wrr + 1, wrr + 4).map((l) => l.slice(5, 18)), ['C633640D:0050', 'C633640C:1F90', 'C633640B:0050']);
});

/** The five totals of `ipvsadm -L -n --stats --exact`, summed over services. */
function summedServiceStats(text: string): number[] {
  const sum = [0, 0, 0, 0, 0];
  for (const l of text.split('\n')) {
    if (!/^(TCP|UDP|SCTP|FWM) /.test(l)) continue;
    const f = l.trim().split(/\s+/).slice(-5).map(Number);
    for (let i = 0; i < 5; i++) sum[i] += f[i];
  }
  return sum;
}

test('/proc/net/ip_vs_stats prints the totals ipvsadm --stats adds up to, as the kernel did', () => {
  const kernel = golden('ip_vs_stats-traffic.txt');
  const [conns, inpkts, outpkts, inbytes, outbytes] = summedServiceStats(golden('ipvsadm-stats-traffic.txt'));
  assert.ok(conns > 0);
  // The rates are the estimator's (no other view of the global ones): read them from line 6.
  const [cps, inpps, outpps, inbps, outbps] = kernel.split('\n')[5].trim().split(/\s+/).map((h) => parseInt(h, 16));
  const s: StatsWire = { conns, inpkts, outpkts, inbytes, outbytes, cps, inpps, outpps, inbps, outbps };
  assert.equal(formatIpVsStats(s), kernel);
});

test('/proc/net/ip_vs_stats of an empty table is the kernel\'s', () => {
  assert.equal(formatIpVsStats(tableFromRules().totals), golden('ip_vs_stats-table.txt'));
});

test('/proc/net/ip_vs_stats right-aligns 64-bit counters in their widths', () => {
  const s: StatsWire = { conns: 23765872, inpkts: 3811989221, outpkts: 0, inbytes: 89991519156915, outbytes: 0, cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0 };
  // The upstream procfs fixture line (prometheus/procfs ipvs_test.go, spec observability §1.9).
  assert.equal(formatIpVsStats(s).split('\n')[2], ' 16AA370 E33656E5        0     51D8C8883AB3                0');
});

/** A golden ip_vs_conn row back into the fields the daemon lists. */
function connFromRow(row: string): ProcConn {
  const f = row.trim().split(/\s+/);
  const ip4 = (h: string) => { const v = parseInt(h, 16); return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`; };
  const protocol = f[0] === 'TCP' ? 6 : f[0] === 'UDP' ? 17 : f[0] === 'SCTP' ? 132 : 0;
  return {
    protocol, af: 2, caddr: ip4(f[1]), cport: parseInt(f[2], 16), vaddr: ip4(f[3]), vport: parseInt(f[4], 16),
    daddr: ip4(f[5]), dport: parseInt(f[6], 16), fwmark: 0, template: f[2] === '0000', state: f[7], expiresS: Number(f[8]),
  };
}

test('/proc/net/ip_vs_conn rows are byte for byte the kernel\'s (connections and persistence templates)', () => {
  const kernel = golden('ip_vs_conn-traffic.txt');
  const rows = kernel.split('\n').slice(1, -1);
  assert.ok(rows.length >= 10 && rows.some((r) => r.includes(' NONE ')));
  assert.equal(formatIpVsConn(rows.map(connFromRow)), kernel);
});

test('/proc/net/ip_vs_conn writes IPv6 entries in full form and fwmark templates with the mark as the virtual address', () => {
  // Observed rows from spec ipvs.md §3.11 (Linux 6.1).
  assert.equal(formatConnLine({
    protocol: 17, af: 10, caddr: '2001:db8:1::100', cport: 0x9c40, vaddr: '2001:db8:1::230', vport: 53,
    daddr: '2001:db8:1::11', dport: 0x14e9, fwmark: 0, template: false, state: 'UDP', expiresS: 299,
  }), 'UDP 2001:0db8:0001:0000:0000:0000:0000:0100 9C40 2001:0db8:0001:0000:0000:0000:0000:0230 0035 2001:0db8:0001:0000:0000:0000:0000:0011 14E9 UDP             299\n');
  assert.equal(formatConnLine({
    protocol: 0, af: 2, caddr: '198.51.100.7', cport: 0, vaddr: '0.0.0.0', vport: 0,
    daddr: '192.168.1.102', dport: 0, fwmark: 7, template: true, state: 'NONE', expiresS: 58.9,
  }), 'IP  C6336407 0000 00000007 0000 C0A80166 0000 NONE             58\n');
  assert.equal(formatIpVsConn([]), IP_VS_CONN_HEADER);
});

test('writeProcFiles replaces each file atomically and skips files that did not change', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tslvs-procfs-'));
  try {
    const t = tableFromRules();
    const first = await writeProcFiles(root, formatProcFiles(t, []));
    assert.equal(readFileSync(join(root, 'net', 'ip_vs'), 'utf8'), formatIpVs(t));
    assert.equal(readFileSync(join(root, 'net', 'ip_vs_conn'), 'utf8'), IP_VS_CONN_HEADER);
    const before = statSync(join(root, 'net', 'ip_vs')).ino;
    t.services[0].dests[0].activeConns = 7;
    await writeProcFiles(root, formatProcFiles(t, []), first);
    assert.notEqual(statSync(join(root, 'net', 'ip_vs')).ino, before, 'a changed file is a new inode (renamed over)');
    assert.match(readFileSync(join(root, 'net', 'ip_vs'), 'utf8'), / 7 {10}0 {9}\n/);
    assert.deepEqual(readdirSync(join(root, 'net')).sort(), ['ip_vs', 'ip_vs_conn', 'ip_vs_stats'], 'no temporary file is left');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** The packets record-procfs.sh sent, in its order: [protocol, source, sport, destination, dport]. */
const RECORDED_PACKETS: [6 | 17, string, number, string, number][] = [
  ...[0, 1, 2, 3, 4].map((i) => [6, '203.0.113.2', 40000 + i, '192.0.2.10', 80] as [6, string, number, string, number]),
  ...[0, 1, 2].map((i) => [17, '203.0.113.3', 50000 + i, '192.0.2.10', 53] as [17, string, number, string, number]),
  ...[0, 1].map((i) => [6, '203.0.113.4', 41000 + i, '192.0.2.20', 443] as [6, string, number, string, number]),
  [6, '203.0.113.5', 42000, '192.0.2.40', 8080],
  [6, '203.0.113.6', 43000, '192.0.2.50', 80],
  [6, '203.0.113.7', 43001, '192.0.2.50', 80],
];

test('the same packets through tslvs\'s core give the kernel\'s ip_vs_conn and ip_vs (entries, picks, counts, expiry)', () => {
  const ipvs = new Ipvs({ random: () => 0x12345678, startMs: 0 });
  for (const e of parseIpvsadmRules(readFileSync(join(DIR, 'rules.txt'), 'utf8'), 'rules.txt')) applyTableCommand(ipvs.table, e.cmd);
  const f = new Flow();
  for (const [proto, src, sport, dst, dport] of RECORDED_PACKETS) {
    f.protocol = proto;
    f.setSaddr(parseAddr(src)!);
    f.setDaddr(parseAddr(dst)!);
    f.sport = sport;
    f.dport = dport;
    f.tcpFlags = proto === 6 ? TCP_SYN : 0;
    f.len = proto === 6 ? 40 : 38; // a bare SYN; UDP with 10 bytes of payload
    ipvs.inPacket(f, 0);
  }
  // The script read the files 3 s (plus its own run time) after sending: expiries show 56 of 60.
  ipvs.tick(3500);
  const table = buildSnapshot(ipvs, 'none');
  const conns = formatIpVsConn(ipvs.listConns(3500));
  const sortedRows = (text: string) => text.split('\n').slice(1, -1).sort();
  assert.equal(conns.split('\n')[0], IP_VS_CONN_HEADER.trimEnd());
  assert.deepEqual(sortedRows(conns), sortedRows(golden('ip_vs_conn-traffic.txt')), 'entries in any order (the hash seeds differ)');
  assert.deepEqual(blocks(formatIpVs(table)), blocks(golden('ip_vs-traffic.txt')));
  // The totals; the rates depend on where the kernel's 2-s estimator ticks fell between packets.
  assert.equal(formatIpVsStats(table.totals).split('\n')[2], golden('ip_vs_stats-traffic.txt').split('\n')[2]);
});

test('real server lines print every value as ip_vs_info_seq_show\'s "%08X:%04X %-7s %-6d %-10d %-10d", small and large alike', () => {
  const t = tableFromRules();
  const s = t.services.find((x) => !x.fwmark && x.af !== 10 && x.dests.length > 0);
  assert.ok(s);
  const cases: [string, number, number, number, number][] = [
    ['198.51.100.7', 0, 0, 0, 0], ['198.51.100.7', 1023, 1023, 1023, 1], ['198.51.100.7', 1024, 1024, 99999, 3],
    ['001.002.003.004', 2147483647, 5, 4294967295, 2], ['not-an-address', -1, 7, 7, 7], ['1.2.3.256', 3, 0, 0, 5],
  ];
  for (const [addr, weight, activeConns, inactConns, fwd] of cases) {
    const d: DestSnapshot = { ...s.dests[0], addr, weight, activeConns, inactConns, fwd };
    const text = formatIpVs({ ...t, services: [{ ...s, dests: [d] }] });
    const parts = addr.split('.').map(Number);
    const v = parts.length === 4 && parts.every((p) => p <= 255) ? ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0 : 0;
    const name = ['Masq', 'Local', 'Tunnel', 'Route'][fwd] ?? 'Masq';
    const want: string = `  -> ${v.toString(16).toUpperCase().padStart(8, '0')}:${d.port.toString(16).toUpperCase().padStart(4, '0')}      ` +
      `${name.padEnd(7)} ${String(weight | 0).padEnd(6)} ${String(activeConns | 0).padEnd(10)} ${String(inactConns | 0).padEnd(10)}\n`;
    assert.equal(text.split('\n').slice(4).join('\n'), want, JSON.stringify([addr, weight, activeConns, inactConns, fwd]));
  }
});
