/**
 * PING_CHECK (keepalived/check/check_ping.c): one ICMP (or ICMPv6) echo to the probed address,
 * success on an echo reply within connect_timeout.
 *
 * Node.js has no raw or ICMP datagram sockets without a native addon, so tslvs runs `ping` from
 * iputils as a child process: `ping -n -c 1 -W <timeout> [-I <bindto|bind_if>] <addr>` (ping -6
 * for IPv6), exit status 0 meaning a reply came back. iputils' ping uses the same unprivileged
 * ICMP socket keepalived uses when ping_group_range allows it, a raw socket otherwise.
 */
import { spawn } from 'node:child_process';
import type { PingCheck } from '../config/keepalived/types.js';
import { type Probe, type ProbeRequest, type ProbeResult, stamp } from './checker.js';

export function pingArgs(c: PingCheck): string[] {
  const d = c.connect.dest;
  const args = ['-n', '-q', '-c', '1', '-W', String(Math.max(c.connect.connectTimeoutMs / 1000, 0.001))];
  if (d.af === 10) args.unshift('-6');
  const iface = c.connect.bindto?.addr ?? c.connect.bindIf;
  if (iface) args.push('-I', iface);
  if (c.connect.fwmark) args.push('-m', String(c.connect.fwmark));
  args.push(d.addr);
  return args;
}

export function createPingProbe(c: PingCheck, pingCommand = 'ping'): Probe {
  return { kind: 'PING_CHECK', target: c.connect.dest.addr, usesSocket: true, run: (req) => ping(pingCommand, pingArgs(c), c.connect.connectTimeoutMs, req) };
}

function ping(cmd: string, args: string[], timeoutMs: number, req: ProbeRequest): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let done = false;
    const child = spawn(cmd, args, { stdio: 'ignore' });
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      req.signal.removeEventListener('abort', onAbort);
      resolve(stamp(req, r));
    };
    // ping -W bounds the wait; this guard only covers a ping that hangs before sending.
    const guard = setTimeout(() => { child.kill('SIGKILL'); finish({ ok: false, detail: 'ICMP echo timeout' }); }, timeoutMs + 1000);
    const onAbort = () => { child.kill('SIGKILL'); finish({ ok: false, detail: 'aborted' }); };
    req.signal.addEventListener('abort', onAbort);
    child.once('error', (e: NodeJS.ErrnoException) => finish({ ok: false, detail: `cannot run ${cmd} (${e.code ?? e.message}): install iputils-ping` }));
    child.once('exit', (code) => finish(code === 0 ? { ok: true, detail: 'ICMP echo reply' } : { ok: false, detail: code === 1 ? 'no ICMP echo reply' : `ping failed (exit ${code})` }));
  });
}
