// The packet dataplane director noticing a dead real server on its own (root): the seed's DR
// network in namespaces (test/dataplane/packet/e2e.ts), `tslvs run --dataplane packet
// --interface eth0 -f keepalived.conf` inside the director's namespace, real servers that are
// Node HTTP servers in their own namespaces, killed with SIGKILL and started again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirectorLab, e2eSkip, RS, VIP } from '../dataplane/packet/e2e.js';
import { removeDir, runTslvs, tempDir } from '../helpers/daemon.js';
import { destOn, healthFacts, kaDaemon, sleep, until } from './health-lab.js';

const skip = e2eSkip();
const DELAY_LOOP_S = 0.5;
const CONNECT_TIMEOUT_S = 0.5;

function conf(): string {
  const rs = RS.map((a) => `  real_server ${a} 80 {\n    weight 1\n    TCP_CHECK {\n      connect_timeout ${CONNECT_TIMEOUT_S}\n      retry 0\n    }\n  }\n`).join('');
  return 'vrrp_instance VI_1 {\n  state MASTER\n  interface eth0\n  virtual_router_id 51\n  priority 100\n  advert_int 1\n' +
    `  virtual_ipaddress {\n    ${VIP}\n  }\n}\n` +
    `virtual_server ${VIP} 80 {\n  delay_loop ${DELAY_LOOP_S}\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n${rs}}\n`;
}

/** Who answers n new connections from the client, retrying a connection the network has not settled for yet. */
async function answers(lab: DirectorLab, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let got = '';
    for (let t = 0; t < 5 && got === ''; t++) got = await lab.curl().catch(() => '');
    out.push(got);
  }
  return out;
}

test('packet dataplane (root): a killed real server leaves the table, gets no new connection, and returns after it recovers', { skip, timeout: 120_000 }, async (t) => {
  const lab = new DirectorLab('dr');
  const dir = tempDir('health-packet');
  let daemon: Awaited<ReturnType<typeof kaDaemon>> | null = null;
  try {
    await lab.waitServers();
    daemon = await kaDaemon(dir, conf(), ['--interface', 'eth0', '--dataplane-opt', 'localAddr=198.51.100.1/24'], 'packet', ['ip', 'netns', 'exec', lab.director]);
    const { socket, d } = daemon;
    assert.match(d.log(), /keepalived\.conf:1:1: vrrp_instance VI_1 is parsed and valid but not active/);
    assert.match(d.log(), /dataplane packet/);
    await until(socket, (tb) => (tb.services[0]?.dests.length ?? 0) === 2, 'both real servers in');
    for (let i = 0; i < 100; i++) {
      const h = await healthFacts(socket);
      if (h.every((r) => r.checkers[0].lastOk === true)) break;
      await sleep(20);
    }
    assert.deepEqual(new Set(await answers(lab, 4)), new Set(lab.pages));

    // Real server 1 dies.
    const server1 = lab.lab.children[0];
    const before = (await healthFacts(socket)).find((r) => r.realServer.startsWith(`[${RS[0]}]`))!;
    const killed = Date.now();
    server1.kill('SIGKILL');
    await until(socket, (tb) => destOn(tb, 80, 80) !== undefined && tb.services[0].dests.every((x) => x.addr !== RS[0]), 'real server 1 removed', 30_000);
    const removed = Date.now();
    t.diagnostic(`real server 1 removed ${removed - killed} ms after the kill, ${removed - before.checkers[0].lastCheckMs!} ms after a good check before it ` +
      `(keepalived's bound delay_loop + connect_timeout = ${(DELAY_LOOP_S + CONNECT_TIMEOUT_S) * 1000} ms)`);
    assert.match(d.log(), new RegExp(`Removing service \\[${RS[0].replace(/\./g, '\\.')}\\]:tcp:80 from VS \\[${VIP.replace(/\./g, '\\.')}\\]:tcp:80`));
    const after = await answers(lab, 6);
    assert.deepEqual(after, Array(6).fill(lab.pages[1]), 'every new connection goes to real server 2');

    const st = await runTslvs(['status', '--socket', socket]);
    assert.match(st.stdout, new RegExp(`\\[${RS[0].replace(/\./g, '\\.')}\\]:tcp:80  DOWN \\(not in table\\)`));

    // It recovers.
    lab.serve(0, 80, lab.pages[0]);
    const restarted = Date.now();
    await until(socket, (tb) => tb.services[0].dests.some((x) => x.addr === RS[0]), 'real server 1 back', 30_000);
    t.diagnostic(`real server 1 back ${Date.now() - restarted} ms after it was started again`);
    assert.deepEqual(new Set(await answers(lab, 4)), new Set(lab.pages));
  } finally {
    await daemon?.d.kill();
    lab.cleanup();
    removeDir(dir);
  }
});

