/**
 * tslvsadm -R of 10,000 services × 10 real servers (110,000 lines, ipvsadm-save -n format)
 * into a `tslvs run --dataplane none` daemon, then `tslvsadm -L -n` of the result, each timed
 * as a whole process (start-up included), as a user would run them; `-v` times the start-up alone.
 *
 * The peer is the real ipvsadm with the kernel's IPVS, measured in the same run when this
 * machine has it (root, ip_vs loadable: e.g. inside the ipvs-oracle VM, see
 * bench/adm/kernel-restore-bench.sh); the real table is flushed before and after.
 * Goal: tslvs ≤ 1.0× the kernel for both, and the restore ≤ 2 s.
 * Each round restores into an empty table; the medians of the rounds are printed (the machine
 * may be shared: the load average is printed too). Where the kernel is measured, the -L -n and
 * -S -n outputs of both are compared byte for byte, and the tslvs daemon is stopped (SIGSTOP)
 * while the kernel's side is timed, so that its periodic work does not slow the kernel's down.
 *
 *   npx tsc -p . && node dist/bench/adm/restore-bench.js [services] [destsPerService] [rounds]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, openSync, closeSync, existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SERVICES = Number(process.argv[2] ?? 10_000);
const DESTS = Number(process.argv[3] ?? 10);
const ROUNDS = Number(process.argv[4] ?? 3);

/** 10.s.s.s:80 services (wlc) with 192.168.x.y:8080 real servers (masq, weight 1..10). */
function rules(): string {
  const out: string[] = [];
  for (let s = 0; s < SERVICES; s++) {
    const v = `10.${(s >> 16) & 255}.${(s >> 8) & 255}.${s & 255}:80`;
    out.push(`-A -t ${v} -s wlc`);
    for (let d = 0; d < DESTS; d++) {
      const r = s * DESTS + d;
      out.push(`-a -t ${v} -r 192.${168 + ((r >> 16) & 63)}.${(r >> 8) & 255}.${r & 255}:8080 -m -w ${1 + (d % 10)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** Runs a command with stdin from a file; returns wall time in ms, the exit status, stdout and stderr. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv, stdinFile?: string): { ms: number; code: number | null; stdout: string; stderr: string } {
  const stdin = stdinFile ? openSync(stdinFile, 'r') : 'ignore';
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { env, stdio: [stdin, 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  const ms = performance.now() - t0;
  if (typeof stdin === 'number') closeSync(stdin);
  return { ms, code: r.status, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function startDaemon(dir: string): Promise<{ socket: string; stop: () => Promise<void>; pause: (paused: boolean) => void }> {
  const socket = join(dir, 'tslvs.sock');
  const proc = spawn(process.execPath, [join(REPO, 'bin', 'tslvs.js'), 'run', '--dataplane', 'none', '--socket', socket, '--state-dir', join(dir, 'state')],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(socket)) throw new Error('the tslvs daemon did not start');
  return {
    socket,
    stop: () => new Promise<void>((r) => { proc.on('exit', () => r()); proc.kill('SIGCONT'); proc.kill('SIGTERM'); }),
    // The daemon's periodic work (rate estimator, /proc refresh) must not run on the CPU while
    // the kernel's side is timed (the oracle VM has one): it is stopped meanwhile.
    pause: (paused) => { proc.kill(paused ? 'SIGSTOP' : 'SIGCONT'); },
  };
}

function kernelAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  const r = spawnSync('ipvsadm', ['-L', '-n'], { stdio: 'ignore' });
  return r.status === 0;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tslvs-restore-bench-'));
  const file = join(dir, 'rules.txt');
  writeFileSync(file, rules());
  const lines = SERVICES * (DESTS + 1);
  console.log(`restore-bench: ${SERVICES} services x ${DESTS} real servers = ${lines} lines, ${ROUNDS} round(s) ` +
    `(${process.version}, ${process.platform}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
  const what = [`-R (${lines} lines)`, '-L -n', '-S -n', '-v (start-up only)'];
  const ts: number[][] = [[], [], [], []];
  const ks: number[][] = [[], [], [], []];
  const withKernel = kernelAvailable();
  let same: boolean | null = null;
  const daemon = await startDaemon(dir);
  try {
    const env = { ...process.env, TSLVS_SOCKET: daemon.socket };
    const adm = join(REPO, 'bin', 'tslvsadm.js');
    for (let round = 0; round < ROUNDS; round++) {
      timed(process.execPath, [adm, '-C'], env);
      const restore = timed(process.execPath, [adm, '-R'], env, file);
      if (restore.code !== 0) throw new Error(`tslvsadm -R failed (${restore.code}): ${restore.stderr.slice(0, 500)}`);
      const list = timed(process.execPath, [adm, '-L', '-n'], env);
      if (list.code !== 0) throw new Error(`tslvsadm -L -n failed: ${list.stderr}`);
      const save = timed(process.execPath, [adm, '-S', '-n'], env);
      if (save.code !== 0) throw new Error(`tslvsadm -S -n failed: ${save.stderr}`);
      const version = timed(process.execPath, [adm, '-v'], env);
      [restore, list, save, version].forEach((r, i) => ts[i].push(r.ms));
      console.log(`  round ${round + 1} tslvsadm: -R ${restore.ms.toFixed(0)} ms, -L -n ${list.ms.toFixed(0)} ms, -S -n ${save.ms.toFixed(0)} ms`);
      if (withKernel) {
        daemon.pause(true);
        spawnSync('ipvsadm', ['-C']);
        const kr = timed('ipvsadm', ['-R'], process.env, file);
        if (kr.code !== 0) throw new Error(`ipvsadm -R failed: ${kr.stderr.slice(0, 500)}`);
        const kl = timed('ipvsadm', ['-L', '-n'], process.env);
        const kv = timed('ipvsadm', ['-S', '-n'], process.env);
        [kr, kl, kv, timed('ipvsadm', ['-v'], process.env)].forEach((r, i) => ks[i].push(r.ms));
        console.log(`  round ${round + 1} ipvsadm:  -R ${kr.ms.toFixed(0)} ms, -L -n ${kl.ms.toFixed(0)} ms, -S -n ${kv.ms.toFixed(0)} ms`);
        same = (same ?? true) && kl.stdout === list.stdout && kv.stdout === save.stdout;
        spawnSync('ipvsadm', ['-C']);
        daemon.pause(false);
      }
    }
    timed(process.execPath, [adm, '-C'], env);
  } finally {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`${'command (median)'.padEnd(22)} ${'tslvs ms'.padStart(10)} ${'kernel ms'.padStart(10)} ${'tslvs/kernel'.padStart(13)}`);
  for (let i = 0; i < what.length; i++) {
    const t = median(ts[i]);
    const k = ks[i].length ? median(ks[i]) : null;
    const ratio = k === null ? 'n/a' : `${(t / k).toFixed(2)}x`;
    console.log(`${what[i].padEnd(22)} ${t.toFixed(0).padStart(10)} ${(k === null ? 'n/a' : k.toFixed(0)).padStart(10)} ${ratio.padStart(13)}`);
  }
  if (same !== null) console.log(`-L -n and -S -n output identical to ipvsadm's: ${same ? 'yes' : 'NO'}`);
  else console.log('kernel peer: not measured here (needs root and IPVS; run bench/adm/kernel-restore-bench.sh in the oracle)');
}

await main();
