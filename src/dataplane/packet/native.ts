/**
 * The native addon (native/src/packet.c), loaded lazily the first time the packet dataplane
 * opens a socket, so nothing else in tslvs needs it (STYLE rule 8). Its failures become
 * TslvsErrors saying what to do: EPERM → run as root or use the proxy dataplane; ENODEV →
 * name an existing interface; not built → how to build it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TslvsError } from '../../errors.js';

/** Ints per frame in rxMeta/txMeta. */
export const META_STRIDE = 8;
export const M_OFF = 0;
export const M_LEN = 1;
export const M_FLAGS = 2;
export const M_VLAN = 3;
export const M_CSUM_START = 4;
export const M_CSUM_OFF = 5;
export const M_GSO = 6;
export const M_PKTTYPE = 7;

/** M_FLAGS bits (rx and tx). */
export const F_NEEDS_CSUM = 1;
export const F_CSUM_VALID = 2;
export const F_VLAN = 4;
export const F_TRUNC = 8;
export const F_GSO = 16;

/** sll_pkttype values (linux/if_packet.h). */
export const PACKET_HOST = 0;
export const PACKET_BROADCAST = 1;
export const PACKET_MULTICAST = 2;
export const PACKET_OTHERHOST = 3;
export const PACKET_OUTGOING = 4;

export interface IfFacts {
  ifindex: number;
  mtu: number;
  flags: number;
  mac: Uint8Array;
  hwtype: number;
  /** Primary IPv4 address, host order; 0 if none. */
  ipv4: number;
}

export interface PacketHandle extends IfFacts {
  readonly ifname: string;
  readonly buffer: ArrayBuffer;
  readonly rxMeta: Int32Array;
  readonly txMeta: Int32Array;
  readonly slots: number;
  readonly slotSize: number;
  readonly headroom: number;
  readonly scratchOffset: number;
  readonly scratch: number;
  /** Frames per recv() at most. */
  readonly batch: number;
  /** Frames per send() at most. */
  readonly txBatch: number;
  /** 1 when frames carry a virtio_net_hdr (checksum offsets, GSO). */
  readonly vnetHdr: number;
  /** 1 when frames come from a TPACKET_V3 ring (copied into the slots), 0 with recvmmsg. */
  readonly ring: number;
}

export interface OpenOptions {
  /** Network namespace to open the socket in: a name under /run/netns or a path. */
  netns?: string;
  slots?: number;
  slotSize?: number;
  headroom?: number;
  scratch?: number;
  vnetHdr?: number;
  /** 1: receive through a TPACKET_V3 ring instead of recvmmsg. */
  ring?: number;
}

export interface PacketAddon {
  open(ifname: string, opts: OpenOptions): PacketHandle;
  recv(h: PacketHandle): number;
  send(h: PacketHandle, n: number): number;
  setFilter(h: PacketHandle, prog: Uint8Array): void;
  poll(h: PacketHandle, cb: (status: number) => void): void;
  pollStop(h: PacketHandle): void;
  close(h: PacketHandle): void;
  ifInfo(h: PacketHandle): IfFacts;
  lastError(h: PacketHandle): number;
}

const BUILD_HINT = 'build it with `npm run build:native` (needs python3, make and a C compiler), or use --dataplane proxy';

/** Where the addon is looked for: TSLVS_PACKET_ADDON, then native/build/Release from the repo root. */
export function addonPath(): string {
  if (process.env.TSLVS_PACKET_ADDON) return process.env.TSLVS_PACKET_ADDON;
  // This file is src/dataplane/packet/native.ts, compiled to dist/src/dataplane/packet/native.js.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'native', 'build', 'Release', 'tslvs_packet.node');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return join(dir, 'native', 'build', 'Release', 'tslvs_packet.node');
}

let cached: PacketAddon | null = null;

export function loadAddon(): PacketAddon {
  if (cached) return cached;
  if (process.platform !== 'linux') {
    throw new TslvsError('TSLVS_ERR_DATAPLANE_UNAVAILABLE', `The packet dataplane needs Linux (this is "${process.platform}")`,
      'use --dataplane proxy');
  }
  const p = addonPath();
  if (!existsSync(p)) {
    throw new TslvsError('TSLVS_ERR_DATAPLANE_UNAVAILABLE', `The packet dataplane's native addon is not built (no "${p}")`, BUILD_HINT);
  }
  try {
    cached = createRequire(import.meta.url)(p) as PacketAddon;
  } catch (err) {
    throw new TslvsError('TSLVS_ERR_DATAPLANE_UNAVAILABLE',
      `The packet dataplane's native addon "${p}" failed to load: ${String((err as Error).message).split('\n')[0]}`,
      'rebuild it for this Node.js with `npm run build:native`, or use --dataplane proxy', { cause: err });
  }
  return cached;
}

/** Opens the socket, turning system errors into one-line errors with the fix. */
export function openPacketSocket(ifname: string, opts: OpenOptions = {}): { addon: PacketAddon; h: PacketHandle } {
  const addon = loadAddon();
  try {
    return { addon, h: addon.open(ifname, opts) };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EPERM' || code === 'EACCES') {
      throw new TslvsError('TSLVS_ERR_DATAPLANE_UNAVAILABLE',
        `Cannot open AF_PACKET socket on "${ifname}": permission denied (${code})`,
        'run as root (or with CAP_NET_RAW and CAP_NET_ADMIN), or use --dataplane proxy, which needs no privileges', { cause: err });
    }
    if (code === 'ENODEV' || (code === 'ENOENT' && !opts.netns)) {
      throw new TslvsError('TSLVS_ERR_DATAPLANE_UNAVAILABLE', `No such network interface "${ifname}" (ENODEV)`,
        'name an existing interface with --interface (see `ip link`)', { cause: err });
    }
    if (code === 'ENOENT' && opts.netns) {
      throw new TslvsError('TSLVS_ERR_DATAPLANE_UNAVAILABLE', `No such network namespace "${opts.netns}" (ENOENT)`,
        'name one listed by `ip netns list`', { cause: err });
    }
    throw new TslvsError('TSLVS_ERR_DATAPLANE_UNAVAILABLE',
      `Cannot open AF_PACKET socket on "${ifname}": ${String((err as Error).message)}`,
      'check the interface with `ip link`, or use --dataplane proxy', { cause: err });
  }
}
