/**
 * `tslvs demo` (what `npm start` runs): the seed guide's test, on this machine, without root.
 * Two small real servers answer with their own name (127.0.0.2:8080 and 127.0.0.3:8080, like the
 * seed's 192.168.1.100 and .201), a real `tslvs run` daemon with the proxy dataplane owns the
 * VIP 127.0.0.1:8080, the seed's ipvsadm lines go through the real `tslvsadm` (with -m: the proxy
 * relays as NAT does), a client's requests alternate between the two pages, and the `-L -n`
 * table is printed. Then it keeps serving until Ctrl-C, and cleans up its temporary state.
 * The daemon and tslvsadm run as child processes, exactly as a user would run them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TslvsError } from '../../errors.js';
import { request } from '../control-client.js';

const TSLVS = fileURLToPath(new URL('./main.js', import.meta.url));
const TSLVSADM = fileURLToPath(new URL('../../../../bin/tslvsadm.js', import.meta.url));
const REQUESTS = 6;

interface DemoOptions {
  vip: string;
  port: number;
}

function parseDemoOptions(argv: readonly string[]): DemoOptions {
  const opts: DemoOptions = { vip: '127.0.0.1', port: 8080 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port' && i + 1 < argv.length) {
      const p = Number(argv[++i]);
      if (!Number.isInteger(p) || p < 1 || p > 65535) {
        throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Invalid value "${argv[i]}" for --port`, 'give a TCP port 1..65535, e.g. --port 8088');
      }
      opts.port = p;
    } else {
      throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Unknown option "${a}" for "tslvs demo"`, 'the only option is --port N (the VIP port, default 8080)');
    }
  }
  return opts;
}

/** A real server answering with its name; the seed's Apache pages said which server they came from. */
function startRealServer(name: string, addr: string, port: number): Promise<http.Server> {
  const srv = http.createServer((req, res) => {
    const body = `${name}: real server ${addr}:${port} answered ${req.method} ${req.url}\n`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    srv.once('error', (err: NodeJS.ErrnoException) => {
      reject(new TslvsError('TSLVS_ERR_DEMO', `Cannot start the demo real server on ${addr}:${port} (${err.code ?? err.message})`,
        err.code === 'EADDRINUSE' ? `free the port (ss -ltnp 'sport = :${port}' shows who has it) or run "tslvs demo --port N"`
          : 'the demo needs 127.0.0.2 and 127.0.0.3 on the loopback interface, which Linux provides by default'));
    });
    srv.listen(port, addr, () => resolve(srv));
  });
}

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d; });
    p.stderr.on('data', (d: Buffer) => { err += d; });
    p.on('close', (code) => resolve({ code: code ?? 1, out, err }));
  });
}

function get(vip: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: vip, port, path: '/', agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

/** Starts `tslvs run` and waits until its control socket answers; rejects with its last log line. */
async function startDaemon(socket: string, stateDir: string, env: NodeJS.ProcessEnv): Promise<{ proc: ChildProcess; log: () => string }> {
  const proc = spawn(process.execPath, [TSLVS, 'run', '--dataplane', 'proxy', '--socket', socket, '--state-dir', stateDir],
    { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr?.on('data', (d: Buffer) => { log += d; });
  let exited: number | null = null;
  proc.on('exit', (code) => { exited = code ?? 1; });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited !== null) {
      throw new TslvsError('TSLVS_ERR_DEMO', `The demo daemon exited with status ${exited}: ${log.trim().split('\n').pop() ?? ''}`,
        'the line above names the problem; "tslvs run --dataplane proxy" shows it too');
    }
    try {
      await request({ type: 'status' }, { socketPath: socket, timeoutMs: 1000 });
      return { proc, log: () => log };
    } catch {
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new TslvsError('TSLVS_ERR_DEMO', 'The demo daemon did not answer on its control socket within 15 s', 'run "npm run build" and try again; "tslvs run" in the foreground shows its log');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function runDemo(argv: readonly string[]): Promise<number> {
  const opts = parseDemoOptions(argv);
  const out = (s: string) => process.stdout.write(s);
  const dir = mkdtempSync(join(tmpdir(), 'tslvs-demo-'));
  const socket = join(dir, 'tslvs.sock');
  const env: NodeJS.ProcessEnv = { ...process.env, TSLVS_SOCKET: socket };
  const servers: http.Server[] = [];
  let daemon: ChildProcess | null = null;
  const cleanup = async () => {
    for (const s of servers) s.close();
    if (daemon && daemon.exitCode === null) {
      const gone = new Promise((r) => daemon?.once('exit', r));
      daemon.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (daemon.exitCode === null) daemon.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const rs = [
      { name: 'rs1', addr: '127.0.0.2' },
      { name: 'rs2', addr: '127.0.0.3' },
    ];
    for (const r of rs) servers.push(await startRealServer(r.name, r.addr, opts.port));
    out(`Real servers: ${rs.map((r) => `${r.name} on ${r.addr}:${opts.port}`).join(', ')}\n`);

    const d = await startDaemon(socket, join(dir, 'state'), env);
    daemon = d.proc;
    out(`Director: tslvs run --dataplane proxy (pid ${d.proc.pid}), control socket ${socket}\n\n`);

    const vip = `${opts.vip}:${opts.port}`;
    const lines = [
      ['-A', '-t', vip, '-s', 'rr'],
      ...rs.map((r) => ['-a', '-t', vip, '-r', `${r.addr}:${opts.port}`, '-m']),
    ];
    for (const l of lines) {
      out(`# tslvsadm ${l.join(' ')}\n`);
      const r = await run(TSLVSADM, l, env);
      if (r.code !== 0) {
        throw new TslvsError('TSLVS_ERR_DEMO', `"tslvsadm ${l.join(' ')}" failed: ${r.err.trim().split('\n')[0]}`,
          r.err.includes('EADDRINUSE') || r.err.includes('in use') ? `free ${vip} or run "tslvs demo --port N"` : 'the line above names the problem');
      }
    }

    out(`\nA client asks http://${vip}/ ${REQUESTS} times:\n`);
    for (let i = 1; i <= REQUESTS; i++) out(`  ${i}. ${(await get(opts.vip, opts.port)).trim()}\n`);

    // The listing's counters are the estimator's 2 s snapshot, as in the kernel: wait for it.
    await new Promise((r) => setTimeout(r, 2100));
    for (const args of [['-L', '-n'], ['-L', '-n', '--stats']]) {
      out(`\n# tslvsadm ${args.join(' ')}\n`);
      out((await run(TSLVSADM, args, env)).out);
    }

    const st = await request({ type: 'status' }, { socketPath: socket });
    const httpUrl = st.type === 'status' && typeof st.status.http === 'string' ? st.status.http : null;
    out('\nThe director keeps serving. Look around:\n');
    out(`  curl http://${vip}/\n`);
    out(`  TSLVS_SOCKET=${socket} ./bin/tslvsadm.js -L -n --rate\n`);
    out(`  TSLVS_SOCKET=${socket} ./bin/tslvs.js top\n`);
    if (httpUrl) out(`  dashboard ${httpUrl}   metrics ${httpUrl.replace(/\/$/, '')}/metrics\n`);
    out('Press Ctrl-C to stop.\n');

    const stop = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
      d.proc.once('exit', (code) => resolve(`the daemon exited (${code}): ${d.log().trim().split('\n').pop() ?? ''}`));
    });
    out(`\nStopping (${stop}).\n`);
    return stop.startsWith('SIG') ? 0 : 1;
  } finally {
    await cleanup();
  }
}
