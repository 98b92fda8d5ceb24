// Failure modes under load: a real server killed while serving, garbage and half-open clients,
// slowloris-style idle sockets, a real server that never reads. Memory stays bounded, timeouts
// fire, and everyone else keeps being served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Director, freePort, realServer, sleep, until, whoServes } from './harness.js';

const VIP = '127.0.0.14';
const here = dirname(fileURLToPath(import.meta.url));

/** A real server in its own process (name, then echo), so it can be killed for real. */
async function childServer(name: string): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, ['-e', `
    const net = require('net');
    const s = net.createServer((c) => { c.on('error', () => {}); c.write(${JSON.stringify(name)} + '\\n'); c.pipe(c); });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => proc.stdout?.once('data', (d) => resolve(Number(String(d).trim()))));
  return { proc, port };
}

/** One request: connect, read the name line, echo "ping", end. Rejects on any failure. */
function request(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: VIP, port });
    let buf = '';
    let name = '';
    s.setEncoding('utf8');
    s.on('data', (d) => {
      buf += d;
      if (!name) {
        const i = buf.indexOf('\n');
        if (i < 0) return;
        name = buf.slice(0, i);
        buf = buf.slice(i + 1);
        s.write('ping');
      }
      if (buf === 'ping') {
        s.end();
        resolve(name);
      }
    });
    s.on('error', (e) => reject(e));
    s.on('close', () => reject(new Error(`closed early (name "${name}")`)));
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
  });
}

test('a real server killed under load: no new connection fails after its first failed connect, its connections close', async () => {
  const dir = new Director({ retries: 2, quarantineMs: 30_000 });
  const servers = await Promise.all(['A', 'B', 'C'].map(childServer));
  const held: net.Socket[] = [];
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    for (const s of servers) await dir.addDest(id, '127.0.0.1', s.port);
    // Connections B holds when it dies.
    const heldClosed: Promise<void>[] = [];
    while (held.length < 3) {
      const c = net.connect({ host: VIP, port });
      const line = await new Promise<string>((r) => c.once('data', (d) => r(String(d).trim())));
      c.on('error', () => undefined);
      if (line === 'B') {
        held.push(c);
        heldClosed.push(new Promise((r) => c.on('close', () => r())));
      } else c.destroy();
    }
    let firstFailureAt = Infinity;
    let failedAfter = 0;
    let okCount = 0;
    let stop = false;
    const workers = Array.from({ length: 8 }, async () => {
      while (!stop) {
        const started = performance.now();
        try {
          await request(port);
          okCount++;
        } catch {
          if (started > firstFailureAt) failedAfter++;
        }
      }
    });
    const watch = (async () => {
      while (!stop) {
        if (dir.dp.details().connectFailures > 0 && firstFailureAt === Infinity) firstFailureAt = performance.now();
        await sleep(1);
      }
    })();
    await sleep(300);
    servers[1].proc.kill('SIGKILL');
    await until(() => firstFailureAt < Infinity, 5000, 'a failed connect to the killed server');
    const okAtKill = okCount;
    await sleep(1000);
    stop = true;
    await Promise.all([...workers, watch]);
    assert.equal(failedAfter, 0, 'new connections after the first failed connect all succeeded');
    assert.ok(okCount > okAtKill + 10, 'the others kept serving');
    await Promise.race([Promise.all(heldClosed), sleep(5000).then(() => { throw new Error('held connections did not close'); })]);
    assert.ok(dir.dp.details().redispatched >= 1);
  } finally {
    for (const c of held) c.destroy();
    for (const s of servers) s.proc.kill('SIGKILL');
    await dir.close();
  }
});

test('garbage, reset and half-open clients do not disturb the others, and leave nothing behind', async () => {
  const dir = new Director();
  const a = await realServer('A');
  try {
    await dir.setTimeouts(2, 2, 2);
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    await dir.addDest(id, '127.0.0.1', a.port);
    const bad: net.Socket[] = [];
    for (let i = 0; i < 30; i++) {
      const s = net.connect({ host: VIP, port });
      s.on('error', () => undefined);
      bad.push(s);
      s.on('connect', () => {
        if (i % 3 === 0) s.end(randomBytes(5000)); // garbage, then FIN
        else if (i % 3 === 1) s.resetAndDestroy(); // RST straight away
        // else: half-open, never sends anything
      });
    }
    for (let i = 0; i < 10; i++) assert.equal(await whoServes(VIP, port), 'A');
    // The silent ones are reset by the entry timeout (--set 2): every session ends.
    await until(() => dir.dp.details().activeFlows === 0, 8000, 'every session to end');
    await until(() => dir.dp.details().buffersInUse === 0, 2000, 'every buffer to come back');
    for (const s of bad) s.destroy();
  } finally {
    await dir.close(); await a.close();
  }
});

test('slowloris: idle sockets cost two small buffers each, do not slow others, and are reset by the timeout', async () => {
  const dir = new Director({ bufferSize: 4096 });
  const a = await realServer('A');
  const idle: net.Socket[] = [];
  try {
    await dir.setTimeouts(2, 2, 2);
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    await dir.addDest(id, '127.0.0.1', a.port);
    const n = 300;
    for (let i = 0; i < n; i++) {
      const s = net.connect({ host: VIP, port });
      s.on('error', () => undefined);
      s.on('connect', () => s.write('G'));
      idle.push(s);
    }
    await until(() => dir.dp.details().activeFlows === n, 10_000, 'every idle socket to be relayed');
    const d = dir.dp.details();
    assert.ok(d.bufferBytesInUse <= n * 2 * 4096, `${d.bufferBytesInUse} bytes for ${n} idle sessions`);
    // A trickle (one byte a second) keeps some alive; the rest are reset after 2 s of silence.
    const trickle = idle.slice(0, 10);
    const timer = setInterval(() => { for (const s of trickle) s.write('E'); }, 500);
    for (let i = 0; i < 5; i++) assert.equal(await whoServes(VIP, port), 'A');
    await until(() => dir.dp.details().activeFlows <= 10, 10_000, 'the silent sockets to be reset');
    clearInterval(timer);
    assert.equal(dir.dp.details().activeFlows, 10, 'the trickling ones are alive');
    await until(() => dir.dp.details().activeFlows === 0, 10_000, 'the rest after they stop');
  } finally {
    for (const s of idle) s.destroy();
    await dir.close(); await a.close();
  }
});

test('a real server that never reads: 20 pushing clients hold bounded proxy memory, others are served, timeouts end them', async () => {
  const dir = new Director();
  const sink = await realServer('S', '127.0.0.1', 'no-read');
  const a = await realServer('A');
  const pushers: net.Socket[] = [];
  try {
    await dir.setTimeouts(2, 2, 2);
    const p1 = await freePort(VIP);
    const s1 = await dir.addService('tcp', VIP, p1);
    await dir.addDest(s1, '127.0.0.1', sink.port);
    const p2 = await freePort(VIP);
    const s2 = await dir.addService('tcp', VIP, p2);
    await dir.addDest(s2, '127.0.0.1', a.port);
    const chunk = Buffer.alloc(256 << 10, 1);
    for (let i = 0; i < 20; i++) {
      const c = net.connect({ host: VIP, port: p1 });
      c.on('error', () => undefined);
      const pump = (): void => { while (!c.destroyed && c.write(chunk)); };
      c.on('connect', pump);
      c.on('drain', pump);
      pushers.push(c);
    }
    await sleep(1000);
    const d = dir.dp.details();
    assert.equal(d.activeFlows, 20);
    assert.ok(d.bufferBytesInUse <= 20 * 2 * 3 * 65536, `${d.bufferBytesInUse} bytes for 20 blocked sessions`);
    assert.equal(await whoServes(VIP, p2), 'A');
    // Nothing moves any more: the entries expire and both sides are reset.
    await until(() => dir.dp.details().activeFlows === 0, 10_000, 'the blocked sessions to time out');
    await until(() => dir.dp.details().buffersInUse === 0, 2000, 'every buffer back');
  } finally {
    for (const c of pushers) c.destroy();
    await dir.close(); await sink.close(); await a.close();
  }
});

test('out of descriptors: excess clients wait or are reset, none hangs, and the proxy serves again once descriptors are free', async () => {
  const a = await realServer('A');
  const port = await freePort(VIP);
  // The proxy in a process of its own with 64 descriptors (ulimit -n).
  const proc = spawn('sh', ['-c', 'ulimit -n 64 && exec "$0" "$@"', process.execPath, join(here, 'proxy-child.js'), `${VIP}:${port}`, `127.0.0.1:${a.port}`],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let waiting: ((l: string) => void) | null = null;
  let rest = '';
  proc.stdout?.setEncoding('utf8');
  proc.stdout?.on('data', (d: string) => {
    rest += d;
    for (let i = rest.indexOf('\n'); i >= 0; i = rest.indexOf('\n')) {
      const l = rest.slice(0, i);
      rest = rest.slice(i + 1);
      if (waiting) { const w = waiting; waiting = null; w(l); } else lines.push(l);
    }
  });
  const line = (): Promise<string> => (lines.length ? Promise.resolve(lines.shift() as string) : new Promise((r) => { waiting = r; }));
  const details = async (): Promise<{ activeFlows: number; fds: number }> => {
    proc.stdin?.write('\n');
    return JSON.parse(await line());
  };
  const clients: net.Socket[] = [];
  try {
    assert.equal(await line(), 'ready');
    // The fewest descriptors over a few samples: relay threads starting up read their modules,
    // and a file open at the instant of one sample would make the room look smaller than it is.
    let idle = await details();
    for (let i = 0; i < 5; i++) {
      await sleep(100);
      const d = await details();
      if (d.fds < idle.fds) idle = d;
    }
    // More clients than the descriptors left allow (two per relayed connection; the count
    // included the one that listed them).
    const room = Math.floor((64 - idle.fds + 1) / 2);
    // Each client keeps its connection once served; the answer is the real server's name, or how it ended.
    const answers = Array.from({ length: room + 8 }, () => {
      const s = net.connect({ host: VIP, port });
      clients.push(s);
      return new Promise<string>((resolve) => {
        let buf = '';
        s.setEncoding('utf8');
        s.on('data', (d: string) => { buf += d; if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n'))); });
        s.on('error', () => resolve('reset'));
        s.on('close', () => resolve('closed'));
      });
    });
    await sleep(500);
    const full = await details();
    assert.ok(full.activeFlows > 0 && full.activeFlows <= room, `${full.activeFlows} sessions with room for ${room}`);
    // Free the descriptors: every client served so far leaves; those still waiting get served.
    const done = new Set<number>();
    for (;;) {
      const settled = await Promise.all(answers.map((p, i) => Promise.race([p.then((v) => [i, v] as const), sleep(100).then(() => null)])));
      for (const r of settled) {
        if (r === null || done.has(r[0])) continue;
        done.add(r[0]);
        clients[r[0]].destroy();
      }
      if (done.size === answers.length) break;
      if (settled.every((r) => r === null)) assert.fail(`${answers.length - done.size} clients hang`);
    }
    const got = await Promise.all(answers);
    assert.ok(got.every((g) => g === 'A' || g === 'reset' || g === 'closed'), got.join(','));
    await until(async () => (await details()).activeFlows === 0, 5000, 'every session to end');
    assert.equal(await whoServes(VIP, port), 'A');
  } finally {
    for (const s of clients) s.destroy();
    proc.stdin?.end();
    proc.kill('SIGKILL');
    await a.close();
  }
});
