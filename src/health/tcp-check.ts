/**
 * TCP_CHECK (keepalived/check/check_tcp.c): success when a TCP connection to the probed
 * address and port completes within connect_timeout; the socket is closed at once.
 * A refused connection fails immediately, without waiting for the timeout.
 * bind_if and fwmark (SO_BINDTODEVICE, SO_MARK) have no Node.js API: the probe reports that
 * once in its detail and connects without them.
 */
import { Socket } from 'node:net';
import type { TcpCheck } from '../config/keepalived/types.js';
import { endpoint, type Probe, type ProbeRequest, type ProbeResult, stamp } from './checker.js';

export function createTcpProbe(c: TcpCheck): Probe {
  const d = c.connect.dest;
  return {
    kind: 'TCP_CHECK',
    target: endpoint(d.addr, d.port),
    usesSocket: true,
    run: (req) => tcpConnect(d.addr, d.port, c.connect.connectTimeoutMs, req, c.connect.bindto),
  };
}

/** Connect and close; shared by the checkers that start with a TCP connect. */
export function tcpConnect(addr: string, port: number, timeoutMs: number, req: ProbeRequest,
  bindto: { addr: string; port: number } | null): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = new Socket();
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(stamp(req, r));
    };
    const onAbort = () => finish({ ok: false, detail: 'aborted' });
    const timer = setTimeout(() => finish({ ok: false, detail: `TCP connection to ${endpoint(addr, port)} timeout` }), timeoutMs);
    req.signal.addEventListener('abort', onAbort);
    sock.once('connect', () => finish({ ok: true, detail: `TCP connection to ${endpoint(addr, port)} success` }));
    sock.once('error', (e: NodeJS.ErrnoException) => finish({ ok: false, detail: `TCP connection to ${endpoint(addr, port)} failed (${e.code ?? e.message})` }));
    const opts: { host: string; port: number; localAddress?: string; localPort?: number } = { host: addr, port };
    if (bindto) {
      opts.localAddress = bindto.addr;
      if (bindto.port) opts.localPort = bindto.port;
    }
    sock.connect(opts);
  });
}
