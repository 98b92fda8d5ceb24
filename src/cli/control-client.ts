/**
 * The CLIs' one way to the daemon: send one Request over the control socket (newline-delimited
 * JSON, src/control/protocol.ts) and read one Response. Holds no state. Failures to reach the
 * daemon are TslvsErrors with the socket path and the fix (TSLVS_ERR_NO_DAEMON when nobody
 * listens, TSLVS_ERR_SOCKET_ACCESS when the socket is not ours to use).
 */
import { connect } from 'node:net';
import { defaultSocketPath as protocolDefaultSocketPath, type Request, type Response } from '../control/protocol.js';
import { systemErrno, TslvsError } from '../errors.js';

export interface RequestOptions {
  /** Default: defaultSocketPath(process.env). */
  socketPath?: string;
  /** Give up after this long; default: wait as long as the daemon works (a big batch takes time). */
  timeoutMs?: number;
}

/** $TSLVS_SOCKET, else the path a daemon of this user listens on (root: /run/tslvs/tslvs.sock). */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  return protocolDefaultSocketPath(env, process.getuid?.() ?? 0);
}

export function request(req: Request, opts: RequestOptions = {}): Promise<Response> {
  const path = opts.socketPath ?? defaultSocketPath();
  return new Promise<Response>((resolve, reject) => {
    const sock = connect({ path });
    const chunks: Buffer[] = [];
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | null, res?: Response) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(res as Response);
    };
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => finish(new TslvsError('TSLVS_ERR_PROTOCOL',
        `The daemon on "${path}" did not answer "${req.type}" within ${opts.timeoutMs} ms`,
        'check that the daemon is not stuck ("tslvs status"), or wait longer')), opts.timeoutMs);
    }
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (b: Buffer) => {
      const nl = b.indexOf(0x0a);
      if (nl < 0) {
        chunks.push(b);
        return;
      }
      chunks.push(b.subarray(0, nl));
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        finish(null, JSON.parse(text) as Response);
      } catch {
        finish(new TslvsError('TSLVS_ERR_PROTOCOL', `The daemon on "${path}" sent a reply that is not JSON`,
          'use a tslvs CLI of the same version as the daemon'));
      }
    });
    const hungUp = () => finish(new TslvsError('TSLVS_ERR_PROTOCOL',
      `The daemon on "${path}" closed the connection without answering "${req.type}"`,
      'read the daemon\'s log for the reason, then retry'));
    sock.on('end', hungUp);
    // A reset while writing may close the socket without an 'end'; 'error' comes first if any.
    sock.on('close', () => setImmediate(hungUp));
    sock.on('error', (err) => finish(connectError(path, err)));
  });
}

function connectError(path: string, err: Error): Error {
  const errno = systemErrno(err);
  if (errno === 'ENOENT' || errno === 'ECONNREFUSED' || errno === 'ENOTSOCK') {
    return new TslvsError('TSLVS_ERR_NO_DAEMON', `No tslvs daemon is listening on "${path}" (${errno})`,
      'start one with "tslvs run", or point to it with --socket PATH or TSLVS_SOCKET=PATH', { cause: err });
  }
  if (errno === 'EACCES' || errno === 'EPERM') {
    return new TslvsError('TSLVS_ERR_SOCKET_ACCESS', `Permission denied connecting to "${path}" (${errno})`,
      'run as the daemon\'s user (for example with sudo), or use a daemon of your own with --socket PATH', { cause: err });
  }
  return err;
}
