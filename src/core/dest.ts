/**
 * The real server (struct ip_vs_dest) and the user's request for one (ip_vs_dest_user_kern).
 * Connection accounting follows 6.1.192: InActConn is shown as max(totalconns - activeconns, 0)
 * and the OVERLOAD flag is driven by totalconns with hysteresis (ip_vs_ctl.c
 * __ip_vs_dest_update_overload, ip_vs_conn.c ip_vs_bind_dest/ip_vs_unbind_dest).
 */
import type { Af, IpAddr } from './addr.js';
import type { ListNode } from './list.js';
import type { VirtualService } from './service.js';
import { Stats } from './stats/counters.js';

export const IP_VS_CONN_F_FWD_MASK = 0x0007;
export const IP_VS_CONN_F_MASQ = 0x0000;
export const IP_VS_CONN_F_LOCALNODE = 0x0001;
export const IP_VS_CONN_F_TUNNEL = 0x0002;
export const IP_VS_CONN_F_DROUTE = 0x0003;
export const IP_VS_CONN_F_BYPASS = 0x0004;
export const IP_VS_CONN_F_SYNC = 0x0020;
export const IP_VS_CONN_F_HASHED = 0x0040;
export const IP_VS_CONN_F_NOOUTPUT = 0x0080;
export const IP_VS_CONN_F_INACTIVE = 0x0100;
export const IP_VS_CONN_F_OUT_SEQ = 0x0200;
export const IP_VS_CONN_F_IN_SEQ = 0x0400;
export const IP_VS_CONN_F_NO_CPORT = 0x0800;
export const IP_VS_CONN_F_TEMPLATE = 0x1000;
export const IP_VS_CONN_F_ONE_PACKET = 0x2000;
export const IP_VS_CONN_F_NFCT = 0x10000;
export const IP_VS_CONN_F_DEST_MASK = IP_VS_CONN_F_FWD_MASK | IP_VS_CONN_F_ONE_PACKET | IP_VS_CONN_F_NFCT;

export const IP_VS_DEST_F_AVAILABLE = 0x0001;
export const IP_VS_DEST_F_OVERLOAD = 0x0002;
export const IP_VS_DEST_CF_AVAILABLE = 0x0001;
/**
 * tslvs's own bit, not the kernel's: the proxy dataplane could not connect to this real server
 * (refused, unreachable, timed out) and quarantines it briefly. Every scheduler skips it exactly
 * as an OVERLOAD dest, through isOverloaded(), so new connections go elsewhere while health
 * checks catch up; live connections are not touched. Cleared by the dataplane. Set and
 * cleared through setDestUnreachable, which tells the scheduler.
 */
export const TSLVS_DEST_F_UNREACHABLE = 0x10000;

export const IP_VS_CONN_F_TUNNEL_TYPE_IPIP = 0;
export const IP_VS_CONN_F_TUNNEL_TYPE_GUE = 1;
export const IP_VS_CONN_F_TUNNEL_TYPE_GRE = 2;
export const IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM = 0;
export const IP_VS_TUNNEL_ENCAP_FLAG_CSUM = 1;
export const IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM = 2;

export type FwdMethod = 'masq' | 'local' | 'tunnel' | 'route';

export function fwdMethodOf(connFlags: number): FwdMethod {
  switch (connFlags & IP_VS_CONN_F_FWD_MASK) {
    case IP_VS_CONN_F_MASQ: return 'masq';
    case IP_VS_CONN_F_LOCALNODE: return 'local';
    case IP_VS_CONN_F_TUNNEL: return 'tunnel';
    default: return 'route';
  }
}

export function fwdFlagOf(m: FwdMethod): number {
  switch (m) {
    case 'masq': return IP_VS_CONN_F_MASQ;
    case 'local': return IP_VS_CONN_F_LOCALNODE;
    case 'tunnel': return IP_VS_CONN_F_TUNNEL;
    case 'route': return IP_VS_CONN_F_DROUTE;
  }
}

/** ip_vs_dest_user_kern. -e replaces every field. */
export interface DestUser {
  af: Af;
  addr: IpAddr;
  port: number;
  /** Forwarding method bits (IP_VS_CONN_F_FWD_MASK). */
  connFlags: number;
  weight: number;
  uThreshold: number;
  lThreshold: number;
  tunType: number;
  tunPort: number;
  tunFlags: number;
  /** tslvs extension: PROXY protocol version towards this real server (0 = off, 1, 2). */
  proxyProtocol?: number;
}

export class Dest implements ListNode {
  next: ListNode;
  prev: ListNode;

  readonly af: Af;
  readonly addr: IpAddr;
  readonly port: number;
  svc: VirtualService;

  flags = 0;
  connFlags = 0;
  weight = 0;
  lastWeight = 0;
  cflags = 0;
  tunType = 0;
  tunPort = 0;
  tunFlags = 0;
  proxyProtocol = 0;

  activeConns = 0;
  totalConns = 0;
  persistConns = 0;
  uThreshold = 0;
  lThreshold = 0;
  lThresholdVal = 0;

  /** Connection entries pointing here; a deleted dest stays in the trash while > 0. */
  refcnt = 0;
  /** When the dest went idle in the trash (ip_vs_dest_trash_expire), ms; 0 = not yet. */
  idleStartMs = 0;
  readonly stats = new Stats();
  /** Monotonic stamp of the last link into a service list (larger = nearer the head). */
  seq = 0;
  /** Per-scheduler scratch (e.g. heap position); owned by the bound scheduler. */
  schedSlot = -1;

  constructor(svc: VirtualService, u: DestUser) {
    this.next = this;
    this.prev = this;
    this.svc = svc;
    this.af = u.af;
    this.addr = u.addr;
    this.port = u.port;
  }

  get inactConns(): number {
    return Math.max(this.totalConns - this.activeConns, 0);
  }

  isAvailable(): boolean {
    return (this.cflags & IP_VS_DEST_CF_AVAILABLE) !== 0;
  }

  /** OVERLOAD, or quarantined by the proxy dataplane (TSLVS_DEST_F_UNREACHABLE). */
  isOverloaded(): boolean {
    return (this.flags & (IP_VS_DEST_F_OVERLOAD | TSLVS_DEST_F_UNREACHABLE)) !== 0;
  }

  fwdMethod(): FwdMethod {
    return fwdMethodOf(this.connFlags);
  }

  key(): string {
    return destKey(this.addr, this.port);
  }
}

export function destKey(addr: IpAddr, port: number): string {
  return `${addr.af}:${addr.key()}:${port}`;
}

/**
 * Set or clear TSLVS_DEST_F_UNREACHABLE and tell the scheduler, as bindDest does for OVERLOAD:
 * schedulers that index dests (sched/dest-index.ts) learn of availability only through their
 * hooks. A dest that is no longer linked in its service is only flagged.
 */
export function setDestUnreachable(dest: Dest, on: boolean): void {
  const flags = on ? dest.flags | TSLVS_DEST_F_UNREACHABLE : dest.flags & ~TSLVS_DEST_F_UNREACHABLE;
  if (flags === dest.flags) return;
  dest.flags = flags;
  if (dest.isAvailable()) dest.svc.scheduler?.connsChanged?.(dest.svc, dest);
}

/**
 * __ip_vs_dest_update_overload, reading the current totalconns. mode > 0: called after a bind
 * made the total reach u_threshold; mode < 0: after a release from l_threshold_val; 0: the
 * thresholds changed.
 */
export function updateOverload(dest: Dest, mode: number): void {
  const conns = dest.totalConns;
  const u = dest.uThreshold;
  if (!u) {
    dest.flags &= ~IP_VS_DEST_F_OVERLOAD;
    return;
  }
  const l = dest.lThresholdVal;
  if (conns >= (mode > 0 ? l : u)) {
    dest.flags |= IP_VS_DEST_F_OVERLOAD;
    return;
  }
  if (conns >= (mode < 0 ? u : l)) return;
  dest.flags &= ~IP_VS_DEST_F_OVERLOAD;
}
