// TUN end to end (root, a kernel with the ipip module): the real servers decapsulate on tunl0 and
// answer the client directly. The development machine's kernel has no ipip module, so these
// tests skip there; run-tun-on-oracle.sh runs them in the IPVS oracle VM (whose kernel has it)
// and test/golden/packet/tun-oracle.txt is what they printed there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { DirectorLab, e2eSkip, RS, SLOW, VIP } from './e2e.js';
import { ip, nsExec } from './netns.js';
import { addService } from './table.js';

function ipipAvailable(): boolean {
  const ns = `tslvs-ipip-probe-${process.pid}`;
  try {
    ip('netns', 'add', ns);
    try {
      // With the ipip module loaded, every new namespace gets its fallback device tunl0.
      try { execFileSync('modprobe', ['-q', 'ipip'], { stdio: 'ignore' }); } catch { /* built in, or absent */ }
      ip('-n', ns, 'link', 'show', 'tunl0');
      return true;
    } catch {
      return false;
    } finally {
      ip('netns', 'del', ns);
    }
  } catch {
    return false;
  }
}

const skip = e2eSkip() || (!ipipAvailable() ? 'this kernel has no ipip module; run test/dataplane/packet/run-tun-on-oracle.sh (the oracle VM has it)' : false);

test('TUN (root, ipip): curl alternates between the real servers through IPIP; replies bypass the director', { skip, timeout: 60_000 * SLOW }, async () => {
  const lab = new DirectorLab('tun');
  try {
    const dp = await lab.start();
    await dp.apply(addService(lab.ipvs, 'tcp', VIP, 80, 'rr', [
      { addr: RS[0], method: 'tunnel' }, { addr: RS[1], method: 'tunnel' },
    ]));
    await lab.waitNeighbours();
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push(await lab.curl());
    assert.deepEqual(got, [lab.pages[1], lab.pages[0], lab.pages[1], lab.pages[0]]);
    assert.ok(dp.forwarder.env.forwarded[2] > 0, 'frames were encapsulated');
    // The real servers' tunl0 counted what they decapsulated.
    for (const ns of lab.rs) {
      const rx = Number(nsExec(ns, 'cat', '/sys/class/net/tunl0/statistics/rx_packets').trim());
      assert.ok(rx > 0, `${ns} tunl0 rx ${rx}`);
    }
  } finally {
    lab.cleanup();
  }
});

test('TUN (root, ipip): an upload too big for the tunnel gets "fragmentation needed" and then gets through', { skip, timeout: 60_000 * SLOW }, async () => {
  const lab = new DirectorLab('tun');
  try {
    const dp = await lab.start();
    await dp.apply(addService(lab.ipvs, 'tcp', VIP, 80, 'rr', [{ addr: RS[0], method: 'tunnel' }]));
    await lab.waitNeighbours([RS[0]]);
    const body = 'x'.repeat(20000);
    const answer = await lab.curl('--data-binary', body);
    assert.equal(answer, `${lab.pages[0]} got 20000`);
    assert.ok((dp.stats().drops['frag-needed'] ?? 0) > 0, 'the first full-sized segments were refused with ICMP');
    // The client learnt the tunnel's MTU (1500 - 20) for the VIP from our ICMP error.
    const route = execFileSync('ip', ['-n', lab.client, 'route', 'get', VIP], { encoding: 'utf8' });
    assert.match(route, /mtu 1480/);
  } finally {
    lab.cleanup();
  }
});

test('TUN (root, gue): GUE to port 6080 is decapsulated by fou on the real servers', { skip, timeout: 60_000 * SLOW }, async (t) => {
  const lab = new DirectorLab('tun');
  try {
    for (const ns of lab.rs) nsExec(ns, 'ip', 'fou', 'add', 'port', '6080', 'gue');
  } catch (err) {
    lab.cleanup();
    t.skip(`no fou/GUE in this kernel: ${(err as Error).message}`);
    return;
  }
  try {
    const dp = await lab.start();
    await dp.apply(addService(lab.ipvs, 'tcp', VIP, 80, 'rr', [
      { addr: RS[0], method: 'tunnel', tunType: 1, tunPort: 6080 }, { addr: RS[1], method: 'tunnel', tunType: 1, tunPort: 6080 },
    ]));
    await lab.waitNeighbours();
    const got: string[] = [];
    for (let i = 0; i < 2; i++) got.push(await lab.curl());
    assert.deepEqual(got, [lab.pages[1], lab.pages[0]]);
  } finally {
    lab.cleanup();
  }
});
