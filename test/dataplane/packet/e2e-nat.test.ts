// NAT end to end (root): the client on 192.0.2.0/24, the real servers on 198.51.100.0/24 with the
// director as their gateway, all on one bridge; the director's own kernel forwards nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirectorLab, e2eSkip, RS, RS6, sleep, VIP, VIP6 } from './e2e.js';
import { nsExec } from './netns.js';
import { addService } from './table.js';

const skip = e2eSkip();

test('NAT (root): curl alternates between the real servers, replies come back from the VIP', { skip, timeout: 60_000 }, async () => {
  const lab = new DirectorLab('nat');
  try {
    const dp = await lab.start();
    await dp.apply(addService(lab.ipvs, 'tcp', VIP, 80, 'rr', [
      { addr: RS[0], method: 'masq' }, { addr: RS[1], method: 'masq' },
    ]));
    await lab.waitNeighbours();
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push(await lab.curl());
    assert.deepEqual(got, [lab.pages[1], lab.pages[0], lab.pages[1], lab.pages[0]]);
    // The director saw both directions: replies are counted (OutPkts) and drove the OUTPUT states.
    const svc = lab.ipvs.table.services()[0];
    for (const d of svc.dests()) assert.ok(d.stats.outpkts > 0, `${d.addr.toString()} replies counted`);
    // Once the closing segments (which may still be on their way through the ring) have passed,
    // every entry has left ESTABLISHED through the NAT state rows.
    const closing = ['TIME_WAIT', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'CLOSE'];
    for (let t = 0; t < 50 && !lab.ipvs.listConns(lab.now()).every((c) => closing.includes(c.state)); t++) await sleep(20);
    for (const c of lab.ipvs.listConns(lab.now())) assert.ok(closing.includes(c.state), c.state);
    // Replies were rewritten and sent on by the dataplane itself.
    assert.ok(dp.forwarder.env.forwarded[4] > 0);
  } finally {
    lab.cleanup();
  }
});

test('NAT (root): wlc with weights 1 and 2 sends two of every three connections to the weight-2 server', { skip, timeout: 60_000 }, async () => {
  const lab = new DirectorLab('nat');
  try {
    const dp = await lab.start();
    await dp.apply(addService(lab.ipvs, 'tcp', VIP, 80, 'wlc', [
      { addr: RS[0], method: 'masq', weight: 1 }, { addr: RS[1], method: 'masq', weight: 2 },
    ]));
    await lab.waitNeighbours();
    const got: string[] = [];
    for (let i = 0; i < 6; i++) {
      got.push(await lab.curl());
      for (let t = 0; t < 50 && lab.ipvs.table.services()[0].dests().some((d) => d.activeConns > 0); t++) await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(got, [1, 0, 1, 1, 0, 1].map((i) => lab.pages[i]));
  } finally {
    lab.cleanup();
  }
});

test('NAT (root): a destination on another port (:8080) is reached through port translation', { skip, timeout: 60_000 }, async () => {
  const lab = new DirectorLab('nat');
  try {
    lab.serve(1, 8080, 'real server 2 on 8080');
    const dp = await lab.start();
    await dp.apply(addService(lab.ipvs, 'tcp', VIP, 80, 'rr', [
      { addr: RS[0], method: 'masq' }, { addr: RS[1], port: 8080, method: 'masq' },
    ]));
    await lab.waitNeighbours();
    for (let t = 0; t < 50; t++) {
      try { nsExec(lab.rs[1], 'curl', '-s', '-m', '1', `http://${RS[1]}:8080/`); break; } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    const got = [await lab.curl(), await lab.curl()];
    assert.deepEqual(got, ['real server 2 on 8080', lab.pages[0]]);
    const c = lab.ipvs.listConns(lab.now()).find((x) => x.daddr === RS[1]);
    assert.equal(c?.dport, 8080);
  } finally {
    lab.cleanup();
  }
});

test('NAT over IPv6 (root): requests DNATed to the real servers, replies come back from the VIP', { skip, timeout: 60_000 }, async () => {
  const lab = new DirectorLab('nat', true);
  try {
    const dp = await lab.start();
    await dp.apply(addService(lab.ipvs, 'tcp', VIP6, 80, 'rr', [
      { addr: RS6[0], method: 'masq' }, { addr: RS6[1], method: 'masq' },
    ]));
    await lab.waitNeighbours(RS6);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push(await lab.curlUrl(`http://[${VIP6}]/`));
    assert.deepEqual(got, [lab.pages[1], lab.pages[0], lab.pages[1], lab.pages[0]]);
    for (const d of lab.ipvs.table.services()[0].dests()) assert.ok(d.stats.outpkts > 0);
  } finally {
    lab.cleanup();
  }
});

test('NAT (root): a 4 MiB download (GSO replies) and a 1 MiB upload cross the director intact', { skip, timeout: 60_000 }, async () => {
  const lab = new DirectorLab('nat');
  try {
    const dp = await lab.start();
    await dp.apply(addService(lab.ipvs, 'tcp', VIP, 80, 'rr', [{ addr: RS[0], method: 'masq' }]));
    await lab.waitNeighbours([RS[0]]);
    const big = await lab.curlUrl(`http://${VIP}/big`, '-w', ' %{size_download}');
    assert.ok(/^x+ 4194304$/.test(big), `download: ${big.slice(-40)}`);
    const body = 'y'.repeat(1 << 20);
    const answer = await lab.curlWithInput(body);
    assert.equal(answer, `${lab.pages[0]} got ${1 << 20}`);
    // veth handed over TSO super-frames; they went through with their GSO facts, checksums partial.
    assert.ok(dp.forwarder.gsoFrames > 0, 'GSO frames crossed the director');
  } finally {
    lab.cleanup();
  }
});
