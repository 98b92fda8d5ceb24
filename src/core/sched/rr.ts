/**
 * Round robin, as net/netfilter/ipvs/ip_vs_rr.c.
 * Owns a cursor into the destination list (svc.schedData), initially the list head.
 * Why the cursor may point at an unlinked dest: ip_vs_rr_del_dest moves it to the deleted
 * dest's predecessor only when it pointed there; the scan then continues after that node.
 */
import type { Dest } from '../dest.js';
import type { ListNode } from '../list.js';
import type { VirtualService } from '../service.js';
import type { Scheduler } from './scheduler.js';

export const rr: Scheduler = {
  name: 'rr',
  initService(svc) {
    svc.schedData = svc.destinations;
  },
  doneService(svc) {
    svc.schedData = null;
  },
  addDest() {},
  delDest(svc, dest) {
    // dest is already unlinked: dest.next is still its old successor, whose prev is now the
    // old predecessor (p->next->prev in the kernel).
    if (svc.schedData === dest) svc.schedData = dest.next.prev;
  },
  updDest() {},
  schedule(svc: VirtualService): Dest | null {
    const head = svc.destinations;
    const p = svc.schedData as ListNode;
    const last = p;
    let n: ListNode = p;
    let pass = 0;
    do {
      for (n = n.next; n !== head; n = n.next) {
        const d = n as Dest;
        if (!d.isOverloaded() && d.weight > 0) {
          svc.schedData = d;
          return d;
        }
        if (n === last) {
          svc.lastSchedError = 'no destination available';
          return null;
        }
      }
      // list_for_each_entry_continue ends at the head; the do/while restarts from it.
      pass++;
    } while (pass < 2 && p !== head);
    svc.lastSchedError = 'no destination available';
    return null;
  },
};
