import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ipvs } from '../../src/core/ipvs.js';
import { applyTableCommand } from '../../src/daemon/wire.js';
import {
  commandsFromState, parseSavedState, type SavedState, serializeState, serializeTable, stateFromTable, StateStore, type StateFs,
} from '../../src/daemon/state-store.js';
import { TslvsError } from '../../src/errors.js';
import { REPO, removeDir, tempDir } from '../helpers/daemon.js';

function state(n: number): SavedState {
  return {
    format: 'tslvs-state', version: 1, savedAt: '2024-01-01T00:00:00.000Z', timeouts: { tcp: 900, tcpfin: 120, udp: 300 },
    services: Array.from({ length: n }, (_, i) => ({
      af: 2 as const, protocol: 6 as const, addr: `192.0.2.${i + 1}`, port: 80, fwmark: 0, sched: 'rr', flags: 0, timeoutS: 0, netmask: 0xffffffff, pe: '',
      dests: [{ af: 2 as const, addr: '198.51.100.2', port: 80, fwd: 0, weight: 2, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 },
        { af: 2 as const, addr: '198.51.100.1', port: 80, fwd: 0, weight: 1, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 }],
    })),
  };
}

test('save then load gives back the same state; the file is mode 0600 and no temp file is left', async () => {
  const dir = tempDir('st-rt');
  try {
    const s = new StateStore(join(dir, 'deep', 'er'));
    await s.init();
    assert.deepEqual(await s.load(), { kind: 'none' });
    await s.save(state(3));
    assert.deepEqual(await s.load(), { kind: 'loaded', state: state(3) });
    assert.equal((await fsp.stat(s.path)).mode & 0o777, 0o600);
    assert.equal((await fsp.stat(s.dir)).mode & 0o777, 0o700);
    assert.deepEqual((await fsp.readdir(s.dir)).sort(), ['lock', 'state.json']);
  } finally {
    removeDir(dir);
  }
});

test('a crash between write and rename leaves the old file whole; the next start removes the temp file', async () => {
  const dir = tempDir('st-crash');
  try {
    const s = new StateStore(dir);
    await s.init();
    await s.save(state(1));
    const old = await fsp.readFile(s.path, 'utf8');
    // A real crash: a child process saves a big table and is killed by SIGKILL right after the
    // temp file is written and fsynced, before the rename.
    const script = `
      import { StateStore } from ${JSON.stringify(pathToFileURL(join(REPO, 'dist/src/daemon/state-store.js')).href)};
      import * as fsp from 'node:fs/promises';
      const fs = { ...fsp, rename: async () => { process.kill(process.pid, 'SIGKILL'); await new Promise(() => {}); } };
      const s = new StateStore(${JSON.stringify(dir)}, { fs });
      const big = JSON.parse(${JSON.stringify(JSON.stringify(state(500)))});
      await s.save(big);`;
    const scriptDir = tempDir('st-crash-script');
    const r = await (async () => {
      try {
        await fsp.writeFile(join(scriptDir, 'crash.mjs'), script);
        return spawnSync(process.execPath, [join(scriptDir, 'crash.mjs')]);
      } finally {
        removeDir(scriptDir);
      }
    })();
    assert.equal(r.signal, 'SIGKILL', String(r.error ?? r.stderr));
    const names = await fsp.readdir(dir);
    const tmp = names.filter((n) => n.startsWith('state.json.tmp-'));
    assert.equal(tmp.length, 1, `the temp file of the killed writer is there: ${names.join(',')}`);
    assert.ok(parseSavedState(await fsp.readFile(join(dir, tmp[0]), 'utf8')).services.length === 500, 'it was fully written');
    assert.equal(await fsp.readFile(s.path, 'utf8'), old);

    const again = new StateStore(dir);
    await again.init();
    assert.deepEqual((await fsp.readdir(dir)).sort(), ['lock', 'state.json']);
    assert.deepEqual(await again.load(), { kind: 'loaded', state: state(1) });
  } finally {
    removeDir(dir);
  }
});

test('a save that fails reports the path and the errno, and leaves the old file and no temp file', async () => {
  const dir = tempDir('st-fail');
  try {
    const fs: StateFs = { ...fsp, rename: async () => { throw Object.assign(new Error('No space left on device'), { code: 'ENOSPC' }); } };
    const good = new StateStore(dir);
    await good.init();
    await good.save(state(2));
    const s = new StateStore(dir, { fs });
    await assert.rejects(s.save(state(5)), (e: unknown) => e instanceof TslvsError && e.code === 'TSLVS_ERR_STATE_SAVE' &&
      e.errno === 'ENOSPC' && e.message.includes(s.path) && e.message.includes('(ENOSPC)'));
    assert.deepEqual((await fsp.readdir(dir)).sort(), ['lock', 'state.json']);
    assert.deepEqual(await good.load(), { kind: 'loaded', state: state(2) });
  } finally {
    removeDir(dir);
  }
});

test('a corrupt file is kept aside as <name>.corrupt-<timestamp> with its bytes, never deleted', async () => {
  const dir = tempDir('st-corrupt');
  try {
    const s = new StateStore(dir);
    await s.init();
    for (const [bytes, why] of [
      ['{"format":"tslvs-state","version":1,"services":[', /not JSON/],
      ['{"format":"other"}', /"format"/],
      ['{"format":"tslvs-state","version":9}', /version/],
      ['{"format":"tslvs-state","version":1,"savedAt":"x","timeouts":{"tcp":1,"tcpfin":1,"udp":1},"services":[{"af":2}]}', /dests/],
    ] as const) {
      await fsp.writeFile(s.path, bytes);
      const r = await s.load();
      assert.equal(r.kind, 'corrupt');
      if (r.kind !== 'corrupt') continue;
      assert.match(r.reason, why);
      assert.match(r.keptAs, /state\.json\.corrupt-\d{4}-\d\d-\d\dT[\d-]+Z(-\d+)?$/);
      assert.equal(await fsp.readFile(r.keptAs, 'utf8'), bytes);
      await assert.rejects(fsp.stat(s.path));
    }
    assert.equal((await fsp.readdir(dir)).filter((n) => n.includes('.corrupt-')).length, 4, 'each kept under its own name');
  } finally {
    removeDir(dir);
  }
});

test('a state directory that cannot be created is TSLVS_ERR_STATE_DIR with the path', async () => {
  const dir = tempDir('st-dir');
  try {
    await fsp.writeFile(join(dir, 'file'), 'x');
    const s = new StateStore(join(dir, 'file', 'sub'));
    await assert.rejects(s.init(), (e: unknown) => e instanceof TslvsError && e.code === 'TSLVS_ERR_STATE_DIR' &&
      e.message.includes(join(dir, 'file', 'sub')) && e.errno === 'ENOTDIR');
  } finally {
    removeDir(dir);
  }
});

test('commands from a saved state rebuild destinations oldest first, so the list order comes back', () => {
  const cmds = commandsFromState(state(1));
  assert.deepEqual(cmds.map((c) => c.cmd), ['set-timeout', 'add-service', 'add-dest', 'add-dest']);
  assert.deepEqual(cmds.slice(2).map((c) => (c.cmd === 'add-dest' ? c.dest.addr : '')), ['198.51.100.1', '198.51.100.2']);
});

test('one daemon per state directory: a live owner\'s lock is refused, a dead owner\'s is taken over', async () => {
  const dir = tempDir('st-lock');
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    await new Promise((r) => sleeper.once('spawn', r));
    await fsp.writeFile(join(dir, 'lock'), `${sleeper.pid}\n`);
    // A live writer's temp file must survive the other daemon's start attempt too.
    await fsp.writeFile(join(dir, `state.json.tmp-${sleeper.pid}`), 'partial');
    await assert.rejects(new StateStore(dir).init(), (e: unknown) => e instanceof TslvsError && e.code === 'TSLVS_ERR_DAEMON_RUNNING' &&
      e.message === `Another tslvs daemon (pid ${sleeper.pid}) uses the state directory "${dir}"` && e.hint.includes(join(dir, 'lock')));
    assert.ok((await fsp.readdir(dir)).includes(`state.json.tmp-${sleeper.pid}`));
    sleeper.kill('SIGKILL');
    await new Promise((r) => sleeper.once('exit', r));
    const s = new StateStore(dir);
    await s.init();
    assert.equal(await fsp.readFile(join(dir, 'lock'), 'utf8'), `${process.pid}\n`);
    assert.deepEqual(await fsp.readdir(dir), ['lock'], 'the dead writer\'s temp file is gone');
    await s.unlock();
    assert.deepEqual(await fsp.readdir(dir), []);
  } finally {
    sleeper.kill('SIGKILL');
    removeDir(dir);
  }
});

test('the table is written straight to the same text as serializeState(stateFromTable(...)), for every kind of entry', async () => {
  const table = new Ipvs({ random: () => 3 }).table;
  const same = () => assert.equal(serializeTable(table, '2024-01-01T00:00:00.000Z'), serializeState(stateFromTable(table, '2024-01-01T00:00:00.000Z')));
  same();
  const svc = (addr: string, extra: Record<string, unknown> = {}) => ({ af: 2, protocol: 6, addr, port: 80, fwmark: 0, sched: 'wrr', flags: 0, timeoutS: 0, netmask: 0xffffffff, pe: '', ...extra });
  const dest = (addr: string, extra: Record<string, unknown> = {}) => ({ af: 2, addr, port: 8080, fwd: 0, weight: 1, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0, ...extra });
  const cmds = [
    { cmd: 'add-service', svc: svc('192.0.2.1') },
    { cmd: 'add-dest', svc: svc('192.0.2.1'), dest: dest('198.51.100.1', { weight: 7, uThreshold: 10, lThreshold: 2 }) },
    { cmd: 'add-dest', svc: svc('192.0.2.1'), dest: dest('198.51.100.2', { fwd: 2, tunType: 1, tunPort: 6080, tunFlags: 1, proxyProtocol: 2 }) },
    { cmd: 'add-service', svc: svc('192.0.2.2', { protocol: 17, port: 53, sched: 'none', flags: 1, timeoutS: 300, netmask: 0xffffff00, pe: 'sip' }) },
    { cmd: 'add-service', svc: { af: 10, protocol: 132, addr: '2001:db8::1', port: 9, fwmark: 0, sched: 'mh', flags: 0x10, timeoutS: 0, netmask: 64, pe: '' } },
    { cmd: 'add-dest', svc: { af: 10, protocol: 132, addr: '2001:db8::1', port: 9, fwmark: 0 }, dest: { af: 10, addr: '2001:db8::a', port: 9, fwd: 3, weight: 0 } },
    { cmd: 'add-service', svc: { af: 2, protocol: 6, addr: '0.0.0.0', port: 0, fwmark: 7, sched: 'rr', flags: 0, timeoutS: 0, netmask: 0xffffffff, pe: '' } },
    { cmd: 'set-timeout', tcp: 10, tcpfin: 0, udp: 5 },
  ] as const;
  for (const c of cmds) {
    applyTableCommand(table, c as never);
    same();
  }
  assert.match(serializeTable(table, 'x'), /"proxyProtocol":2/);
});
