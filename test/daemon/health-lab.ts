// Real servers and a real daemon for the health end-to-end tests: each real server is its own
// Node HTTP server process (killed with SIGKILL to fail, started again to recover), the daemon
// is `tslvs run -f keepalived.conf` with the proxy dataplane on a loopback VIP of its own.
// Not a test file itself.
import { type ChildProcess, spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '../../src/cli/control-client.js';
import type { DestSnapshot, Response, TableSnapshot } from '../../src/control/protocol.js';
import { type DaemonProc, startDaemonProcess } from '../helpers/daemon.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A loopback address of this test's own (127.64-127.127.x.y), so parallel tests never share a VIP. */
export function loopbackVip(): string {
  const r = (n: number) => Math.floor(Math.random() * n);
  return `127.${64 + r(64)}.${r(256)}.${1 + r(254)}`;
}

export interface RealServer {
  readonly name: string;
  readonly port: number;
  proc: ChildProcess | null;
  start(): Promise<void>;
  /** SIGKILL: the port refuses at once, as a crashed server's does. */
  kill(): Promise<void>;
}

/**
 * An HTTP real server process on 127.0.0.1:port answering its name; GET /hold answers with
 * keep-alive so one connection carries several requests.
 */
export function realServer(name: string, port: number, addr = '127.0.0.1'): RealServer {
  const code = `const s = require('http').createServer((q, r) => { r.setHeader('x-server', ${JSON.stringify(name)}); r.end(${JSON.stringify(name)}); });` +
    `s.keepAliveTimeout = 60000; s.listen(${port}, ${JSON.stringify(addr)}, () => process.stdout.write('ready\\n'));`;
  const rs: RealServer = {
    name, port, proc: null,
    async start() {
      const p = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
      rs.proc = p;
      await new Promise<void>((resolve, reject) => {
        p.stdout!.once('data', () => resolve());
        p.once('exit', (c) => reject(new Error(`real server ${name} exited with ${c}`)));
      });
    },
    async kill() {
      const p = rs.proc;
      rs.proc = null;
      if (!p || p.exitCode !== null) return;
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await gone;
    },
  };
  return rs;
}

/** One HTTP GET on a new connection; resolves to the answering server's name (or the error code). */
export function get(addr: string, port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: addr, port, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => { body += b.toString(); });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
    req.end();
  });
}

/** A kept-alive HTTP/1.1 connection: each ask() sends one request on the same socket. */
export async function keptConnection(addr: string, port: number): Promise<{ ask(): Promise<string>; close(): void; closed(): boolean }> {
  const s = new Socket();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.connect(port, addr, () => resolve());
  });
  let buf = '';
  let closed = false;
  s.on('close', () => { closed = true; });
  s.on('error', () => { closed = true; });
  return {
    ask() {
      buf = '';
      return new Promise((resolve) => {
        const onData = (b: Buffer) => {
          buf += b.toString();
          const m = /\r\n\r\n([\s\S]*)$/.exec(buf);
          const len = /content-length: (\d+)/i.exec(buf);
          if (m && len && m[1].length >= Number(len[1])) {
            s.off('data', onData);
            resolve(m[1].slice(0, Number(len[1])));
          }
        };
        s.on('data', onData);
        s.once('close', () => resolve('closed'));
        s.write('GET /hold HTTP/1.1\r\nHost: vip\r\nConnection: keep-alive\r\n\r\n');
      });
    },
    close() { s.destroy(); },
    closed: () => closed,
  };
}

export function tableOf(res: Response): TableSnapshot {
  if (res.type !== 'table') throw new Error(`expected a table, got ${JSON.stringify(res)}`);
  return res.table;
}

/** The daemon's table as `tslvsadm -L` gets it. */
export async function table(socket: string): Promise<TableSnapshot> {
  return tableOf(await request({ type: 'get-table' }, { socketPath: socket }));
}

/** The destination on `port` of the service on `vport`, or undefined. */
export function destOn(t: TableSnapshot, vport: number, port: number): DestSnapshot | undefined {
  return t.services.find((s) => s.port === vport)?.dests.find((d) => d.port === port);
}

/** Polls `pred` on the table every 10 ms; resolves to the time (performance.now) it first held, or throws. */
export async function until(socket: string, pred: (t: TableSnapshot) => boolean, what: string, timeoutMs = 15_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const t = await table(socket);
    if (pred(t)) return performance.now();
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(t.services.map((s) => [s.port, s.dests.map((d) => [d.port, d.weight])]))}`);
    await sleep(10);
  }
}

/** The daemon's status facts (with -f: `health`). */
export async function status(socket: string): Promise<Record<string, unknown>> {
  const r = await request({ type: 'status' }, { socketPath: socket });
  if (r.type !== 'status') throw new Error(JSON.stringify(r));
  return r.status;
}

export interface CheckerFacts { checker: string; up: boolean; lastResult: string | null; lastOk: boolean | null; lastCheckMs: number | null; lastTransitionMs: number | null; latencyMs: number | null }
export interface RsFacts { virtualServer: string; realServer: string; alive: boolean; inTable: boolean; weight: number; lastTransitionMs: number | null; checkers: CheckerFacts[] }

export async function healthFacts(socket: string): Promise<RsFacts[]> {
  const h = (await status(socket)).health as { realServers: RsFacts[] } | null;
  if (!h) throw new Error('no health in status');
  return h.realServers;
}

/** Writes keepalived.conf into `dir` and starts `tslvs run -f` on it. */
export async function kaDaemon(dir: string, conf: string, extra: string[] = [], dataplane = 'proxy', prefix?: string[]): Promise<{ d: DaemonProc; conf: string; socket: string }> {
  const path = join(dir, 'keepalived.conf');
  writeFileSync(path, conf);
  const socket = join(dir, 's.sock');
  const d = await startDaemonProcess({ socket, stateDir: join(dir, 'state'), dataplane, args: ['-f', path, ...extra], prefix });
  if (!/listening on/.test(d.log())) throw new Error(`daemon did not start:\n${d.log()}`);
  return { d, conf: path, socket };
}
