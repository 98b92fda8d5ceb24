// The runner end to end: real TCP servers on loopback go away and come back; the decisions carry
// the table commands; probes in flight stay within the bound; status() reports per real server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import type { CheckerConfig } from '../../src/config/keepalived/types.js';
import type { Probe, ProbeResult } from '../../src/health/checker.js';
import { createHealthRunner, type HealthDecision } from '../../src/health/runner.js';
import { configOf, freePort } from './servers.js';

function listen(port: number): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer((c) => c.destroy());
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

function waitFor(decisions: HealthDecision[], pred: (d: HealthDecision) => boolean, ms = 5000): Promise<HealthDecision> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const d = decisions.find(pred);
      if (d) return resolve(d);
      if (Date.now() - t0 > ms) return reject(new Error(`no such decision in ${JSON.stringify(decisions.map((x) => [x.reason, x.changes]))}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

test('a killed real server is taken out of the table and added back when it returns', async () => {
  const [p1, p2] = [await freePort(), await freePort()];
  const s1 = await listen(p1);
  let s2 = await listen(p2);
  const config = configOf(`virtual_server 192.0.2.10 80 {
    delay_loop 0.1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 127.0.0.1 ${p1} { weight 2
      TCP_CHECK { connect_timeout 0.5 } }
    real_server 127.0.0.1 ${p2} { weight 3
      TCP_CHECK { connect_timeout 0.5
        retry 1
        delay_before_retry 0.05 } }
  }`);
  const decisions: HealthDecision[] = [];
  const runner = createHealthRunner({ config, onChange: (d) => decisions.push(d), bootstrapDelayMs: 0, random: () => 0 });
  try {
    runner.start();
    const start = decisions[0];
    assert.equal(start.reason, 'start');
    assert.deepEqual(start.commands.map((c) => c.cmd === 'add-dest' ? `add-dest ${c.dest.port} w${c.dest.weight}` : c.cmd), ['add-service', `add-dest ${p1} w2`, `add-dest ${p2} w3`]);
    await new Promise((r) => setTimeout(r, 300));
    await new Promise<void>((r) => s2.close(() => r()));
    const down = await waitFor(decisions, (d) => d.changes.some((c) => c.op === 'del'));
    assert.equal(down.reason, 'check');
    assert.deepEqual(down.changes, [{ virtualServer: '[192.0.2.10]:tcp:80', server: `[127.0.0.1]:tcp:${p2}`, role: 'real', op: 'del', weight: null }]);
    assert.deepEqual(down.commands, [{ cmd: 'del-dest', svc: { af: 2, protocol: 6, addr: '192.0.2.10', port: 80, fwmark: 0 }, dest: { af: 2, addr: '127.0.0.1', port: p2 } }]);
    assert.deepEqual(down.log, [`Removing service [127.0.0.1]:tcp:${p2} from VS [192.0.2.10]:tcp:80`]);
    assert.equal(down.source?.checker, 'TCP_CHECK');
    const st = runner.status().realServers.find((r) => r.realServer.endsWith(`:${p2}`))!;
    assert.deepEqual([st.alive, st.inTable, st.checkers[0].up, st.checkers[0].lastOk], [false, false, false, false]);
    assert.equal(typeof st.lastTransitionMs, 'number');
    s2 = await listen(p2);
    const up = await waitFor(decisions, (d) => d.reason === 'check' && d.changes.some((c) => c.op === 'add'));
    assert.deepEqual(up.changes.map((c) => [c.server, c.op, c.weight]), [[`[127.0.0.1]:tcp:${p2}`, 'add', 3]]);
    const wire = runner.healthWire().get(`[192.0.2.10]:tcp:80 [127.0.0.1]:tcp:${p1}`)!;
    assert.equal(wire.up, true);
    assert.equal(wire.checker, 'TCP_CHECK');
    assert.equal(typeof wire.latencyMs, 'number');
  } finally {
    await runner.stop({ keepTable: true });
    s1.close();
    s2.close();
  }
  // stop without keepTable delivers the shutdown removal.
});

test('stop delivers the shutdown decision: every destination and service removed', async () => {
  const port = await freePort();
  const config = configOf(`virtual_server 192.0.2.11 80 {\n delay_loop 60\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 127.0.0.1 ${port} { TCP_CHECK { } }\n}`);
  const decisions: HealthDecision[] = [];
  const runner = createHealthRunner({ config, onChange: (d) => decisions.push(d), bootstrapDelayMs: 60_000 });
  runner.start();
  await runner.stop();
  const last = decisions[decisions.length - 1];
  assert.equal(last.reason, 'stop');
  assert.deepEqual(last.commands.map((c) => c.cmd), ['del-dest', 'del-service']);
});

test('probes in flight never exceed the concurrency bound, even with hundreds of real servers due at once', async () => {
  const n = 300;
  const rs = Array.from({ length: n }, (_, i) => ` real_server 10.${i >> 8}.${i & 255}.1 80 { TCP_CHECK { } }`).join('\n');
  const config = configOf(`virtual_server 192.0.2.12 80 {\n delay_loop 0.05\n lb_algo rr\n lb_kind NAT\n protocol TCP\n${rs}\n}`);
  let inFlight = 0;
  let max = 0;
  let runs = 0;
  const probeFactory = (c: CheckerConfig): Probe => ({
    kind: c.kind, target: 'fake', usesSocket: true,
    run: async (): Promise<ProbeResult> => {
      inFlight++;
      runs++;
      max = Math.max(max, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return { ok: true, detail: 'fake' };
    },
  });
  const runner = createHealthRunner({ config, onChange: () => {}, probeFactory, concurrency: 16, bootstrapDelayMs: 0, random: () => 0 });
  runner.start();
  await new Promise((r) => setTimeout(r, 400));
  const st = runner.status();
  await runner.stop({ keepTable: true });
  assert.ok(runs >= n, `only ${runs} probes ran`);
  assert.equal(max, 16);
  assert.ok(st.inFlight <= 16);
});

test('MISC_CHECK with misc_dynamic changes the weight through a decision (edit-dest)', async () => {
  const config = configOf(`virtual_server 192.0.2.13 80 {\n delay_loop 0.05\n lb_algo wrr\n lb_kind NAT\n protocol TCP\n real_server 127.0.0.1 8080 { weight 5\n MISC_CHECK { misc_path "/bin/sh -c 'exit 12'"\n misc_dynamic } }\n}`);
  const decisions: HealthDecision[] = [];
  const runner = createHealthRunner({ config, onChange: (d) => decisions.push(d), bootstrapDelayMs: 0, random: () => 0 });
  try {
    runner.start();
    const d = await waitFor(decisions, (x) => x.changes.some((c) => c.op === 'edit'));
    assert.deepEqual(d.commands.map((c) => c.cmd === 'edit-dest' ? c.dest.weight : null), [10]);
  } finally {
    await runner.stop({ keepTable: true });
  }
});

test('update(config) keeps the health, last result and schedule of unchanged checkers and returns only the difference', async () => {
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  const s1 = await listen(p1);
  const s3 = await listen(p3);
  const text = (w1: number, rest: string) => `virtual_server 192.0.2.14 80 {
    delay_loop 0.1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 127.0.0.1 ${p1} { weight ${w1}
      TCP_CHECK { connect_timeout 0.5 } }
    real_server 127.0.0.1 ${p2} { weight 2
      TCP_CHECK { connect_timeout 0.5 } }
${rest}  }`;
  const decisions: HealthDecision[] = [];
  const runner = createHealthRunner({ config: configOf(text(1, '')), onChange: (d) => decisions.push(d), bootstrapDelayMs: 0, random: () => 0 });
  const svc = { af: 2, protocol: 6, addr: '192.0.2.14', port: 80, fwmark: 0 };
  try {
    runner.start();
    // Nothing listens on p2: it goes down at its first check.
    await waitFor(decisions, (d) => d.changes.some((c) => c.op === 'del' && c.server.endsWith(`:${p2}`)));
    const before = runner.status().realServers.find((r) => r.realServer.endsWith(`:${p2}`))!;
    const seen = decisions.length;
    const rel = runner.update(configOf(text(4, `    real_server 127.0.0.1 ${p3} { TCP_CHECK { connect_timeout 0.5 } }\n`)));
    assert.equal(rel.reason, 'reload');
    assert.equal(decisions.length, seen, 'the reload decision is returned, not passed to onChange');
    assert.deepEqual(rel.commands, [
      { cmd: 'edit-dest', svc, dest: { af: 2, addr: '127.0.0.1', port: p1, fwd: 0, weight: 4, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 } },
      { cmd: 'add-dest', svc, dest: { af: 2, addr: '127.0.0.1', port: p3, fwd: 0, weight: 1, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 } },
    ]);
    assert.deepEqual(rel.log, [`Changing weight from 1 to 4 for active service [127.0.0.1]:tcp:${p1} of VS [192.0.2.14]:tcp:80`]);
    const after = runner.status().realServers.find((r) => r.realServer.endsWith(`:${p2}`))!;
    assert.deepEqual([after.alive, after.inTable, after.lastTransitionMs, after.checkers[0].lastResult, after.checkers[0].lastTransitionMs],
      [false, false, before.lastTransitionMs, before.checkers[0].lastResult, before.checkers[0].lastTransitionMs]);
    assert.deepEqual(runner.intendedTable().map((e) => e.dests.map((d) => [d.port, d.weight])), [[[p1, 4], [p3, 1]]]);
    // The kept checker of p2 is still scheduled: it comes back once something listens.
    const s2 = await listen(p2);
    const up = await waitFor(decisions, (d) => d.reason === 'check' && d.changes.some((c) => c.op === 'add' && c.server.endsWith(`:${p2}`)));
    assert.deepEqual(up.commands.map((c) => c.cmd === 'add-dest' ? [c.dest.port, c.dest.weight] : c.cmd), [[p2, 2]]);
    // Removing a real server: its destination goes, with keepalived's line.
    const rel2 = runner.update(configOf(text(4, '').replace(new RegExp(`real_server 127.0.0.1 ${p1} \\{ weight 4\\n\\s+TCP_CHECK \\{ connect_timeout 0.5 \\} \\}`), '')));
    assert.deepEqual(rel2.commands, [{ cmd: 'del-dest', svc, dest: { af: 2, addr: '127.0.0.1', port: p1 } }, { cmd: 'del-dest', svc, dest: { af: 2, addr: '127.0.0.1', port: p3 } }]);
    assert.deepEqual(rel2.log, [`service [127.0.0.1]:tcp:${p1} no longer exist`, `service [127.0.0.1]:tcp:${p3} no longer exist`]);
    s2.close();
  } finally {
    await runner.stop({ keepTable: true });
    s1.close();
    s3.close();
  }
});
