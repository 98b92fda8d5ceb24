import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { ControlSocket } from '../../src/control/control-socket.js';
import type { Response } from '../../src/control/protocol.js';
import { TslvsError } from '../../src/errors.js';
import { removeDir, tempDir } from '../helpers/daemon.js';

/** Sends raw text on one connection and collects `n` answer lines. */
function converse(path: string, text: string | string[], n: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const s = connect({ path });
    let buf = '';
    const parts = Array.isArray(text) ? text : [text];
    s.on('connect', async () => {
      for (const p of parts) {
        s.write(p);
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    s.on('data', (b) => {
      buf += b.toString();
      const lines = buf.split('\n').filter(Boolean);
      if (lines.length >= n) {
        s.destroy();
        resolve(lines.map((l) => JSON.parse(l)));
      }
    });
    s.on('error', reject);
  });
}

const echo = async (req: unknown): Promise<Response> => ({ type: 'status', status: { got: req } });

test('the socket is created with mode 0600 in a directory made 0700', async () => {
  const dir = tempDir('cs-mode');
  try {
    const path = join(dir, 'run', 'tslvs.sock');
    const cs = await ControlSocket.listen({ path, handler: echo });
    assert.equal((await fsp.stat(path)).mode & 0o777, 0o600);
    assert.equal((await fsp.stat(join(dir, 'run'))).mode & 0o777, 0o700);
    await cs.close();
    assert.equal(existsSync(path), false, 'close removes the socket file');
  } finally {
    removeDir(dir);
  }
});

test('requests on one connection are answered in order, even when split across writes or sent together', async () => {
  const dir = tempDir('cs-order');
  try {
    const path = join(dir, 's.sock');
    let n = 0;
    const cs = await ControlSocket.listen({
      path,
      handler: async (req) => {
        // The first request is the slowest: answers must still come in request order.
        await new Promise((r) => setTimeout(r, 30 - 10 * n++));
        return { type: 'status', status: { got: req } };
      },
    });
    const answers = await converse(path, ['{"type":"a"}\n{"ty', 'pe":"b"}\n', '{"type":"c"}\n'], 3);
    assert.deepEqual(answers.map((a) => (a as { status: { got: { type: string } } }).status.got.type), ['a', 'b', 'c']);
    await cs.close();
  } finally {
    removeDir(dir);
  }
});

test('a line that is not JSON gets a protocol error and the connection keeps working', async () => {
  const dir = tempDir('cs-bad');
  try {
    const path = join(dir, 's.sock');
    const cs = await ControlSocket.listen({ path, handler: echo });
    const [bad, good] = await converse(path, 'not json\n{"type":"x"}\n', 2) as [Response, Response];
    assert.equal(bad.type, 'error');
    assert.equal(bad.type === 'error' && bad.error.code, 'TSLVS_ERR_PROTOCOL');
    assert.deepEqual(good, { type: 'status', status: { got: { type: 'x' } } });
    await cs.close();
  } finally {
    removeDir(dir);
  }
});

test('a request longer than the limit is refused and the connection closed', async () => {
  const dir = tempDir('cs-long');
  try {
    const path = join(dir, 's.sock');
    const cs = await ControlSocket.listen({ path, handler: echo, maxLineBytes: 1000 });
    const [r] = await converse(path, `{"type":"exec","pad":"${'x'.repeat(5000)}"}\n`, 1) as [Response];
    assert.equal(r.type === 'error' && r.error.code, 'TSLVS_ERR_PROTOCOL');
    assert.match(r.type === 'error' ? r.error.message ?? '' : '', /longer than 1000 bytes/);
    await cs.close();
  } finally {
    removeDir(dir);
  }
});

test('a live listener on the path is never taken over (TSLVS_ERR_DAEMON_RUNNING)', async () => {
  const dir = tempDir('cs-live');
  const path = join(dir, 's.sock');
  const other = createServer((s) => s.end());
  await new Promise<void>((r) => other.listen(path, r));
  try {
    await assert.rejects(ControlSocket.listen({ path, handler: echo }), (e: unknown) =>
      e instanceof TslvsError && e.code === 'TSLVS_ERR_DAEMON_RUNNING' && e.message.includes(path));
    assert.ok(existsSync(path));
  } finally {
    await new Promise((r) => other.close(r));
    removeDir(dir);
  }
});

test('a stale socket file nobody listens on is replaced; a regular file at the path is left alone', async () => {
  const dir = tempDir('cs-stale');
  try {
    const path = join(dir, 's.sock');
    // A socket file without a listener: the process that bound it was killed.
    const r = spawnSync(process.execPath, ['-e',
      `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(existsSync(path));
    const logs: string[] = [];
    const cs = await ControlSocket.listen({ path, handler: echo, log: (l) => logs.push(l) });
    assert.deepEqual(logs, [`replaced a stale control socket "${path}" (nobody was listening)`]);
    assert.equal(((await converse(path, '{"type":"y"}\n', 1))[0] as Response).type, 'status');
    await cs.close();

    const file = join(dir, 'plain');
    await fsp.writeFile(file, 'keep me');
    await assert.rejects(ControlSocket.listen({ path: file, handler: echo }), (e: unknown) =>
      e instanceof TslvsError && e.code === 'TSLVS_ERR_SOCKET_IN_USE' && e.message.includes(file));
    assert.equal(await fsp.readFile(file, 'utf8'), 'keep me');
  } finally {
    removeDir(dir);
  }
});

test('a socket directory that cannot be created is refused with the path and what to do', async () => {
  const dir = tempDir('cs-dir');
  try {
    await fsp.writeFile(join(dir, 'file'), '');
    const path = join(dir, 'file', 'sub', 's.sock');
    await assert.rejects(ControlSocket.listen({ path, handler: echo }), (e: unknown) =>
      e instanceof TslvsError && e.code === 'TSLVS_ERR_SOCKET_IN_USE' && e.message.includes('ENOTDIR') && /--socket/.test(e.hint));
  } finally {
    removeDir(dir);
  }
});

test('closing lets an answer in progress finish, then ends the connection', async () => {
  const dir = tempDir('cs-close');
  try {
    const path = join(dir, 's.sock');
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const cs = await ControlSocket.listen({ path, handler: async (req) => { await gate; return { type: 'status', status: { got: req } }; } });
    const answer = converse(path, '{"type":"slow"}\n', 1);
    await new Promise((r) => setTimeout(r, 20));
    const closing = cs.close();
    release();
    assert.deepEqual(await answer, [{ type: 'status', status: { got: { type: 'slow' } } }]);
    await closing;
  } finally {
    removeDir(dir);
  }
});
