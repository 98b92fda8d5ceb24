/**
 * Real tslvs daemon processes for tests: each on its own temporary socket and state directory,
 * started with `bin/tslvs.js run` exactly as a user would, and always cleaned up.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const TSLVS_BIN = join(REPO, 'bin', 'tslvs.js');

/** A fresh directory under the system temp dir; remove it with removeDir. */
export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `tslvs-${tag}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface DaemonProc {
  readonly proc: ChildProcess;
  readonly socket: string;
  readonly stateDir: string;
  /** Everything the daemon wrote to stderr so far. */
  log(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;
  /** Waits until the log matches `re` (or the process exits). */
  waitLog(re: RegExp, timeoutMs?: number): Promise<boolean>;
  kill(sig?: NodeJS.Signals): Promise<Exit>;
}

/**
 * Starts `tslvs run --dataplane none` (or the given dataplane) and waits until it listens, or
 * until it exits. `prefix` runs it through another command (`ip netns exec NS`).
 */
export async function startDaemonProcess(opts: { socket: string; stateDir: string; args?: string[]; env?: NodeJS.ProcessEnv; dataplane?: string; prefix?: string[] }): Promise<DaemonProc> {
  const extra = opts.args ?? [];
  // No HTTP listener unless the test asks for one: parallel tests must not race for 127.0.0.1:9180.
  const http = extra.includes('--http') || extra.some((a) => a.startsWith('--http=')) ? [] : ['--http', 'off'];
  const args = [TSLVS_BIN, 'run', '--dataplane', opts.dataplane ?? 'none', '--socket', opts.socket, '--state-dir', opts.stateDir, ...http, ...extra];
  const [cmd, ...pre] = opts.prefix?.length ? [...opts.prefix, process.execPath] : [process.execPath];
  const proc = spawn(cmd, [...pre, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  let log = '';
  const waiters: (() => void)[] = [];
  const onText = (b: Buffer) => {
    log += b.toString();
    for (const w of waiters.splice(0)) w();
  };
  proc.stderr?.on('data', onText);
  proc.stdout?.on('data', onText);
  const exited = new Promise<Exit>((res) => proc.on('exit', (code, signal) => {
    res({ code, signal });
    for (const w of waiters.splice(0)) w();
  }));
  let done = false;
  void exited.then(() => { done = true; });
  const waitLog = async (re: RegExp, timeoutMs = 15000): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(log)) {
      if (done || Date.now() > deadline) return re.test(log);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return true;
  };
  const d: DaemonProc = {
    proc, socket: opts.socket, stateDir: opts.stateDir, exited, waitLog,
    log: () => log,
    async kill(sig: NodeJS.Signals = 'SIGTERM') {
      if (!done) proc.kill(sig);
      return exited;
    },
  };
  await waitLog(/listening on|tslvs: .*\(TSLVS_ERR_/);
  return d;
}

/** Runs `tslvs ARGS...` to completion. */
export function runTslvs(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [TSLVS_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    p.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    p.on('exit', (code) => res({ code, stdout, stderr }));
  });
}
