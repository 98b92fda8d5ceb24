/**
 * What one transaction changed in the service table, for a dataplane to apply (STYLE rule 3).
 * Entries reference the live objects; a dataplane reads their current fields when applying.
 */
import type { Dest } from './dest.js';
import type { VirtualService } from './service.js';

export interface TableDiff {
  addedServices: VirtualService[];
  removedServices: VirtualService[];
  /** Scheduler, flags, persistence or netmask changed. */
  changedServices: VirtualService[];
  addedDests: Dest[];
  removedDests: Dest[];
  /** Weight, method, thresholds or tunnel settings changed. */
  changedDests: Dest[];
  timeoutsChanged: boolean;
}

export function emptyDiff(): TableDiff {
  return {
    addedServices: [], removedServices: [], changedServices: [],
    addedDests: [], removedDests: [], changedDests: [], timeoutsChanged: false,
  };
}

export function isEmptyDiff(d: TableDiff): boolean {
  return !d.timeoutsChanged && d.addedServices.length === 0 && d.removedServices.length === 0 &&
    d.changedServices.length === 0 && d.addedDests.length === 0 && d.removedDests.length === 0 &&
    d.changedDests.length === 0;
}
