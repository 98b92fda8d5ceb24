/**
 * The virtual service (struct ip_vs_service, include/net/ip_vs.h) and what a user asks for when
 * adding or editing one (struct ip_vs_service_user_kern).
 */
import { AF_INET, type Af, type IpAddr } from './addr.js';
import type { Dest } from './dest.js';
import { ListHead } from './list.js';
import type { Scheduler } from './sched/scheduler.js';
import { Stats } from './stats/counters.js';

export const IPPROTO_IP = 0;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_SCTP = 132;
export type Protocol = typeof IPPROTO_TCP | typeof IPPROTO_UDP | typeof IPPROTO_SCTP;

export const IP_VS_SVC_F_PERSISTENT = 0x0001;
export const IP_VS_SVC_F_HASHED = 0x0002;
export const IP_VS_SVC_F_ONEPACKET = 0x0004;
export const IP_VS_SVC_F_SCHED1 = 0x0008;
export const IP_VS_SVC_F_SCHED2 = 0x0010;
export const IP_VS_SVC_F_SCHED3 = 0x0020;
export const IP_VS_SVC_F_SCHED_SH_FALLBACK = IP_VS_SVC_F_SCHED1;
export const IP_VS_SVC_F_SCHED_SH_PORT = IP_VS_SVC_F_SCHED2;
export const IP_VS_SVC_F_SCHED_MH_FALLBACK = IP_VS_SVC_F_SCHED1;
export const IP_VS_SVC_F_SCHED_MH_PORT = IP_VS_SVC_F_SCHED2;

export const IP_VS_SCHEDNAME_MAXLEN = 16;
export const IP_VS_PENAME_MAXLEN = 16;
/** ip_vs_ctl.c: the IPv4 default persistence netmask and the IPv6 default prefix. */
export const DEFAULT_NETMASK_V4 = 0xffffffff;
export const DEFAULT_NETMASK_V6 = 128;
export const FTPPORT = 21;

/** ip_vs_proto_name. */
export function protocolName(p: number): string {
  switch (p) {
    case IPPROTO_IP: return 'IP';
    case IPPROTO_TCP: return 'TCP';
    case IPPROTO_UDP: return 'UDP';
    case IPPROTO_SCTP: return 'SCTP';
    case 1: return 'ICMP';
    case 58: return 'ICMPv6';
    default: return `IP_${p}`;
  }
}

/** struct ip_vs_service_user_kern: what -A/-E send; -E replaces every field (no merge). */
export interface ServiceUser {
  af: Af;
  protocol: Protocol;
  addr: IpAddr;
  port: number;
  /** Non-zero for a fwmark service; then protocol is TCP and addr/port are unused. */
  fwmark: number;
  schedName: string;
  flags: number;
  timeoutS: number;
  /** IPv4: a u32 mask; IPv6: a prefix length 1..128. */
  netmask: number;
  peName: string;
}

export class VirtualService {
  readonly af: Af;
  readonly protocol: Protocol;
  readonly addr: IpAddr;
  readonly port: number;
  readonly fwmark: number;

  /** Bound scheduler, or null for `-s none`. */
  scheduler: Scheduler | null = null;
  /** svc->sched_data: owned by the bound scheduler. */
  schedData: unknown = null;
  flags: number;
  timeoutS: number;
  netmask: number;
  peName: string;

  readonly destinations = new ListHead();
  numDests = 0;
  readonly stats = new Stats();
  /** Set by a scheduler that found nothing: the text ip_vs_scheduler_err would log. */
  lastSchedError = '';
  /** Position in creation order; stands in for the kernel's hash order in /proc listings. */
  readonly seq: number;

  constructor(u: ServiceUser, seq: number) {
    this.af = u.af;
    this.protocol = u.fwmark ? IPPROTO_TCP : u.protocol;
    this.addr = u.addr;
    this.port = u.fwmark ? 0 : u.port;
    this.fwmark = u.fwmark >>> 0;
    this.flags = u.flags & ~IP_VS_SVC_F_HASHED;
    this.timeoutS = u.timeoutS;
    this.netmask = u.netmask;
    this.peName = u.peName;
    this.seq = seq;
  }

  get schedName(): string {
    return this.scheduler ? this.scheduler.name : 'none';
  }

  isPersistent(): boolean {
    return (this.flags & IP_VS_SVC_F_PERSISTENT) !== 0;
  }

  isV4(): boolean {
    return this.af === AF_INET;
  }

  /** Destinations in list order (newest first), as every scheduler visits them. */
  dests(): Dest[] {
    const out: Dest[] = [];
    for (let n = this.destinations.next; n !== this.destinations; n = n.next) out.push(n as Dest);
    return out;
  }

  /** Identity key for maps: "p:<proto>:<af>:<addr>:<port>" or "f:<af>:<mark>". */
  key(): string {
    return this.fwmark ? fwmarkKey(this.af, this.fwmark) : serviceKey(this.protocol, this.addr, this.port);
  }
}

export function serviceKey(protocol: number, addr: IpAddr, port: number): string {
  return `p:${protocol}:${addr.af}:${addr.key()}:${port}`;
}

export function fwmarkKey(af: Af, fwmark: number): string {
  return `f:${af}:${fwmark >>> 0}`;
}
