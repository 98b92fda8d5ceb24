/**
 * The local control socket: a Unix domain socket (mode 0600) carrying newline-delimited JSON,
 * one request and one response per line, answered in order per connection
 * (src/control/protocol.ts). It owns the socket file and nothing else: every request goes to the
 * handler the daemon gives it. Claiming the path is careful: a live daemon already answering
 * there is refused (TSLVS_ERR_DAEMON_RUNNING), a stale socket file nobody listens on is
 * replaced, and anything that is not a socket is never deleted (TSLVS_ERR_SOCKET_IN_USE).
 */
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { systemErrno, TslvsError } from '../errors.js';
import type { Response } from './protocol.js';

/** Handles one parsed request (not yet validated: the daemon checks its shape). */
export type RequestHandler = (req: unknown) => Promise<Response>;

export interface ControlSocketOptions {
  path: string;
  handler: RequestHandler;
  /** Longest request line accepted; an `ipvsadm -R` of 110,000 lines is about 25 MB. */
  maxLineBytes?: number;
  log?: (line: string) => void;
}

export const DEFAULT_MAX_LINE_BYTES = 256 * 1024 * 1024;

export class ControlSocket {
  readonly path: string;
  readonly #server: Server;
  /** Open connections and how many requests each has in flight. */
  readonly #conns = new Map<Socket, { busy: number }>();
  #closing: Promise<void> | null = null;

  private constructor(path: string, server: Server) {
    this.path = path;
    this.#server = server;
  }

  /** Claims the socket path and starts accepting connections. */
  static async listen(opts: ControlSocketOptions): Promise<ControlSocket> {
    const log = opts.log ?? (() => undefined);
    await claimPath(opts.path, log);
    const server = createServer();
    const cs = new ControlSocket(opts.path, server);
    server.on('connection', (sock) => cs.#serve(sock, opts));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(listenError(opts.path, err));
      server.once('error', onError);
      // The socket file must never exist with looser permissions, not even for a moment.
      const old = process.umask(0o177);
      try {
        server.listen(opts.path, () => {
          server.off('error', onError);
          resolve();
        });
      } finally {
        process.umask(old);
      }
    });
    await chmod(opts.path, 0o600);
    server.on('error', (err) => log(`control socket "${opts.path}": ${err.message}`));
    return cs;
  }

  #serve(sock: Socket, opts: ControlSocketOptions): void {
    if (this.#closing) {
      sock.destroy();
      return;
    }
    const state = { busy: 0 };
    this.#conns.set(sock, state);
    const max = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    let chunks: Buffer[] = [];
    let size = 0;
    let chain = Promise.resolve();
    const answer = (line: Buffer) => {
      state.busy++;
      chain = chain.then(async () => {
        let res: Response;
        try {
          res = await opts.handler(JSON.parse(line.toString('utf8')));
        } catch (err) {
          res = errorResponse(err);
        }
        if (!sock.destroyed) sock.write(`${JSON.stringify(res)}\n`);
        state.busy--;
        if (this.#closing && state.busy === 0) sock.end();
      });
    };
    const tooLong = () => {
      sock.end(`${JSON.stringify(errorResponse(new TslvsError('TSLVS_ERR_PROTOCOL',
        `Request longer than ${max} bytes`, 'send the batch in several requests')))}\n`);
      chunks = [];
      size = 0;
    };
    sock.on('data', (b: Buffer) => {
      if (sock.writableEnded) return;
      let start = 0;
      for (let nl = b.indexOf(0x0a); nl >= 0; nl = b.indexOf(0x0a, start)) {
        if (size + nl - start > max) return tooLong();
        chunks.push(b.subarray(start, nl));
        const line = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        chunks = [];
        size = 0;
        start = nl + 1;
        if (line.length > 0) answer(line);
      }
      if (start < b.length) {
        chunks.push(b.subarray(start));
        size += b.length - start;
        if (size > max) tooLong();
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => this.#conns.delete(sock));
  }

  /** Stops accepting, ends idle connections (busy ones after their answer), removes the file. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const [s, st] of this.#conns) if (st.busy === 0) s.end();
      await closed;
      // server.close() removes the socket file for a path listener; make sure it is gone.
      await unlink(this.path).catch(() => undefined);
    })();
    return this.#closing;
  }
}

function errorResponse(err: unknown): Response {
  if (err instanceof SyntaxError) {
    return { type: 'error', error: { op: 'request', errno: 'EINVAL', code: 'TSLVS_ERR_PROTOCOL', message: `Request is not JSON: ${err.message}`, hint: 'send one JSON object per line, as src/control/protocol.ts describes' } };
  }
  if (err instanceof TslvsError) {
    return { type: 'error', error: { op: 'request', errno: err.errno ?? 'EINVAL', code: err.code, message: err.message, hint: err.hint } };
  }
  return { type: 'error', error: { op: 'request', errno: 'EFAULT', message: String((err as Error)?.message ?? err) } };
}

/**
 * Makes `path` free for a new listener: refuses if a daemon answers there, removes a stale
 * socket file, refuses anything that is not a socket.
 */
async function claimPath(path: string, log: (line: string) => void): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw listenError(dirname(path), err);
  }
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if (systemErrno(err) === 'ENOENT') return;
    throw listenError(path, err);
  }
  if (!st.isSocket()) {
    throw new TslvsError('TSLVS_ERR_SOCKET_IN_USE', `Control socket path "${path}" exists and is not a socket`,
      'remove or rename it, or choose another path with --socket PATH');
  }
  const alive = await probe(path);
  if (alive === 'alive') {
    throw new TslvsError('TSLVS_ERR_DAEMON_RUNNING', `Another tslvs daemon is already listening on "${path}"`,
      'use it ("tslvs status"), stop it first ("tslvs stop"), or give this one its own --socket and --state-dir');
  }
  if (alive === 'denied') {
    throw new TslvsError('TSLVS_ERR_SOCKET_ACCESS', `Permission denied probing the control socket "${path}" (EACCES)`,
      'run as the user that owns it, or choose another path with --socket PATH');
  }
  await unlink(path).catch((err) => {
    if (systemErrno(err) !== 'ENOENT') throw listenError(path, err);
  });
  log(`replaced a stale control socket "${path}" (nobody was listening)`);
}

function probe(path: string): Promise<'alive' | 'stale' | 'denied'> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve('alive');
    });
    s.once('error', (err) => {
      const e = systemErrno(err);
      resolve(e === 'EACCES' || e === 'EPERM' ? 'denied' : 'stale');
    });
  });
}

function listenError(path: string, err: unknown): Error {
  const errno = systemErrno(err);
  if (errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS') {
    return new TslvsError('TSLVS_ERR_SOCKET_ACCESS', `Cannot create the control socket "${path}": permission denied (${errno})`,
      'run as root, or choose a socket in a directory you own with --socket PATH or TSLVS_SOCKET', { cause: err });
  }
  if (errno === 'EADDRINUSE') {
    return new TslvsError('TSLVS_ERR_SOCKET_IN_USE', `Control socket "${path}" is already in use (EADDRINUSE)`,
      'another process claimed it just now; stop it or choose another --socket', { cause: err });
  }
  if (errno === 'ENAMETOOLONG' || errno === 'ENOTDIR' || errno === 'EINVAL') {
    return new TslvsError('TSLVS_ERR_SOCKET_IN_USE', `Cannot create the control socket "${path}" (${errno})`,
      'choose a shorter path (Unix sockets allow about 107 bytes) in an existing directory with --socket PATH', { cause: err });
  }
  return err as Error;
}
