/**
 * The native relay (native/src/relay.c, built beside the packet addon as tslvs_relay.node):
 * the proxy's TCP sockets as plain descriptors in an epoll set of their own, one JavaScript call
 * per batch of ready sockets. Optional: when it is not built (or not Linux) the proxy relays
 * through Node's TCP handles (uv.ts), slower on short connections but the same to the core.
 *
 * Every function returns a non-negative result or a negative errno, as libuv does on Linux.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RelayHandle {
  /** What pump() and setScratch() take. */
  readonly id: number;
  readonly epfd: number;
  /** Two ints per ready socket: [fd, epoll events]. */
  readonly events: Int32Array;
  /** ACC_STRIDE ints per accepted connection: [fd, peer port, w0, w1, w2, w3]. */
  readonly accepted: Int32Array;
}

export interface RelayAddon {
  readonly ACC_STRIDE: number;
  readonly ACC_CAP: number;
  readonly EV_CAP: number;
  /** cb(n): n ready sockets in h.events; runs on the event loop. */
  open(cb: (n: number) => void): RelayHandle;
  close(h: RelayHandle): void;
  /** Whether the relay keeps the event loop alive. */
  ref(h: RelayHandle, on: boolean): void;
  /** A listening socket in the relay's epoll set (TCP_NODELAY, inherited by accepted sockets). Flags: L_REUSEPORT. */
  listen(epfd: number, af: number, addr: string, port: number, backlog: number, flags: number): number;
  /** A listener's readiness on or off. */
  watch(epfd: number, fd: number, on: boolean): number;
  /**
   * Up to max connections into h.accepted; -errno if none. With watch (the default) each is in
   * the relay's epoll set; without, another thread's relay adopts it.
   */
  accept(h: RelayHandle, lfd: number, max: number, watch?: boolean): number;
  /** Register a socket another thread accepted with this relay's epoll set. */
  adopt(epfd: number, fd: number): number;
  /** An eventfd in the relay's epoll set (edge-triggered): another thread's signal() is a readiness. */
  eventfd(epfd: number): number;
  /** Wake whoever watches that eventfd. */
  signal(fd: number): number;
  /** A non-blocking connect in the epoll set; its first readiness is the outcome. */
  connect(epfd: number, af: number, w0: number, w1: number, w2: number, w3: number, port: number): number;
  /** This thread's io words: io[0] is the result of the last pump()'s write. */
  readonly io: Int32Array;
  /** The buffer relay `id`'s pump() reads into (kept by the caller). */
  setScratch(id: number, buf: Uint8Array): void;
  /** One read from `from` into the scratch buffer; when it got n > 0, one write to `to` (result in io[0]). */
  pump(id: number, from: number, to: number): number;
  /** Close descriptors given as fd * 2 + (reset ? 1 : 0). */
  closeMany(codes: Int32Array, n: number): void;
  read(fd: number, buf: Uint8Array, off: number, len: number): number;
  write(fd: number, buf: Uint8Array, off: number, len: number): number;
  shutdown(fd: number): number;
  closeFd(fd: number, reset: boolean): number;
  soError(fd: number): number;
  localPort(fd: number): number;
}

/** listen() flags. */
export const L_REUSEPORT = 1;

/** epoll event bits (sys/epoll.h). */
export const EPOLLIN = 0x001;
export const EPOLLOUT = 0x004;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
export const EPOLLRDHUP = 0x2000;

/** Where the relay addon is looked for: TSLVS_RELAY_ADDON, then native/build/Release from the repo root. */
export function relayAddonPath(): string {
  if (process.env.TSLVS_RELAY_ADDON) return process.env.TSLVS_RELAY_ADDON;
  // This file is src/dataplane/proxy/relay-addon.ts, compiled to dist/src/dataplane/proxy/relay-addon.js.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'native', 'build', 'Release', 'tslvs_relay.node');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return join(dir, 'native', 'build', 'Release', 'tslvs_relay.node');
}

let cached: RelayAddon | null | undefined;
let why = '';

/** The addon, or null (and relayUnavailable() says why): not Linux, not built, or fails to load. */
export function loadRelayAddon(): RelayAddon | null {
  if (cached !== undefined) return cached;
  cached = null;
  if (process.platform !== 'linux') {
    why = `the native relay needs Linux (this is ${process.platform})`;
    return null;
  }
  const p = relayAddonPath();
  if (!existsSync(p)) {
    why = `the native relay is not built (no "${p}"; run \`npm run build:native\`)`;
    return null;
  }
  try {
    cached = createRequire(import.meta.url)(p) as RelayAddon;
  } catch (err) {
    why = `the native relay "${p}" failed to load: ${String((err as Error).message).split('\n')[0]}`;
  }
  return cached;
}

export function relayUnavailable(): string {
  return why;
}
