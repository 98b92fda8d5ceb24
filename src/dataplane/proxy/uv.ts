/**
 * Node's own TCP handles (the libuv wrappers `net.Socket` is built on), typed, in one place.
 *
 * Why not `net.Socket`: a relay does nothing a stream adds value to. Every Socket is a Duplex
 * with two buffered queues, events and nextTick callbacks per chunk; a naive `pipe()` proxy spends
 * most of its time there (0.46x HAProxy on short connections in the brief's measurement). The
 * handles give what HAProxy's event loop has: accept, connect, read into a buffer we own
 * (`useUserBuffer`, as `net.Socket`'s `onread: { buffer }` option does), write that buffer, and
 * learn whether the write finished at once or is still queued (backpressure), with no
 * allocation per chunk.
 *
 * These bindings are reached through `process.binding`, which Node keeps for tcp_wrap and
 * stream_wrap (DEP0111 is documentation-only; --pending-deprecation prints one warning). If a
 * future Node drops them, `loadUv()` throws a TslvsError naming the Node version; nothing else
 * in the dataplane touches `process.binding`.
 */
import { TslvsError } from '../../errors.js';

/** A libuv TCP handle (node/src/tcp_wrap.cc + stream_base.cc + handle_wrap.cc). */
export interface TcpHandle {
  /** tcp_wrap: bind/listen/connect return 0 or a negative errno. */
  bind(addr: string, port: number): number;
  bind6(addr: string, port: number, flags: number): number;
  listen(backlog: number): number;
  connect(req: ConnectReq, addr: string, port: number): number;
  connect6(req: ConnectReq, addr: string, port: number): number;
  getpeername(out: SockAddrOut): number;
  getsockname(out: SockAddrOut): number;
  setNoDelay(on: boolean): number;
  /** uv_tcp_close_reset: RST instead of FIN. Fails (non-zero) while a shutdown is pending. */
  reset(cb?: () => void): number;
  /** stream_base. */
  readStart(): number;
  readStop(): number;
  /** Reads go into `buf` (and into whatever buffer the onread callback returns, from then on). */
  useUserBuffer(buf: Uint8Array): void;
  writeBuffer(req: WriteReq, buf: Uint8Array): number;
  shutdown(req: ShutdownReq): number;
  /** handle_wrap: close (FIN, or RST when unread data is left, as close(2)). */
  close(cb?: () => void): void;
  ref(): void;
  unref(): void;
  readonly writeQueueSize: number;
  readonly fd: number;
  /** Called for each read (with a user buffer: no argument; see streamBaseState). */
  onread: ((this: never, arrayBuffer?: ArrayBuffer) => Uint8Array | undefined | void) | null;
  /** Server handles: a new connection, or an error (negative errno). */
  onconnection: ((this: never, status: number, client?: TcpHandle) => void) | null;
}

export interface SockAddrOut {
  address?: string;
  family?: string;
  port?: number;
}

export interface ConnectReq {
  oncomplete: (this: never, status: number, handle: TcpHandle) => void;
}

export interface WriteReq {
  oncomplete: (this: never, status: number) => void;
}

export interface ShutdownReq {
  oncomplete: (this: never, status: number) => void;
}

export interface Uv {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectReq;
  WriteWrap: new () => WriteReq;
  ShutdownWrap: new () => ShutdownReq;
  /** TCP constructor types and the IPv6-only bind flag. */
  SOCKET: number;
  SERVER: number;
  UV_TCP_IPV6ONLY: number;
  /** stream_base's shared state: bytes of the last read (or a negative errno), whether the last write went async. */
  state: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
  kArrayBufferOffset: number;
}

/** UV_EOF: the read side reached end of stream (the peer sent FIN). */
export const UV_EOF = -4095;
/** UV_ECANCELED: a request finished because its handle was closed. */
export const UV_ECANCELED = -125;

let cached: Uv | null = null;

interface TcpWrapBinding {
  TCP: Uv['TCP'];
  TCPConnectWrap: Uv['TCPConnectWrap'];
  constants: { SOCKET: number; SERVER: number; UV_TCP_IPV6ONLY: number };
}

interface StreamWrapBinding {
  WriteWrap: Uv['WriteWrap'];
  ShutdownWrap: Uv['ShutdownWrap'];
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
  kArrayBufferOffset: number;
}

export function loadUv(): Uv {
  if (cached) return cached;
  let tcp: TcpWrapBinding;
  let stream: StreamWrapBinding;
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding;
    tcp = binding('tcp_wrap') as TcpWrapBinding;
    stream = binding('stream_wrap') as StreamWrapBinding;
    if (typeof tcp.TCP !== 'function' || typeof stream.WriteWrap !== 'function' || !(stream.streamBaseState instanceof Int32Array)) {
      throw new Error('unexpected shape');
    }
  } catch (err) {
    throw new TslvsError('TSLVS_ERR_DATAPLANE_UNAVAILABLE',
      `The proxy dataplane cannot reach Node's TCP handles on Node ${process.version} (${(err as Error).message})`,
      'run tslvs on Node 20 or 22, or use --dataplane packet', { cause: err });
  }
  cached = {
    TCP: tcp.TCP,
    TCPConnectWrap: tcp.TCPConnectWrap,
    WriteWrap: stream.WriteWrap,
    ShutdownWrap: stream.ShutdownWrap,
    SOCKET: tcp.constants.SOCKET,
    SERVER: tcp.constants.SERVER,
    UV_TCP_IPV6ONLY: tcp.constants.UV_TCP_IPV6ONLY,
    state: stream.streamBaseState,
    kReadBytesOrError: stream.kReadBytesOrError,
    kLastWriteWasAsync: stream.kLastWriteWasAsync,
    kArrayBufferOffset: stream.kArrayBufferOffset,
  };
  return cached;
}
