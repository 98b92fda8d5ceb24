// The daemon's batch path: an `ipvsadm -R` of 110,000 lines (10,000 services x 10 real servers)
// applied as one `exec`. Measured in the same run:
//   core     the peer: ServiceTable ops on ready-made core values (no wire, no journal, no queue)
//   merged   Director.exec with the none dataplane (one journal, no awaits)
//   each     Director.exec with a dataplane that accepts everything but is not `none`
//            (one journal and one awaited apply per command)
//   rows     Director.exec of the same batch as compact rows (protocol.ts CommandRow), as
//            tslvsadm -R sends it
//   socket   the whole way: JSON over the control socket to an in-process daemon (none
//            dataplane), including the atomic save of the resulting table, as command objects
//   srows    the same as compact rows
// Prints the best of R rounds and ratios against `core` and `merged`. Goal: socket well under 1 s.
// Run: npx tsc -p . && node dist/bench/daemon/exec-bench.js [services] [dests-per-service] [rounds]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from '../../src/cli/control-client.js';
import { parseDaemonOptions } from '../../src/config/daemon-options.js';
import { parseIpvsadmRules } from '../../src/config/ipvsadm-rules.js';
import { type CommandRow, commandToRow, type Request, type TableCommand } from '../../src/control/protocol.js';
import type { TableDiff } from '../../src/core/diff.js';
import { Ipvs } from '../../src/core/ipvs.js';
import type { Dataplane } from '../../src/dataplane/dataplane.js';
import { NoneDataplane } from '../../src/dataplane/none/none-dataplane.js';
import { Director } from '../../src/daemon/director.js';
import { startDaemon } from '../../src/daemon/lifecycle.js';
import { destUserFromWire, serviceIdFromWire, serviceUserFromWire } from '../../src/daemon/wire.js';

const SERVICES = Number(process.argv[2] ?? 10_000);
const DESTS = Number(process.argv[3] ?? 10);
const ROUNDS = Number(process.argv[4] ?? 5);

function rulesText(): string {
  const lines: string[] = [];
  for (let s = 0; s < SERVICES; s++) {
    const vip = `10.${(s >> 8) & 255}.${s & 255}.1:80`;
    lines.push(`-A -t ${vip} -s wlc`);
    for (let d = 0; d < DESTS; d++) lines.push(`-a -t ${vip} -r 192.168.${d}.${(s % 250) + 1}:8080 -m -w 1`);
  }
  return `${lines.join('\n')}\n`;
}

class AcceptAll implements Dataplane {
  readonly kind = 'proxy' as const;
  async apply(_d: TableDiff): Promise<void> {}
  stats() { return { activeFlows: 0, drops: {} }; }
  async close(): Promise<void> {}
}

const fresh = (): TableCommand[] => JSON.parse(json) as TableCommand[];
const freshRows = (): CommandRow[] => JSON.parse(rowsJson) as CommandRow[];
const text = rulesText();
let t = performance.now();
const cmds = parseIpvsadmRules(text, 'bench').map((e) => e.cmd);
const parseMs = performance.now() - t;
const json = JSON.stringify(cmds);
const rowsJson = JSON.stringify(cmds.map(commandToRow));

async function best(name: string, run: () => Promise<number>): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < ROUNDS; r++) times.push(await run());
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(8)} best ${times[0].toFixed(0).padStart(5)} ms   median ${times[times.length >> 1].toFixed(0).padStart(5)} ms`);
  return times[0];
}

console.log(`${cmds.length} commands (${SERVICES} services x ${DESTS} dests), rules parsed in ${parseMs.toFixed(0)} ms, ${(json.length / 1e6).toFixed(1)} MB of JSON (${(rowsJson.length / 1e6).toFixed(1)} MB as rows)`);

const core = await best('core', async () => {
  const c = fresh();
  const ops = c.map((x) => (x.cmd === 'add-service' ? { s: serviceUserFromWire('add-service', x.svc) } :
    x.cmd === 'add-dest' ? { id: serviceIdFromWire('add-dest', x.svc), d: destUserFromWire('add-dest', x.dest) } : null));
  const table = new Ipvs({ random: () => 1 }).table;
  t = performance.now();
  for (const o of ops) {
    if (!o) continue;
    if ('s' in o && o.s) table.addService(o.s);
    else if ('d' in o && o.d && o.id) table.addDest(o.id, o.d);
  }
  return performance.now() - t;
});

const merged = await best('merged', async () => {
  const c = fresh();
  const d = new Director({ ipvs: new Ipvs({ random: () => 1 }), dataplane: new NoneDataplane(), store: null });
  t = performance.now();
  const r = await d.exec(c);
  const ms = performance.now() - t;
  if (r.some((x) => x !== null)) throw new Error('a command failed');
  return ms;
});

const each = await best('each', async () => {
  const c = fresh();
  const d = new Director({ ipvs: new Ipvs({ random: () => 1 }), dataplane: new AcceptAll(), store: null });
  t = performance.now();
  await d.exec(c);
  return performance.now() - t;
});

async function overSocket(req: () => Request): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'tslvs-bench-'));
  const opts = parseDaemonOptions(['--dataplane', 'none', '--socket', join(dir, 's.sock'), '--state-dir', join(dir, 'st'), '--http', 'off'], {});
  const daemon = await startDaemon(opts, { log: () => undefined });
  try {
    const q = req();
    t = performance.now();
    const r = await request(q, { socketPath: opts.socket });
    const ms = performance.now() - t;
    if (r.type !== 'exec' || r.results.some((x) => x !== null)) throw new Error('the batch failed');
    return ms;
  } finally {
    await daemon.stop('bench');
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = await best('rows', async () => {
  const c = freshRows();
  const d = new Director({ ipvs: new Ipvs({ random: () => 1 }), dataplane: new NoneDataplane(), store: null });
  t = performance.now();
  const r = await d.exec(c);
  const ms = performance.now() - t;
  if (r.some((x) => x !== null)) throw new Error('a command failed');
  return ms;
});

const socket = await best('socket', () => overSocket(() => ({ type: 'exec', cmds: fresh() })));
const srows = await best('srows', () => overSocket(() => ({ type: 'exec', rows: freshRows() })));

console.log(`merged/core ${(merged / core).toFixed(2)}   rows/merged ${(rows / merged).toFixed(2)}   each/merged ${(each / merged).toFixed(2)}   socket/merged ${(socket / merged).toFixed(2)}   srows/socket ${(srows / socket).toFixed(2)}`);
console.log(`socket path: ${(cmds.length / (socket / 1000) / 1000).toFixed(0)}k commands/s end to end as objects, ${(cmds.length / (srows / 1000) / 1000).toFixed(0)}k as rows`);
