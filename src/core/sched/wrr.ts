/**
 * Weighted round robin, as net/netfilter/ipvs/ip_vs_wrr.c.
 * Owns the per-service mark: cl (position: a dest or the list head), cw (current weight),
 * mw (max weight - (di - 1)), di (gcd of the positive weights).
 * Why a weight edit does not restart the cycle: ip_vs_wrr_dest_changed moves cl back to the
 * head but keeps cw while it is <= the new mw (rounded to the gcd grid); goldens with
 * mid-sequence edits depend on it.
 * Big services also keep a MaxIndex (./dest-index.ts) of the weights of the dests that are not
 * overloaded: the next dest with weight >= cw after a position is found in O(log n), and passes
 * that cannot find one (cw above every available weight) are counted off at once, so a pick
 * costs O(log n) however many dests the kernel's passes would walk past.
 */
import type { Dest } from '../dest.js';
import type { ListNode } from '../list.js';
import type { VirtualService } from '../service.js';
import { MAX_WEIGHT, MaxIndex } from './dest-index.js';
import type { Scheduler } from './scheduler.js';

/** Above this many dests, wrr keeps its index. */
export const WRR_INDEX_MIN = 32;

export interface WrrMark {
  cl: ListNode;
  cw: number;
  mw: number;
  di: number;
  /** tslvs's index of the dests, not the kernel's. */
  readonly ix: MaxIndex;
}

function gcd(a: number, b: number): number {
  while (b) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

function gcdWeight(svc: VirtualService): number {
  let g = 0;
  const head = svc.destinations;
  for (let n = head.next; n !== head; n = n.next) {
    const w = (n as Dest).weight;
    if (w > 0) g = g > 0 ? gcd(w, g) : w;
  }
  return g || 1;
}

function maxWeight(svc: VirtualService): number {
  let m = 0;
  const head = svc.destinations;
  for (let n = head.next; n !== head; n = n.next) {
    const w = (n as Dest).weight;
    if (w > m) m = w;
  }
  return m;
}

function destChanged(svc: VirtualService): void {
  const mark = svc.schedData as WrrMark;
  mark.cl = svc.destinations;
  mark.di = gcdWeight(svc);
  mark.mw = maxWeight(svc) - (mark.di - 1);
  if (mark.cw > mark.mw || !mark.cw) mark.cw = mark.mw;
  else if (mark.di > 1) mark.cw = Math.trunc(mark.cw / mark.di) * mark.di + 1;
}

/** The kernel's passes from mark.cl; moves the mark as the kernel does. */
export function wrrScan(svc: VirtualService, mark: WrrMark): Dest | null {
  const head = svc.destinations;
  let n: ListNode = mark.cl;
  const last = n;
  let stop: ListNode | null = null;
  let lastPass = false;
  let restarted = false;
  for (;;) {
    for (n = n.next; n !== head; n = n.next) {
      const d = n as Dest;
      if (!d.isOverloaded() && d.weight >= mark.cw) {
        mark.cl = d;
        return d;
      }
      if (n === stop) {
        mark.cl = n;
        return null;
      }
    }
    mark.cw -= mark.di;
    if (mark.cw <= 0) {
      mark.cw = mark.mw;
      if (lastPass || last === head) {
        mark.cl = head;
        return null;
      }
      restarted = true;
    }
    lastPass = mark.cw <= mark.di;
    if (lastPass && restarted && last !== head) stop = last;
  }
}

/**
 * wrrScan's passes over the index: a pass is one query for the first slot after its start (up to
 * the stop, once set) with a weight >= cw. undefined: mark.cl is not in the index, left to the
 * scan (the mark is then untouched).
 */
export function wrrIndexed(svc: VirtualService, mark: WrrMark, ix: MaxIndex): Dest | null | undefined {
  const head = svc.destinations;
  const last = mark.cl;
  let lastPos = -1;
  if (last !== head) {
    lastPos = ix.slotOf(last as Dest);
    if (lastPos < 0) return undefined;
  }
  const top = ix.cap - 1;
  const { di, mw } = mark;
  const m = ix.max();
  const floor = m > di ? m : di;
  let cw = mark.cw;
  let pos = lastPos;
  let stopped = false;
  let lastPass = false;
  let restarted = false;
  for (;;) {
    const hit = m >= cw ? ix.firstAtLeast(pos + 1, stopped ? lastPos : top, cw) : -1;
    if (hit >= 0) {
      const d = ix.dests[hit] as Dest;
      mark.cw = cw;
      mark.cl = d;
      return d;
    }
    if (stopped) {
      mark.cw = cw;
      mark.cl = last;
      return null;
    }
    cw -= di;
    // The passes at cw above every available weight find nothing; while cw also stays above di
    // they change nothing but cw (no restart, not the last pass): take them all at once.
    if (cw > floor) cw -= (Math.ceil((cw - floor) / di) - 1) * di;
    if (cw <= 0) {
      cw = mw;
      if (lastPass || last === head) {
        mark.cw = cw;
        mark.cl = head;
        return null;
      }
      restarted = true;
    }
    lastPass = cw <= di;
    if (lastPass && restarted && last !== head) stopped = true;
    pos = -1;
  }
}

export const wrr: Scheduler = {
  name: 'wrr',
  initService(svc) {
    const di = gcdWeight(svc);
    const mw = maxWeight(svc) - (di - 1);
    const mark: WrrMark = { cl: svc.destinations, cw: mw, mw, di, ix: new MaxIndex(MAX_WEIGHT, WRR_INDEX_MIN) };
    svc.schedData = mark;
  },
  doneService(svc) {
    (svc.schedData as WrrMark | null)?.ix.reset();
    svc.schedData = null;
  },
  addDest(svc, dest) {
    (svc.schedData as WrrMark).ix.add(svc, dest);
    destChanged(svc);
  },
  delDest(svc, dest) {
    (svc.schedData as WrrMark).ix.del(dest);
    destChanged(svc);
  },
  updDest(svc, dest) {
    (svc.schedData as WrrMark).ix.upd(svc, dest);
    destChanged(svc);
  },
  connsChanged(svc, dest) {
    (svc.schedData as WrrMark).ix.changed(dest);
  },
  schedule(svc) {
    const mark = svc.schedData as WrrMark;
    if (mark.mw === 0) {
      svc.lastSchedError = 'no destination available';
      return null;
    }
    let d: Dest | null | undefined;
    if (mark.ix.ready(svc)) d = wrrIndexed(svc, mark, mark.ix);
    if (d === undefined) d = wrrScan(svc, mark);
    if (d === null) svc.lastSchedError = 'no destination available: all destinations are overloaded';
    return d;
  },
};
