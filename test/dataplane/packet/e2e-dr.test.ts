// DR end to end (root): client, director (packet dataplane) and two real servers on one bridge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPacketSocket, META_STRIDE } from '../../../src/dataplane/packet/native.js';
import { DirectorLab, e2eSkip, RS, RS6, sleep, VIP, VIP6 } from './e2e.js';
import { addService } from './table.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const runIn = (ns: string, cmd: string, args: string[]) => promisify(execFile)('ip', ['netns', 'exec', ns, cmd, ...args]);

const skip = e2eSkip();

test('DR (root): curl from the client alternates between the two real servers; replies bypass the director', { skip, timeout: 60_000 }, async () => {
  const lab = new DirectorLab('dr');
  try {
    const dp = await lab.start();
    // A second socket on the director's interface sees every frame that reaches it.
    const spy = openPacketSocket('eth0', { netns: lab.director, slots: 64 });
    spy.addon.setFilter(spy.h, new Uint8Array([6, 0, 0, 0, 0xff, 0xff, 0, 0]));
    await dp.apply(addService(lab.ipvs, 'tcp', VIP, 80, 'rr', [
      { addr: RS[0], method: 'route' }, { addr: RS[1], method: 'route' },
    ]));
    await lab.waitNeighbours();
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push(await lab.curl());
    // rr over [rs2, rs1] (the kernel lists the newest dest first).
    assert.deepEqual(got, [lab.pages[1], lab.pages[0], lab.pages[1], lab.pages[0]]);
    const conns = lab.ipvs.listConns(lab.now());
    assert.equal(conns.length, 4);
    for (const c of conns) assert.equal(c.vaddr, VIP);
    // Nothing from the VIP ever reached the director: the real servers answered the client directly.
    const buf = new Uint8Array(spy.h.buffer);
    let fromVip = 0;
    let toVip = 0;
    for (let n = spy.addon.recv(spy.h); n > 0; n = spy.addon.recv(spy.h)) {
      for (let i = 0; i < n; i++) {
        const o = spy.h.rxMeta[i * META_STRIDE];
        if (buf[o + 12] !== 8 || buf[o + 13] !== 0) continue;
        const src = buf.subarray(o + 26, o + 30).join('.');
        const dst = buf.subarray(o + 30, o + 34).join('.');
        if (src === VIP) fromVip++;
        if (dst === VIP) toVip++;
      }
    }
    spy.addon.close(spy.h);
    assert.ok(toVip >= 4 * 5, `client → VIP frames reached the director (${toVip})`);
    assert.equal(fromVip, 0);
    const st = dp.stats();
    assert.equal(st.activeFlows, 4);
    // Every connection's packets (SYN, ACK, request, FIN, ACKs) were forwarded by the dataplane.
    await sleep(50);
    assert.ok(dp.forwarder.env.forwarded[3] >= 4 * 5, `forwarded ${dp.forwarder.env.forwarded[3]}`);
  } finally {
    lab.cleanup();
  }
});

test('DR (root): wlc with weights 1 and 2 sends two of every three connections to the weight-2 server', { skip, timeout: 60_000 }, async () => {
  const lab = new DirectorLab('dr');
  try {
    const dp = await lab.start();
    await dp.apply(addService(lab.ipvs, 'tcp', VIP, 80, 'wlc', [
      { addr: RS[0], method: 'route', weight: 1 }, { addr: RS[1], method: 'route', weight: 2 },
    ]));
    await lab.waitNeighbours();
    const got: string[] = [];
    for (let i = 0; i < 6; i++) {
      got.push(await lab.curl());
      // Let the closing FIN reach the director, so no entry still counts as active (wlc weighs those 256 times).
      for (let t = 0; t < 50 && lab.ipvs.table.services()[0].dests().some((d) => d.activeConns > 0); t++) await sleep(20);
    }
    // ip_vs_wlc over [rs2 (w2), rs1 (w1)] with inactive entries only: 2, 1, 2, 2, 1, 2.
    assert.deepEqual(got, [1, 0, 1, 1, 0, 1].map((i) => lab.pages[i]));
  } finally {
    lab.cleanup();
  }
});

test('DR over IPv6 (root): neighbour discovery both ways, curl alternates between the real servers', { skip, timeout: 60_000 }, async () => {
  const lab = new DirectorLab('dr', true);
  try {
    const dp = await lab.start();
    await dp.apply(addService(lab.ipvs, 'tcp', VIP6, 80, 'rr', [
      { addr: RS6[0], method: 'route' }, { addr: RS6[1], method: 'route' },
    ]));
    // The dataplane solicits the real servers, and answers the client's solicitation for the VIP.
    await lab.waitNeighbours(RS6);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push(await lab.curlUrl(`http://[${VIP6}]/`));
    assert.deepEqual(got, [lab.pages[1], lab.pages[0], lab.pages[1], lab.pages[0]]);
    for (const c of lab.ipvs.listConns(lab.now())) assert.equal(c.vaddr, VIP6);
  } finally {
    lab.cleanup();
  }
});

test('DR (root): a 3000-byte UDP datagram crosses the director in fragments and is answered', { skip, timeout: 60_000 }, async () => {
  const lab = new DirectorLab('dr');
  try {
    // UDP echo of the datagram's length on port 53 of each real server.
    for (const ns of lab.rs) {
      lab.lab.spawnIn(ns, process.execPath, ['-e',
        "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(String(m.length),r.port,r.address));s.bind(53,'0.0.0.0')"]);
    }
    const dp = await lab.start();
    await dp.apply(addService(lab.ipvs, 'udp', VIP, 53, 'rr', [{ addr: RS[0], method: 'route' }]));
    await lab.waitNeighbours([RS[0]]);
    await sleep(300);
    const code = "const s=require('dgram').createSocket('udp4');s.on('message',(m)=>{console.log(String(m));process.exit(0)});" +
      `s.send(Buffer.alloc(3000,7),53,'${VIP}');setTimeout(()=>process.exit(1),4000)`;
    const { stdout } = await runIn(lab.client, process.execPath, ['-e', code]);
    assert.equal(stdout.trim(), '3000');
    assert.equal(dp.stats().drops.fragment ?? 0, 0);
    assert.ok(dp.forwarder.env.forwarded[3] >= 3, 'first and later fragments forwarded');
  } finally {
    lab.cleanup();
  }
});
