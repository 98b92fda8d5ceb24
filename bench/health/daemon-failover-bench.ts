// Failover of a whole director: `tslvs run -f keepalived.conf` (proxy dataplane, loopback VIP)
// with real servers that are Node HTTP server processes, one of which is SIGKILLed and started
// again in each trial. Measured from outside, as a user sees it:
//   - kill → its destination leaves the table (polled over the control socket every 5 ms);
//   - last good check → leaves the table (the check times come from `tslvs status`), which is
//     what keepalived bounds by delay_loop + (retry + 1) × connect_timeout + retry × delay_before_retry
//     (a killed server refuses at once, so the connect_timeout terms are not spent);
//   - restart → back in the table;
//   - the first new connection through the VIP that reaches the surviving server only.
// The peer, measured in the same run on the same kills: the obvious detector, a setInterval that
// connects every delay_loop (down after the same number of failures), in this process.
//
//   npx tsc -p . && node dist/bench/health/daemon-failover-bench.js [trials]
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { request } from '../../src/cli/control-client.js';
import type { TableSnapshot } from '../../src/control/protocol.js';

const TRIALS = Number(process.argv[2] ?? 10);
const SCENARIOS = [
  { name: 'retry 0', delayLoopS: 0.5, connectTimeoutS: 0.3, retry: 0, dbrS: 0.1 },
  { name: 'retry 1, delay_before_retry 0.1', delayLoopS: 0.5, connectTimeoutS: 0.3, retry: 1, dbrS: 0.1 },
];
const REPO = resolve(fileURLToPath(import.meta.url), '../../../..');

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => res(p));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startServer(port: number, name: string): Promise<ChildProcess> {
  const code = `require('http').createServer((q, r) => r.end(${JSON.stringify(name)})).listen(${port}, '127.0.0.1', () => process.stdout.write('ready\\n'))`;
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout!.once('data', () => res(p));
    p.once('exit', (c) => rej(new Error(`server exited ${c}`)));
  });
}

function kill(p: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (p.exitCode !== null) return res();
    p.once('exit', () => res());
    p.kill('SIGKILL');
  });
}

function connectOk(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((res) => {
    const s = new Socket();
    const t = setTimeout(() => { s.destroy(); res(false); }, timeoutMs);
    s.once('connect', () => { clearTimeout(t); s.destroy(); res(true); });
    s.once('error', () => { clearTimeout(t); res(false); });
    s.connect(port, '127.0.0.1');
  });
}

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((res) => {
    const s = new Socket();
    let body = '';
    s.once('error', () => res('error'));
    s.on('data', (b: Buffer) => { body += b.toString(); });
    s.once('close', () => res(body.split('\r\n\r\n')[1] ?? 'error'));
    s.connect(port, host, () => s.write('GET / HTTP/1.0\r\n\r\n'));
  });
}

interface Facts { realServer: string; checkers: { lastOk: boolean | null; lastCheckMs: number | null }[] }

const stats = (xs: number[]) => ({ mean: xs.reduce((a, b) => a + b, 0) / xs.length, max: Math.max(...xs) });

async function scenario(sc: typeof SCENARIOS[number]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tslvs-failover-'));
  const socket = join(dir, 's.sock');
  const vip = `127.${64 + Math.floor(Math.random() * 64)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;
  const [vport, pa, pb] = [await freePort(), await freePort(), await freePort()];
  const rs = (p: number) => `  real_server 127.0.0.1 ${p} {\n    TCP_CHECK {\n      connect_timeout ${sc.connectTimeoutS}\n      retry ${sc.retry}\n      delay_before_retry ${sc.dbrS}\n    }\n  }\n`;
  writeFileSync(join(dir, 'keepalived.conf'), `virtual_server ${vip} ${vport} {\n  delay_loop ${sc.delayLoopS}\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n${rs(pa)}${rs(pb)}}\n`);
  const a = await startServer(pa, 'A');
  let b = await startServer(pb, 'B');
  const daemon = spawn(process.execPath, [join(REPO, 'bin', 'tslvs.js'), 'run', '--dataplane', 'proxy', '--http', 'off', '--socket', socket,
    '--state-dir', join(dir, 'state'), '-f', join(dir, 'keepalived.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr!.on('data', (x: Buffer) => { log += x.toString(); });
  const table = async (): Promise<TableSnapshot> => {
    const r = await request({ type: 'get-table' }, { socketPath: socket });
    if (r.type !== 'table') throw new Error(JSON.stringify(r));
    return r.table;
  };
  const facts = async (): Promise<Facts | undefined> => {
    const r = await request({ type: 'status' }, { socketPath: socket });
    if (r.type !== 'status') throw new Error(JSON.stringify(r));
    return (r.status.health as { realServers: Facts[] }).realServers.find((x) => x.realServer.endsWith(`:${pb}`));
  };
  const hasB = (t: TableSnapshot) => t.services[0]?.dests.some((d) => d.port === pb) ?? false;
  const bound = (sc.delayLoopS + (sc.retry + 1) * sc.connectTimeoutS + sc.retry * sc.dbrS) * 1000;
  const kills: number[] = [];
  const sinceGood: number[] = [];
  const backs: number[] = [];
  const firstClean: number[] = [];
  const peer: number[] = [];
  const peerBack: number[] = [];
  try {
    for (let i = 0; i < 200 && !/listening on/.test(log); i++) await sleep(25);
    if (!/listening on/.test(log)) throw new Error(`daemon did not start:\n${log}`);
    for (let i = 0; i < 400 && !(await facts())?.checkers[0].lastCheckMs; i++) await sleep(10);
    for (let trial = 0; trial < TRIALS; trial++) {
      // The peer: a connect every delay_loop, down after retry + 1 consecutive failures; started
      // before the random wait, so the kill falls at a random point of its cycle too.
      let peerDown = -1;
      let peerUp = -1;
      let fails = 0;
      let killedAt = Infinity;
      let restartedAt = Infinity;
      const peerTimer = setInterval(() => {
        void connectOk(pb, sc.connectTimeoutS * 1000).then((ok) => {
          const now = performance.now();
          if (!ok) {
            if (++fails >= sc.retry + 1 && peerDown < 0 && now > killedAt) peerDown = now;
          } else {
            fails = 0;
            if (peerUp < 0 && now > restartedAt) peerUp = now;
          }
        });
      }, sc.delayLoopS * 1000);
      // Start from a known-up state at a random point of the check cycle.
      await sleep(sc.delayLoopS * 1000 * (1 + Math.random()));
      let lastGood = 0;
      const f0 = await facts();
      if (f0?.checkers[0].lastOk) lastGood = f0.checkers[0].lastCheckMs!;
      const killWall = Date.now();
      killedAt = performance.now();
      await kill(b);
      let removedWall = 0;
      for (;;) {
        const [t, f] = await Promise.all([table(), facts()]);
        if (f?.checkers[0].lastOk && f.checkers[0].lastCheckMs! <= killWall + 50) lastGood = Math.max(lastGood, f.checkers[0].lastCheckMs!);
        if (!hasB(t)) {
          removedWall = Date.now();
          kills.push(performance.now() - killedAt);
          break;
        }
        await sleep(5);
      }
      sinceGood.push(removedWall - lastGood);
      // The first new connection that only the survivor answers.
      const clean = performance.now();
      while ((await httpGet(vip, vport)) !== 'A') await sleep(1);
      firstClean.push(performance.now() - clean);
      while (peerDown < 0) await sleep(5);
      peer.push(peerDown - killedAt);
      restartedAt = performance.now();
      b = await startServer(pb, 'B');
      while (!hasB(await table())) await sleep(5);
      backs.push(performance.now() - restartedAt);
      while (peerUp < 0) await sleep(5);
      peerBack.push(peerUp - restartedAt);
      clearInterval(peerTimer);
    }
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    await kill(a);
    await kill(b);
    rmSync(dir, { recursive: true, force: true });
  }
  const k = stats(kills);
  const g = stats(sinceGood);
  const p = stats(peer);
  const bk = stats(backs);
  const pb2 = stats(peerBack);
  const c = stats(firstClean);
  console.log(`\n${sc.name}: delay_loop ${sc.delayLoopS} s, connect_timeout ${sc.connectTimeoutS} s; keepalived's bound ${bound.toFixed(0)} ms; ${TRIALS} trials`);
  console.log('| measure | tslvs daemon mean / max (ms) | peer (setInterval) mean / max (ms) | tslvs max ÷ bound | tslvs mean ÷ peer mean |');
  console.log('|---|---|---|---|---|');
  console.log(`| kill → out of the table | ${k.mean.toFixed(0)} / ${k.max.toFixed(0)} | ${p.mean.toFixed(0)} / ${p.max.toFixed(0)} | ${(k.max / bound).toFixed(2)} | ${(k.mean / p.mean).toFixed(2)} |`);
  console.log(`| last good check → out of the table | ${g.mean.toFixed(0)} / ${g.max.toFixed(0)} | - | ${(g.max / bound).toFixed(2)} | - |`);
  console.log(`| restart → back in the table | ${bk.mean.toFixed(0)} / ${bk.max.toFixed(0)} | ${pb2.mean.toFixed(0)} / ${pb2.max.toFixed(0)} | ${(bk.max / (sc.delayLoopS * 1000)).toFixed(2)} (÷ delay_loop) | ${(bk.mean / pb2.mean).toFixed(2)} |`);
  console.log(`| out of the table → first new connection not sent to it | ${c.mean.toFixed(1)} / ${c.max.toFixed(1)} | - | - | - |`);
}

for (const sc of SCENARIOS) await scenario(sc);
process.exit(0);
