// TCP_CHECK against real listeners on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createTcpProbe } from '../../src/health/tcp-check.js';
import type { TcpCheck } from '../../src/config/keepalived/types.js';
import { checkerOf, freePort } from './servers.js';

const run = (c: TcpCheck) => createTcpProbe(c).run({ url: 0, signal: new AbortController().signal });

test('TCP_CHECK succeeds when the connection completes, on the real server port or connect_port', async () => {
  const srv = createServer((s) => s.destroy());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    const c = checkerOf(' TCP_CHECK { connect_timeout 1 }', port) as TcpCheck;
    assert.equal(c.connect.dest.port, port);
    const r = await run(c);
    assert.equal(r.ok, true, r.detail);
    const other = await freePort();
    const viaConnectPort = checkerOf(` TCP_CHECK { connect_port ${port} }`, other) as TcpCheck;
    assert.equal((await run(viaConnectPort)).ok, true);
  } finally {
    srv.close();
  }
});

test('TCP_CHECK fails at once on a refused connection, without waiting for connect_timeout', async () => {
  const port = await freePort();
  const c = checkerOf(' TCP_CHECK { connect_timeout 30 }', port) as TcpCheck;
  const r = await run(c);
  assert.equal(r.ok, false);
  assert.match(r.detail, /ECONNREFUSED/);
});

test('TCP_CHECK fails when the handshake does not complete within connect_timeout', async () => {
  // A listener with a full accept queue and no accept() leaves the next SYNs unanswered.
  const port = await freePort();
  const c = checkerOf(' TCP_CHECK { connect_timeout 0.2\n connect_ip 192.0.2.1 }', port) as TcpCheck;
  const r = await run(c);
  assert.equal(r.ok, false);
});

test('TCP_CHECK stops at once when the runner aborts it', async () => {
  const c = checkerOf(' TCP_CHECK { connect_timeout 30\n connect_ip 192.0.2.1 }', 80) as TcpCheck;
  const ac = new AbortController();
  const p = createTcpProbe(c).run({ url: 0, signal: ac.signal });
  ac.abort();
  assert.deepEqual(await p, { ok: false, detail: 'aborted' });
});
