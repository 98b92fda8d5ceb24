/**
 * Source hashing, as net/netfilter/ipvs/ip_vs_sh.c.
 * Owns a 256-bucket table (svc.schedData), rebuilt on every add, edit and delete: walking the
 * list from the head and wrapping, each destination fills max(weight, 1) consecutive buckets
 * (a weight-0 destination still gets one: the kernel's `++d_count >= weight` is true at once).
 * The key is hash_32(sport + ntohl(saddr_fold), 8), with sport only under sh-port
 * (IP_VS_SVC_F_SCHED_SH_PORT) and only for TCP, UDP and SCTP (ip_vs_sh_get_port), else 0.
 * Why the sh-fallback probe visits bucket (2·h0 + k) mod 256 and not (h0 + k): the kernel
 * passes roffset = (k + h0) % 256 as the *offset* of ip_vs_sh_hashkey, which adds the same
 * hash h0 again. A probe stops at an empty bucket, which only an empty service has.
 */
import { AF_INET } from '../addr.js';
import type { Dest } from '../dest.js';
import type { Flow } from '../flow.js';
import { hash32 } from '../hash.js';
import type { ListNode } from '../list.js';
import {
  IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, IP_VS_SVC_F_SCHED_SH_FALLBACK, IP_VS_SVC_F_SCHED_SH_PORT,
  type VirtualService,
} from '../service.js';
import type { Scheduler } from './scheduler.js';

/** CONFIG_IP_VS_SH_TAB_BITS (8 on the reference kernel). */
export const IP_VS_SH_TAB_BITS = 8;
export const IP_VS_SH_TAB_SIZE = 1 << IP_VS_SH_TAB_BITS;
export const IP_VS_SH_TAB_MASK = IP_VS_SH_TAB_SIZE - 1;

export interface ShState {
  /** IP_VS_SH_TAB_SIZE buckets; null only while the service has no destination. */
  readonly buckets: (Dest | null)[];
}

/** ip_vs_sh_hashkey with the address already folded to a host-order u32. */
export function shHashkey(addrFold: number, port: number, offset: number): number {
  return (offset + hash32(port + addrFold, IP_VS_SH_TAB_BITS)) & IP_VS_SH_TAB_MASK;
}

/**
 * The client address fold for sh and mh: the service's family decides, as the kernel's
 * `addr->ip` (IPv4) or the XOR of the four words (IPv6). Returned as int32 bits (callers only
 * add and hash it), so the per-packet path stays in small-integer arithmetic.
 */
export function sourceFold(af: number, flow: Flow): number {
  return af === AF_INET ? flow.s0 | 0 : flow.s0 ^ flow.s1 ^ flow.s2 ^ flow.s3;
}

/** ip_vs_sh_get_port / ip_vs_mh_get_port: the source port of TCP, UDP and SCTP, else 0. */
export function sourcePort(flow: Flow): number {
  const p = flow.protocol;
  return p === IPPROTO_TCP || p === IPPROTO_UDP || p === IPPROTO_SCTP ? flow.sport : 0;
}

function isUnavailable(d: Dest): boolean {
  return d.weight <= 0 || d.isOverloaded();
}

/** ip_vs_sh_reassign. */
function reassign(s: ShState, svc: VirtualService): void {
  const head = svc.destinations;
  const b = s.buckets;
  if (head.next === head) {
    b.fill(null);
    return;
  }
  let p: ListNode = head;
  let dCount = 0;
  for (let i = 0; i < IP_VS_SH_TAB_SIZE; i++) {
    if (p === head) p = p.next;
    const d = p as Dest;
    b[i] = d;
    if (++dCount >= d.weight) {
      p = p.next;
      dCount = 0;
    }
  }
}

function destChanged(svc: VirtualService): void {
  reassign(svc.schedData as ShState, svc);
}

/** ip_vs_sh_get_fallback. */
function getFallback(b: (Dest | null)[], fold: number, port: number): Dest | null {
  const ihash = shHashkey(fold, port, 0);
  let dest = b[ihash];
  if (dest === null) return null;
  if (!isUnavailable(dest)) return dest;
  for (let offset = 0; offset < IP_VS_SH_TAB_SIZE; offset++) {
    const roffset = (offset + ihash) % IP_VS_SH_TAB_SIZE;
    dest = b[shHashkey(fold, port, roffset)];
    if (dest === null) break;
    if (!isUnavailable(dest)) return dest;
  }
  return null;
}

export const sh: Scheduler = {
  name: 'sh',
  initService(svc) {
    const s: ShState = { buckets: new Array<Dest | null>(IP_VS_SH_TAB_SIZE).fill(null) };
    svc.schedData = s;
    reassign(s, svc);
  },
  doneService(svc) {
    svc.schedData = null;
  },
  addDest: destChanged,
  delDest: destChanged,
  updDest: destChanged,
  schedule(svc, flow) {
    const b = (svc.schedData as ShState).buckets;
    const fold = sourceFold(svc.af, flow);
    const port = svc.flags & IP_VS_SVC_F_SCHED_SH_PORT ? sourcePort(flow) : 0;
    let dest: Dest | null;
    if (svc.flags & IP_VS_SVC_F_SCHED_SH_FALLBACK) {
      dest = getFallback(b, fold, port);
    } else {
      dest = b[shHashkey(fold, port, 0)];
      if (dest !== null && isUnavailable(dest)) dest = null;
    }
    if (dest === null) svc.lastSchedError = 'no destination available';
    return dest;
  },
};
