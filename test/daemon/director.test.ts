import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { parseIpvsadmRules } from '../../src/config/ipvsadm-rules.js';
import { commandToRow, type DestWire, type ServiceIdWire, type TableCommand } from '../../src/control/protocol.js';
import { IpAddr } from '../../src/core/addr.js';
import { IpvsError } from '../../src/core/errors.js';
import { Flow, TCP_SYN } from '../../src/core/flow.js';
import { Ipvs } from '../../src/core/ipvs.js';
import type { Dataplane } from '../../src/dataplane/dataplane.js';
import { NoneDataplane } from '../../src/dataplane/none/none-dataplane.js';
import { Director } from '../../src/daemon/director.js';
import { StateStore, stateFromTable } from '../../src/daemon/state-store.js';
import { TslvsError } from '../../src/errors.js';
import { removeDir, tempDir } from '../helpers/daemon.js';
import { FailingDataplane } from '../helpers/failing-dataplane.js';

const svcId = (addr: string, port = 80, protocol: 6 | 17 = 6): ServiceIdWire => ({ af: 2, protocol, addr, port, fwmark: 0 });
const addSvc = (addr: string, sched = 'wlc', port = 80): TableCommand =>
  ({ cmd: 'add-service', svc: { ...svcId(addr, port), sched, flags: 0, timeoutS: 0, netmask: 0xffffffff, pe: '' } });
const editSvc = (addr: string, sched: string): TableCommand =>
  ({ cmd: 'edit-service', svc: { ...svcId(addr), sched, flags: 0, timeoutS: 0, netmask: 0xffffffff, pe: '' } });
const dest = (addr: string, weight = 1, fwd = 0): DestWire =>
  ({ af: 2, addr, port: 80, fwd, weight, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 });
const addDest = (vaddr: string, raddr: string, weight = 1): TableCommand => ({ cmd: 'add-dest', svc: svcId(vaddr), dest: dest(raddr, weight) });
const editDest = (vaddr: string, raddr: string, weight: number): TableCommand => ({ cmd: 'edit-dest', svc: svcId(vaddr), dest: dest(raddr, weight) });
const delDest = (vaddr: string, raddr: string): TableCommand => ({ cmd: 'del-dest', svc: svcId(vaddr), dest: { af: 2, addr: raddr, port: 80 } });

function director(dp: Dataplane = new NoneDataplane(), store: StateStore | null = null): Director {
  return new Director({ ipvs: new Ipvs({ random: () => 0x12345678 }), dataplane: dp, store });
}

/** The table as text, counters left out (they are not what these tests are about). */
async function tableOf(d: Director): Promise<unknown> {
  const t = await d.snapshot();
  return {
    timeouts: t.timeouts,
    services: t.services.map(({ stats: _s, dests, ...s }) => ({ ...s, dests: dests.map(({ stats: _d, ...x }) => x) })),
  };
}

test('exec answers one result per command: null on success, {op, errno} as the kernel refuses', async () => {
  const d = director();
  const r = await d.exec([
    addSvc('192.0.2.1'), addSvc('192.0.2.1'), addDest('192.0.2.1', '198.51.100.1'), addDest('192.0.2.9', '198.51.100.1'),
    addSvc('192.0.2.2', 'nosuch'), delDest('192.0.2.1', '198.51.100.7'), { cmd: 'set-timeout', tcp: 0, tcpfin: 0, udp: 30 },
  ]);
  assert.deepEqual(r, [
    null, { op: 'add-service', errno: 'EEXIST' }, null, { op: 'add-dest', errno: 'ESRCH' },
    { op: 'add-service', errno: 'ENOENT' }, { op: 'del-dest', errno: 'ENOENT' }, null,
  ]);
  const t = await d.snapshot();
  assert.deepEqual(t.timeouts, { tcp: 900, tcpfin: 120, udp: 30 });
  assert.deepEqual(t.services.map((s) => [s.addr, s.sched, s.dests.map((x) => x.addr)]), [['192.0.2.1', 'wlc', ['198.51.100.1']]]);
});

test('a malformed wire command is refused with EINVAL before anything changes', async () => {
  const d = director();
  const bad = { cmd: 'add-service', svc: { ...svcId('not-an-address'), sched: 'rr', flags: 0, timeoutS: 0, netmask: 0, pe: '' } } as TableCommand;
  const badAf = { cmd: 'add-service', svc: { ...svcId('192.0.2.1'), af: 7, sched: 'rr', flags: 0, timeoutS: 0, netmask: 0, pe: '' } } as unknown as TableCommand;
  assert.deepEqual(await d.exec([bad, badAf]), [{ op: 'add-service', errno: 'EINVAL' }, { op: 'add-service', errno: 'EAFNOSUPPORT' }]);
  assert.equal((await d.snapshot()).services.length, 0);
});

test('batch entries that are not table commands are protocol errors; the rest of the batch applies', async () => {
  for (const dp of [new NoneDataplane(), new FailingDataplane()]) {
    const d = director(dp);
    const r = await d.exec([null, { cmd: 'frob' }, addSvc('192.0.2.1'), 7] as unknown as TableCommand[]);
    assert.deepEqual(r.map((x) => x && [x.op, x.errno, x.code]), [
      ['exec', 'EINVAL', 'TSLVS_ERR_PROTOCOL'], ['frob', 'EINVAL', 'TSLVS_ERR_PROTOCOL'], null, ['exec', 'EINVAL', 'TSLVS_ERR_PROTOCOL']]);
    assert.equal((await d.snapshot()).services.length, 1);
  }
});

test('a command the dataplane refuses changes nothing, and the rest of the batch still applies', async () => {
  const dp = new FailingDataplane();
  const d = director(dp);
  assert.deepEqual(await d.exec([addSvc('192.0.2.1', 'rr'), addDest('192.0.2.1', '198.51.100.1'), addDest('192.0.2.1', '198.51.100.2'),
    addSvc('192.0.2.7', 'wlc')]), [null, null, null, null]);
  for (const cmd of [
    addDest('192.0.2.1', '198.51.100.3'), editDest('192.0.2.1', '198.51.100.1', 7), delDest('192.0.2.1', '198.51.100.2'),
    editSvc('192.0.2.1', 'wrr'), { cmd: 'del-service', svc: svcId('192.0.2.1') }, { cmd: 'flush' }, addSvc('192.0.2.5'),
    { cmd: 'set-timeout', tcp: 10, tcpfin: 10, udp: 10 },
  ] as TableCommand[]) {
    const before = await tableOf(d);
    dp.failNext(1);
    const [res] = await d.exec([cmd]);
    assert.equal(res?.code, 'TSLVS_ERR_DATAPLANE_REFUSED', cmd.cmd);
    assert.equal(res?.errno, 'EADDRINUSE');
    assert.equal(res?.op, cmd.cmd);
    assert.match(res?.message ?? '', /192\.0\.2\.10:80/);
    assert.ok(res?.hint);
    assert.deepEqual(await tableOf(d), before, `${cmd.cmd} left a trace`);
  }
  dp.failNext(1);
  const r = await d.exec([addDest('192.0.2.1', '198.51.100.3'), editDest('192.0.2.1', '198.51.100.1', 7)]);
  assert.equal(r[0]?.code, 'TSLVS_ERR_DATAPLANE_REFUSED');
  assert.equal(r[1], null);
  const t = await d.snapshot();
  assert.deepEqual(t.services.map((x) => x.addr), ['192.0.2.1', '192.0.2.7'], 'refused deletes keep the listing order');
  assert.deepEqual(t.services[0].dests.map((x) => [x.addr, x.weight]), [['198.51.100.2', 1], ['198.51.100.1', 7]]);
});

test('after a refused delete the dest is still there; deleting and adding it again then works', async () => {
  const dp = new FailingDataplane();
  const d = director(dp);
  await d.exec([addSvc('192.0.2.1', 'rr'), addDest('192.0.2.1', '198.51.100.1')]);
  dp.failNext(1);
  await d.exec([delDest('192.0.2.1', '198.51.100.1')]);
  assert.deepEqual(await d.exec([delDest('192.0.2.1', '198.51.100.1'), addDest('192.0.2.1', '198.51.100.1', 4)]), [null, null]);
  assert.deepEqual((await d.snapshot()).services[0].dests.map((x) => x.weight), [4]);
});

/** A small deterministic generator of command sequences with many collisions and failures. */
function randomCommands(seed: number, n: number): TableCommand[] {
  let x = seed >>> 0;
  const rnd = (k: number) => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x % k;
  };
  const vips = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];
  const rips = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '203.0.113.4'];
  const scheds = ['rr', 'wrr', 'wlc', 'lc', 'sh', 'nosuch'];
  const out: TableCommand[] = [];
  for (let i = 0; i < n; i++) {
    const v = vips[rnd(vips.length)];
    const r = rips[rnd(rips.length)];
    switch (rnd(10)) {
      case 0: case 1: out.push(addSvc(v, scheds[rnd(scheds.length)])); break;
      case 2: out.push(editSvc(v, scheds[rnd(scheds.length)])); break;
      case 3: out.push({ cmd: 'del-service', svc: svcId(v) }); break;
      case 4: case 5: out.push(addDest(v, r, rnd(4) - 1)); break;
      case 6: out.push(editDest(v, r, rnd(5))); break;
      case 7: out.push(delDest(v, r)); break;
      case 8: out.push(rnd(8) === 0 ? { cmd: 'flush' } : { cmd: 'zero', svc: svcId(v) }); break;
      default: out.push({ cmd: 'set-timeout', tcp: rnd(3) * 100, tcpfin: 0, udp: rnd(2) ? 99999999 : 60 });
    }
  }
  return out;
}

test('with the none dataplane a merged batch answers exactly as command-by-command transactions', async () => {
  for (const seed of [1, 2, 3, 42, 1000]) {
    const cmds = randomCommands(seed, 400);
    const merged = director(new NoneDataplane());
    const single = director(new FailingDataplane());
    const a = await merged.exec(cmds);
    const b = await single.exec(cmds);
    assert.deepEqual(a, b, `results differ for seed ${seed}`);
    assert.ok(a.some((r) => r !== null) && a.some((r) => r === null), 'the sequence mixes successes and failures');
    assert.deepEqual(await tableOf(merged), await tableOf(single), `tables differ for seed ${seed}`);
  }
});

test('a batch sent as compact rows answers and changes exactly as the same commands sent as objects', async () => {
  for (const seed of [11, 12, 13]) {
    const cmds = randomCommands(seed, 300);
    for (const dp of [() => new NoneDataplane(), () => new FailingDataplane()]) {
      const objects = director(dp());
      const rows = director(dp());
      assert.deepEqual(await rows.exec(cmds.map(commandToRow)), await objects.exec(cmds), `results differ for seed ${seed}`);
      assert.deepEqual(await tableOf(rows), await tableOf(objects), `tables differ for seed ${seed}`);
    }
  }
});

test('rows that are not table commands are protocol errors, as malformed objects are; the rest of the batch applies', async () => {
  const d = director();
  const r = await d.exec([['Q', 1], ['A', 2], commandToRow(addSvc('192.0.2.1')), 'A', ['a', 2, 6, '192.0.2.1', 80, 0, 2, 'x', 80, 0, 1, 0, 0, 0, 0, 0, 0]] as never);
  assert.deepEqual(r.map((x) => x && [x.op, x.errno, x.code]), [
    ['exec', 'EINVAL', 'TSLVS_ERR_PROTOCOL'], ['exec', 'EINVAL', 'TSLVS_ERR_PROTOCOL'], null, ['exec', 'EINVAL', 'TSLVS_ERR_PROTOCOL'],
    ['add-dest', 'EINVAL', undefined]]);
  assert.equal((await d.snapshot()).services.length, 1);
});

test('with the none dataplane a merged batch reports a failed save on the same commands as separate transactions', async () => {
  const dir = tempDir('dir-merge');
  try {
    for (const seed of [5, 6, 7]) {
      const answers = [];
      for (const dp of [new NoneDataplane(), new FailingDataplane()]) {
        const fs = failingRenameFs();
        const store = new StateStore(join(dir, `${seed}-${dp.kind}`), { fs });
        await store.init();
        const d = director(dp, store);
        await d.exec(randomCommands(seed + 100, 60));
        const before = await tableOf(d);
        fs.failRename = true;
        const r = await d.exec(randomCommands(seed, 200));
        assert.deepEqual(await tableOf(d), before);
        answers.push(r.map((x) => (x ? { ...x, message: x.message?.replace(store.dir, 'DIR') } : x)));
      }
      assert.deepEqual(answers[0], answers[1]);
      assert.ok(answers[0].some((r) => r?.code === 'TSLVS_ERR_STATE_SAVE') && answers[0].some((r) => r === null));
    }
  } finally {
    removeDir(dir);
  }
});

test('commits run one at a time, in the order they were asked for', async () => {
  const dp = new FailingDataplane();
  dp.delayMs = 5;
  const d = director(dp);
  const [r1, r2, r3] = await Promise.all([
    d.exec([addSvc('192.0.2.1'), addDest('192.0.2.1', '198.51.100.1')]),
    d.exec([addSvc('192.0.2.1'), { cmd: 'del-service', svc: svcId('192.0.2.1') }]),
    d.exec([addDest('192.0.2.1', '198.51.100.1')]),
  ]);
  assert.equal(dp.maxInFlight, 1);
  assert.deepEqual([r1, r2, r3], [[null, null], [{ op: 'add-service', errno: 'EEXIST' }, null], [{ op: 'add-dest', errno: 'ESRCH' }]]);
});

function failingRenameFs(): typeof fsp & { failRename: boolean } {
  const fs = { ...fsp, failRename: false } as typeof fsp & { failRename: boolean };
  fs.rename = (async (a: string, b: string) => {
    if (fs.failRename) throw Object.assign(new Error('No space left on device'), { code: 'ENOSPC' });
    return fsp.rename(a, b);
  }) as typeof fsp.rename;
  return fs;
}

test('busy is true from a batch\'s first command until its save has finished (the /proc refresh waits for that)', async () => {
  const dir = tempDir('dir-busy');
  try {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => { release = r; });
    const fs = { ...fsp } as typeof fsp;
    fs.rename = (async (a: string, b: string) => {
      await held;
      return fsp.rename(a, b);
    }) as typeof fsp.rename;
    const store = new StateStore(dir, { fs });
    await store.init();
    const d = director(new NoneDataplane(), store);
    assert.equal(d.busy, false);
    const batch = d.exec([addSvc('192.0.2.1'), addDest('192.0.2.1', '198.51.100.1')]);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(d.busy, true, 'the batch waits for its save');
    release();
    assert.deepEqual(await batch, [null, null]);
    assert.equal(d.busy, false);
  } finally {
    removeDir(dir);
  }
});

for (const kind of ['none', 'proxy'] as const) {
  test(`a batch whose save fails is undone in the table and the dataplane (${kind} dataplane)`, async () => {
    const dir = tempDir('dir-save');
    try {
      const fs = failingRenameFs();
      const store = new StateStore(dir, { fs });
      await store.init();
      const dp = kind === 'none' ? new NoneDataplane() : new FailingDataplane();
      const d = director(dp, store);
      assert.deepEqual(await d.exec([addSvc('192.0.2.1'), addDest('192.0.2.1', '198.51.100.1')]), [null, null]);
      const before = await tableOf(d);
      const savedBefore = await fsp.readFile(store.path, 'utf8');
      fs.failRename = true;
      const r = await d.exec([addDest('192.0.2.1', '198.51.100.2'), addSvc('192.0.2.1'), { cmd: 'del-service', svc: svcId('192.0.2.1') }]);
      assert.equal(r[0]?.code, 'TSLVS_ERR_STATE_SAVE');
      assert.equal(r[0]?.errno, 'ENOSPC');
      assert.match(r[0]?.message ?? '', new RegExp(store.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      assert.deepEqual(r[1], { op: 'add-service', errno: 'EEXIST' });
      assert.equal(r[2]?.code, 'TSLVS_ERR_STATE_SAVE');
      assert.deepEqual(await tableOf(d), before);
      assert.equal(await fsp.readFile(store.path, 'utf8'), savedBefore);
      assert.deepEqual((await fsp.readdir(dir)).sort(), ['lock', 'state.json']);
      if (dp instanceof FailingDataplane) {
        // Forward: add dest, del service; then the inverse, newest first.
        const last = dp.applied.slice(-4);
        assert.deepEqual(last.map((x) => [x.addedServices.length, x.removedServices.length, x.addedDests.length, x.removedDests.length]),
          [[0, 0, 1, 0], [0, 1, 0, 2], [1, 0, 2, 0], [0, 0, 0, 1]]);
      }
      assert.equal(d.status().lastSaveError?.includes('ENOSPC'), true);
    } finally {
      removeDir(dir);
    }
  });
}

test('get-table: services in table order, dests newest first, kernel version and table size', async () => {
  const d = director();
  await d.exec([
    addSvc('192.0.2.2', 'rr'), addSvc('192.0.2.1', 'wrr'),
    { cmd: 'add-service', svc: { af: 10, protocol: 6, addr: '2001:db8::1', port: 443, fwmark: 0, sched: 'sh', flags: 0x19, timeoutS: 300, netmask: 64, pe: '' } },
    { cmd: 'add-service', svc: { af: 2, protocol: 6, addr: '0.0.0.0', port: 0, fwmark: 7, sched: 'rr', flags: 0, timeoutS: 0, netmask: 0xffffffff, pe: '' } },
    addDest('192.0.2.1', '198.51.100.1', 3), addDest('192.0.2.1', '198.51.100.2', 0),
  ]);
  const t = await d.snapshot();
  assert.equal(t.version, '1.2.1');
  assert.equal(t.connTabSize, 4096);
  assert.equal(t.dataplane, 'none');
  assert.deepEqual(t.services.map((s) => s.fwmark || s.addr), ['192.0.2.2', '192.0.2.1', '2001:db8::1', 7]);
  const s1 = t.services[1];
  assert.deepEqual(s1.dests.map((x) => [x.addr, x.weight, x.fwd, x.activeConns, x.inactConns, x.persistConns, x.overloaded]),
    [['198.51.100.2', 0, 0, 0, 0, 0, false], ['198.51.100.1', 3, 0, 0, 0, 0, false]]);
  assert.deepEqual(s1.stats, { conns: 0, inpkts: 0, outpkts: 0, inbytes: 0, outbytes: 0, cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0 });
  assert.deepEqual([t.services[2].flags, t.services[2].timeoutS, t.services[2].netmask], [0x19, 300, 64]);
  const one = await d.snapshot(svcId('192.0.2.1'));
  assert.deepEqual(one.services.map((s) => s.addr), ['192.0.2.1']);
  await assert.rejects(d.snapshot(svcId('192.0.2.99')), (e: unknown) => e instanceof IpvsError && e.errno === 'ESRCH');
});

test('restore rebuilds the saved table; a dataplane that refuses it leaves the table empty', async () => {
  const a = director();
  await a.exec([addSvc('192.0.2.1', 'wrr'), addDest('192.0.2.1', '198.51.100.1', 2), addDest('192.0.2.1', '198.51.100.2', 5),
    addSvc('192.0.2.2', 'rr'), { cmd: 'set-timeout', tcp: 60, tcpfin: 30, udp: 10 }]);
  const saved = stateFromTable(a.ipvs.table, '2020-01-01T00:00:00.000Z');
  const b = director();
  assert.equal(await b.restore(JSON.parse(JSON.stringify(saved)), 'mem'), 2);
  assert.deepEqual(await tableOf(b), await tableOf(a));

  const dp = new FailingDataplane();
  dp.failNext(1);
  const c = director(dp);
  await assert.rejects(c.restore(saved, '/x/state.json'), (e: unknown) =>
    e instanceof TslvsError && e.code === 'TSLVS_ERR_RESTORE_FAILED' && e.message.includes('/x/state.json') && e.message.includes('EADDRINUSE'));
  assert.equal((await c.snapshot()).services.length, 0);

  const dup = { ...saved, services: [saved.services[0], saved.services[0]] };
  await assert.rejects(director().restore(dup, 'dup'), (e: unknown) => e instanceof TslvsError && e.code === 'TSLVS_ERR_STATE_CORRUPT' && /EEXIST/.test(e.message));
});

const RULES_1 = `
-A -t 192.0.2.1:80 -s rr
-a -t 192.0.2.1:80 -r 198.51.100.1:80 -m -w 1
-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m -w 1
-A -t 192.0.2.2:80 -s wlc
-a -t 192.0.2.2:80 -r 198.51.100.3:80 -g -w 1
-A -u 192.0.2.3:53 -s rr
`;
const RULES_2 = `
-A -u 192.0.2.3:53 -s rr
-A -t 192.0.2.1:80 -s rr
-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m -w 3
-a -t 192.0.2.1:80 -r 198.51.100.1:80 -m -w 1
-a -t 192.0.2.1:80 -r 198.51.100.4:80 -m -w 1
-A -t 192.0.2.4:80 -s sh -b sh-port
`;

test('applying rules changes only the difference: unchanged services and dests keep their objects', async () => {
  const dp = new FailingDataplane();
  const d = director(dp);
  const s1 = await d.applyRules(parseIpvsadmRules(RULES_1, 'r1'), 'r1');
  assert.deepEqual(s1, { added: 3, removed: 0, changed: 0, unchanged: 0 });
  const t = d.ipvs.table;
  const vs1 = t.find({ af: 2, protocol: 6, addr: t.services()[0].addr, port: 80, fwmark: 0 });
  const udp = t.services()[2];
  const r1 = vs1?.dests().find((x) => x.addr.toString() === '198.51.100.1');
  const r2 = vs1?.dests().find((x) => x.addr.toString() === '198.51.100.2');

  const s2 = await d.applyRules(parseIpvsadmRules(RULES_2, 'r2'), 'r2');
  assert.deepEqual(s2, { added: 1, removed: 1, changed: 1, unchanged: 1 });
  const after = t.services();
  assert.deepEqual(after.map((s) => s.key()), [vs1?.key(), udp.key(), after[2].key()]);
  assert.equal(after[0], vs1, 'the changed service is the same object');
  assert.equal(after[1], udp, 'the unchanged service is the same object');
  assert.deepEqual(vs1?.dests().map((x) => [x.addr.toString(), x.weight]), [['198.51.100.4', 1], ['198.51.100.2', 3], ['198.51.100.1', 1]]);
  assert.equal(vs1?.dests()[2], r1);
  assert.equal(vs1?.dests()[1], r2);
  assert.equal(after[2].schedName, 'sh');
  const last = dp.applied[dp.applied.length - 1];
  assert.deepEqual([last.addedServices.length, last.removedServices.length, last.addedDests.length, last.removedDests.length, last.changedDests.length],
    [1, 1, 1, 1, 1]);

  const n = dp.applied.length;
  assert.deepEqual(await d.applyRules(parseIpvsadmRules(RULES_2, 'r2'), 'r2'), { added: 0, removed: 0, changed: 0, unchanged: 3 });
  assert.equal(dp.applied.length, n, 'nothing to apply when nothing changed');
});

test('rules the table refuses, or the dataplane refuses, change nothing', async () => {
  const dp = new FailingDataplane();
  const d = director(dp);
  await d.applyRules(parseIpvsadmRules(RULES_1, 'r1'), 'r1');
  const before = await tableOf(d);
  await assert.rejects(d.applyRules(parseIpvsadmRules('-A -t 192.0.2.1:80 -s rr\n-A -t 192.0.2.9:80 -s nosuch\n', 'bad.rules'), 'bad.rules'),
    (e: unknown) => e instanceof TslvsError && e.code === 'TSLVS_ERR_RULES_REJECTED' && e.message.startsWith('bad.rules:2: ') && e.message.includes('ENOENT'));
  await assert.rejects(d.applyRules(parseIpvsadmRules('-a -t 192.0.2.9:80 -r 198.51.100.1:80\n', 'orphan'), 'orphan'),
    (e: unknown) => e instanceof TslvsError && e.code === 'TSLVS_ERR_RULES_REJECTED' && e.message.includes('orphan:1') && e.message.includes('ESRCH'));
  dp.failNext(1);
  await assert.rejects(d.applyRules(parseIpvsadmRules(RULES_2, 'r2'), 'r2'), (e: unknown) => e instanceof TslvsError && e.code === 'TSLVS_ERR_DATAPLANE_REFUSED');
  assert.deepEqual(await tableOf(d), before);
});

test('close waits for queued commits, then closes the dataplane', async () => {
  const dp = new FailingDataplane();
  dp.delayMs = 5;
  const d = director(dp);
  const pending = d.exec([addSvc('192.0.2.1'), addSvc('192.0.2.2')]);
  await d.close();
  assert.deepEqual(await pending, [null, null]);
  assert.equal(dp.closed, true);
  await assert.rejects(d.exec([addSvc('192.0.2.3')]));
});

test('the saved file holds what the table holds, one service per line', async () => {
  const dir = tempDir('dir-file');
  try {
    const store = new StateStore(dir);
    await store.init();
    const d = director(new NoneDataplane(), store);
    await d.exec([addSvc('192.0.2.1', 'rr'), addDest('192.0.2.1', '198.51.100.1', 2), addSvc('192.0.2.2', 'lc')]);
    const text = await fsp.readFile(join(dir, 'state.json'), 'utf8');
    assert.equal(text.split('\n').filter((l) => l.startsWith('{"af"')).length, 2);
    const st = JSON.parse(text);
    assert.deepEqual(st.services.map((s: { addr: string; sched: string; dests: { addr: string; weight: number }[] }) =>
      [s.addr, s.sched, s.dests.map((x) => [x.addr, x.weight])]), [['192.0.2.1', 'rr', [['198.51.100.1', 2]]], ['192.0.2.2', 'lc', []]]);
  } finally {
    removeDir(dir);
  }
});

test('get-conns lists the core\'s entries; get-table counts them; tick expires them', async () => {
  const d = director();
  await d.exec([addSvc('192.0.2.1', 'rr'), addDest('192.0.2.1', '198.51.100.1')]);
  const f = new Flow();
  f.setSaddr(IpAddr.v4(0xcb007105)).setDaddr(IpAddr.v4(0xc0000201));
  f.sport = 41000;
  f.dport = 80;
  f.tcpFlags = TCP_SYN;
  f.len = 60;
  d.ipvs.inPacket(f, 1000);
  // The entry as the core lists it (its timer semantics are the core's tests' business).
  const core = d.ipvs.listConns(1001)[0];
  assert.deepEqual(d.conns(1001), [{
    protocol: 6, af: 2, caddr: '203.0.113.5', cport: 41000, vaddr: '192.0.2.1', vport: 80, daddr: '198.51.100.1', dport: 80,
    fwmark: 0, template: false, state: 'SYN_RECV', expiresS: core.expiresS,
  }]);
  const dst = (await d.snapshot()).services[0].dests[0];
  assert.deepEqual([dst.activeConns, dst.inactConns], [1, 0]);
  d.tick(30_000);
  assert.equal(d.conns(30_000).length, 1);
  d.tick(62_000);
  assert.deepEqual(d.conns(62_000), []);
  assert.deepEqual([(await d.snapshot()).services[0].dests[0].activeConns], [0]);
});
