// What one scrape and one /proc refresh cost on a big table (10,000 services x 10 real servers
// by default). Measured in the same run:
//   json      the peer: JSON.stringify of the table snapshot (what every `get-table` answer costs)
//   snapshot  buildSnapshot of the core's table (paid once per scrape or refresh)
//   metrics   formatMetrics: the whole /metrics page (node_ipvs_* and tslvs_*)
//   ip_vs     formatIpVs: /proc/net/ip_vs
// Prints the best of R rounds in ms and ratios against `json`.
// Run: npx tsc -p . && node dist/bench/control/observe-bench.js [services] [dests-per-service] [rounds]
import { parseIpvsadmRules } from '../../src/config/ipvsadm-rules.js';
import { formatMetrics } from '../../src/control/metrics.js';
import { formatIpVs } from '../../src/control/procfs.js';
import { Ipvs } from '../../src/core/ipvs.js';
import { applyTableCommand, buildSnapshot } from '../../src/daemon/wire.js';

const SERVICES = Number(process.argv[2] ?? 10_000);
const DESTS = Number(process.argv[3] ?? 10);
const ROUNDS = Number(process.argv[4] ?? 5);

const lines: string[] = [];
for (let s = 0; s < SERVICES; s++) {
  const vip = `10.${(s >> 8) & 255}.${s & 255}.1:80`;
  lines.push(`-A -t ${vip} -s wlc`);
  for (let d = 0; d < DESTS; d++) lines.push(`-a -t ${vip} -r 192.168.${d}.${(s % 250) + 1}:8080 -m -w 1`);
}
const ipvs = new Ipvs({ random: () => 0 });
for (const e of parseIpvsadmRules(lines.join('\n'), 'bench')) applyTableCommand(ipvs.table, e.cmd);
const table = buildSnapshot(ipvs, 'none');
const facts = { table, version: 'bench', connCount: 0, connLimit: 1 << 22, dataplane: { kind: 'none', activeFlows: 0, drops: {} }, changes: 0, picks: {} };

function best(fn: () => unknown): { ms: number; bytes: number } {
  let ms = Infinity;
  let bytes = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    const out = fn();
    ms = Math.min(ms, performance.now() - t);
    if (typeof out === 'string') bytes = out.length;
  }
  return { ms, bytes };
}

const results: [string, { ms: number; bytes: number }][] = [
  ['json', best(() => JSON.stringify(table))],
  ['snapshot', best(() => buildSnapshot(ipvs, 'none'))],
  ['metrics', best(() => formatMetrics(facts))],
  ['ip_vs', best(() => formatIpVs(table))],
];
const peer = results[0][1].ms;
console.log(`${SERVICES} services x ${DESTS} real servers, best of ${ROUNDS}`);
for (const [name, r] of results) {
  console.log(`${name.padEnd(9)} ${r.ms.toFixed(1).padStart(8)} ms  ${(r.ms / peer).toFixed(2).padStart(6)}x json${r.bytes ? `  ${(r.bytes / 1e6).toFixed(1)} MB` : ''}`);
}
