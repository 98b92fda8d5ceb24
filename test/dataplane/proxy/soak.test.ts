// Soak: the proxy (in its own process) under an open-loop load of 80 % of the rate it was just
// measured to sustain, for TSLVS_SOAK_SECONDS (default 600). Zero failed requests; RSS and the
// number of open file descriptors stay flat once the core's TIME_WAIT entries (120 s) have
// reached their steady count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep } from './harness.js';

const VIP = '127.0.0.15';
const SECONDS = Number(process.env.TSLVS_SOAK_SECONDS ?? 600);
const here = dirname(fileURLToPath(import.meta.url));

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function fds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function request(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: VIP, port });
    s.setNoDelay(true);
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d) => {
      buf += d;
      if (buf === 'R\nping') {
        s.end();
        resolve();
      } else if (buf === 'R\n') s.write('ping');
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error(`closed early ("${buf}")`)));
    s.setTimeout(10_000, () => s.destroy(new Error('timeout')));
  });
}

/** Ask the proxy child for its details (one JSON line per line written to its stdin). */
function details(proc: ChildProcess): Promise<{ activeFlows: number; buffersInUse: number; entries: number; fds: number }> {
  return new Promise((resolve) => {
    proc.stdout?.once('data', (d) => resolve(JSON.parse(String(d).trim().split('\n')[0])));
    proc.stdin?.write('\n');
  });
}

async function start(cmd: string, args: string[]): Promise<{ proc: ChildProcess; first: string }> {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve, reject) => {
    proc.stdout?.once('data', (d) => resolve(String(d).trim()));
    proc.once('exit', (c) => reject(new Error(`${args[0]} exited ${c}`)));
  });
  return { proc, first };
}

test(`soak: ${SECONDS} s at 80% of the measured maximum rate, zero failures, flat RSS and fd count`, { timeout: (SECONDS + 120) * 1000 }, async () => {
  const rs = await start(process.execPath, ['-e', `
    const net = require('net');
    const s = net.createServer((c) => { c.setNoDelay(true); c.on('error', () => {}); c.write('R\\n'); c.pipe(c); });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));
  `]);
  const port = await freePort(VIP);
  const proxy = await start(process.execPath, [join(here, 'proxy-child.js'), `${VIP}:${port}`, `127.0.0.1:${rs.first}`]);
  const pid = proxy.proc.pid as number;
  try {
    assert.equal(proxy.first, 'ready');
    const idleFds = (await details(proxy.proc)).fds;
    // 1. The maximum: 32 closed loops for 3 s.
    let done = 0;
    let failed = 0;
    const until = performance.now() + 3000;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (performance.now() < until) {
        try { await request(port); done++; } catch { failed++; }
      }
    }));
    assert.equal(failed, 0);
    const rate = Math.max(50, Math.floor((done / 3) * 0.8));
    while (fds(pid) > idleFds + 2) await sleep(50);
    // 2. Open loop at 80 %: a batch every 10 ms.
    const samples: { t: number; rss: number; fds: number; sessions: number }[] = [];
    let ok = 0;
    const inflight = new Set<Promise<void>>();
    const t0 = performance.now();
    let sent = 0;
    let nextSample = 0;
    while (performance.now() - t0 < SECONDS * 1000) {
      const elapsed = performance.now() - t0;
      const due = Math.floor((elapsed / 1000) * rate);
      for (; sent < due; sent++) {
        const p = request(port).then(() => { ok++; }, () => { failed++; }).finally(() => inflight.delete(p));
        inflight.add(p);
      }
      if (elapsed >= nextSample) {
        const d = await details(proxy.proc);
        samples.push({ t: elapsed / 1000, rss: rssKb(pid), fds: d.fds, sessions: d.activeFlows });
        nextSample += 1000;
      }
      await sleep(10);
    }
    await Promise.all(inflight);
    assert.equal(failed, 0, `${failed} of ${sent} requests failed`);
    assert.equal(ok, sent);
    // 3. Flat: compare the last part with the point where TIME_WAIT entries reached steady state
    // (after 130 s), or with the middle of a shorter run.
    const ref = SECONDS >= 260 ? 130 : SECONDS / 2;
    const base = samples.filter((s) => s.t >= ref);
    const first = base[0];
    const lastRss = Math.max(...base.slice(-5).map((s) => s.rss));
    const growth = SECONDS >= 260 ? 1.1 : 1.3;
    assert.ok(lastRss <= first.rss * growth, `RSS grew from ${first.rss} kB at ${first.t.toFixed(0)} s to ${lastRss} kB (rate ${rate}/s)`);
    // Two sockets per live session, nothing more; and back to the idle count afterwards.
    for (const s of samples) assert.ok(s.fds <= idleFds + 2 * s.sessions + 2, `${s.fds} fds with ${s.sessions} live sessions at ${s.t.toFixed(0)} s`);
    const deadline = performance.now() + 10_000;
    while (fds(pid) > idleFds + 2 && performance.now() < deadline) await sleep(100);
    const maxFds = Math.max(...samples.map((s) => s.fds));
    assert.ok(fds(pid) <= idleFds + 2, `${fds(pid)} fds after the load, ${idleFds} before`);
    const end = await details(proxy.proc);
    assert.equal(end.activeFlows, 0);
    assert.equal(end.buffersInUse, 0, 'every read buffer back in the pool');
    process.stdout.write(`# soak: ${rate} req/s for ${SECONDS} s, ${ok} ok, RSS ${first.rss} → ${lastRss} kB, fds max ${maxFds}\n`);
  } finally {
    proxy.proc.stdin?.end();
    proxy.proc.kill('SIGKILL');
    rs.proc.kill('SIGKILL');
  }
});
