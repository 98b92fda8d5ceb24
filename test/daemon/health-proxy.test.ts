// A real director noticing dead real servers on its own: `tslvs run -f keepalived.conf` with the
// proxy dataplane on a loopback VIP, real servers that are Node HTTP server processes killed
// with SIGKILL and started again. Timings are printed (diagnostics), never asserted; the bench
// bench/health/daemon-failover-bench.ts compares them with keepalived's bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '../../src/cli/control-client.js';
import type { TableSnapshot } from '../../src/control/protocol.js';
import { removeDir, runTslvs, startDaemonProcess, tempDir } from '../helpers/daemon.js';
import { freePort } from '../health/servers.js';
import {
  destOn, get, healthFacts, kaDaemon, keptConnection, loopbackVip, realServer, type RealServer, sleep, status, table, until,
} from './health-lab.js';
import { spawn } from 'node:child_process';
import { REPO } from '../helpers/daemon.js';

const DELAY_LOOP_S = 0.3;
const CONNECT_TIMEOUT_S = 0.2;

function rsBlock(port: number, weight: number, extra = ''): string {
  return `  real_server 127.0.0.1 ${port} {\n    weight ${weight}\n${extra}    TCP_CHECK {\n      connect_timeout ${CONNECT_TIMEOUT_S}\n      retry 0\n    }\n  }\n`;
}

function vsConf(vip: string, vport: number, body: string, head = ''): string {
  return `${head}virtual_server ${vip} ${vport} {\n  delay_loop ${DELAY_LOOP_S}\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n${body}}\n`;
}

async function servers(names: string[]): Promise<RealServer[]> {
  const out: RealServer[] = [];
  for (const n of names) out.push(realServer(n, await freePort()));
  for (const s of out) await s.start();
  return out;
}

/** Who answers n new connections to the VIP. */
async function answers(vip: string, vport: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await get(vip, vport));
  return out;
}

/** Waits until every real server of the config has been checked once (the runner's bootstrap is 1 s). */
async function firstChecks(socket: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const h = await healthFacts(socket);
    if (h.every((r) => r.checkers.every((c) => c.lastCheckMs !== null))) return;
    await sleep(20);
  }
  throw new Error('no first checks');
}

function tslvsadmJson(socket: string): Promise<TableSnapshot> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(REPO, 'bin', 'tslvsadm.js'), '-L', '-n', '--json'], { env: { ...process.env, TSLVS_SOCKET: socket } });
    let out = '';
    p.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as TableSnapshot) : reject(new Error(`tslvsadm exited ${code}: ${out}`))));
  });
}

test('a killed real server leaves the table (inhibit_on_failure: weight 0), gets no new connection, and returns after it recovers', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('health-kill');
  const [a, b, c] = await servers(['A', 'B', 'C']);
  const vip = loopbackVip();
  const vport = await freePort();
  let daemon: Awaited<ReturnType<typeof kaDaemon>> | null = null;
  try {
    daemon = await kaDaemon(dir, vsConf(vip, vport, rsBlock(a.port, 1) + rsBlock(b.port, 1) + rsBlock(c.port, 1, '    inhibit_on_failure\n')), ['--http', '127.0.0.1:0']);
    const { socket, d } = daemon;
    assert.match(d.log(), /keepalived\.conf ".*": 1 virtual servers, 3 real servers; 4 table changes/);
    await firstChecks(socket);
    assert.deepEqual(new Set(await answers(vip, vport, 6)), new Set(['A', 'B', 'C']));

    // B dies: it leaves the table.
    const beforeB = (await healthFacts(socket)).find((r) => r.realServer.endsWith(`:${b.port}`))!;
    const killedB = Date.now();
    await b.kill();
    await until(socket, (tb) => destOn(tb, vport, b.port) === undefined, 'B removed');
    const removedB = Date.now();
    const bound = (DELAY_LOOP_S + CONNECT_TIMEOUT_S) * 1000;
    t.diagnostic(`B removed ${removedB - killedB} ms after the kill, ${removedB - beforeB.checkers[0].lastCheckMs!} ms after a good check before it ` +
      `(keepalived's bound delay_loop + connect_timeout = ${bound} ms)`);
    assert.match(d.log(), new RegExp(`TCP_CHECK on service \\[127\\.0\\.0\\.1\\]:tcp:${b.port} of VS \\[${vip.replace(/\./g, '\\.')}\\]:tcp:${vport}: TCP connection to 127\\.0\\.0\\.1:${b.port} failed \\(ECONNREFUSED\\)`));
    assert.match(d.log(), new RegExp(`Removing service \\[127\\.0\\.0\\.1\\]:tcp:${b.port} from VS`));
    const afterB = await answers(vip, vport, 8);
    assert.deepEqual(afterB.filter((x) => x !== 'A' && x !== 'C'), [], `no new connection to B: ${afterB.join(' ')}`);

    // C (inhibit_on_failure) dies: weight 0, still listed, no new connection.
    await c.kill();
    const killedC = Date.now();
    await until(socket, (tb) => destOn(tb, vport, c.port)?.weight === 0, 'C at weight 0');
    t.diagnostic(`C at weight 0 ${Date.now() - killedC} ms after the kill`);
    assert.match(d.log(), new RegExp(`Disabling service \\[127\\.0\\.0\\.1\\]:tcp:${c.port} of VS`));
    assert.deepEqual(new Set(await answers(vip, vport, 6)), new Set(['A']));

    // Health is in the table as tslvsadm -L --json shows it, and in tslvs status.
    const json = await tslvsadmJson(socket);
    const hc = destOn(json, vport, c.port)!.health!;
    assert.deepEqual([hc.checker, hc.up, typeof hc.lastTransitionMs], ['TCP_CHECK', false, 'number']);
    assert.match(hc.lastResult, /failed \(ECONNREFUSED\)/);
    const ha = destOn(json, vport, a.port)!.health!;
    assert.deepEqual([ha.checker, ha.up, typeof ha.latencyMs], ['TCP_CHECK', true, 'number']);
    assert.match(ha.lastResult, /success/);
    assert.ok(Math.abs(hc.lastTransitionMs! - Date.now()) < 60_000, 'lastTransitionMs is wall-clock milliseconds');
    const httpUrl = /HTTP on (http:\/\/\S+?)\/? \(/.exec(d.log())![1];
    const metrics = await (await fetch(`${httpUrl.replace(/\/$/, '')}/metrics`)).text();
    const labels = (port: number) => `local_address="${vip}",local_mark="",local_port="${vport}",proto="TCP",remote_address="127.0.0.1",remote_port="${port}"`;
    assert.ok(metrics.includes(`tslvs_backend_up{${labels(c.port)}} 0\n`), metrics);
    assert.ok(metrics.includes(`tslvs_backend_up{${labels(a.port)}} 1\n`), metrics);
    assert.match(metrics, new RegExp(`tslvs_backend_check_latency_seconds\\{${labels(a.port).replace(/\./g, '\\.')}\\} [0-9.e-]+\n`));
    const st = await runTslvs(['status', '--socket', socket]);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /Health checks \(keepalived\.conf .*keepalived\.conf\):/);
    assert.match(st.stdout, new RegExp(`\\[127\\.0\\.0\\.1\\]:tcp:${b.port}  DOWN \\(not in table\\), since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d`));
    assert.match(st.stdout, new RegExp(`\\[127\\.0\\.0\\.1\\]:tcp:${c.port}  DOWN \\(in table, weight 0\\)`));
    assert.match(st.stdout, new RegExp(`TCP_CHECK 127\\.0\\.0\\.1:${a.port}: up; last result: TCP connection to 127\\.0\\.0\\.1:${a.port} success; latency \\d+\\.\\d ms; last transition`));
    assert.match(st.stdout, new RegExp(`TCP_CHECK 127\\.0\\.0\\.1:${b.port}: down; last result: .*ECONNREFUSED.*; latency [\\d.]+ ms; last transition \\d{4}-`));

    // Both recover.
    await b.start();
    await c.start();
    const back = Date.now();
    await until(socket, (tb) => destOn(tb, vport, b.port)?.weight === 1 && destOn(tb, vport, c.port)?.weight === 1, 'B and C back');
    t.diagnostic(`B and C back ${Date.now() - back} ms after they listen again`);
    assert.deepEqual(new Set(await answers(vip, vport, 9)), new Set(['A', 'B', 'C']));
    assert.match(d.log(), new RegExp(`Adding service \\[127\\.0\\.0\\.1\\]:tcp:${b.port} to VS`));
    assert.match(d.log(), new RegExp(`Enabling service \\[127\\.0\\.0\\.1\\]:tcp:${c.port} of VS`));
  } finally {
    await daemon?.d.kill();
    for (const s of [a, b, c]) await s.kill();
    removeDir(dir);
  }
});

test('quorum lost turns the sorry server on (the pool leaves); quorum regained turns it off', { timeout: 60_000 }, async () => {
  const dir = tempDir('health-quorum');
  const [a, b, sorry] = await servers(['A', 'B', 'SORRY']);
  const vip = loopbackVip();
  const vport = await freePort();
  let daemon: Awaited<ReturnType<typeof kaDaemon>> | null = null;
  try {
    daemon = await kaDaemon(dir, vsConf(vip, vport, `  quorum 2\n  sorry_server 127.0.0.1 ${sorry.port}\n` + rsBlock(a.port, 1) + rsBlock(b.port, 1)));
    const { socket, d } = daemon;
    await firstChecks(socket);
    assert.deepEqual(new Set(await answers(vip, vport, 4)), new Set(['A', 'B']));
    await a.kill();
    await until(socket, (t) => destOn(t, vport, sorry.port) !== undefined && destOn(t, vport, a.port) === undefined && destOn(t, vport, b.port) === undefined, 'sorry server in, pool out');
    assert.match(d.log(), /Lost quorum 2-0=2 > 1 for VS/);
    assert.match(d.log(), new RegExp(`Adding sorry server \\[127\\.0\\.0\\.1\\]:tcp:${sorry.port} to VS`));
    assert.deepEqual(new Set(await answers(vip, vport, 4)), new Set(['SORRY']));
    const h = await status(socket);
    assert.deepEqual((h.health as { virtualServers: unknown[] }).virtualServers, [{ key: `[${vip}]:tcp:${vport}`, quorumUp: false, sorryInPool: true }]);
    await a.start();
    await until(socket, (t) => destOn(t, vport, sorry.port) === undefined && destOn(t, vport, a.port) !== undefined && destOn(t, vport, b.port) !== undefined, 'pool back, sorry out');
    assert.match(d.log(), /Gained quorum 2\+0=2 <= 2 for VS/);
    assert.match(d.log(), new RegExp(`Removing sorry server \\[127\\.0\\.0\\.1\\]:tcp:${sorry.port} from VS`));
    assert.deepEqual(new Set(await answers(vip, vport, 4)), new Set(['A', 'B']));
  } finally {
    await daemon?.d.kill();
    for (const s of [a, b, sorry]) await s.kill();
    removeDir(dir);
  }
});

test('reload keeps unchanged real servers\' connections and health, applies only the difference; a bad file changes nothing', { timeout: 60_000 }, async () => {
  const dir = tempDir('health-reload');
  const [a, d2] = await servers(['A', 'D']);
  const bPort = await freePort(); // nothing listens: B is down from its first check
  const extraPort = await freePort();
  const vip = loopbackVip();
  const vport = await freePort();
  const otherPort = await freePort();
  const rules = join(dir, 'rules');
  // A service of its own in --rules: the two files coexist, each owning its services.
  writeFileSync(rules, `-A -t ${vip}:${otherPort} -s wlc\n-a -t ${vip}:${otherPort} -r 127.0.0.1:${a.port} -m -w 1\n`);
  let daemon: Awaited<ReturnType<typeof kaDaemon>> | null = null;
  try {
    const conf1 = vsConf(vip, vport, rsBlock(a.port, 1) + rsBlock(bPort, 1));
    daemon = await kaDaemon(dir, conf1, ['--rules', rules]);
    const { socket, d, conf } = daemon;
    await until(socket, (t) => destOn(t, vport, a.port) !== undefined && destOn(t, vport, bPort) === undefined, 'B down');
    // An operator's own destination on the keepalived service: neither checked nor removed.
    const ex = await request({ type: 'exec', cmds: [{ cmd: 'add-dest', svc: { af: 2, protocol: 6, addr: vip, port: vport, fwmark: 0 },
      dest: { af: 2, addr: '127.0.0.1', port: extraPort, fwd: 0, weight: 0, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 } }] }, { socketPath: socket });
    assert.deepEqual(ex, { type: 'exec', results: [null] });
    const kept = await keptConnection(vip, vport);
    assert.equal(await kept.ask(), 'A');
    const before = await healthFacts(socket);
    const connsBefore = destOn(await table(socket), vport, a.port)!.stats.conns;
    const logBefore = d.log().length;

    // A new real server D, A's weight unchanged, B unchanged (and still down).
    writeFileSync(conf, vsConf(vip, vport, rsBlock(a.port, 1) + rsBlock(bPort, 1) + rsBlock(d2.port, 3)));
    const r = await runTslvs(['reload', '--socket', socket]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Reloaded ".*rules": 0 services added, 0 removed, 0 changed, 1 unchanged; Reloaded keepalived\.conf ".*": 1 virtual servers \(was 1\); 1 table changes \(services \+0 -0 ~0, real servers \+1 -0 ~0\)/);
    const t1 = await table(socket);
    assert.deepEqual(t1.services.map((s) => s.port).sort(), [vport, otherPort].sort());
    assert.deepEqual(t1.services.find((s) => s.port === vport)!.dests.map((x) => [x.port, x.weight]).sort(),
      [[a.port, 1], [extraPort, 0], [d2.port, 3]].sort());
    // The same connection still works and A was never taken out and put back.
    assert.equal(await kept.ask(), 'A');
    assert.equal(kept.closed(), false);
    assert.equal(destOn(t1, vport, a.port)!.stats.conns, connsBefore);
    const after = await healthFacts(socket);
    for (const port of [a.port, bPort]) {
      const x = before.find((q) => q.realServer.endsWith(`:${port}`))!;
      const y = after.find((q) => q.realServer.endsWith(`:${port}`))!;
      assert.deepEqual([y.alive, y.inTable, y.lastTransitionMs, y.checkers[0].lastTransitionMs], [x.alive, x.inTable, x.lastTransitionMs, x.checkers[0].lastTransitionMs], `health of ${port} kept`);
    }
    const reloadLog = d.log().slice(logBefore);
    assert.doesNotMatch(reloadLog, new RegExp(`(Removing|Adding) service \\[127\\.0\\.0\\.1\\]:tcp:(${a.port}|${bPort})`));

    // A bad file: refused with file:line:col, nothing changes, the connection lives on.
    writeFileSync(conf, vsConf(vip, vport, rsBlock(a.port, 1) + rsBlock(bPort, 1)).replace('  delay_loop', '  delay_lop'));
    const bad = await runTslvs(['reload', '--socket', socket]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /keepalived\.conf ".*keepalived\.conf" refused: .*keepalived\.conf:2:3: Unknown keyword "delay_lop" in virtual_server.*\(TSLVS_ERR_KEEPALIVED_CONFIG\)/);
    const t2 = await table(socket);
    assert.deepEqual(t2.services.find((s) => s.port === vport)!.dests.map((x) => [x.port, x.weight]).sort(),
      [[a.port, 1], [extraPort, 0], [d2.port, 3]].sort());
    assert.equal(await kept.ask(), 'A');

    // SIGHUP with a good file: D goes, the operator's destination and A stay.
    writeFileSync(conf, conf1);
    d.proc.kill('SIGHUP');
    assert.ok(await d.waitLog(/SIGHUP: Reloaded ".*rules": .*; Reloaded keepalived\.conf .*real servers \+0 -1 ~0/), d.log());
    assert.match(d.log(), new RegExp(`service \\[127\\.0\\.0\\.1\\]:tcp:${d2.port} no longer exist`));
    const t3 = await table(socket);
    assert.deepEqual(t3.services.find((s) => s.port === vport)!.dests.map((x) => [x.port, x.weight]).sort(), [[a.port, 1], [extraPort, 0]].sort());
    assert.equal(await kept.ask(), 'A');
    kept.close();
  } finally {
    await daemon?.d.kill();
    for (const s of [a, d2]) await s.kill();
    removeDir(dir);
  }
});

test('-f refuses a file keepalived rejects (file:line:col, TSLVS_ERR_KEEPALIVED_CONFIG) and a service --rules owns too; prints warnings once and starts', { timeout: 30_000 }, async () => {
  const dir = tempDir('health-refuse');
  const vip = loopbackVip();
  const vport = await freePort();
  try {
    const conf = join(dir, 'keepalived.conf');
    writeFileSync(conf, vsConf(vip, vport, rsBlock(9, 1)).replace('  lb_algo rr', '  lb_algo rr\n  delay_lop 3'));
    const socket = join(dir, 's.sock');
    const r = await runTslvs(['run', '--dataplane', 'none', '--http', 'off', '--socket', socket, '--state-dir', join(dir, 'st'), '-f', conf]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tslvs: .*keepalived\.conf:4:3: Unknown keyword "delay_lop" in virtual_server: expected delay_loop/m);
    assert.match(r.stderr, /refused: .*\(TSLVS_ERR_KEEPALIVED_CONFIG\)\n$/);

    writeFileSync(conf, vsConf(vip, vport, rsBlock(9, 1)));
    const rules = join(dir, 'rules');
    writeFileSync(rules, `-A -t ${vip}:${vport} -s rr\n`);
    const c = await runTslvs(['run', '--dataplane', 'none', '--http', 'off', '--socket', socket, '--state-dir', join(dir, 'st'), '-f', conf, '--rules', rules]);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /rules:1: this service is also virtual server \[.*\]:tcp:\d+ of keepalived\.conf .*\(TSLVS_ERR_KEEPALIVED_CONFIG\)/);

    // A message keepalived only logs (a deprecated keyword) is printed once; the daemon starts.
    writeFileSync(conf, `vrrp_track_file tf {\n  file ${join(dir, 'tf')}\n}\n${vsConf(vip, vport, rsBlock(9, 1))}`);
    const d = await startDaemonProcess({ socket, stateDir: join(dir, 'st'), args: ['-f', conf] });
    try {
      assert.match(d.log(), /listening on/);
      assert.equal(d.log().match(/keepalived\.conf:1:1: "vrrp_track_file" is deprecated, please use "track_file"/g)?.length, 1, d.log());
    } finally {
      await d.kill();
    }
  } finally {
    removeDir(dir);
  }
});
