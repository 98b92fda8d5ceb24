/**
 * MISC_CHECK (keepalived/check/check_misc.c): run the script as its user in a process group
 * of its own; on misc_timeout send SIGTERM to the group, SIGKILL 2 s later, and count it as a
 * failure ("timed out"). The exit status goes to the verdict: 0 success, 1 failure,
 * 2..255 with misc_dynamic success with weight status - 2 (verdict.ts does the arithmetic).
 * keepalived runs the argv directly (no shell), with the environment it has; so does tslvs.
 */
import { spawn } from 'node:child_process';
import type { MiscCheck } from '../config/keepalived/types.js';
import { type Probe, type ProbeRequest, type ProbeResult, stamp } from './checker.js';

/** keepalived's grace between SIGTERM and SIGKILL of a timed-out script. */
export const MISC_KILL_GRACE_MS = 2000;

export function createMiscProbe(c: MiscCheck): Probe {
  return {
    kind: 'MISC_CHECK',
    target: c.script.argv.join(' '),
    usesSocket: true,
    run: (req) => runScript(c.script.argv, c.timeoutMs, req, c.script.uid, c.script.gid),
  };
}

/** Runs argv; resolves with the exit status (null when killed). Also used for notify scripts. */
export function runScript(argv: readonly string[], timeoutMs: number, req: ProbeRequest, uid?: number, gid?: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let timedOut = false;
    let done = false;
    const opts: Parameters<typeof spawn>[2] = { detached: true, stdio: 'ignore' };
    if (typeof process.getuid === 'function' && process.getuid() === 0) {
      if (uid !== undefined && uid !== 0) opts.uid = uid;
      if (gid !== undefined && gid !== 0) opts.gid = gid;
    }
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(argv[0], argv.slice(1), opts);
    } catch (e) {
      resolve({ ok: false, detail: `cannot run ${argv[0]} (${(e as Error).message})`, exitStatus: null });
      return;
    }
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), MISC_KILL_GRACE_MS);
    }, timeoutMs);
    const onAbort = () => {
      timedOut = true;
      killGroup('SIGKILL');
    };
    req.signal.addEventListener('abort', onAbort);
    const settle = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      req.signal.removeEventListener('abort', onAbort);
      resolve(stamp(req, r));
    };
    child.once('error', (e: NodeJS.ErrnoException) => settle({ ok: false, detail: `cannot run ${argv[0]} (${e.code ?? e.message})`, exitStatus: null }));
    child.once('exit', (code, signal) => {
      // The group may still hold children; keepalived kills them after a SIGTERM timeout too.
      if (timedOut) killGroup('SIGKILL');
      if (code !== null) settle({ ok: code === 0, detail: `exited with status ${code}`, exitStatus: code });
      else settle({ ok: false, detail: timedOut ? 'timed out' : `killed by ${signal}`, exitStatus: null });
    });
  });
}
