/**
 * Round robin, as net/netfilter/ipvs/ip_vs_rr.c.
 * Owns a cursor into the destination list (svc.schedData.cl), initially the list head.
 * Why the cursor may point at an unlinked dest: ip_vs_rr_del_dest moves it to the deleted
 * dest's predecessor only when it pointed there; the scan then continues after that node.
 * Big services also keep a MaxIndex (./dest-index.ts) of the available dests (not overloaded,
 * weight > 0) so that the next one after the cursor is found in O(log n) however many
 * unavailable ones the kernel's scan would walk past.
 */
import type { Dest } from '../dest.js';
import type { ListNode } from '../list.js';
import type { VirtualService } from '../service.js';
import { MAX_WEIGHT, MaxIndex } from './dest-index.js';
import type { Scheduler } from './scheduler.js';

/** Above this many dests, rr keeps its index. */
export const RR_INDEX_MIN = 32;

/** svc.schedData of rr. */
export interface RrState {
  /** The cursor: the last dest picked, or the list head. */
  cl: ListNode;
  readonly ix: MaxIndex;
}

/** The kernel's scan from cursor `p`: the dest it picks, or null. */
export function rrScan(svc: VirtualService, p: ListNode): Dest | null {
  const head = svc.destinations;
  const last = p;
  let n: ListNode = p;
  let pass = 0;
  do {
    for (n = n.next; n !== head; n = n.next) {
      const d = n as Dest;
      if (!d.isOverloaded() && d.weight > 0) return d;
      if (n === last) return null;
    }
    // list_for_each_entry_continue ends at the head; the do/while restarts from it.
    pass++;
  } while (pass < 2 && p !== head);
  return null;
}

/**
 * The scan's pick from the index: the first available dest after the cursor, else the first
 * from the head up to the cursor itself (the second pass stops after checking it). undefined:
 * the cursor is not in the index (not linked), left to the scan.
 */
function rrIndexed(svc: VirtualService, ix: MaxIndex, p: ListNode): Dest | null | undefined {
  const top = ix.cap - 1;
  let s: number;
  if (p === svc.destinations) {
    s = ix.firstAtLeast(0, top, 1);
  } else {
    const ps = ix.slotOf(p as Dest);
    if (ps < 0) return undefined;
    s = ix.firstAtLeast(ps + 1, top, 1);
    if (s < 0) s = ix.firstAtLeast(0, ps, 1);
  }
  return s < 0 ? null : ix.dests[s];
}

function state(svc: VirtualService): RrState {
  return svc.schedData as RrState;
}

export const rr: Scheduler = {
  name: 'rr',
  initService(svc) {
    const st: RrState = { cl: svc.destinations, ix: new MaxIndex(MAX_WEIGHT, RR_INDEX_MIN) };
    svc.schedData = st;
  },
  doneService(svc) {
    (svc.schedData as RrState | null)?.ix.reset();
    svc.schedData = null;
  },
  addDest(svc, dest) {
    state(svc).ix.add(svc, dest);
  },
  delDest(svc, dest) {
    const st = state(svc);
    st.ix.del(dest);
    // dest is already unlinked: dest.next is still its old successor, whose prev is now the
    // old predecessor (p->next->prev in the kernel).
    if (st.cl === dest) st.cl = dest.next.prev;
  },
  updDest(svc, dest) {
    state(svc).ix.upd(svc, dest);
  },
  connsChanged(svc, dest) {
    state(svc).ix.changed(dest);
  },
  schedule(svc: VirtualService): Dest | null {
    const st = state(svc);
    let d: Dest | null | undefined;
    if (st.ix.ready(svc)) d = rrIndexed(svc, st.ix, st.cl);
    if (d === undefined) d = rrScan(svc, st.cl);
    if (d === null) {
      svc.lastSchedError = 'no destination available';
      return null;
    }
    st.cl = d;
    return d;
  },
};
