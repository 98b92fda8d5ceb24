// Real server processes for the checker tests: small Node servers on loopback, nginx (Debian's
// nginx-light) and dnsmasq started on a free port with a throw-away configuration, and a way
// to build checker configurations from keepalived text. Not a test file itself.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKeepalivedText } from '../../src/config/keepalived/load.js';
import { systemHost } from '../../src/config/keepalived/system.js';
import type { CheckerConfig, KeepalivedConfig } from '../../src/config/keepalived/types.js';

/** A config from keepalived text, run as root with script security on (test scripts live in 0700 temp dirs). */
export function configOf(text: string): KeepalivedConfig {
  const r = parseKeepalivedText(`global_defs {\n enable_script_security\n script_user root\n}\n${text}`, 'test.conf', { host: { ...systemHost(), interfaces: () => null } });
  if (!r.config) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.config;
}

/** The first checker of the first real server of a one-VS config. */
export function checkerOf(rsBody: string, port: number, vsExtra = '', proto = 'TCP'): CheckerConfig {
  const c = configOf(`virtual_server 192.0.2.10 ${port} {\n lb_algo rr\n lb_kind NAT\n protocol ${proto}\n${vsExtra}\n real_server 127.0.0.1 ${port} {\n${rsBody}\n }\n}\n`);
  return c.virtualServers[0].realServers[0].checkers[0];
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

async function waitPort(port: number, proto: 'tcp' | 'udp', child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const out = spawnSync('ss', ['-lnH', proto === 'tcp' ? '-t' : '-u', `sport = :${port}`], { encoding: 'utf8' });
    if (out.stdout.trim() !== '') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${proto} ${port}`);
}

export interface Running { port: number; stop: () => Promise<void> }

/** nginx-light serving `files` (name → body) on 127.0.0.1:port, with /missing a 404. */
export async function startNginx(files: Record<string, string>): Promise<Running> {
  const t = tempDir('tslvs-nginx-');
  const port = await freePort();
  // nginx's workers run as an unprivileged user: let them read the files.
  chmodSync(t.dir, 0o755);
  for (const [name, body] of Object.entries(files)) writeFileSync(join(t.dir, name), body, { mode: 0o644 });
  writeFileSync(join(t.dir, 'nginx.conf'), `daemon off;
pid ${t.dir}/nginx.pid;
error_log ${t.dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${t.dir}/cb; proxy_temp_path ${t.dir}/px; fastcgi_temp_path ${t.dir}/fc; uwsgi_temp_path ${t.dir}/uw; scgi_temp_path ${t.dir}/sc;
  default_type text/plain;
  server { listen 127.0.0.1:${port}; root ${t.dir}; location = /down { return 503; } }
}
`);
  const child = spawn('nginx', ['-p', t.dir, '-c', join(t.dir, 'nginx.conf')], { stdio: 'ignore' });
  await waitPort(port, 'tcp', child);
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      t.remove();
    },
  };
}

/** dnsmasq answering only for `records` (name → IPv4) on 127.0.0.1:port; everything else REFUSED. */
export async function startDnsmasq(records: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const args = ['--keep-in-foreground', '--no-resolv', '--no-hosts', '--no-daemon', `--port=${port}`, '--listen-address=127.0.0.1',
    '--bind-interfaces', '--conf-file=/dev/null', '--pid-file=', '--user=root', '--log-facility=-', '--quiet-dhcp'];
  for (const [name, addr] of Object.entries(records)) args.push(`--host-record=${name},${addr}`);
  const child = spawn('dnsmasq', args, { stdio: 'ignore' });
  await waitPort(port, 'udp', child);
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}
