/**
 * The virtual service table and its control operations, as net/netfilter/ipvs/ip_vs_ctl.c
 * (ip_vs_add_service, ip_vs_edit_service, ip_vs_del_service, ip_vs_flush, ip_vs_add_dest,
 * ip_vs_edit_dest, ip_vs_del_dest, ip_vs_zero_*, ip_vs_set_timeout) with the checks the generic
 * netlink layer makes first (ip_vs_genl_set_cmd). Every operation either throws an IpvsError
 * before changing anything or completes; a Journal records how to undo completed operations so
 * that the daemon can roll a whole transaction back when a dataplane refuses it.
 */
import { AF_INET, AF_INET6, type Af, type IpAddr } from './addr.js';
import {
  Dest, destKey, type DestUser, IP_VS_CONN_F_DEST_MASK, IP_VS_CONN_F_FWD_MASK, IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_MASQ, IP_VS_CONN_F_NOOUTPUT, IP_VS_CONN_F_TUNNEL, IP_VS_CONN_F_TUNNEL_TYPE_GUE,
  IP_VS_DEST_CF_AVAILABLE, updateOverload,
} from './dest.js';
import { emptyDiff, type TableDiff } from './diff.js';
import { IpvsError, type IpvsOp } from './errors.js';
import { listAdd, listDel, type ListNode } from './list.js';
import { getScheduler } from './sched/registry.js';
import type { Scheduler } from './sched/scheduler.js';
import {
  FTPPORT, fwmarkKey, IP_VS_SVC_F_HASHED, type Protocol, serviceKey, type ServiceUser, VirtualService,
} from './service.js';
import { Stats } from './stats/counters.js';
import { zeroStats } from './stats/estimator.js';

/** Identifies a service the way ip_vs_genl_parse_service does without a full entry. */
export interface ServiceId {
  af: Af;
  protocol: Protocol;
  addr: IpAddr;
  port: number;
  fwmark: number;
}

export interface Timeouts {
  /** TCP ESTABLISHED, seconds. */
  tcp: number;
  /** TCP FIN_WAIT, seconds. */
  tcpfin: number;
  udp: number;
}

/** ip_vs_proto_tcp.c / ip_vs_proto_udp.c defaults. */
export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({ tcp: 900, tcpfin: 120, udp: 300 });

/** IP_VS_DEST_TRASH_PERIOD: an unreferenced deleted dest is freed after this idle time. */
export const IP_VS_DEST_TRASH_PERIOD_MS = 120_000;
/** ip_vs_set_timeout: values above INT_MAX / HZ are EINVAL (HZ = 250 on the reference kernel). */
const HZ = 250;
const MAX_TIMEOUT_S = Math.floor(2147483647 / HZ);
const INT_MAX = 2147483647;

/**
 * A service with more real servers than this gets an index by identity, so that
 * ip_vs_lookup_dest (every -a/-e/-d) stays O(1) for big services; smaller ones walk the list,
 * which is cheaper than keeping a map up to date.
 */
const DEST_INDEX_MIN = 32;

/** The index key of a dest identity: the address fold and the port (below 2^48, exact). */
const destIndexKey = (addr: IpAddr, port: number): number => addr.fold() * 65536 + port;

/**
 * The key of an address service in the table's map: for IPv4 a number (protocol 1..3 above the
 * address and port, below 2^50: exact), for IPv6 serviceKey's string. Other protocols get 0,
 * which no service has, so they find nothing, as with their string keys.
 */
function tableKey(protocol: number, addr: IpAddr, port: number): number | string {
  if (addr.af !== AF_INET) return serviceKey(protocol, addr, port);
  const p = protocol === 6 ? 1 : protocol === 17 ? 2 : protocol === 132 ? 3 : 0;
  return (p * 4294967296 + addr.w0) * 65536 + port;
}

const svcTableKey = (svc: VirtualService): number | string =>
  (svc.fwmark ? fwmarkKey(svc.af, svc.fwmark) : tableKey(svc.protocol, svc.addr, svc.port));

/** The only persistence engine the kernel has (ip_vs_pe_sip.c). */
const PERSISTENCE_ENGINES = new Set(['sip']);

type Undo = () => void;

/**
 * Undo steps and the diff of the operations done since the journal was opened. A step is a
 * function, or a Dest that was created by the step's add-dest and has only to be unlinked
 * again: a restore adds 10^5 of those, and a closure each costs more than the rest of the add.
 */
export class Journal {
  readonly undo: (Undo | Dest)[] = [];
  readonly diff: TableDiff = emptyDiff();
  readonly #unlinkNew: (d: Dest) => void;

  constructor(unlinkNew: (d: Dest) => void) {
    this.#unlinkNew = unlinkNew;
  }

  rollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const u = this.undo[i];
      if (typeof u === 'function') u();
      else this.#unlinkNew(u);
    }
    this.undo.length = 0;
  }
}

export class ServiceTable {
  /** By tableKey: no string is built to find an IPv4 service (every -a line, every packet). */
  readonly #services = new Map<number | string, VirtualService>();
  /** Deleted dests kept with their counters, keyed by service identity and dest identity. */
  readonly #trash = new Map<string, Dest>();
  #svcSeq = 0;
  #destSeq = 0;
  ftpsvcCounter = 0;
  nullsvcCounter = 0;
  mixedAddressFamilyDests = 0;
  timeouts: Timeouts = { ...DEFAULT_TIMEOUTS };
  /** Global totals (/proc/net/ip_vs_stats). */
  readonly totStats = new Stats();
  /** Journal that records undo steps, or null outside a transaction. */
  #journal: Journal | null = null;
  /**
   * Linked dests of big services by destIndexKey (a key shared by two identities holds an
   * array). Kept in step by #linkDest/#unlinkDest; built on the first lookup that needs it and
   * dropped with the service's last dest. The list stays the truth for order.
   */
  readonly #destIndex = new Map<VirtualService, Map<number, Dest | Dest[]>>();

  /** Run `fn` with a fresh journal; returns it (undo steps and diff). */
  transaction(fn: () => void): Journal {
    if (this.#journal) throw new Error('nested transaction');
    const j = new Journal(this.#unlinkNewDest);
    this.#journal = j;
    try {
      fn();
    } finally {
      this.#journal = null;
    }
    return j;
  }

  /**
   * A rolled-back delete re-inserts its service at the end of the map; the next listing puts it
   * back in creation order (seq), so a command that failed leaves the listing order unchanged.
   */
  #orderDirty = false;

  /** Services in creation order (stands in for the kernel's hash order). */
  services(): VirtualService[] {
    if (this.#orderDirty) {
      const all = [...this.#services.values()].sort((a, b) => a.seq - b.seq);
      this.#services.clear();
      for (const svc of all) this.#services.set(svcTableKey(svc), svc);
      this.#orderDirty = false;
    }
    return [...this.#services.values()];
  }

  get size(): number {
    return this.#services.size;
  }

  find(id: ServiceId): VirtualService | null {
    const k = id.fwmark ? fwmarkKey(id.af, id.fwmark) : tableKey(id.protocol, id.addr, id.port);
    return this.#services.get(k) ?? null;
  }

  findByAddr(protocol: number, addr: IpAddr, port: number): VirtualService | null {
    return this.#services.get(tableKey(protocol, addr, port)) ?? null;
  }

  findFwmark(af: Af, fwmark: number): VirtualService | null {
    return this.#services.get(fwmarkKey(af, fwmark)) ?? null;
  }

  /**
   * ip_vs_service_find: the service a packet belongs to. A fwmark first, then the exact
   * address and port, then the FTP data rule, then a port-0 service.
   */
  lookupForPacket(af: Af, fwmark: number, protocol: number, addr: IpAddr, port: number): VirtualService | null {
    if (fwmark) {
      const s = this.findFwmark(af, fwmark);
      if (s) return s;
    }
    let s = this.findByAddr(protocol, addr, port);
    if (s) return s;
    if (this.ftpsvcCounter > 0 && protocol === 6 && (port === 20 || port >= 1024)) {
      s = this.findByAddr(protocol, addr, FTPPORT);
      if (s) return s;
    }
    if (this.nullsvcCounter > 0) {
      s = this.findByAddr(protocol, addr, 0);
      if (s) return s;
    }
    return null;
  }

  #record(u: Undo): void {
    this.#journal?.undo.push(u);
  }

  #diff(): TableDiff | null {
    return this.#journal ? this.#journal.diff : null;
  }

  #lookupSched(op: IpvsOp, name: string): Scheduler | null {
    if (name === 'none') return null;
    const s = getScheduler(name);
    if (!s) throw new IpvsError(op, 'ENOENT', `scheduler "${name}" not found`);
    return s;
  }

  #checkPe(op: IpvsOp, pe: string): void {
    if (pe && !PERSISTENCE_ENGINES.has(pe)) throw new IpvsError(op, 'ENOENT', `persistence engine "${pe}" not found`);
  }

  #checkNetmask(op: IpvsOp, u: ServiceUser): void {
    if (u.af === AF_INET6 && (u.netmask < 1 || u.netmask > 128)) {
      throw new IpvsError(op, 'EINVAL', `IPv6 prefix length ${u.netmask} outside 1..128`);
    }
  }

  #requireService(op: IpvsOp, id: ServiceId): VirtualService {
    const svc = this.find(id);
    if (!svc) throw new IpvsError(op, 'ESRCH', 'no such service');
    return svc;
  }

  /** IPVS_CMD_NEW_SERVICE. */
  addService(u: ServiceUser): VirtualService {
    if (this.find(u)) throw new IpvsError('add-service', 'EEXIST', 'service already exists');
    const sched = this.#lookupSched('add-service', u.schedName);
    this.#checkPe('add-service', u.peName);
    this.#checkNetmask('add-service', u);
    const svc = new VirtualService(u, ++this.#svcSeq);
    if (sched) {
      sched.initService(svc);
      svc.scheduler = sched;
    }
    this.#countSpecialPorts(svc, 1);
    this.#services.set(svcTableKey(svc), svc);
    this.#diff()?.addedServices.push(svc);
    this.#record(() => {
      this.#services.delete(svcTableKey(svc));
      this.#countSpecialPorts(svc, -1);
      if (svc.scheduler) svc.scheduler.doneService(svc);
      svc.scheduler = null;
    });
    return svc;
  }

  #countSpecialPorts(svc: VirtualService, by: number): void {
    if (svc.port === FTPPORT) this.ftpsvcCounter += by;
    else if (svc.port === 0) this.nullsvcCounter += by;
  }

  /** IPVS_CMD_SET_SERVICE: every field is replaced (ipvsadm sends mask = all flags). */
  editService(id: ServiceId, u: ServiceUser): VirtualService {
    const svc = this.#requireService('edit-service', id);
    const sched = this.#lookupSched('edit-service', u.schedName);
    this.#checkPe('edit-service', u.peName);
    this.#checkNetmask('edit-service', u);
    const old = {
      scheduler: svc.scheduler, schedData: svc.schedData, flags: svc.flags,
      timeoutS: svc.timeoutS, netmask: svc.netmask, peName: svc.peName,
    };
    if (sched !== svc.scheduler) {
      if (svc.scheduler) svc.scheduler.doneService(svc);
      svc.scheduler = null;
      svc.schedData = null;
      if (sched) {
        sched.initService(svc);
        svc.scheduler = sched;
      }
    }
    svc.flags = u.flags & ~IP_VS_SVC_F_HASHED;
    svc.timeoutS = u.timeoutS;
    svc.netmask = u.netmask;
    svc.peName = u.peName;
    this.#diff()?.changedServices.push(svc);
    this.#record(() => {
      if (svc.scheduler !== old.scheduler && svc.scheduler) svc.scheduler.doneService(svc);
      svc.scheduler = old.scheduler;
      svc.schedData = old.schedData;
      svc.flags = old.flags;
      svc.timeoutS = old.timeoutS;
      svc.netmask = old.netmask;
      svc.peName = old.peName;
    });
    return svc;
  }

  /** IPVS_CMD_DEL_SERVICE: dests go to the trash (without scheduler hooks), then the service. */
  delService(id: ServiceId): void {
    const svc = this.#requireService('del-service', id);
    this.#unlinkService(svc);
  }

  #unlinkService(svc: VirtualService): void {
    const dests = svc.dests();
    const sched = svc.scheduler;
    const schedData = svc.schedData;
    this.#services.delete(svcTableKey(svc));
    if (sched) sched.doneService(svc);
    svc.scheduler = null;
    for (const d of dests) {
      this.#unlinkDest(svc, d, false);
      this.#toTrash(d);
    }
    this.#countSpecialPorts(svc, -1);
    const diff = this.#diff();
    if (diff) {
      diff.removedServices.push(svc);
      for (const d of dests) diff.removedDests.push(d);
    }
    this.#record(() => {
      for (let i = dests.length - 1; i >= 0; i--) {
        const d = dests[i];
        this.#trash.delete(this.#trashKey(svc, d.af, d.addr, d.port));
        this.#linkDest(svc, d);
        d.cflags |= IP_VS_DEST_CF_AVAILABLE;
      }
      this.#countSpecialPorts(svc, 1);
      svc.scheduler = sched;
      svc.schedData = schedData;
      this.#services.set(svcTableKey(svc), svc);
      this.#orderDirty = true;
    });
  }

  /** IPVS_CMD_FLUSH. */
  flush(): void {
    for (const svc of this.services()) this.#unlinkService(svc);
  }

  #trashKey(svc: VirtualService, af: Af, addr: IpAddr, port: number): string {
    return `${svc.key()}|${destKey(addr, port)}|${af}`;
  }

  #toTrash(d: Dest): void {
    d.idleStartMs = 0;
    this.#trash.set(this.#trashKey(d.svc, d.af, d.addr, d.port), d);
  }

  /** ip_vs_dest_trash_expire: free deleted dests no connection refers to any more. */
  purgeTrash(nowMs: number): number {
    let freed = 0;
    for (const [k, d] of this.#trash) {
      if (d.refcnt > 0) continue;
      if (d.idleStartMs) {
        if (nowMs < d.idleStartMs + IP_VS_DEST_TRASH_PERIOD_MS) continue;
      } else {
        d.idleStartMs = Math.max(1, nowMs);
        continue;
      }
      this.#trash.delete(k);
      freed++;
    }
    return freed;
  }

  get trashSize(): number {
    return this.#trash.size;
  }

  #linkDest(svc: VirtualService, d: Dest): void {
    d.seq = ++this.#destSeq;
    this.#listInsert(svc, d, svc.destinations);
  }

  /** Puts `d` into the list of `svc` after `at` (the head: at the front), and into the index. */
  #listInsert(svc: VirtualService, d: Dest, at: ListNode): void {
    listAdd(d, at);
    svc.numDests++;
    if (d.af !== svc.af) this.mixedAddressFamilyDests++;
    const ix = this.#destIndex.get(svc);
    if (ix) indexAdd(ix, d);
  }

  /** __ip_vs_unlink_dest. The dest keeps `next` pointing at its old successor. */
  #unlinkDest(svc: VirtualService, d: Dest, svcupd: boolean): void {
    d.cflags &= ~IP_VS_DEST_CF_AVAILABLE;
    listDel(d);
    svc.numDests--;
    if (d.af !== svc.af) this.mixedAddressFamilyDests--;
    const ix = this.#destIndex.get(svc);
    if (ix) {
      if (svc.numDests === 0) this.#destIndex.delete(svc);
      else indexDel(ix, d);
    }
    if (svcupd && svc.scheduler) svc.scheduler.delDest(svc, d);
  }

  /** Checks common to ip_vs_add_dest and ip_vs_edit_dest, and the genl mixed-family rule. */
  #checkDest(op: IpvsOp, svc: VirtualService, u: DestUser): void {
    if (u.af !== svc.af && (u.connFlags & IP_VS_CONN_F_FWD_MASK) !== IP_VS_CONN_F_TUNNEL) {
      throw new IpvsError(op, 'EINVAL', 'a destination of another address family must use tunneling');
    }
    if (u.weight < 0) throw new IpvsError(op, 'ERANGE', 'server weight less than zero');
    if (u.lThreshold > u.uThreshold) throw new IpvsError(op, 'ERANGE', 'lower threshold is higher than upper threshold');
    if (u.uThreshold > INT_MAX) throw new IpvsError(op, 'EINVAL', 'upper threshold above INT_MAX');
    if (u.tunType === IP_VS_CONN_F_TUNNEL_TYPE_GUE && u.tunPort === 0) {
      throw new IpvsError(op, 'EINVAL', 'tunnel port is zero');
    }
  }

  /** ip_vs_new_dest's address check: unicast or local only (inet_addr_type, ipv6_addr_type). */
  #checkDestAddr(op: IpvsOp, a: IpAddr): void {
    if (a.af === AF_INET) {
      const top = a.w0 >>> 24;
      if (top === 0 || a.w0 === 0xffffffff || (top & 0xf0) === 0xe0) {
        throw new IpvsError(op, 'EINVAL', `address ${a.toString()} is not unicast`);
      }
      return;
    }
    const isAny = a.w0 === 0 && a.w1 === 0 && a.w2 === 0 && a.w3 === 0;
    const isMulticast = (a.w0 >>> 24) === 0xff;
    const isLinkLocal = (a.w0 >>> 22) === (0xfe80 >>> 6);
    if (isAny || isMulticast || isLinkLocal) throw new IpvsError(op, 'EINVAL', `address ${a.toString()} is not unicast`);
  }

  /** IPVS_CMD_NEW_DEST (ip_vs_add_dest, ip_vs_new_dest, trash revival). */
  addDest(id: ServiceId, u: DestUser): Dest {
    const svc = this.#requireService('add-dest', id);
    this.#checkDest('add-dest', svc, u);
    if (this.lookupDest(svc, u.af, u.addr, u.port)) throw new IpvsError('add-dest', 'EEXIST', 'destination already exists');
    // Most adds find an empty trash: then no key needs to be built.
    const tk = this.#trash.size === 0 ? '' : this.#trashKey(svc, u.af, u.addr, u.port);
    const revived = this.#trash.size === 0 ? undefined : this.#trash.get(tk);
    let d: Dest;
    let prev: DestSnapshot | null = null;
    if (revived) {
      d = revived;
      prev = snapshotDest(d);
      this.#trash.delete(tk);
    } else {
      this.#checkDestAddr('add-dest', u.addr);
      d = new Dest(svc, u);
    }
    const oldSvc = d.svc;
    if (oldSvc !== svc) {
      zeroStats(d.stats);
      d.svc = svc;
    }
    this.#updateDest(svc, d, u, true);
    this.#diff()?.addedDests.push(d);
    if (revived && prev) {
      const back = prev;
      this.#record(() => {
        this.#unlinkDest(svc, d, true);
        restoreDest(d, back);
        d.svc = oldSvc;
        this.#trash.set(tk, d);
      });
    } else {
      this.#journal?.undo.push(d);
    }
    return d;
  }

  /**
   * The undo of adding a new dest (no trash revival): unlink it. Steps are undone newest first,
   * so d.svc is again the service it was added to (a later revival into another service object
   * of the same identity has been undone before).
   */
  readonly #unlinkNewDest = (d: Dest): void => this.#unlinkDest(d.svc, d, true);

  /** IPVS_CMD_SET_DEST. */
  editDest(id: ServiceId, u: DestUser): Dest {
    const svc = this.#requireService('edit-dest', id);
    this.#checkDest('edit-dest', svc, u);
    const d = this.lookupDest(svc, u.af, u.addr, u.port);
    if (!d) throw new IpvsError('edit-dest', 'ENOENT', 'no such destination');
    const prev = snapshotDest(d);
    this.#updateDest(svc, d, u, false);
    this.#diff()?.changedDests.push(d);
    this.#record(() => {
      restoreDest(d, prev);
      if (svc.scheduler) svc.scheduler.updDest(svc, d);
    });
    return d;
  }

  /** IPVS_CMD_DEL_DEST. */
  delDest(id: ServiceId, af: Af, addr: IpAddr, port: number): void {
    const svc = this.#requireService('del-dest', id);
    const d = this.lookupDest(svc, af, addr, port);
    if (!d) throw new IpvsError('del-dest', 'ENOENT', 'no such destination');
    const prevNode: ListNode = d.prev;
    this.#unlinkDest(svc, d, true);
    this.#toTrash(d);
    this.#diff()?.removedDests.push(d);
    this.#record(() => {
      this.#trash.delete(this.#trashKey(svc, d.af, d.addr, d.port));
      this.#listInsert(svc, d, prevNode);
      d.cflags |= IP_VS_DEST_CF_AVAILABLE;
      if (svc.scheduler) svc.scheduler.updDest(svc, d);
    });
  }

  /**
   * ip_vs_lookup_dest: a linked dest of `svc` with this address and port. At most one linked
   * dest has a given identity (ip_vs_add_dest refuses a second), so the index finds the one
   * the kernel's list walk would.
   */
  lookupDest(svc: VirtualService, af: Af, addr: IpAddr, port: number): Dest | null {
    if (svc.numDests > DEST_INDEX_MIN) {
      let ix = this.#destIndex.get(svc);
      if (!ix) {
        ix = new Map();
        const head = svc.destinations;
        for (let n = head.next; n !== head; n = n.next) indexAdd(ix, n as Dest);
        this.#destIndex.set(svc, ix);
      }
      const hit = ix.get(destIndexKey(addr, port));
      if (hit === undefined) return null;
      if (!Array.isArray(hit)) return hit.port === port && hit.af === af && hit.addr.equals(addr) ? hit : null;
      for (const d of hit) if (d.port === port && d.af === af && d.addr.equals(addr)) return d;
      return null;
    }
    const head = svc.destinations;
    for (let n = head.next; n !== head; n = n.next) {
      const d = n as Dest;
      if (d.port === port && d.af === af && d.addr.equals(addr)) return d;
    }
    return null;
  }

  /** __ip_vs_update_dest. */
  #updateDest(svc: VirtualService, d: Dest, u: DestUser, add: boolean): void {
    if (add || u.weight !== 0) d.lastWeight = u.weight;
    d.weight = u.weight;
    let connFlags = (u.connFlags & IP_VS_CONN_F_DEST_MASK) | IP_VS_CONN_F_INACTIVE;
    d.tunType = u.tunType;
    d.tunPort = u.tunPort;
    d.tunFlags = u.tunFlags;
    d.proxyProtocol = u.proxyProtocol ?? 0;
    if ((connFlags & IP_VS_CONN_F_FWD_MASK) !== IP_VS_CONN_F_MASQ) connFlags |= IP_VS_CONN_F_NOOUTPUT;
    d.connFlags = connFlags;
    d.cflags |= IP_VS_DEST_CF_AVAILABLE;
    if (d.uThreshold !== u.uThreshold || d.lThreshold !== u.lThreshold) {
      d.uThreshold = u.uThreshold;
      d.lThreshold = u.lThreshold;
      d.lThresholdVal = u.lThreshold || u.uThreshold - (u.uThreshold >>> 2);
      updateOverload(d, 0);
    }
    if (add) {
      this.#linkDest(svc, d);
      if (svc.scheduler) svc.scheduler.addDest(svc, d);
    } else if (svc.scheduler) {
      svc.scheduler.updDest(svc, d);
    }
  }

  /** IPVS_CMD_ZERO with a service. */
  zeroService(id: ServiceId): void {
    const svc = this.#requireService('zero-service', id);
    for (const d of svc.dests()) zeroStats(d.stats);
    zeroStats(svc.stats);
  }

  /** IPVS_CMD_ZERO without a service: every service, every dest and the global totals. */
  zeroAll(): void {
    for (const svc of this.#services.values()) {
      for (const d of svc.dests()) zeroStats(d.stats);
      zeroStats(svc.stats);
    }
    zeroStats(this.totStats);
  }

  /** ip_vs_set_timeout: 0 leaves a value unchanged; above INT_MAX/HZ is EINVAL. */
  setTimeouts(t: Timeouts): void {
    if (t.tcp < 0 || t.tcp > MAX_TIMEOUT_S || t.tcpfin < 0 || t.tcpfin > MAX_TIMEOUT_S || t.udp < 0 || t.udp > MAX_TIMEOUT_S) {
      throw new IpvsError('set-timeout', 'EINVAL', 'timeout out of range');
    }
    const old = { ...this.timeouts };
    if (t.tcp) this.timeouts.tcp = t.tcp;
    if (t.tcpfin) this.timeouts.tcpfin = t.tcpfin;
    if (t.udp) this.timeouts.udp = t.udp;
    const diff = this.#diff();
    if (diff) diff.timeoutsChanged = true;
    this.#record(() => {
      this.timeouts = old;
    });
  }
}

function indexAdd(ix: Map<number, Dest | Dest[]>, d: Dest): void {
  const k = destIndexKey(d.addr, d.port);
  const had = ix.get(k);
  if (had === undefined) ix.set(k, d);
  else if (Array.isArray(had)) had.push(d);
  else ix.set(k, [had, d]);
}

function indexDel(ix: Map<number, Dest | Dest[]>, d: Dest): void {
  const k = destIndexKey(d.addr, d.port);
  const had = ix.get(k);
  if (had === d) ix.delete(k);
  else if (Array.isArray(had)) {
    const rest = had.filter((x) => x !== d);
    ix.set(k, rest.length === 1 ? rest[0] : rest);
  }
}

interface DestSnapshot {
  weight: number; lastWeight: number; connFlags: number; cflags: number; flags: number;
  tunType: number; tunPort: number; tunFlags: number; proxyProtocol: number;
  uThreshold: number; lThreshold: number; lThresholdVal: number;
}

function snapshotDest(d: Dest): DestSnapshot {
  return {
    weight: d.weight, lastWeight: d.lastWeight, connFlags: d.connFlags, cflags: d.cflags, flags: d.flags,
    tunType: d.tunType, tunPort: d.tunPort, tunFlags: d.tunFlags, proxyProtocol: d.proxyProtocol,
    uThreshold: d.uThreshold, lThreshold: d.lThreshold, lThresholdVal: d.lThresholdVal,
  };
}

function restoreDest(d: Dest, s: DestSnapshot): void {
  Object.assign(d, s);
}
