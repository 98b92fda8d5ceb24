import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { defaultSocketPath, request } from '../../src/cli/control-client.js';
import { defaultSocketPath as pureDefault } from '../../src/control/protocol.js';
import { TslvsError } from '../../src/errors.js';
import { removeDir, tempDir } from '../helpers/daemon.js';

test('no daemon: the client throws TSLVS_ERR_NO_DAEMON with the socket path, for a missing or a stale socket', async () => {
  const dir = tempDir('cc-none');
  try {
    const missing = join(dir, 'missing.sock');
    await assert.rejects(request({ type: 'status' }, { socketPath: missing }), (e: unknown) =>
      e instanceof TslvsError && e.code === 'TSLVS_ERR_NO_DAEMON' && e.message === `No tslvs daemon is listening on "${missing}" (ENOENT)` &&
      /tslvs run/.test(e.hint));
    // A socket file whose listener is gone (its process was killed).
    const stale = join(dir, 'stale.sock');
    const r = spawnSync(process.execPath, ['-e',
      `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    assert.equal(r.signal, 'SIGKILL');
    await assert.rejects(request({ type: 'status' }, { socketPath: stale }), (e: unknown) =>
      e instanceof TslvsError && e.code === 'TSLVS_ERR_NO_DAEMON' && e.message === `No tslvs daemon is listening on "${stale}" (ECONNREFUSED)`);
  } finally {
    removeDir(dir);
  }
});

test('a listener that hangs up without answering is a protocol error that names the socket', async () => {
  const dir = tempDir('cc-hangup');
  const path = join(dir, 's.sock');
  const srv = createServer((s) => s.end());
  await new Promise<void>((r) => srv.listen(path, r));
  try {
    await assert.rejects(request({ type: 'status' }, { socketPath: path }), (e: unknown) =>
      e instanceof TslvsError && e.code === 'TSLVS_ERR_PROTOCOL' && e.message.includes(path) && e.message.includes('"status"'));
  } finally {
    srv.close();
    removeDir(dir);
  }
});

test('the client reads one JSON line, even when it arrives in pieces', async () => {
  const dir = tempDir('cc-pieces');
  const path = join(dir, 's.sock');
  const srv = createServer((s) => {
    s.once('data', () => {
      s.write('{"type":"sta');
      setTimeout(() => s.write('tus","status":{"x":1}}\n{"ignored":true}\n'), 10);
    });
  });
  await new Promise<void>((r) => srv.listen(path, r));
  try {
    assert.deepEqual(await request({ type: 'status' }, { socketPath: path }), { type: 'status', status: { x: 1 } });
  } finally {
    srv.close();
    removeDir(dir);
  }
});

test('default socket: TSLVS_SOCKET, then /run/tslvs for root, then XDG_RUNTIME_DIR, then /tmp per uid', () => {
  assert.equal(pureDefault({ TSLVS_SOCKET: '/x/y.sock', XDG_RUNTIME_DIR: '/run/user/5' }, 5), '/x/y.sock');
  assert.equal(pureDefault({ XDG_RUNTIME_DIR: '/run/user/0' }, 0), '/run/tslvs/tslvs.sock');
  assert.equal(pureDefault({ XDG_RUNTIME_DIR: '/run/user/1000/' }, 1000), '/run/user/1000/tslvs/tslvs.sock');
  assert.equal(pureDefault({ XDG_RUNTIME_DIR: 'relative' }, 1000), '/tmp/tslvs-1000/tslvs.sock');
  assert.equal(pureDefault({}, 1000), '/tmp/tslvs-1000/tslvs.sock');
  assert.equal(defaultSocketPath({ TSLVS_SOCKET: '/a.sock' }), '/a.sock');
  assert.equal(defaultSocketPath({}), pureDefault({}, process.getuid?.() ?? 0));
});
