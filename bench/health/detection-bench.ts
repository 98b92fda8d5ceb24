// Failure detection time of the health runner: from killing a real server to the down decision,
// against keepalived's bound delay_loop + (retry + 1) × connect_timeout + retry × delay_before_retry,
// beside a peer measured in the same run: the obvious detector (a setInterval per real server,
// one TCP connect per tick, down after the same number of failures). Also the schedule drift
// under a busy event loop, runner against a chained setTimeout: the mean interval between two
// checks of one real server ÷ the interval they should keep (1.00 = no drift).
//
//   npx tsc -p . && node dist/bench/health/detection-bench.js [servers] [trials]
//
// Two failure kinds: the server process is SIGKILLed (the port then refuses: immediate failure)
// and, as root, the server's host vanishes: it runs in a network namespace behind a veth whose
// far end is set down, so connects hang until connect_timeout (the namespace is removed after).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseKeepalivedText } from '../../src/config/keepalived/load.js';
import { systemHost } from '../../src/config/keepalived/system.js';
import { createHealthRunner, type HealthDecision } from '../../src/health/runner.js';

const SERVERS = Number(process.argv[2] ?? 200);
const TRIALS = Number(process.argv[3] ?? 8);
const DELAY_LOOP_S = 0.5;
const CONNECT_TIMEOUT_S = 0.3;
const RETRY = 1;
const DBR_S = 0.1;

// Listens on N free ports of ADDR and prints them as JSON.
const SERVER_JS = `
const net = require('node:net');
const [addr, count] = [process.argv[1], Number(process.argv[2])];
const ports = [];
for (let i = 0; i < count; i++) {
  const s = net.createServer((c) => c.destroy());
  s.listen(0, addr, () => { ports.push(s.address().port); if (ports.length === count) process.stdout.write(JSON.stringify(ports) + '\\n'); });
}
`;

function startServers(addr: string, count: number, netns?: string): Promise<{ child: ChildProcess; ports: number[] }> {
  return new Promise((resolve, reject) => {
    const argv = [process.execPath, '-e', SERVER_JS, addr, String(count)];
    const child = netns ? spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout!.once('data', (b: Buffer) => resolve({ child, ports: JSON.parse(b.toString()) as number[] }));
    child.once('exit', (c) => reject(new Error(`servers exited ${c}`)));
  });
}

const NS = `tslvs-bench-${process.pid}`;
const VICTIM_ADDR = '198.51.100.77';

function sh(args: string[]): boolean {
  return spawnSync(args[0], args.slice(1), { stdio: 'ignore' }).status === 0;
}

function setupNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  return sh(['ip', 'netns', 'add', NS]) && sh(['ip', 'link', 'add', 'tslvsb0', 'type', 'veth', 'peer', 'name', 'tslvsb1']) &&
    sh(['ip', 'link', 'set', 'tslvsb1', 'netns', NS]) && sh(['ip', 'addr', 'add', '198.51.100.1/24', 'dev', 'tslvsb0']) &&
    sh(['ip', 'link', 'set', 'tslvsb0', 'up']) && sh(['ip', '-n', NS, 'addr', 'add', `${VICTIM_ADDR}/24`, 'dev', 'tslvsb1']) &&
    sh(['ip', '-n', NS, 'link', 'set', 'tslvsb1', 'up']) && sh(['ip', '-n', NS, 'link', 'set', 'lo', 'up']);
}

function teardownNetns(): void {
  sh(['ip', 'netns', 'del', NS]);
  sh(['ip', 'link', 'del', 'tslvsb0']);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function configText(ports: number[], victim: { addr: string; port: number }): string {
  const rs = [...ports.map((p) => ({ addr: '127.0.0.1', port: p })), victim].map((v) => `  real_server ${v.addr} ${v.port} { TCP_CHECK { connect_timeout ${CONNECT_TIMEOUT_S}\n retry ${RETRY}\n delay_before_retry ${DBR_S} } }`).join('\n');
  return `virtual_server 192.0.2.10 80 {\n delay_loop ${DELAY_LOOP_S}\n lb_algo rr\n lb_kind NAT\n protocol TCP\n${rs}\n}\n`;
}

/** The peer: a setInterval per server, one connect per tick, down after retry + 1 failures in a row. */
function naiveDetector(victim: { addr: string; port: number }, onDown: (at: number) => void): () => void {
  let failures = 0;
  const failed = () => { if (++failures === RETRY + 1) onDown(performance.now()); };
  const timer = setInterval(() => {
    const s = new Socket();
    const t = setTimeout(() => { s.destroy(); failed(); }, CONNECT_TIMEOUT_S * 1000);
    s.once('connect', () => { clearTimeout(t); s.destroy(); failures = 0; });
    s.once('error', () => { clearTimeout(t); s.destroy(); failed(); });
    s.connect(victim.port, victim.addr);
  }, DELAY_LOOP_S * 1000);
  return () => clearInterval(timer);
}

interface Trial { runner: number; peer: number }

async function trial(kind: 'kill' | 'blackhole', others: number[]): Promise<Trial> {
  const v = kind === 'kill' ? await startServers('127.0.0.1', 1) : await startServers(VICTIM_ADDR, 1, NS);
  const victim = { addr: kind === 'kill' ? '127.0.0.1' : VICTIM_ADDR, port: v.ports[0] };
  const config = parseKeepalivedText(configText(others, victim), 'bench.conf', { host: systemHost() }).config!;
  const key = `[${victim.addr}]:tcp:${victim.port}`;
  let runnerDown = -1;
  let t0 = Infinity;
  const runner = createHealthRunner({
    config, bootstrapDelayMs: 0,
    onChange: (d: HealthDecision) => { if (runnerDown < 0 && performance.now() >= t0 && d.changes.some((c) => c.op === 'del' && c.server === key)) runnerDown = performance.now(); },
  });
  let peerDown = -1;
  const stopPeer = naiveDetector(victim, (at) => { if (peerDown < 0 && at >= t0) peerDown = at; });
  runner.start();
  // Let everything settle into its rhythm with the victim up, then fail it at a random phase.
  await sleep(2000 + Math.random() * DELAY_LOOP_S * 1000);
  for (let i = 0; i < 100 && !runner.status().realServers.find((r) => r.realServer === key)?.alive; i++) await sleep(50);
  t0 = performance.now();
  if (kind === 'kill') v.child.kill('SIGKILL');
  else sh(['ip', '-n', NS, 'link', 'set', 'tslvsb1', 'down']);
  const bound = (DELAY_LOOP_S + (RETRY + 1) * CONNECT_TIMEOUT_S + RETRY * DBR_S) * 1000;
  const deadline = t0 + bound * 3;
  while ((runnerDown < 0 || peerDown < 0) && performance.now() < deadline) await sleep(5);
  await runner.stop({ keepTable: true });
  stopPeer();
  v.child.kill('SIGKILL');
  if (kind === 'blackhole') sh(['ip', '-n', NS, 'link', 'set', 'tslvsb1', 'up']);
  return { runner: runnerDown < 0 ? NaN : runnerDown - t0, peer: peerDown < 0 ? NaN : peerDown - t0 };
}

async function drift(): Promise<{ runner: number; peer: number }> {
  // One real server checked every 100 ms by the runner and by the peer (a chained setTimeout),
  // while the event loop is blocked 12 ms out of every 37 (out of phase with the checks).
  const config = parseKeepalivedText(configText([], { addr: '127.0.0.1', port: 9 }).replace(`delay_loop ${DELAY_LOOP_S}`, 'delay_loop 0.1'), 'bench.conf', { host: systemHost() }).config!;
  const starts: number[] = [];
  const runner = createHealthRunner({
    config, bootstrapDelayMs: 0, random: () => 0, onChange: () => {},
    probeFactory: (c) => ({ kind: c.kind, target: 'probe', usesSocket: false, run: async (req) => { starts.push(performance.now()); return { ok: true, detail: 'ok', finishedMs: req.now?.() }; } }),
  });
  const peerStarts: number[] = [];
  const peerTick = () => { peerStarts.push(performance.now()); peer = setTimeout(peerTick, 100); };
  let peer = setTimeout(peerTick, 100);
  const busy = setInterval(() => { const e = performance.now() + 12; while (performance.now() < e) { /* spin */ } }, 37);
  runner.start();
  await sleep(6000);
  clearInterval(busy);
  clearTimeout(peer);
  await runner.stop({ keepTable: true });
  const slope = (xs: number[]) => (xs[xs.length - 1] - xs[0]) / (xs.length - 1);
  return { runner: slope(starts) / 100, peer: slope(peerStarts) / 100 };
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(0).padStart(6) : '   n/a');
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  const farm = await startServers('127.0.0.1', SERVERS);
  const others = farm.ports;
  const netns = setupNetns();
  try {
    // keepalived's worst case for an up server: a check just passed, then retry + 1 failed attempts.
    const refusedBound = (DELAY_LOOP_S + RETRY * DBR_S) * 1000;
    const timeoutBound = (DELAY_LOOP_S + (RETRY + 1) * CONNECT_TIMEOUT_S + RETRY * DBR_S) * 1000;
    console.log(`health detection: ${SERVERS + 1} real servers checked every ${DELAY_LOOP_S}s (connect_timeout ${CONNECT_TIMEOUT_S}s, retry ${RETRY}, delay_before_retry ${DBR_S}s), ${TRIALS} trials each`);
    const kinds: Array<['kill' | 'blackhole', number]> = [['kill', refusedBound]];
    if (netns) kinds.push(['blackhole', timeoutBound]);
    else console.log('  (blackhole trials skipped: they need root and ip netns)');
    for (const [kind, bound] of kinds) {
      const rs: Trial[] = [];
      for (let i = 0; i < TRIALS; i++) rs.push(await trial(kind, others));
      const r = rs.map((t) => t.runner);
      const p = rs.map((t) => t.peer);
      console.log(`  ${kind.padEnd(9)} ms to down decision: runner mean ${fmt(mean(r))} max ${fmt(Math.max(...r))} | peer mean ${fmt(mean(p))} max ${fmt(Math.max(...p))} | keepalived bound ${fmt(bound)}`);
      console.log(`            ratios: runner max / bound ${(Math.max(...r) / bound).toFixed(2)}, runner mean / peer mean ${(mean(r) / mean(p)).toFixed(2)}`);
    }
    const d = await drift();
    console.log(`  schedule under a busy event loop (12 ms busy every 37 ms), interval between checks / intended: runner ${d.runner.toFixed(2)}, peer (chained setTimeout) ${d.peer.toFixed(2)}`);
  } finally {
    farm.child.kill('SIGKILL');
    if (netns) teardownNetns();
  }
}

void main();
