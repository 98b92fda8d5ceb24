/**
 * Weighted round robin, as net/netfilter/ipvs/ip_vs_wrr.c.
 * Owns the per-service mark: cl (position: a dest or the list head), cw (current weight),
 * mw (max weight - (di - 1)), di (gcd of the positive weights).
 * Why a weight edit does not restart the cycle: ip_vs_wrr_dest_changed moves cl back to the
 * head but keeps cw while it is <= the new mw (rounded to the gcd grid); goldens with
 * mid-sequence edits depend on it.
 */
import type { Dest } from '../dest.js';
import type { ListNode } from '../list.js';
import type { VirtualService } from '../service.js';
import type { Scheduler } from './scheduler.js';

export interface WrrMark {
  cl: ListNode;
  cw: number;
  mw: number;
  di: number;
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

export const wrr: Scheduler = {
  name: 'wrr',
  initService(svc) {
    const di = gcdWeight(svc);
    const mw = maxWeight(svc) - (di - 1);
    const mark: WrrMark = { cl: svc.destinations, cw: mw, mw, di };
    svc.schedData = mark;
  },
  doneService(svc) {
    svc.schedData = null;
  },
  addDest: destChanged,
  delDest: destChanged,
  updDest: destChanged,
  schedule(svc) {
    const mark = svc.schedData as WrrMark;
    const head = svc.destinations;
    let n: ListNode = mark.cl;
    if (mark.mw === 0) {
      svc.lastSchedError = 'no destination available';
      return null;
    }
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
          svc.lastSchedError = 'no destination available: all destinations are overloaded';
          return null;
        }
      }
      mark.cw -= mark.di;
      if (mark.cw <= 0) {
        mark.cw = mark.mw;
        if (lastPass || last === head) {
          mark.cl = head;
          svc.lastSchedError = 'no destination available: all destinations are overloaded';
          return null;
        }
        restarted = true;
      }
      lastPass = mark.cw <= mark.di;
      if (lastPass && restarted && last !== head) stop = last;
    }
  },
};
