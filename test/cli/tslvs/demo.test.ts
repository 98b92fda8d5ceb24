// `tslvs demo` is what `npm start` runs: the seed's test on loopback, then a director that keeps
// serving until Ctrl-C. Runs the real command as a child process and talks to what it started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../../src/cli/tslvs/main.js');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    // The demo binds the port on 127.0.0.1, .2 and .3; ask for one free on the VIP.
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { b += d; });
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
}

test('tslvs demo alternates the seed\'s two pages through a real director, lists the table, serves until Ctrl-C and cleans up', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const p = spawn(process.execPath, [MAIN, 'demo', '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.setEncoding('utf8');
  p.stdout.on('data', (d: string) => { out += d; });
  p.stderr.on('data', (d: Buffer) => { err += d; });
  const exited = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  try {
    const deadline = Date.now() + 45_000;
    while (!out.includes('Press Ctrl-C to stop.')) {
      assert.ok(Date.now() < deadline, `demo did not get ready: ${out}\n${err}`);
      assert.equal(p.exitCode, null, `demo exited early: ${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const answers = [...out.matchAll(/^ {2}\d\. (rs\d):/gm)].map((m) => m[1]);
    assert.equal(answers.length, 6);
    for (let i = 1; i < answers.length; i++) assert.notEqual(answers[i], answers[i - 1], `not alternating: ${answers.join(' ')}`);
    assert.deepEqual(new Set(answers), new Set(['rs1', 'rs2']));
    // The -L -n table, as ipvsadm prints it, with the three InActConn each after the closes.
    assert.match(out, new RegExp(`^TCP  127\\.0\\.0\\.1:${port} rr\\n  -> 127\\.0\\.0\\.2:${port} +Masq {4}1 {6}0 {10}3 +\\n  -> 127\\.0\\.0\\.3:${port} +Masq {4}1 {6}0 {10}3 +$`, 'm'));
    assert.match(out, new RegExp(`^TCP  127\\.0\\.0\\.1:${port} +6 `, 'm'), 'the --stats listing counts six connections');
    const dir = /control socket (\S+)\/tslvs\.sock/.exec(out)?.[1];
    assert.ok(dir && existsSync(dir));
    // Still serving after the guided part.
    assert.match(await get(port), /^rs[12]: real server/);
    p.kill('SIGINT');
    assert.equal(await exited, 0, err);
    assert.match(out, /Stopping \(SIGINT\)/);
    assert.equal(existsSync(dir), false, 'temporary state removed');
    await assert.rejects(get(port), 'nothing listens on the VIP after the demo stopped');
  } finally {
    if (p.exitCode === null) p.kill('SIGKILL');
  }
});
