// tslvs's proxy dataplane against HAProxy (mode tcp, same number of threads), nginx's stream
// proxy and the real servers reached directly, in one run on one machine with the same nginx
// real servers and wrk as the client. Prints each figure and its ratio to HAProxy:
//   short connections (Connection: close) req/s, keep-alive req/s, 1 MiB responses bytes/s,
//   p99 latency at a fixed request rate; plus each proxy's CPU time per request.
// Also a naive `net.Socket.pipe()` proxy, to compare with the brief's reference figures.
//
//   npm run build && node dist/bench/proxy/bench.js [--seconds 5] [--rounds 3] [--pin] [--conns 50]
//       [--only tslvs,haproxy] [--scenarios short,keepalive,1mib,p99]
//
// "tslvs" relays through the native relay (native/src/relay.c) when it is built; "tslvs-uv" is
// the same dataplane through Node's TCP handles (nativeRelay 0), what runs without the addon.
//
// Installs haproxy, nginx-light, libnginx-mod-stream and wrk with apt-get when they are missing
// (needs root). Targets run interleaved, round by round; the median of the rounds is reported.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
function opt(name: string, def: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
}
const SECONDS = opt('--seconds', 5);
const ROUNDS = opt('--rounds', 3);
/**
 * Threads per proxy: HAProxy nbthread N, nginx N workers; tslvs N threads in all: with N ≥ 2 its
 * core thread accepts and schedules and N-1 relay threads connect and relay (setting threads).
 */
const THREADS = opt('--threads', 1);
const CONNS = opt('--conns', 50);
const PIN = args.includes('--pin') && cpus().length >= 2;
function list(name: string): string[] | null {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1].split(',') : null;
}
const ONLY = list('--only');
const SCENARIOS = list('--scenarios');
const FIXED_CONNS = 20;
const FIXED_DELAY_MS = 10;

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function ensureTools(): void {
  const missing: string[] = [];
  if (!have('haproxy')) missing.push('haproxy');
  if (!have('nginx')) missing.push('nginx-light');
  if (!have('wrk')) missing.push('wrk');
  const streamMod = '/usr/lib/nginx/modules/ngx_stream_module.so';
  if (spawnSync('test', ['-e', streamMod]).status !== 0) missing.push('libnginx-mod-stream');
  if (missing.length === 0) return;
  console.log(`# installing ${missing.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
  if (r.status !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed; install them and run again`);
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function waitListen(port: number, proc: ChildProcess, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`${what} does not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function launch(cmd: string, argv: string[], cpu: string | null): ChildProcess {
  const full = cpu !== null ? ['taskset', ['-c', cpu, cmd, ...argv]] as const : [cmd, argv] as const;
  const p = spawn(full[0], [...full[1]], { stdio: ['ignore', 'ignore', 'inherit'] });
  return p;
}

/** utime + stime of a process and its threads, in clock ticks (USER_HZ = 100). */
function cpuTicks(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return NaN;
  }
}

interface WrkResult { rps: number; bytesPerS: number; p99Ms: number; errors: number; requests: number }

function unit(v: string, u: string): number {
  const n = Number(v);
  switch (u) {
    case 'us': return n / 1000;
    case 'ms': return n;
    case 's': return n * 1000;
    case 'm': return n * 60_000;
    case 'B': return n;
    case 'KB': return n * 1024;
    case 'MB': return n * 1024 * 1024;
    case 'GB': return n * 1024 * 1024 * 1024;
    default: return NaN;
  }
}

function wrk(url: string, extra: string[], conns: number, cpu: string | null): WrkResult {
  const a = ['-t1', `-c${conns}`, `-d${SECONDS}s`, '--latency', ...extra, url];
  const r = cpu !== null ? spawnSync('taskset', ['-c', cpu, 'wrk', ...a], { encoding: 'utf8' }) : spawnSync('wrk', a, { encoding: 'utf8' });
  const out = r.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const m = /(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read/.exec(out);
  const requests = m ? Number(m[1]) : 0;
  const secs = m ? unit(m[2], m[3]) / 1000 : NaN;
  const bytes = m ? unit(m[4], m[5]) : NaN;
  const p99 = /\s99%\s+([\d.]+)(\w+)/.exec(out);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = (se ? Number(se[1]) + Number(se[2]) + Number(se[3]) + Number(se[4]) : 0) + non2xx;
  return { rps, bytesPerS: bytes / secs, p99Ms: p99 ? unit(p99[1], p99[2]) : NaN, errors, requests };
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface Target { name: string; port: number; proc: ChildProcess | null }

async function main(): Promise<void> {
  ensureTools();
  const dir = mkdtempSync(join(tmpdir(), 'tslvs-bench-'));
  const procs: ChildProcess[] = [];
  const proxyCpu = PIN ? '0' : null;
  const loadCpu = PIN ? `1-${cpus().length - 1}` : null;
  try {
    writeFileSync(join(dir, 'small.txt'), 'hello world\n');
    const mib = Buffer.alloc(1 << 20);
    for (let i = 0; i < mib.length; i++) mib[i] = (i * 2654435761) >>> 24;
    writeFileSync(join(dir, '1m.bin'), mib);
    writeFileSync(join(dir, 'fixed.lua'), `function delay() return ${FIXED_DELAY_MS} end\n`);
    const [b1, b2, pT, pH, pN, pP, pU] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
    const tmpPaths = `client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};`;
    writeFileSync(join(dir, 'backend.conf'), `daemon off; worker_processes 1; pid ${dir}/backend.pid; error_log ${dir}/backend.err;
events { worker_connections 8192; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 10000000; ${tmpPaths}
  server { listen 127.0.0.1:${b1} backlog=4096 reuseport; listen 127.0.0.1:${b2} backlog=4096 reuseport; root ${dir}; } }
`);
    writeFileSync(join(dir, 'stream.conf'), `load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off; worker_processes ${THREADS}; pid ${dir}/stream.pid; error_log ${dir}/stream.err;
events { worker_connections 16384; }
stream { upstream rs { server 127.0.0.1:${b1}; server 127.0.0.1:${b2}; }
  server { listen 127.0.0.1:${pN} backlog=4096; proxy_pass rs; } }
`);
    writeFileSync(join(dir, 'haproxy.cfg'), `global
  nbthread ${THREADS}
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend f
  bind 127.0.0.1:${pH}
  default_backend b
backend b
  balance roundrobin
  server s1 127.0.0.1:${b1}
  server s2 127.0.0.1:${b2}
`);
    writeFileSync(join(dir, 'naive.mjs'), `import net from 'node:net';
net.createServer((c) => { const b = net.connect(${b1}, '127.0.0.1'); c.pipe(b).pipe(c);
  c.on('error', () => b.destroy()); b.on('error', () => c.destroy()); }).listen(${pP}, '127.0.0.1', 4096);
`);
    const backend = launch('nginx', ['-c', join(dir, 'backend.conf'), '-p', dir], loadCpu);
    procs.push(backend);
    await waitListen(b1, backend, 'nginx real servers');
    const targets: Target[] = [];
    const want = (name: string): boolean => ONLY === null || ONLY.includes(name) || name === 'haproxy';
    const serve = (port: number, extra: string[]): ChildProcess =>
      launch(process.execPath, [join(here, 'serve.js'), `127.0.0.1:${port}`, `127.0.0.1:${b1}`, `127.0.0.1:${b2}`, '--sched', 'rr', ...extra], proxyCpu);
    const all: [string, number, () => ChildProcess | null][] = [
      ['tslvs', pT, () => serve(pT, THREADS > 1 ? ['--set', `threads=${THREADS - 1}`] : [])],
      ['tslvs-uv', pU, () => serve(pU, ['--set', 'nativeRelay=0'])],
      ['haproxy', pH, () => launch('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], proxyCpu)],
      ['nginx-stream', pN, () => launch('nginx', ['-c', join(dir, 'stream.conf'), '-p', dir], proxyCpu)],
      ['naive-pipe', pP, () => launch(process.execPath, [join(dir, 'naive.mjs')], proxyCpu)],
      ['direct', b1, () => null],
    ];
    for (const [name, port, start] of all) {
      if (!want(name)) continue;
      const proc = start();
      if (proc !== null) {
        procs.push(proc);
        await waitListen(port, proc, name);
      }
      targets.push({ name, port, proc });
    }
    // nginx's master forks the worker that does the work: measure the worker.
    const ngx = targets.find((t) => t.name === 'nginx-stream')?.proc;
    const ngxWorkers = ngx ? spawnSync('pgrep', ['-P', String(ngx.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').map(Number) : [];
    const pidsOf = (t: Target): number[] => (t.name === 'nginx-stream' ? ngxWorkers : t.proc?.pid ? [t.proc.pid] : []);
    const ticksOf = (t: Target): number => {
      const p = pidsOf(t);
      return p.length ? p.reduce((a, pid) => a + cpuTicks(pid), 0) : NaN;
    };

    const allScenarios = [
      { key: 'short', what: 'short connections req/s', path: '/small.txt', extra: ['-H', 'Connection: close'], conns: CONNS, metric: (r: WrkResult) => r.rps },
      { key: 'keepalive', what: 'keep-alive req/s', path: '/small.txt', extra: [], conns: CONNS, metric: (r: WrkResult) => r.rps },
      { key: '1mib', what: '1 MiB responses MB/s', path: '/1m.bin', extra: [], conns: CONNS, metric: (r: WrkResult) => r.bytesPerS / 1e6 },
      { key: 'p99', what: `p99 ms at ~${Math.round(FIXED_CONNS * 1000 / FIXED_DELAY_MS)} req/s`, path: '/small.txt', extra: ['-s', join(dir, 'fixed.lua')], conns: FIXED_CONNS, metric: (r: WrkResult) => r.p99Ms },
    ];
    const scenarios = allScenarios.filter((sc) => SCENARIOS === null || SCENARIOS.includes(sc.key));
    const results = new Map<string, Map<string, number[]>>();
    const cpuPerReq = new Map<string, Map<string, number[]>>();
    const errors = new Map<string, number>();
    console.log(`# ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${PIN ? 'proxies pinned to CPU 0, wrk and real servers to the others' : 'no pinning'}; wrk -t1 -c${CONNS}, ${SECONDS} s x ${ROUNDS} rounds, median`);
    console.log(`# ${THREADS} thread(s) per proxy${THREADS > 1 ? ` (tslvs: 1 accepting and scheduling, ${THREADS - 1} relaying; tslvs-uv: 1)` : ''}`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const sc of scenarios) {
        for (const t of targets) {
          const before = ticksOf(t);
          const r = wrk(`http://127.0.0.1:${t.port}${sc.path}`, sc.extra, sc.conns, loadCpu);
          const after = ticksOf(t);
          const key = `${sc.key}/${t.name}`;
          errors.set(key, (errors.get(key) ?? 0) + r.errors);
          if (!results.has(sc.key)) { results.set(sc.key, new Map()); cpuPerReq.set(sc.key, new Map()); }
          const m = results.get(sc.key) as Map<string, number[]>;
          m.set(t.name, [...(m.get(t.name) ?? []), sc.metric(r)]);
          const c = cpuPerReq.get(sc.key) as Map<string, number[]>;
          c.set(t.name, [...(c.get(t.name) ?? []), ((after - before) * 10_000) / Math.max(1, r.requests)]);
        }
      }
    }
    const fmt = (x: number): string => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(2)) : 'n/a');
    console.log('');
    console.log('figure'.padEnd(34) + targets.map((t) => t.name.padStart(14)).join(''));
    for (const sc of scenarios) {
      const m = results.get(sc.key) as Map<string, number[]>;
      console.log(sc.what.padEnd(34) + targets.map((t) => fmt(median(m.get(t.name) ?? [])).padStart(14)).join(''));
      const h = median(m.get('haproxy') ?? []);
      console.log('  ratio to haproxy'.padEnd(34) + targets.map((t) => `${fmt(median(m.get(t.name) ?? []) / h)}x`.padStart(14)).join(''));
      const c = cpuPerReq.get(sc.key) as Map<string, number[]>;
      console.log('  proxy CPU us/request'.padEnd(34) + targets.map((t) => (t.proc ? fmt(median(c.get(t.name) ?? [])) : '-').padStart(14)).join(''));
    }
    const errs = [...errors].filter(([, n]) => n > 0);
    console.log('');
    console.log(errs.length ? `# wrk errors: ${errs.map(([k, n]) => `${k}=${n}`).join(' ')}` : '# no wrk socket errors or non-2xx responses');
    console.log('# goal: tslvs >= 1.0x haproxy on the three throughput figures, p99 <= 1.2x');
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
