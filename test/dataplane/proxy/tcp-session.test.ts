// The TCP relay through real loopback sockets: scheduling through the core, the IPVS NAT state
// machine as `ipvsadm -L -n -c` would show it, counters, half-close, backpressure, integrity,
// weight 0, removed destinations, idle timeouts, redispatch and connect timeouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { Director, eventually, freePort, realServer, sleep, until, whoServes } from './harness.js';

const VIP = '127.0.0.10';

function connect(port: number, host = VIP, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, localAddress }, () => resolve(s));
    s.once('error', reject);
  });
}

function readLine(s: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      const i = buf.indexOf('\n');
      if (i >= 0) {
        s.off('data', onData);
        resolve(buf.slice(0, i));
      }
    };
    s.on('data', onData);
    s.once('error', reject);
  });
}

function readN(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (d: Buffer): void => {
      parts.push(d);
      got += d.length;
      if (got >= n) {
        s.off('data', onData);
        resolve(Buffer.concat(parts));
      }
    };
    s.on('data', onData);
    s.once('error', reject);
  });
}

function closed(s: net.Socket): Promise<{ hadError: boolean; code: string | undefined }> {
  return new Promise((resolve) => {
    let code: string | undefined;
    s.on('error', (e: NodeJS.ErrnoException) => { code = e.code; });
    s.on('close', (hadError) => resolve({ hadError, code }));
  });
}

test('each connection is scheduled by the core: rr starts at the newest real server and alternates', async () => {
  const dir = new Director();
  const a = await realServer('A');
  const b = await realServer('B');
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    await dir.addDest(id, '127.0.0.1', a.port);
    await dir.addDest(id, '127.0.0.1', b.port);
    const got: string[] = [];
    for (let i = 0; i < 6; i++) got.push(await whoServes(VIP, port));
    assert.deepEqual(got, ['B', 'A', 'B', 'A', 'B', 'A']);
  } finally {
    await dir.close(); await a.close(); await b.close();
  }
});

test('ActiveConn while open, InActConn in TIME_WAIT after both FINs, as an IPVS NAT entry', async () => {
  const dir = new Director();
  const a = await realServer('A');
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    const da = await dir.addDest(id, '127.0.0.1', a.port);
    const c = await connect(port);
    assert.equal(await readLine(c), 'A');
    await eventually(() => {
      assert.deepEqual(dir.conns(da), { active: 1, inact: 0 });
      assert.deepEqual(dir.states(), ['ESTABLISHED']);
    });
    const done = closed(c);
    c.end();
    await done;
    await until(() => dir.dp.details().activeFlows === 0, 5000, 'the session to end');
    // Client FIN (ESTABLISHED → CLOSE_WAIT), then the real server's FIN (→ TIME_WAIT): inactive.
    assert.deepEqual(dir.states(), ['TIME_WAIT']);
    assert.deepEqual(dir.conns(da), { active: 0, inact: 1 });
  } finally {
    await dir.close(); await a.close();
  }
});

test('counters: the handshake is SYN in, SYN+ACK out, ACK in; then one packet per read with its payload bytes', async () => {
  const dir = new Director();
  const a = await realServer('A');
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    const da = await dir.addDest(id, '127.0.0.1', a.port);
    const c = await connect(port);
    assert.equal(await readLine(c), 'A');
    c.write('hello');
    assert.equal((await readN(c, 5)).toString(), 'hello');
    await eventually(() => assert.deepEqual(dir.counters(da), { conns: 1, inpkts: 3, outpkts: 3, inbytes: 5, outbytes: 7 }));
    const k = dir.counters(da);
    assert.deepEqual(dir.counters(da), { ...k }, 'service and dest agree');
    const svc = dir.service(id).stats;
    assert.equal(svc.inbytes, 5);
    assert.equal(svc.outbytes, 7);
    c.destroy();
  } finally {
    await dir.close(); await a.close();
  }
});

test('half-close: the client FIN reaches the real server, whose answer still reaches the client (CLOSE_WAIT)', async () => {
  const dir = new Director();
  // A real server that answers only after the client's end of stream, 100 ms later.
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    const parts: Buffer[] = [];
    s.on('data', (d) => parts.push(d));
    s.on('end', () => setTimeout(() => s.end(Buffer.concat(parts).reverse()), 100));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    await dir.addDest(id, '127.0.0.1', (srv.address() as net.AddressInfo).port);
    const c = net.connect({ host: VIP, port, allowHalfOpen: true });
    const got: Buffer[] = [];
    c.on('data', (d) => got.push(d));
    const ended = new Promise<void>((r) => c.on('end', () => r()));
    c.end('abcdef');
    await until(() => dir.states()[0] === 'CLOSE_WAIT', 2000, 'CLOSE_WAIT');
    await ended;
    assert.equal(Buffer.concat(got).toString(), 'fedcba');
    await until(() => dir.dp.details().activeFlows === 0, 5000, 'the session to end');
    assert.deepEqual(dir.states(), ['TIME_WAIT']);
  } finally {
    await dir.close();
    await new Promise<void>((r) => srv.close(() => r()));
  }
});

test('half-close the other way: after the real server FIN (FIN_WAIT) the client can still send to it', async () => {
  const dir = new Director();
  let received = '';
  const gotAll = new Promise<void>((resolve) => {
    const srv = net.createServer({ allowHalfOpen: true }, (s) => {
      s.end('bye\n');
      s.on('data', (d) => { received += d.toString(); });
      s.on('end', () => { s.destroy(); srv.close(); resolve(); });
    });
    srv.listen(0, '127.0.0.1', () => {
      void (async () => {
        const port = await freePort(VIP);
        const id = await dir.addService('tcp', VIP, port);
        await dir.addDest(id, '127.0.0.1', (srv.address() as net.AddressInfo).port);
        const c = net.connect({ host: VIP, port, allowHalfOpen: true });
        c.on('error', () => undefined);
        c.on('end', () => {
          void until(() => dir.states()[0] === 'FIN_WAIT', 2000, 'FIN_WAIT').then(() => {
            c.write('still here');
            c.end();
          });
        });
        c.resume();
      })();
    });
  });
  try {
    await gotAll;
    assert.equal(received, 'still here');
    await until(() => dir.dp.details().activeFlows === 0, 5000, 'the session to end');
  } finally {
    await dir.close();
  }
});

test('8 MiB each way arrive intact', async () => {
  const dir = new Director();
  const a = await realServer('A', '127.0.0.1', 'echo');
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    await dir.addDest(id, '127.0.0.1', a.port);
    const data = randomBytes(8 << 20);
    const c = await connect(port);
    const back = readN(c, data.length);
    c.write(data);
    const got = await back;
    assert.equal(got.length, data.length);
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(data).digest('hex'));
    c.destroy();
    await until(() => dir.dp.details().activeFlows === 0, 5000, 'the session to end');
    assert.equal(dir.dp.details().buffersInUse, 0, 'every read buffer went back to the pool');
  } finally {
    await dir.close(); await a.close();
  }
});

test('backpressure: a real server that never reads stalls the client, the proxy holds at most a buffer per direction', async () => {
  const dir = new Director();
  const a = await realServer('A', '127.0.0.1', 'no-read');
  let c: net.Socket | null = null;
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    await dir.addDest(id, '127.0.0.1', a.port);
    const client = await connect(port);
    c = client;
    client.on('error', () => undefined);
    const chunk = Buffer.alloc(1 << 20, 7);
    let written = 0;
    let lastDrain = Date.now();
    const pump = (): void => {
      lastDrain = Date.now();
      while (written < (512 << 20) && client.write(chunk)) written += chunk.length;
      written += chunk.length;
      client.once('drain', pump);
    };
    pump();
    // Kernel buffers on the way absorb some megabytes; then nothing moves.
    await until(() => Date.now() - lastDrain > 500, 20_000, 'the client to stall');
    const d = dir.dp.details();
    assert.ok(written < (512 << 20), `the client stalled after ${written} bytes`);
    assert.ok(client.writableLength > 0, 'the client holds unsent data');
    assert.ok(d.bufferBytesInUse <= 2 * 3 * 65536, `proxy holds ${d.bufferBytesInUse} bytes`);
  } finally {
    c?.destroy();
    await dir.close(); await a.close();
  }
});

test('backpressure the other way: a client that does not read stalls the real server; all bytes arrive when it reads', async () => {
  const dir = new Director();
  const total = 64 << 20;
  const data = randomBytes(1 << 20);
  let serverSock: net.Socket | null = null;
  const srv = net.createServer((s) => {
    serverSock = s;
    s.on('error', () => undefined);
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        sent += data.length;
        if (!s.write(data)) {
          s.once('drain', pump);
          return;
        }
      }
      s.end();
    };
    pump();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    await dir.addDest(id, '127.0.0.1', (srv.address() as net.AddressInfo).port);
    const c = await connect(port);
    c.on('error', () => undefined);
    c.pause();
    await sleep(400);
    assert.ok(serverSock !== null && (serverSock as net.Socket).writableLength > 0, 'the real server is blocked');
    assert.ok(dir.dp.details().bufferBytesInUse <= 2 * 3 * 65536);
    const h = createHash('sha256');
    let got = 0;
    c.on('data', (d: Buffer) => { got += d.length; h.update(d); });
    const ended = new Promise<void>((r) => c.on('end', () => r()));
    c.resume();
    await ended;
    assert.equal(got, total);
    const want = createHash('sha256');
    for (let i = 0; i < total / data.length; i++) want.update(data);
    assert.equal(h.digest('hex'), want.digest('hex'));
    await until(() => dir.dp.details().activeFlows === 0, 5000, 'the session to end');
    assert.equal(dir.dp.details().buffersInUse, 0);
  } finally {
    await dir.close();
    await new Promise<void>((r) => srv.close(() => r()));
  }
});

test('no destination: the client is reset at once and nothing is counted', async () => {
  const dir = new Director();
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    const c = net.connect({ host: VIP, port });
    const r = await closed(c);
    assert.equal(r.code, 'ECONNRESET');
    assert.equal(dir.dp.stats().drops.noDest, 1);
    assert.equal(dir.service(id).stats.conns, 0);
  } finally {
    await dir.close();
  }
});

test('weight 0 drains: no new connections, the live one goes on', async () => {
  const dir = new Director();
  const a = await realServer('A');
  const b = await realServer('B');
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    const da = await dir.addDest(id, '127.0.0.1', a.port);
    await dir.addDest(id, '127.0.0.1', b.port);
    const live = await connect(port);
    assert.equal(await readLine(live), 'B');
    const held = await connect(port);
    assert.equal(await readLine(held), 'A');
    await dir.editDest(id, da, { weight: 0 });
    for (let i = 0; i < 3; i++) assert.equal(await whoServes(VIP, port), 'B');
    held.write('ping');
    assert.equal((await readN(held, 4)).toString(), 'ping');
    held.destroy(); live.destroy();
  } finally {
    await dir.close(); await a.close(); await b.close();
  }
});

test('a removed real server keeps its live connection; with expire_nodest_conn it is reset', async () => {
  const dir = new Director();
  const a = await realServer('A');
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    const da = await dir.addDest(id, '127.0.0.1', a.port);
    const c = await connect(port);
    assert.equal(await readLine(c), 'A');
    await dir.delDest(id, da);
    c.write('still');
    assert.equal((await readN(c, 5)).toString(), 'still');

    const db = await dir.addDest(id, '127.0.0.1', a.port);
    const c2 = await connect(port);
    assert.equal(await readLine(c2), 'A');
    dir.ipvs.sysctl.expireNodestConn = 1;
    const end = closed(c2);
    await dir.delDest(id, db);
    const r = await end;
    assert.equal(r.code, 'ECONNRESET');
    c.destroy();
  } finally {
    await dir.close(); await a.close();
  }
});

test('idle timeout: an ESTABLISHED entry that expires (--set tcp 1) resets both sides', async () => {
  const dir = new Director();
  const a = await realServer('A', '127.0.0.1', 'silent');
  try {
    await dir.setTimeouts(1, 1, 1);
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    await dir.addDest(id, '127.0.0.1', a.port);
    const c = await connect(port);
    await until(() => a.sockets.size === 1, 2000, 'the real server to accept');
    const [srvSock] = [...a.sockets];
    const srvClosed = new Promise<void>((r) => srvSock.on('close', () => r()));
    const r = await closed(c);
    assert.equal(r.code, 'ECONNRESET');
    await srvClosed;
    assert.equal(dir.dp.details().activeFlows, 0);
  } finally {
    await dir.close(); await a.close();
  }
});

test('a refusing real server is skipped: every client is served, the server is quarantined', async () => {
  const dir = new Director({ retries: 2, quarantineMs: 60_000 });
  const a = await realServer('A');
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    await dir.addDest(id, '127.0.0.1', a.port);
    const dead = await dir.addDest(id, '127.0.0.1', await freePort());
    const got: string[] = [];
    for (let i = 0; i < 10; i++) got.push(await whoServes(VIP, port));
    assert.deepEqual(got, new Array(10).fill('A'));
    const d = dir.dp.details();
    assert.equal(d.connectFailures, 1, 'only the first connect failed');
    assert.equal(d.redispatched, 1);
    assert.equal(d.quarantined, 1);
    assert.ok(dead.isOverloaded(), 'the scheduler sees it as unavailable');
    // The failed attempt's entry went to CLOSE and was replaced, as a retransmitted SYN would.
    assert.equal(dead.stats.conns, 1);
  } finally {
    await dir.close(); await a.close();
  }
});

test('every real server refusing: the client is reset after the retries', async () => {
  const dir = new Director({ retries: 2, quarantineMs: 0 });
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    await dir.addDest(id, '127.0.0.1', await freePort());
    const c = net.connect({ host: VIP, port });
    const r = await closed(c);
    assert.equal(r.code, 'ECONNRESET');
    assert.equal(dir.dp.details().connectFailures, 3);
    assert.equal(dir.dp.stats().drops.connectFailed, 1);
    assert.equal(dir.dp.details().buffersInUse, 0, 'the failed attempts gave their buffers back');
  } finally {
    await dir.close();
  }
});

test('a real server that does not answer SYNs times out after connectTimeoutMs and the client is redispatched', async () => {
  const dir = new Director({ connectTimeoutMs: 300, quarantineMs: 60_000 });
  const a = await realServer('A');
  // A listener in a stopped process with a full accept queue: the kernel drops further SYNs.
  const stuckPort = await freePort();
  const child = spawn(process.execPath, ['-e',
    `require('net').createServer().listen({ port: ${stuckPort}, host: '127.0.0.1', backlog: 1 }, () => console.log('up'))`]);
  const fillers: net.Socket[] = [];
  try {
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    child.kill('SIGSTOP');
    for (let i = 0; i < 4; i++) {
      const s = net.connect({ host: '127.0.0.1', port: stuckPort });
      s.on('error', () => undefined);
      fillers.push(s);
    }
    await sleep(200);
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    await dir.addDest(id, '127.0.0.1', a.port);
    await dir.addDest(id, '127.0.0.1', stuckPort);
    assert.equal(await whoServes(VIP, port), 'A');
    assert.equal(dir.dp.details().connectFailures, 1);
    assert.equal(await whoServes(VIP, port), 'A');
    assert.equal(dir.dp.details().connectFailures, 1, 'quarantined: not tried again');
  } finally {
    for (const s of fillers) s.destroy();
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await dir.close(); await a.close();
  }
});

test('persistence (-p): a client address keeps its real server, another client may get another', async () => {
  const dir = new Director();
  const a = await realServer('A');
  const b = await realServer('B');
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port, { persistentS: 300 });
    await dir.addDest(id, '127.0.0.1', a.port);
    await dir.addDest(id, '127.0.0.1', b.port);
    const first = await whoServes(VIP, port, '127.0.0.21');
    const second = await whoServes(VIP, port, '127.0.0.22');
    assert.notEqual(first, second);
    for (let i = 0; i < 3; i++) assert.equal(await whoServes(VIP, port, '127.0.0.21'), first);
    assert.equal(await whoServes(VIP, port, '127.0.0.22'), second);
  } finally {
    await dir.close(); await a.close(); await b.close();
  }
});

test('lc sees every relayed connection: open connections steer the next pick', async () => {
  const dir = new Director();
  const a = await realServer('A');
  const b = await realServer('B');
  const held: net.Socket[] = [];
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port, { sched: 'lc' });
    await dir.addDest(id, '127.0.0.1', a.port);
    await dir.addDest(id, '127.0.0.1', b.port);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await connect(port);
      held.push(c);
      got.push(await readLine(c));
    }
    // Ties go to the first in list order (B, the newest); each open connection adds 257 overhead.
    assert.deepEqual(got, ['B', 'A', 'B', 'A']);
    held[0].destroy();
    held[2].destroy();
    await until(() => dir.dp.details().activeFlows === 2, 2000, 'two sessions to end');
    // B's two entries are now CLOSE (reset): inactive, overhead 2 against A's 2*257.
    const c = await connect(port);
    held.push(c);
    assert.equal(await readLine(c), 'B');
  } finally {
    for (const s of held) s.destroy();
    await dir.close(); await a.close(); await b.close();
  }
});

test('thresholds (-x): a real server at its upper threshold is OVERLOAD and skipped until entries go', async () => {
  const dir = new Director();
  const a = await realServer('A');
  const b = await realServer('B');
  const held: net.Socket[] = [];
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    await dir.addDest(id, '127.0.0.1', a.port);
    const db = await dir.addDest(id, '127.0.0.1', b.port, { x: 1 });
    const c = await connect(port);
    held.push(c);
    assert.equal(await readLine(c), 'B');
    assert.equal(db.isOverloaded(), true);
    for (let i = 0; i < 3; i++) assert.equal(await whoServes(VIP, port), 'A');
    // Counting is by totalconns (TIME_WAIT included, §4.2): closing B's connection does not
    // clear the flag while its entry lingers.
    c.destroy();
    await until(() => dir.dp.details().activeFlows === 0, 2000, 'the sessions to end');
    assert.equal(await whoServes(VIP, port), 'A');
  } finally {
    for (const s of held) s.destroy();
    await dir.close(); await a.close(); await b.close();
  }
});

test('IPv6: a service on ::1 relays to an IPv6 real server', async () => {
  const dir = new Director();
  const a = await realServer('A6', '::1');
  try {
    const port = await freePort('::1');
    const id = await dir.addService('tcp', '::1', port);
    const da = await dir.addDest(id, '::1', a.port);
    assert.equal(await whoServes('::1', port), 'A6');
    assert.equal(da.stats.conns, 1);
  } finally {
    await dir.close(); await a.close();
  }
});
