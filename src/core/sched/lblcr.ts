/**
 * Locality-based least connection with replication, as net/netfilter/ipvs/ip_vs_lblcr.c.
 * Owns (svc.schedData) the same locality table as lblc (./lblc.ts: 1024 buckets by destination
 * address, the 1.5 × max_size creation limit, the 60 s garbage collection), but each entry maps
 * the address to a *set* of destinations (new members at the head) with a lastmod time.
 * - A hit refreshes lastuse and takes wlc's choice among the members that are still in the
 *   service (skipping OVERLOAD). If the set has more than one member and has not changed for
 *   lblcr_expiration, its most loaded member is dropped first — but the choice already made
 *   stands, even if it was that member. The choice is used unless absent or lblc-overloaded;
 *   then wlc's choice over the whole service joins the set.
 * - A miss takes wlc's choice over the service and creates a one-member entry.
 * Why the miss path sets no lastSchedError when nothing is available: the kernel only emits a
 *   debug message there (IP_VS_DBG), not ip_vs_scheduler_err's log line.
 * Why set_max ignores OVERLOAD and removed members: ip_vs_dest_set_max checks only weight > 0.
 * Members hold dest.refcnt, as the kernel's set elements hold a dest reference.
 * Big services keep lblc's index (./dest-index.ts) for the wlc fallback and is_overloaded.
 */
import type { Af } from '../addr.js';
import type { Dest } from '../dest.js';
import type { Flow } from '../flow.js';
import type { VirtualService } from '../service.js';
import {
  CHECK_EXPIRE_INTERVAL_MS, DEFAULT_EXPIRATION_S, lblcOverloaded, localityIndex, type LocalityEntry, LocalityTable,
  wlcFallback,
} from './lblc.js';
import { destIndexHooks } from './dest-index.js';
import { connOverhead, mulGt, type Scheduler } from './scheduler.js';

/** The sysctl lblcr reads (IpvsSysctls satisfies it); read at each use. */
export interface LblcrSysctl {
  readonly lblcrExpirationS: number;
}

const DEFAULT_LBLCR_SYSCTL: LblcrSysctl = Object.freeze({ lblcrExpirationS: DEFAULT_EXPIRATION_S });

export class LblcrEntry implements LocalityEntry<LblcrEntry> {
  next: LblcrEntry | null = null;
  a0 = 0; a1 = 0; a2 = 0; a3 = 0;
  lastuse = 0;
  hid = -1;
  /** struct ip_vs_dest_set: members, the list head first (the newest). Each holds a refcnt. */
  readonly set: Dest[] = [];
  /** set.lastmod, ms. */
  lastmod = 0;
}

export class LblcrState extends LocalityTable<LblcrEntry> {
  sysctl: LblcrSysctl = DEFAULT_LBLCR_SYSCTL;
  /** tslvs's index of the service's dests (not the kernel's). */
  readonly ix = localityIndex();
  constructor(af: Af) {
    super(af, releaseLblcrEntry);
  }
  get expirationMs(): number {
    return this.sysctl.lblcrExpirationS * 1000;
  }
}

/** ip_vs_dest_set_eraseall. */
function releaseLblcrEntry(e: LblcrEntry): void {
  const set = e.set;
  for (let i = 0; i < set.length; i++) set[i].refcnt--;
  set.length = 0;
}

/**
 * Make an lblcr service read lblcr_expiration from `sysctl` (e.g. the Ipvs instance's sysctls).
 * Does nothing if the service is not bound to lblcr.
 */
export function setLblcrSysctl(svc: VirtualService, sysctl: LblcrSysctl): void {
  if (svc.schedData instanceof LblcrState) svc.schedData.sysctl = sysctl;
}

/** ip_vs_dest_set_insert: at the head; with `check`, nothing happens for a member. */
function setInsert(en: LblcrEntry, dest: Dest, check: boolean, nowMs: number): void {
  if (check && en.set.includes(dest)) return;
  dest.refcnt++;
  en.set.unshift(dest);
  en.lastmod = nowMs;
}

/** ip_vs_dest_set_erase. */
function setErase(en: LblcrEntry, dest: Dest, nowMs: number): void {
  const i = en.set.indexOf(dest);
  if (i < 0) return;
  en.lastmod = nowMs;
  en.set.splice(i, 1);
  dest.refcnt--;
}

/**
 * ip_vs_dest_set_min: the first member that is not OVERLOAD, has weight > 0 and is still in the
 * service, then strictly less loaded (overhead/weight) available members replace it.
 */
function setMin(set: readonly Dest[]): Dest | null {
  let i = 0;
  let least: Dest | null = null;
  for (; i < set.length; i++) {
    const d = set[i];
    if (d.isOverloaded()) continue;
    if (d.weight > 0 && d.isAvailable()) {
      least = d;
      break;
    }
  }
  if (least === null) return null;
  let loh = connOverhead(least);
  for (i++; i < set.length; i++) {
    const d = set[i];
    if (d.isOverloaded()) continue;
    const doh = connOverhead(d);
    if (mulGt(loh, d.weight, doh, least.weight) && d.isAvailable()) {
      least = d;
      loh = doh;
    }
  }
  return least;
}

/** ip_vs_dest_set_max: the first member with weight > 0, then strictly more loaded ones. */
function setMax(set: readonly Dest[]): Dest | null {
  let i = 0;
  let most: Dest | null = null;
  for (; i < set.length; i++) {
    if (set[i].weight > 0) {
      most = set[i];
      break;
    }
  }
  if (most === null) return null;
  let moh = connOverhead(most);
  for (i++; i < set.length; i++) {
    const d = set[i];
    const doh = connOverhead(d);
    // moh/mw < doh/dw  <=>  moh*dw < doh*mw
    if (mulGt(doh, most.weight, moh, d.weight) && d.weight > 0) {
      most = d;
      moh = doh;
    }
  }
  return most;
}

export const lblcr: Scheduler = {
  name: 'lblcr',
  initService(svc) {
    svc.schedData = new LblcrState(svc.af);
  },
  doneService(svc) {
    if (svc.schedData instanceof LblcrState) {
      svc.schedData.flush();
      svc.schedData.ix.reset();
    }
    svc.schedData = null;
  },
  ...destIndexHooks((svc) => (svc.schedData as LblcrState).ix),
  schedule(svc, flow: Flow, nowMs) {
    const tbl = svc.schedData as LblcrState;
    const ix = tbl.ix;
    ix.ready(svc);
    const en = tbl.get(flow);
    let dest: Dest | null;
    if (en !== null) {
      en.lastuse = nowMs;
      dest = setMin(en.set);
      // time_after(jiffies, lastmod + expiration)
      if (en.set.length > 1 && nowMs > en.lastmod + tbl.expirationMs) {
        const m = setMax(en.set);
        if (m !== null) setErase(en, m, nowMs);
      }
      if (dest !== null && !lblcOverloaded(dest, svc, ix)) return dest;
      dest = wlcFallback(svc, ix);
      if (dest === null) {
        svc.lastSchedError = 'no destination available';
        return null;
      }
      setInsert(en, dest, true, nowMs);
      return dest;
    }
    dest = wlcFallback(svc, ix);
    if (dest === null) return null;
    // ip_vs_lblcr_new: no entry exists, so only the creation limit can refuse.
    if (tbl.entries >= Math.trunc((tbl.maxSize * 3) / 2)) return dest;
    const e = tbl.takeFree() ?? new LblcrEntry();
    tbl.setAddr(e, flow);
    e.lastuse = nowMs;
    setInsert(e, dest, false, nowMs);
    tbl.link(e);
    return dest;
  },
  periodMs: CHECK_EXPIRE_INTERVAL_MS,
  periodic(svc, nowMs) {
    const tbl = svc.schedData as LblcrState;
    tbl.checkExpire(nowMs, tbl.expirationMs);
  },
};
