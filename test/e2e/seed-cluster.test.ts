// The seed's cluster end to end (root): client, director and two real servers on one bridge,
// each real server set up by `tslvs realserver start`, the director by `tslvs director start
// --dataplane packet`, the seed's ipvsadm lines through `tslvsadm`, curl from the client. Then
// everything is stopped and every kernel parameter, address and route is as it was before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, clusterSkip, DIRECTOR_ADDR, PAGES, RS, sleep, Spy, uniqueSegments, VIP } from './cluster.js';

const skip = clusterSkip();

async function ok(p: Promise<{ code: number; stdout: string; stderr: string }>, what: string): Promise<string> {
  const r = await p;
  assert.equal(r.code, 0, `${what} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** MACs of the real servers' and the director's eth0. */
async function macs(c: Cluster): Promise<{ rs: string[]; dir: string }> {
  const mac = async (role: 'dir' | 'rs1' | 'rs2') => JSON.parse((await c.inNs(role, 'ip', ['-j', 'link', 'show', 'dev', 'eth0'])).stdout)[0].address as string;
  return { rs: [await mac('rs1'), await mac('rs2')], dir: await mac('dir') };
}

test('seed DR cluster (root): tslvs realserver + director (packet) + the seed\'s ipvsadm lines; curl alternates, replies bypass the director, stop restores everything', { skip, timeout: 120_000 }, async () => {
  const c = new Cluster('dr');
  try {
    // Forwarding on, as a router's would be: the packet director turns it off on its interface.
    await ok(c.inNs('dir', 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']), 'sysctl');
    const before = { dir: c.snapshot('dir'), rs1: c.snapshot('rs1'), rs2: c.snapshot('rs2') };

    for (const rs of ['rs1', 'rs2'] as const) {
      await ok(c.tslvs(rs, ['realserver', 'start', '--vip', VIP]), `realserver start in ${rs}`);
      assert.match(await ok(c.tslvs(rs, ['realserver', 'status']), 'realserver status'), /^tslvs realserver is running\n/);
    }
    const started = await ok(c.tslvs('dir', ['director', 'start', '--dataplane', 'packet', '--interface', 'eth0', '--http', 'off']), 'director start');
    assert.match(started, /sysctl -w net\.ipv4\.conf\.eth0\.forwarding=0/);
    // The seed's ipvsadm lines.
    await ok(c.tslvsadm(['-A', '-t', `${VIP}:80`, '-s', 'rr']), 'tslvsadm -A');
    await ok(c.tslvsadm(['-a', '-t', `${VIP}:80`, '-r', RS[0], '-g']), 'tslvsadm -a');
    await ok(c.tslvsadm(['-a', '-t', `${VIP}:80`, '-r', RS[1], '-g']), 'tslvsadm -a');

    const m = await macs(c);
    const atClient = new Spy(c.ns('cl'), 'eth0');
    const atDirector = new Spy(c.ns('dir'), 'eth0');
    const atRs = [new Spy(c.ns('rs1'), 'eth0'), new Spy(c.ns('rs2'), 'eth0')];
    const spies = [atClient, atDirector, ...atRs];
    let pages: string[];
    try {
      await c.waitNeighbours();
      pages = await c.curl(4);
      await Spy.settle(spies);
    } finally {
      for (const s of spies) s.close();
    }
    // rr over the list as the kernel keeps it (newest first): 2, 1, 2, 1 (the kernel golden agrees).
    assert.deepEqual(pages, [PAGES[1], PAGES[0], PAGES[1], PAGES[0]]);
    // The client's six segments per request went to the director (the dataplane answered ARP
    // for the VIP), and the director passed each on to a real server's MAC, unchanged (DR).
    // (Counted without retransmissions: a CPU-starved test machine may stall a process for a
    // retransmission timeout; where each segment went is what is checked here.)
    const dump = (sp: Spy) => sp.frames.map((f) => `${f.srcMac}>${f.dstMac} ${f.src}>${f.dst} ${f.flags} ${f.segment}`).join('\n');
    assert.equal(uniqueSegments(atDirector.frames.filter((f) => f.dst === VIP && f.dstMac === m.dir)).length, 4 * 6, dump(atDirector));
    const forwarded = atRs.map((s, i) => uniqueSegments(s.frames.filter((f) => f.dst === VIP && f.srcMac === m.dir && f.dstMac === m.rs[i])).length);
    assert.deepEqual(forwarded, [2 * 6, 2 * 6], atRs.map(dump).join('\n--\n'));
    // Every reply reached the client straight from a real server's MAC (five segments a request);
    // the director never saw a frame from the VIP.
    const replies = atClient.frames.filter((f) => f.src === VIP);
    assert.equal(uniqueSegments(replies).length, 4 * 5, dump(atClient));
    assert.deepEqual([...new Set(replies.map((f) => f.srcMac))].sort(), [...m.rs].sort());
    assert.equal(atDirector.frames.filter((f) => f.src === VIP).length, 0);

    const status = await c.tslvs('dir', ['director', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /TCP {2}203\.0\.113\.10:80 rr\n {2}-> 198\.51\.100\.11:80 {13}Route {3}1 {6}0 {10}2/);
    // The counters -L --stats shows are the estimator's, summed every 2 s (as the kernel's kstats).
    await sleep(2500);
    // DR: no Out counters (the replies never pass the director).
    const stats = await ok(c.tslvsadm(['-L', '-n', '--stats']), 'tslvsadm --stats');
    // (Exact packet and byte counts are compared with the kernel's in cluster-golden.test.ts.)
    assert.match(stats, /TCP {2}203\.0\.113\.10:80 +4 +[1-9]\d* +0 +[1-9]\d* +0\n/);

    await ok(c.tslvs('dir', ['director', 'stop']), 'director stop');
    for (const rs of ['rs1', 'rs2'] as const) await ok(c.tslvs(rs, ['realserver', 'stop']), `realserver stop in ${rs}`);
    assert.equal((await c.tslvs('dir', ['director', 'status'])).code, 3);
    assert.equal((await c.tslvs('rs1', ['realserver', 'status', '--vip', VIP])).code, 3);
    assert.deepEqual({ dir: c.snapshot('dir'), rs1: c.snapshot('rs1'), rs2: c.snapshot('rs2') }, before);
  } finally {
    c.cleanup();
  }
});

test('seed NAT cluster (root): real servers route back through the director; replies are rewritten to the VIP by it; stop restores everything', { skip, timeout: 120_000 }, async () => {
  const c = new Cluster('nat');
  try {
    await ok(c.inNs('dir', 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']), 'sysctl');
    const before = { dir: c.snapshot('dir'), rs1: c.snapshot('rs1'), rs2: c.snapshot('rs2') };
    for (const rs of ['rs1', 'rs2'] as const) {
      const out = await ok(c.tslvs(rs, ['realserver', 'start', '--gateway', DIRECTOR_ADDR]), `realserver start in ${rs}`);
      assert.match(out, /ip -4 route add default via 198\.51\.100\.1/);
    }
    await ok(c.tslvs('dir', ['director', 'start', '--interface', 'eth0', '--http', 'off']), 'director start');
    // The seed's NAT script.
    await ok(c.tslvsadm(['-A', '-t', `${VIP}:80`, '-s', 'rr']), 'tslvsadm -A');
    await ok(c.tslvsadm(['-a', '-t', `${VIP}:80`, '-r', RS[0], '-m']), 'tslvsadm -a');
    await ok(c.tslvsadm(['-a', '-t', `${VIP}:80`, '-r', RS[1], '-m']), 'tslvsadm -a');

    const m = await macs(c);
    const atClient = new Spy(c.ns('cl'), 'eth0');
    let pages: string[];
    try {
      await c.waitNeighbours();
      pages = await c.curl(4);
      await Spy.settle([atClient]);
    } finally {
      atClient.close();
    }
    assert.deepEqual(pages, [PAGES[1], PAGES[0], PAGES[1], PAGES[0]]);
    const replies = atClient.frames.filter((f) => f.dst === '192.0.2.100' && f.flags !== '');
    assert.equal(uniqueSegments(replies).length, 4 * 5, `five segments of each reply reached the client: ${atClient.frames.map((f) => `${f.src}>${f.dst} ${f.flags}`).join(', ')}`);
    // All of them from the VIP, through the director; none leaked unrewritten from a real server.
    assert.deepEqual([...new Set(replies.map((f) => `${f.src} ${f.srcMac}`))], [`${VIP} ${m.dir}`]);
    // The counters -L --stats shows are the estimator's, summed every 2 s (as the kernel's kstats).
    await sleep(2500);
    const stats = await ok(c.tslvsadm(['-L', '-n', '--stats']), 'tslvsadm --stats');
    assert.match(stats, /TCP {2}203\.0\.113\.10:80 +4 +[1-9]\d* +[1-9]\d* +[1-9]\d* +[1-9]\d*\n/);

    await ok(c.tslvs('dir', ['director', 'stop']), 'director stop');
    for (const rs of ['rs1', 'rs2'] as const) await ok(c.tslvs(rs, ['realserver', 'stop']), `realserver stop in ${rs}`);
    assert.deepEqual({ dir: c.snapshot('dir'), rs1: c.snapshot('rs1'), rs2: c.snapshot('rs2') }, before);
  } finally {
    c.cleanup();
  }
});

test('seed director script (root): wlc with weights 1 and 2 from a --rules file sends 2, 1, 2, 2, 1, 2', { skip, timeout: 120_000 }, async () => {
  const c = new Cluster('dr');
  try {
    const before = { dir: c.snapshot('dir'), rs1: c.snapshot('rs1'), rs2: c.snapshot('rs2') };
    for (const rs of ['rs1', 'rs2'] as const) await ok(c.tslvs(rs, ['realserver', 'start', '--vip', VIP]), `realserver start in ${rs}`);
    // The seed's director script as a rules file (ipvsadm -S -n format).
    const rules = join(c.tmp, 'rules');
    writeFileSync(rules, `-A -t ${VIP}:80 -s wlc\n-a -t ${VIP}:80 -r ${RS[0]}:80 -g -w 1\n-a -t ${VIP}:80 -r ${RS[1]}:80 -g -w 2\n`);
    const started = await ok(c.tslvs('dir', ['director', 'start', '--interface', 'eth0', '--rules', rules, '--http', 'off']), 'director start');
    assert.match(started, /VIP 203\.0\.113\.10/);
    await c.waitNeighbours();
    const pages = await c.curl(6);
    // ip_vs_wlc over [rs2 (w2), rs1 (w1)] once each connection is inactive (the client's FIN
    // reached the director before the next request): as recorded from the kernel in dr-wlc.txt.
    assert.deepEqual(pages, [1, 0, 1, 1, 0, 1].map((i) => PAGES[i]));
    await ok(c.tslvs('dir', ['director', 'stop']), 'director stop');
    for (const rs of ['rs1', 'rs2'] as const) await ok(c.tslvs(rs, ['realserver', 'stop']), `realserver stop in ${rs}`);
    assert.deepEqual({ dir: c.snapshot('dir'), rs1: c.snapshot('rs1'), rs2: c.snapshot('rs2') }, before);
  } finally {
    c.cleanup();
  }
});
