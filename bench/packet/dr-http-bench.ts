// Short-connection HTTP requests/s (one request per TCP connection, "Connection: close") from a
// client through a director to two nginx real servers, in namespaces built here, in one run:
//   tslvs    `tslvs run --dataplane packet` on the director, DR (-g) to the real servers, which
//            hold the VIP on lo with arp_ignore=1 / arp_announce=2 (as `tslvs realserver start`);
//            the director sees only the client's half of each connection;
//   haproxy  HAProxy (mode tcp, nbthread 1, roundrobin) on the director's address: two TCP
//            connections per request, both halves through the director;
//   direct   the real servers without a director (two wrk, one per real server, half the
//            connections each): the limit of this machine.
// Prints each figure (median of the rounds, rounds interleaved), the director process's CPU per
// request, and the ratio tslvs/haproxy against the goal 1.5x.
//
// Needs root, the native addon, nginx, haproxy and wrk. Run it alone on the machine:
//   npx tsc -p . && flock /tmp/tslvs-bench.lock node dist/bench/packet/dr-http-bench.js \
//     [--seconds 5] [--rounds 3] [--conns 50] [--pin] [--only tslvs,haproxy,direct] [--opt k=v]...
// --pin puts the director (tslvs or HAProxy) on CPU 0 and wrk and nginx on the others.
// --opt passes --dataplane-opt k=v to tslvs (for example --opt ring=false).
// --cpu-prof writes a V8 CPU profile of the tslvs daemon into the current directory.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from '../../src/cli/control-client.js';
import { ip, Lab, nsExec, sleep } from '../../test/dataplane/packet/netns.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const TSLVS = join(REPO, 'bin', 'tslvs.js');
const TSLVSADM = join(REPO, 'bin', 'tslvsadm.js');

const VIP = '203.0.113.10';
const DIRECTOR = '198.51.100.1';
const CLIENT = '198.51.100.100';
const RS = ['198.51.100.11', '198.51.100.12'];

const args = process.argv.slice(2);
function opt(name: string, def: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
}
function all(name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) if (args[i] === name) out.push(args[i + 1]);
  return out;
}
const SECONDS = opt('--seconds', 5);
const ROUNDS = opt('--rounds', 3);
const CONNS = opt('--conns', 50);
const PIN = args.includes('--pin') && cpus().length >= 2;
const CPU_PROF = args.includes('--cpu-prof');
const ONLY = all('--only').flatMap((x) => x.split(','));
const DP_OPTS = all('--opt');
const GOAL = 1.5;

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

interface WrkResult { rps: number; requests: number; errors: number }

function unitMs(v: string, u: string): number {
  const n = Number(v);
  return u === 'us' ? n / 1000 : u === 'ms' ? n : u === 's' ? n * 1000 : u === 'm' ? n * 60_000 : NaN;
}

function parseWrk(out: string): WrkResult {
  const m = /(\d+) requests in ([\d.]+)(\w+),/.exec(out);
  const requests = m ? Number(m[1]) : 0;
  const secs = m ? unitMs(m[2], m[3]) / 1000 : NaN;
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  // A read error on a closed connection is how wrk counts the server's close after the answer
  // when it raced the next request: not an error of the path. Connect errors and timeouts are.
  const errors = (se ? Number(se[1]) + Number(se[4]) : 0) + non2xx;
  return { rps: requests / secs, requests, errors };
}

/** wrk -t1 in the client's namespace, short connections; resolves to its result. */
function wrk(ns: string, url: string, conns: number, cpu: string | null): Promise<WrkResult> {
  const argv = ['netns', 'exec', ns, ...(cpu !== null ? ['taskset', '-c', cpu] : []), 'wrk', '-t1', `-c${conns}`, `-d${SECONDS}s`, '-H', 'Connection: close', url];
  return new Promise((res) => {
    const c = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    c.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    c.on('exit', () => res(parseWrk(out)));
  });
}

/** utime + stime of a process and its threads, in clock ticks (USER_HZ = 100). */
function cpuTicks(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return NaN;
  }
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function run(cmd: string, argv: string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', env: env ?? process.env });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Every process in the lab's namespaces (nginx workers outlive a killed master), by pid. */
function killNamespaces(lab: Lab): void {
  for (const ns of lab.namespaces) {
    let pids: number[] = [];
    try { pids = ip('netns', 'pids', ns).split('\n').filter(Boolean).map(Number); } catch { /* gone */ }
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
}

async function waitHttp(ns: string, url: string, what: string): Promise<void> {
  let last = '';
  for (let t = 0; t < 50; t++) {
    const r = spawnSync('ip', ['netns', 'exec', ns, 'curl', '-sS', '-m', '1', '-o', '/dev/null', '-w', '%{http_code}', url], { encoding: 'utf8' });
    if (r.stdout === '200') return;
    last = `HTTP ${r.stdout} ${r.stderr.trim()}`;
    await sleep(100);
  }
  throw new Error(`${what} does not answer ${url}: ${last}`);
}

async function main(): Promise<void> {
  for (const t of ['nginx', 'haproxy', 'wrk', 'curl']) {
    if (!have(t)) throw new Error(`${t} is missing; install it (Debian: apt-get install nginx-light haproxy wrk curl) and run again`);
  }
  const want = (name: string): boolean => ONLY.length === 0 || ONLY.includes(name);
  const lab = new Lab();
  const tmp = mkdtempSync(join(tmpdir(), 'tslvs-drhttp-'));
  // nginx's worker runs as an unprivileged user: it must be able to read the pages.
  chmodSync(tmp, 0o755);
  const dirCpu = PIN ? '0' : null;
  const loadCpu = PIN ? `1-${cpus().length - 1}` : null;
  const pinned = (cpu: string | null, cmd: string, argv: string[]): [string, string[]] => (cpu !== null ? ['taskset', ['-c', cpu, cmd, ...argv]] : [cmd, argv]);
  let daemonLog = '';
  const onSignal = (): void => { killNamespaces(lab); lab.cleanup(); rmSync(tmp, { recursive: true, force: true }); process.exit(130); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const br = lab.bridge('br');
    const client = lab.ns('cl');
    const director = lab.ns('dir');
    const rs = [lab.ns('rs1'), lab.ns('rs2')];
    lab.attach(client, 'eth0', br, 'c');
    lab.attach(director, 'eth0', br, 'd');
    rs.forEach((ns, i) => lab.attach(ns, 'eth0', br, `r${i}`));
    nsExec(client, 'ip', 'addr', 'add', `${CLIENT}/24`, 'dev', 'eth0');
    // The VIP is on the link: the client ARPs for it and the dataplane answers.
    nsExec(client, 'ip', 'route', 'add', `${VIP}/32`, 'dev', 'eth0');
    nsExec(director, 'ip', 'addr', 'add', `${DIRECTOR}/24`, 'dev', 'eth0');
    nsExec(director, 'sysctl', '-qw', 'net.ipv4.ip_forward=0');
    for (const ns of [client, director, ...rs]) {
      // Many short connections: the whole port range, and listen queues that do not overflow.
      nsExec(ns, 'sysctl', '-qw', 'net.ipv4.ip_local_port_range=1024 65535', 'net.ipv4.tcp_tw_reuse=1', 'net.core.somaxconn=4096', 'net.ipv4.tcp_max_syn_backlog=4096');
    }
    rs.forEach((ns, i) => {
      nsExec(ns, 'ip', 'addr', 'add', `${RS[i]}/24`, 'dev', 'eth0');
      nsExec(ns, 'ip', 'addr', 'add', `${VIP}/32`, 'dev', 'lo');
      nsExec(ns, 'sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2',
        'net.ipv4.conf.eth0.arp_ignore=1', 'net.ipv4.conf.eth0.arp_announce=2');
      const d = join(tmp, `rs${i + 1}`);
      mkdirSync(d, { mode: 0o755 });
      writeFileSync(join(d, 'index.html'), `real server ${i + 1}\n`);
      const paths = `client_body_temp_path ${d}; proxy_temp_path ${d}; fastcgi_temp_path ${d}; uwsgi_temp_path ${d}; scgi_temp_path ${d};`;
      writeFileSync(join(d, 'nginx.conf'), `daemon off; worker_processes 1; pid ${d}/nginx.pid; error_log ${d}/error.log;
events { worker_connections 8192; }
http { access_log off; ${paths}
  server { listen 80 backlog=4096 reuseport; root ${d}; } }
`);
      lab.spawnIn(ns, ...pinned(loadCpu, 'nginx', ['-c', join(d, 'nginx.conf'), '-p', d]));
    });
    for (let i = 0; i < rs.length; i++) await waitHttp(client, `http://${RS[i]}/`, `nginx on real server ${i + 1}`);

    interface Target { name: string; url: string; pid: () => number | undefined }
    const targets: Target[] = [];

    if (want('tslvs')) {
      const sock = join(tmp, 'tslvs.sock');
      const dopts = ['localAddr=198.51.100.1/24', ...DP_OPTS].flatMap((o) => ['--dataplane-opt', o]);
      const nodeArgs = CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.cwd()] : [];
      const d = lab.spawnIn(director, ...pinned(dirCpu, process.execPath, [...nodeArgs, TSLVS, 'run', '--dataplane', 'packet', '--interface', 'eth0', ...dopts,
        '--http', 'off', '--socket', sock, '--state-dir', join(tmp, 'state')]));
      d.stderr?.on('data', (b: Buffer) => { daemonLog += b.toString(); });
      let pid: number | undefined;
      for (let t = 0; t < 200 && pid === undefined; t++) {
        if (d.exitCode !== null) throw new Error(`tslvs run exited ${d.exitCode}: ${daemonLog}`);
        try {
          const r = await request({ type: 'hello', version: 1 }, { socketPath: sock, timeoutMs: 2000 });
          if (r.type === 'hello') pid = r.pid;
        } catch { /* not yet listening */ }
        if (pid === undefined) await sleep(50);
      }
      if (pid === undefined) throw new Error(`tslvs run did not answer: ${daemonLog}`);
      const env = { ...process.env, TSLVS_SOCKET: sock };
      run(process.execPath, [TSLVSADM, '-A', '-t', `${VIP}:80`, '-s', 'rr'], env);
      for (const r of RS) run(process.execPath, [TSLVSADM, '-a', '-t', `${VIP}:80`, '-r', r, '-g'], env);
      await waitHttp(client, `http://${VIP}/`, 'tslvs (DR)');
      const p = pid;
      targets.push({ name: 'tslvs', url: `http://${VIP}/`, pid: () => p });
    }

    if (want('haproxy')) {
      const cfg = join(tmp, 'haproxy.cfg');
      writeFileSync(cfg, `global
  nbthread 1
  maxconn 4000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend f
  bind ${DIRECTOR}:80 backlog 4096
  default_backend b
backend b
  balance roundrobin
  server s1 ${RS[0]}:80
  server s2 ${RS[1]}:80
`);
      const h = lab.spawnIn(director, ...pinned(dirCpu, 'haproxy', ['-db', '-f', cfg]));
      let hlog = '';
      h.stderr?.on('data', (b: Buffer) => { hlog += b.toString(); });
      h.stdout?.on('data', (b: Buffer) => { hlog += b.toString(); });
      await waitHttp(client, `http://${DIRECTOR}/`, 'HAProxy').catch((err: Error) => { throw new Error(`${err.message}; haproxy said: ${hlog}`); });
      targets.push({ name: 'haproxy', url: `http://${DIRECTOR}/`, pid: () => h.pid });
    }
    if (want('direct')) targets.push({ name: 'direct', url: '', pid: () => undefined });

    const rps = new Map<string, number[]>();
    const cpuUs = new Map<string, number[]>();
    const errors = new Map<string, number>();
    const push = (m: Map<string, number[]>, k: string, v: number): void => { m.set(k, [...(m.get(k) ?? []), v]); };
    console.log(`# ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${PIN ? 'director on CPU 0, wrk and nginx on the others' : 'no pinning'}; ` +
      `wrk -t1 -c${CONNS} -H "Connection: close", ${SECONDS} s x ${ROUNDS} rounds, median; nginx 1 worker per real server; HAProxy nbthread 1${DP_OPTS.length ? `; tslvs ${DP_OPTS.join(' ')}` : ''}`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets) {
        let r: WrkResult;
        const pid = t.pid();
        const before = cpuTicks(pid);
        if (t.name === 'direct') {
          const half = Math.max(1, CONNS >> 1);
          const [a, b] = await Promise.all(RS.map((addr) => wrk(client, `http://${addr}/`, half, loadCpu)));
          r = { rps: a.rps + b.rps, requests: a.requests + b.requests, errors: a.errors + b.errors };
        } else {
          r = await wrk(client, t.url, CONNS, loadCpu);
        }
        const after = cpuTicks(pid);
        push(rps, t.name, r.rps);
        push(cpuUs, t.name, ((after - before) * 10_000) / Math.max(1, r.requests));
        errors.set(t.name, (errors.get(t.name) ?? 0) + r.errors);
        console.log(`  round ${round + 1} ${t.name.padEnd(8)} ${r.rps.toFixed(0).padStart(8)} req/s${r.errors ? `  (${r.errors} errors)` : ''}`);
      }
    }
    const fmt = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
    console.log('');
    console.log('short connections'.padEnd(22) + targets.map((t) => t.name.padStart(12)).join(''));
    console.log('requests/s'.padEnd(22) + targets.map((t) => fmt(median(rps.get(t.name) ?? [])).padStart(12)).join(''));
    console.log('director CPU us/req'.padEnd(22) + targets.map((t) => (t.name === 'direct' ? '-' : fmt(median(cpuUs.get(t.name) ?? []), 1)).padStart(12)).join(''));
    const direct = median(rps.get('direct') ?? []);
    if (Number.isFinite(direct)) console.log('share of direct'.padEnd(22) + targets.map((t) => fmt(median(rps.get(t.name) ?? []) / direct, 2).padStart(12)).join(''));
    const ratio = median(rps.get('tslvs') ?? []) / median(rps.get('haproxy') ?? []);
    console.log('');
    console.log(`ratio tslvs/haproxy: ${fmt(ratio, 2)}x (goal >= ${GOAL}x: ${Number.isFinite(ratio) ? (ratio >= GOAL ? 'met' : 'NOT met') : 'n/a'})`);
    const errs = [...errors].filter(([, n]) => n > 0);
    console.log(errs.length ? `# wrk connect errors, timeouts or non-2xx: ${errs.map(([k, n]) => `${k}=${n}`).join(' ')}` : '# no wrk connect errors, timeouts or non-2xx responses');
    if (targets.some((t) => t.name === 'tslvs')) {
      const st = await request({ type: 'status' }, { socketPath: join(tmp, 'tslvs.sock'), timeoutMs: 10_000 }).catch(() => null);
      const ds = st && st.type === 'status' ? st.status.dataplaneStats as { activeFlows?: number; drops?: Record<string, number> } : undefined;
      if (ds) console.log(`# tslvs: ${ds.activeFlows ?? '?'} connection entries at the end (FIN_WAIT lasts 2 min); drops ${JSON.stringify(ds.drops ?? {})}`);
    }
  } finally {
    // The daemon gets SIGTERM first, so that --cpu-prof can write its profile.
    for (const c of lab.children) if (c.exitCode === null) c.kill('SIGTERM');
    await sleep(CPU_PROF ? 2000 : 300);
    killNamespaces(lab);
    lab.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
