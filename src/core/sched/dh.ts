/**
 * Destination hashing, as net/netfilter/ipvs/ip_vs_dh.c.
 * Owns a 256-bucket table (svc.schedData): bucket i holds the destination at position
 * i mod n of the list (newest first). Weights are not replicated; a bucket whose destination
 * has weight 0 or OVERLOAD fails the packet, with no fallback.
 * The key is the packet's destination address: hash_32(ntohl(daddr_fold), 8), where the fold
 * is the IPv4 address or the XOR of the four IPv6 words (host order, which XOR commutes with).
 * Why the table is rebuilt on upd_dest too, although ip_vs_dh.c has no upd_dest hook: the
 * table depends only on list order, which an edit never changes, so rebuilding gives the
 * kernel's table; it also repairs the table when a journal rollback re-links a deleted dest
 * (ServiceTable calls updDest then, not addDest).
 */
import { AF_INET } from '../addr.js';
import type { Dest } from '../dest.js';
import type { Flow } from '../flow.js';
import { hash32 } from '../hash.js';
import type { ListNode } from '../list.js';
import type { VirtualService } from '../service.js';
import type { Scheduler } from './scheduler.js';

/** CONFIG_IP_VS_DH_TAB_BITS (8 on the reference kernel). */
export const IP_VS_DH_TAB_BITS = 8;
export const IP_VS_DH_TAB_SIZE = 1 << IP_VS_DH_TAB_BITS;

export interface DhState {
  /** IP_VS_DH_TAB_SIZE buckets; null only while the service has no destination. */
  readonly buckets: (Dest | null)[];
}

/** ip_vs_dh_hashkey over the packet's destination address (`af` is the service's). */
export function dhHashkey(af: number, flow: Flow): number {
  const fold = af === AF_INET ? flow.d0 : flow.dfold();
  return hash32(fold, IP_VS_DH_TAB_BITS);
}

/** ip_vs_dh_reassign: walk the list from the head, one bucket per destination, wrapping. */
function reassign(s: DhState, svc: VirtualService): void {
  const head = svc.destinations;
  const b = s.buckets;
  if (head.next === head) {
    b.fill(null);
    return;
  }
  let p: ListNode = head;
  for (let i = 0; i < IP_VS_DH_TAB_SIZE; i++) {
    if (p === head) p = p.next;
    b[i] = p as Dest;
    p = p.next;
  }
}

function destChanged(svc: VirtualService): void {
  reassign(svc.schedData as DhState, svc);
}

export const dh: Scheduler = {
  name: 'dh',
  initService(svc) {
    const s: DhState = { buckets: new Array<Dest | null>(IP_VS_DH_TAB_SIZE).fill(null) };
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
    const s = svc.schedData as DhState;
    const dest = s.buckets[dhHashkey(svc.af, flow)];
    if (dest === null || !dest.isAvailable() || dest.weight <= 0 || dest.isOverloaded()) {
      svc.lastSchedError = 'no destination available';
      return null;
    }
    return dest;
  },
};
