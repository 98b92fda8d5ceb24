/**
 * Maglev hashing, as net/netfilter/ipvs/ip_vs_mh.c (Eisenbud et al., NSDI '16, §3.4).
 * Owns a 4093-slot lookup table (svc.schedData), rebuilt on every add, edit and delete.
 * Each destination, in list order, has a preference list of slots: it starts at
 * offset = hsiphash(port + fold, hash1) mod M and advances by skip = hsiphash(.., hash2)
 * mod (M - 1) + 1. Rounds over the list let each destination claim `turns` free slots until all
 * M are taken. The client key is hsiphash(sport + ntohl(saddr_fold), hash1) mod M, with sport
 * only under mh-port (IP_VS_SVC_F_SCHED_MH_PORT) for TCP, UDP and SCTP.
 * Why weights come from last_weight: a destination edited to weight 0 keeps its slots (its
 * clients then fail, or with mh-fallback are re-hashed with offsets, not spread evenly), and
 * only a destination *added* with weight 0 gets none. turns = (last_weight / gcd) >> shift,
 * at least 1 for a non-zero last_weight, where shift keeps the largest ratio within 6 bits.
 * Why the mh-fallback probe hashes roffset = (k + h0) mod M as an offset: as ip_vs_mh_get_fallback.
 * Why more than M destinations leave the table as it was: ip_vs_mh_reassign returns EINVAL
 * first, and ip_vs_ctl.c ignores add_dest/del_dest/upd_dest results; binding mh to a service
 * that already has more than M destinations fails the edit with EINVAL.
 */
import type { Dest } from '../dest.js';
import { IpvsError } from '../errors.js';
import { type HsiphashKey, hsiphash32, hsiphashMod, MH_HASH1, MH_HASH2 } from '../hash.js';
import type { ListNode } from '../list.js';
import { IP_VS_SVC_F_SCHED_MH_FALLBACK, IP_VS_SVC_F_SCHED_MH_PORT, type VirtualService } from '../service.js';
import type { Scheduler } from './scheduler.js';
import { sourceFold, sourcePort } from './sh.js';

/** The kernel's table sizes for CONFIG_IP_VS_MH_TAB_INDEX 8..17. */
export const MH_PRIMES: readonly number[] = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071];
/** CONFIG_IP_VS_MH_TAB_INDEX (12 on the reference kernel). */
export const CONFIG_IP_VS_MH_TAB_INDEX = 12;
export const IP_VS_MH_TAB_BITS = CONFIG_IP_VS_MH_TAB_INDEX >> 1;
export const IP_VS_MH_TAB_SIZE = MH_PRIMES[CONFIG_IP_VS_MH_TAB_INDEX - 8];

export interface MhState {
  /** IP_VS_MH_TAB_SIZE slots; all null while no destination has a non-zero last_weight. */
  readonly lookup: (Dest | null)[];
  gcd: number;
  rshift: number;
  /** Scratch bitmap of taken slots (ip_vs_mh_populate's bitmap_zalloc), reused. */
  readonly taken: Uint8Array;
}

/** ip_vs_mh_hashkey with the address already folded to a host-order u32. */
export function mhHashkey(addrFold: number, port: number, key: HsiphashKey, offset: number): number {
  return hsiphash32((offset + port + addrFold) | 0, key);
}

/** ip_vs_mh_hashkey(.., hash1, offset) % IP_VS_MH_TAB_SIZE: a client's slot, in int32 arithmetic. */
export function mhSlot(addrFold: number, port: number, offset: number): number {
  return hsiphashMod((offset + port + addrFold) | 0, MH_HASH1, IP_VS_MH_TAB_SIZE);
}

/** A destination's address fold, as ip_vs_mh_permutate computes it: by the *service's* family. */
function destFold(svc: VirtualService, d: Dest): number {
  const a = d.addr;
  return svc.isV4() ? a.w0 : (a.w0 ^ a.w1 ^ a.w2 ^ a.w3) >>> 0;
}

/** Offset and skip of a destination's preference list (ip_vs_mh_permutate). */
export function mhPermutation(svc: VirtualService, d: Dest): { offset: number; skip: number } {
  const fold = destFold(svc, d);
  return {
    offset: mhHashkey(fold, d.port, MH_HASH1, 0) % IP_VS_MH_TAB_SIZE,
    skip: (mhHashkey(fold, d.port, MH_HASH2, 0) % (IP_VS_MH_TAB_SIZE - 1)) + 1,
  };
}

function gcd(a: number, b: number): number {
  while (b) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** ip_vs_mh_gcd_weight over last_weight; 0 when no destination has one. */
function gcdWeight(svc: VirtualService): number {
  let g = 0;
  const head = svc.destinations;
  for (let n = head.next; n !== head; n = n.next) {
    const w = (n as Dest).lastWeight;
    if (w > 0) g = g > 0 ? gcd(w, g) : w;
  }
  return g;
}

/** ip_vs_mh_shift_weight: fls(max_last_weight / gcd) - IP_VS_MH_TAB_BITS, at least 0. */
function shiftWeight(svc: VirtualService, g: number): number {
  if (g < 1) return 0;
  let weight = 0;
  const head = svc.destinations;
  for (let n = head.next; n !== head; n = n.next) {
    const w = (n as Dest).lastWeight;
    if (w > weight) weight = w;
  }
  const mw = Math.trunc(weight / g);
  const shift = 32 - Math.clz32(mw) - IP_VS_MH_TAB_BITS;
  return shift >= 0 ? shift : 0;
}

/** ip_vs_mh_permutate + ip_vs_mh_populate. */
function populate(s: MhState, svc: VirtualService): void {
  const M = IP_VS_MH_TAB_SIZE;
  const lookup = s.lookup;
  if (s.gcd < 1) {
    lookup.fill(null);
    return;
  }
  const count = svc.numDests;
  const skip = new Uint32Array(count);
  const perm = new Uint32Array(count);
  const turns = new Int32Array(count);
  const head = svc.destinations;
  let i = 0;
  for (let n = head.next; n !== head; n = n.next, i++) {
    const d = n as Dest;
    const p = mhPermutation(svc, d);
    perm[i] = p.offset;
    skip[i] = p.skip;
    const lw = d.lastWeight;
    turns[i] = (Math.trunc(lw / s.gcd) >> s.rshift) || (lw !== 0 ? 1 : 0);
  }
  const taken = s.taken;
  taken.fill(0);
  let p: ListNode = head;
  let n = 0;
  let dtCount = 0;
  while (n < M) {
    if (p === head) p = p.next;
    i = 0;
    while (p !== head) {
      // A destination added with weight 0 has no turns and claims nothing.
      if (turns[i] < 1) {
        p = p.next;
        i++;
        continue;
      }
      let c = perm[i];
      while (taken[c]) {
        c += skip[i];
        if (c >= M) c -= M;
        perm[i] = c;
      }
      taken[c] = 1;
      lookup[c] = p as Dest;
      if (++n === M) return;
      if (++dtCount >= turns[i]) {
        dtCount = 0;
        p = p.next;
        i++;
      }
    }
  }
}

/** ip_vs_mh_reassign: false (EINVAL) when the service has more destinations than slots. */
function reassign(s: MhState, svc: VirtualService): boolean {
  if (svc.numDests > IP_VS_MH_TAB_SIZE) return false;
  populate(s, svc);
  return true;
}

function destChanged(svc: VirtualService): void {
  const s = svc.schedData as MhState;
  s.gcd = gcdWeight(svc);
  s.rshift = shiftWeight(svc, s.gcd);
  reassign(s, svc);
}

function isUnavailable(d: Dest): boolean {
  return d.weight <= 0 || d.isOverloaded();
}

/** ip_vs_mh_get_fallback. */
function getFallback(lookup: (Dest | null)[], fold: number, port: number): Dest | null {
  const M = IP_VS_MH_TAB_SIZE;
  const ihash = mhSlot(fold, port, 0);
  let dest = lookup[ihash];
  if (dest === null) return null;
  if (!isUnavailable(dest)) return dest;
  for (let offset = 0; offset < M; offset++) {
    const roffset = (offset + ihash) % M;
    dest = lookup[mhSlot(fold, port, roffset)];
    if (dest === null) break;
    if (!isUnavailable(dest)) return dest;
  }
  return null;
}

export const mh: Scheduler = {
  name: 'mh',
  initService(svc) {
    const s: MhState = {
      lookup: new Array<Dest | null>(IP_VS_MH_TAB_SIZE).fill(null),
      gcd: 0,
      rshift: 0,
      taken: new Uint8Array(IP_VS_MH_TAB_SIZE),
    };
    s.gcd = gcdWeight(svc);
    s.rshift = shiftWeight(svc, s.gcd);
    if (!reassign(s, svc)) {
      // Only an edit can bind mh to a service that already has destinations.
      throw new IpvsError('edit-service', 'EINVAL',
        `mh supports at most ${IP_VS_MH_TAB_SIZE} destinations, the service has ${svc.numDests}`);
    }
    svc.schedData = s;
  },
  doneService(svc) {
    svc.schedData = null;
  },
  addDest: destChanged,
  delDest: destChanged,
  updDest: destChanged,
  schedule(svc, flow) {
    const lookup = (svc.schedData as MhState).lookup;
    const fold = sourceFold(svc.af, flow);
    const port = svc.flags & IP_VS_SVC_F_SCHED_MH_PORT ? sourcePort(flow) : 0;
    let dest: Dest | null;
    if (svc.flags & IP_VS_SVC_F_SCHED_MH_FALLBACK) {
      dest = getFallback(lookup, fold, port);
    } else {
      dest = lookup[mhSlot(fold, port, 0)];
      if (dest !== null && isUnavailable(dest)) dest = null;
    }
    if (dest === null) svc.lastSchedError = 'no destination available';
    return dest;
  },
};
