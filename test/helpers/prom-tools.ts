/**
 * Debian's Prometheus tools for the observability tests: prometheus-node-exporter (its ipvs
 * collector reading a directory given as --path.procfs), promtool (the exposition linter) and
 * the prometheus server. Each runs on a free loopback port and is always stopped. CI installs
 * the packages (prometheus, prometheus-node-exporter); elsewhere a missing tool skips the test
 * with a message that says which package to install, and under CI=true it fails instead.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

export const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
export const PROMTOOL = '/usr/bin/promtool';
export const PROMETHEUS = '/usr/bin/prometheus';

/** null when the tool is there; else the skip message (or a throw under CI). */
export function missingTool(path: string, pkg: string): string | null {
  if (existsSync(path)) return null;
  const msg = `needs ${path}: apt-get install ${pkg}`;
  if (process.env.CI) throw new Error(`${msg} (CI must install it: see .ci/run)`);
  return msg;
}

/** A port nobody listens on right now (127.0.0.1). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function httpGet(url: string, timeoutMs = 5000): Promise<{ status: number; body: string; type: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') ?? '' };
}

/** Polls `url` until it answers 200 (or the process dies, or time runs out). */
export async function waitHttp(url: string, proc: ChildProcess | null, timeoutMs = 15000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`process exited (${proc.exitCode}) before ${url} answered`);
    try {
      const r = await httpGet(url, 2000);
      if (r.status === 200) return r.body;
      last = `HTTP ${r.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms: ${last}`);
}

export interface Running {
  proc: ChildProcess;
  url: string;
  log(): string;
  stop(): Promise<void>;
}

function run(cmd: string, args: string[], url: string): Running {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout?.on('data', (b: Buffer) => { log += b.toString(); });
  proc.stderr?.on('data', (b: Buffer) => { log += b.toString(); });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc, url, log: () => log,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** node_exporter with only its ipvs collector, reading `procfs`; resolves once it answers. */
export async function startNodeExporter(procfs: string): Promise<Running> {
  const port = await freePort();
  const r = run(NODE_EXPORTER, [
    '--collector.disable-defaults', '--collector.ipvs', `--path.procfs=${procfs}`, `--web.listen-address=127.0.0.1:${port}`,
  ], `http://127.0.0.1:${port}/metrics`);
  try {
    await waitHttp(r.url, r.proc);
  } catch (err) {
    await r.stop();
    throw new Error(`${(err as Error).message}\n${r.log()}`);
  }
  return r;
}

/** The node_ipvs_* families of a scrape (HELP, TYPE and samples), in the order printed. */
export function nodeIpvsPart(scrape: string): string {
  return scrape.split('\n').filter((l) => /^(# (HELP|TYPE) )?node_ipvs_/.test(l)).map((l) => `${l}\n`).join('');
}

/** promtool check metrics on `text`: its exit status and what it said. */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A Prometheus server scraping `target` (host:port) every second, storing under `dataDir`. */
export async function startPrometheus(target: string, configFile: string, dataDir: string, writeConfig: (path: string, text: string) => void): Promise<Running> {
  const port = await freePort();
  writeConfig(configFile, [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: tslvs',
    '    static_configs:',
    `      - targets: ['${target}']`,
    '',
  ].join('\n'));
  const r = run(PROMETHEUS, [
    `--config.file=${configFile}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=127.0.0.1:${port}`,
  ], `http://127.0.0.1:${port}`);
  try {
    await waitHttp(`${r.url}/-/ready`, r.proc, 30000);
  } catch (err) {
    await r.stop();
    throw new Error(`${(err as Error).message}\n${r.log()}`);
  }
  return r;
}
