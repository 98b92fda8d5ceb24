/**
 * The IPVS instance of one director (struct netns_ipvs): the service table, the connection
 * table, the sysctls and the global counters. Dataplanes call it per packet (or per relay
 * event); the daemon drives its timers with tick(nowMs) and its defenses with defenseTick.
 * Pure: time and randomness are arguments (`random` is injected).
 *
 * Follows net/netfilter/ipvs of Linux 6.1.192:
 * - inPacket is ip_vs_in_hook: connection lookup, conn_reuse_mode / expire_nodest_conn,
 *   dropping packets of deleted destinations, *_conn_schedule (which packets may create an
 *   entry), ip_vs_schedule / ip_vs_sched_persist, ip_vs_leave, ip_vs_in_stats, the protocol
 *   state machine, ip_vs_conn_put (timer re-arm; one-packet entries die here).
 * - outPacket is ip_vs_out_hook + handle_response for NAT replies.
 * - Entries, templates, control and expiry are ip_vs_conn.c (ip_vs_conn_new, ip_vs_bind_dest,
 *   ip_vs_conn_expire with "keep a controlling entry 60 s more", ip_vs_check_template,
 *   ip_vs_conn_del, ip_vs_expire_nodest_conn_flush, ip_vs_random_dropentry).
 * - Timers run in jiffies (HZ 250) with the kernel timer wheel's rounding (conn/timer-wheel.ts):
 *   an entry is freed at the end of its wheel bucket, up to 2 s after a 60 s timeout and 16 s
 *   after a 900 s one, while listings count down to the requested expiry, as on the kernel.
 * Flow.tcpFlags carries the TCP flags, or for SCTP the chunk type set_sctp_state acts on
 * (conn/sctp-state.ts sctpEffectiveChunk).
 * Not modelled: conntrack (sysctl conntrack, IP_VS_CONN_F_NFCT), application helpers (FTP),
 * persistence engines (--pe sip), the sync daemon, ICMP errors, fragments, and the
 * "do not schedule replies from a local real server" check of ip_vs_schedule.
 */
import { AF_INET, AF_INET6, type Af, formatIPv4, formatIPv6, IpAddr } from './addr.js';
import { bindDest, setActive, unbindDest } from './conn/bind.js';
import { AFS_DAF_V6, AFS_V6, ConnTable } from './conn/conn-table.js';
import {
  INVALID_TEMPLATE_PORT, persistConnDport, persistTemplateKey, TemplateKey, templateDport,
} from './conn/persistence.js';
import {
  IP_VS_SCTP_S_CLOSED, IP_VS_SCTP_S_ESTABLISHED, IP_VS_SCTP_S_INIT, IP_VS_SCTP_S_INIT1, SCTP_CID_ABORT,
  SCTP_CID_INIT, SCTP_DIR_INPUT, SCTP_DIR_INPUT_ONLY, SCTP_DIR_OUTPUT, SCTP_TIMEOUTS_S, sctpNextState, sctpStateName,
} from './conn/sctp-state.js';
import {
  IP_VS_TCP_S_CLOSE, IP_VS_TCP_S_ESTABLISHED, IP_VS_TCP_S_FIN_WAIT, IP_VS_TCP_S_SYN_RECV, IP_VS_TCP_S_SYNACK,
  IP_VS_TCP_S_TIME_WAIT, TCP_DIR_INPUT, TCP_DIR_INPUT_ONLY, TCP_DIR_OUTPUT, TCP_STATES, TCP_STATES_DOS,
  TCP_TIMEOUTS_S, tcpNextState, tcpStateActive, tcpStateName,
} from './conn/tcp-state.js';
import { HZ, jiffiesToMs, msToJiffies, TimerWheel } from './conn/timer-wheel.js';
import { udpStateName } from './conn/udp-state.js';
import {
  type Dest, IP_VS_CONN_F_BYPASS, IP_VS_CONN_F_FWD_MASK, IP_VS_CONN_F_HASHED, IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_MASQ, IP_VS_CONN_F_NOOUTPUT, IP_VS_CONN_F_ONE_PACKET, IP_VS_CONN_F_TEMPLATE,
} from './dest.js';
import { type Flow, TCP_RST, TCP_SYN } from './flow.js';
import { setLblcSysctl } from './sched/lblc.js';
import { setLblcrSysctl } from './sched/lblcr.js';
import type { RandomU32, Scheduler } from './sched/scheduler.js';
import {
  FTPPORT, IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP,
  type ServiceUser, type VirtualService,
} from './service.js';
import { type Journal, type ServiceId, ServiceTable } from './service-table.js';
import type { Stats } from './stats/counters.js';
import { estimatorTick, IP_VS_EST_PERIOD_MS } from './stats/estimator.js';

/** /proc/sys/net/ipv4/vs/* that change behaviour (Documentation/networking/ipvs-sysctl.rst). */
export interface IpvsSysctls {
  expireNodestConn: number;
  expireQuiescentTemplate: number;
  connReuseMode: number;
  sloppyTcp: number;
  sloppySctp: number;
  /** 0 off, 1 automatic, 2 automatic and on, 3 always on (§9); applied by defenseTick. */
  secureTcp: number;
  /** As secureTcp; while on, defenseTick drops entries at random (ip_vs_random_dropentry). */
  dropEntry: number;
  natIcmpSend: number;
  schedule_icmp: number;
  cacheBypass: number;
  lblcExpirationS: number;
  lblcrExpirationS: number;
  /** As secureTcp; while on, one of every `rate` new-connection packets is dropped. */
  dropPacket: number;
  /** Drop rate of drop_packet mode 3. */
  amDroprate: number;
  /** Available-memory threshold in pages below which the automatic defenses switch on. */
  amemthresh: number;
  /** 0 stops the rate estimator (and, on 6.1, the displayed counters). */
  runEstimation: number;
}

export const DEFAULT_SYSCTLS: Readonly<IpvsSysctls> = Object.freeze({
  expireNodestConn: 0,
  expireQuiescentTemplate: 0,
  connReuseMode: 1,
  sloppyTcp: 0,
  sloppySctp: 0,
  secureTcp: 0,
  dropEntry: 0,
  natIcmpSend: 0,
  schedule_icmp: 0,
  cacheBypass: 0,
  lblcExpirationS: 86400,
  lblcrExpirationS: 86400,
  dropPacket: 0,
  amDroprate: 10,
  amemthresh: 1024,
  runEstimation: 1,
});

export interface IpvsOptions {
  random: RandomU32;
  /** log2 of the connection hash size shown as (size=N); 12 as the reference kernel. */
  connTabBits?: number;
  /** Upper bound of live connection entries, templates included (memory grows on demand up to it). */
  maxConns?: number;
  /** Entries allocated up front (default 1024). */
  initialConns?: number;
  /** The clock value at creation: the estimator runs every 2 s from here. */
  startMs?: number;
  /**
   * ip_vs_leave's cache_bypass test: is the packet's destination a non-local unicast address?
   * The core cannot know local addresses; by default any unicast address qualifies.
   */
  isBypassTarget?: (f: Flow) => boolean;
}

/** Default maxConns: 4 Mi entries (about 340 MB of columns when full). */
export const DEFAULT_MAX_CONNS = 1 << 22;

// ---- verdicts of inPacket / outPacket ----
/** No service for this packet: it continues to the local stack untouched. */
export const VERDICT_NOT_OURS = 0;
/** Forward with curDest / curConn (method from the entry's flags). outPacket: SNAT to the entry's vaddr:vport. */
export const VERDICT_FORWARD = 1;
/**
 * ip_vs_leave: send ICMP port unreachable to the packet's source and drop. From outPacket
 * (nat_icmp_send): the source is a real server whose reply matched no entry.
 */
export const VERDICT_NO_DEST = 2;
/** Drop silently (entry of a deleted dest, drop_packet defense, ...). */
export const VERDICT_DROP = 3;
/** Has a service but may not create an entry (stray ACK, FTP rules): pass to the local stack. */
export const VERDICT_ACCEPT = 4;
/** ip_vs_conn_new failed: the table holds maxConns entries. Drop (the kernel's ENOMEM path). */
export const VERDICT_TABLE_FULL = 5;
/** A cache_bypass entry (fwmark service, no dest, sysctl cache_bypass): route the packet to its own destination unchanged. */
export const VERDICT_BYPASS = 6;

/** One entry as `ipvsadm -L -c` and /proc/net/ip_vs_conn show it (field names as ConnWire). */
export interface ConnInfo {
  /** Slot index (for conn* accessors). */
  conn: number;
  protocol: number;
  af: Af;
  daf: Af;
  caddr: string;
  cport: number;
  vaddr: string;
  vport: number;
  daddr: string;
  dport: number;
  fwmark: number;
  template: boolean;
  state: string;
  /** Whole seconds left, rounded down (jiffies_delta_to_msecs(expires - now) / 1000). */
  expiresS: number;
  flags: number;
  inPkts: number;
  /** Entries this one controls (a template's connections). */
  nControl: number;
}

/** IP_VS_CTPL_S_ASSURED: a template whose connection reached ESTABLISHED (or saw a UDP reply). */
export const IP_VS_CTPL_S_NONE = 0;
export const IP_VS_CTPL_S_ASSURED = 1;

/** IP_VS_DIR_INPUT / IP_VS_DIR_OUTPUT. */
const DIR_INPUT = 0;
const DIR_OUTPUT = 1;
/** FTPDATA: ip_vs_schedule never schedules a packet from this client port. */
const FTPDATA = 20;
/** ip_vs_conn_new's initial timeout (3*HZ) and the "control others" extension (60*HZ). */
const INITIAL_TIMEOUT_S = 3;
const EXPIRE_LATER_S = 60;
/** ip_vs_dest_trash_expire runs every IP_VS_DEST_TRASH_PERIOD >> 1. */
const TRASH_TIMER_MS = 60_000;

/** ip_vs_schedule's outcomes other than an entry. */
const SCHED_IGNORED = -1; // *ignored = 1: NF_ACCEPT
const SCHED_LEAVE = -2; // *ignored = 0: ip_vs_leave
const SCHED_FAIL = -3; // *ignored = -1: NF_DROP (no memory: table full)

const TEMPLATE_STATE_NAMES = ['NONE', 'ASSURED'];

/**
 * The service table of an Ipvs: a ServiceTable that counts the operations which can change
 * which service a packet belongs to (add, delete, flush, a transaction and its rollback), so
 * that the per-packet service lookup can be cached. Edits never change it: a service's
 * identity (protocol, address, port, fwmark) is fixed.
 */
class IpvsServiceTable extends ServiceTable {
  generation = 1;
  readonly #sysctl: IpvsSysctls;

  constructor(sysctl: IpvsSysctls) {
    super();
    this.#sysctl = sysctl;
  }

  /** lblc and lblcr read lblc_expiration / lblcr_expiration from this instance's sysctls. */
  #bindSysctls(svc: VirtualService): void {
    setLblcSysctl(svc, this.#sysctl);
    setLblcrSysctl(svc, this.#sysctl);
  }

  override addService(u: ServiceUser): VirtualService {
    const svc = super.addService(u);
    this.generation++;
    this.#bindSysctls(svc);
    return svc;
  }

  override editService(id: ServiceId, u: ServiceUser): VirtualService {
    const svc = super.editService(id, u);
    this.#bindSysctls(svc);
    return svc;
  }

  override delService(id: ServiceId): void {
    super.delService(id);
    this.generation++;
  }

  override flush(): void {
    super.flush();
    this.generation++;
  }

  override transaction(fn: () => void): Journal {
    try {
      const j = super.transaction(fn);
      const rollback = j.rollback.bind(j);
      j.rollback = () => {
        rollback();
        this.generation++;
      };
      return j;
    } finally {
      this.generation++;
    }
  }
}

/** Entries of the direct-mapped IPv4 service lookup cache. */
const SVC_CACHE_BITS = 10;
const SVC_CACHE_SIZE = 1 << SVC_CACHE_BITS;

function defaultBypassTarget(f: Flow): boolean {
  if (f.af === AF_INET6) return (f.d0 >>> 24) !== 0xff && (f.d0 | f.d1 | f.d2 | f.d3) !== 0;
  const top = f.d0 >>> 24;
  return f.d0 !== 0 && f.d0 !== 0xffffffff && (top & 0xf0) !== 0xe0;
}

export class Ipvs {
  readonly sysctl: IpvsSysctls = { ...DEFAULT_SYSCTLS };
  readonly table: ServiceTable = new IpvsServiceTable(this.sysctl);
  readonly random: RandomU32;
  readonly connTabBits: number;
  readonly maxConns: number;
  /** The connection columns (read-only use outside the core's conn layer). */
  readonly conns: ConnTable;
  readonly #wheel: TimerWheel;

  /** Set by inPacket/outPacket: the entry (slot) the packet belongs to, or -1. */
  curConn = -1;
  /** Set by inPacket/outPacket: the entry's destination (null for none or bypass). */
  curDest: Dest | null = null;
  /** Set by inPacket/outPacket: the service the packet matched, or null. */
  curSvc: VirtualService | null = null;

  #listener: ((conn: number) => void) | null = null;
  readonly #isBypassTarget: (f: Flow) => boolean;

  // Destination registry: entries store an id, the registry maps it back to the object.
  readonly #destIds = new WeakMap<Dest, number>();
  #destById: (Dest | null)[] = [];
  #destWasAvailable: boolean[] = [];
  #destFreeIds: number[] = [];

  readonly #tkey = new TemplateKey();
  // IPv4 service lookup cache (ip_vs_service_find results, negative ones too), valid for one
  // table generation: no allocation per new flow once warm.
  readonly #scAddr = new Uint32Array(SVC_CACHE_SIZE);
  readonly #scPortProto = new Uint32Array(SVC_CACHE_SIZE);
  readonly #scMark = new Uint32Array(SVC_CACHE_SIZE);
  readonly #scGen = new Uint32Array(SVC_CACHE_SIZE);
  readonly #scSvc: (VirtualService | null)[] = new Array<VirtualService | null>(SVC_CACHE_SIZE).fill(null);
  /** Timers due in the current tick, in firing order. */
  #due = new Int32Array(1024);
  /** Timers re-armed into the current tick by a handler: a min-heap in firing order. */
  #late = new Int32Array(64);
  #lateN = 0;
  /** While tick fires timers: the time up to which a re-armed timer is due in the same round. */
  #firingUntil = -Infinity;
  #scratch = new Int32Array(64);

  #estNextMs: number;
  #trashNextMs = 0;
  readonly #schedTimers = new Map<VirtualService, { sched: Scheduler; nextMs: number }>();

  // Defense state (update_defense_level, ip_vs_todrop, todrop_entry).
  #dropRate = 0;
  #dropCounter = 0;
  #dropEntryOn = false;
  readonly #todropCounter = new Int8Array(9);

  constructor(opts: IpvsOptions) {
    this.random = opts.random;
    this.connTabBits = opts.connTabBits ?? 12;
    this.maxConns = opts.maxConns ?? DEFAULT_MAX_CONNS;
    this.#isBypassTarget = opts.isBypassTarget ?? defaultBypassTarget;
    const startMs = opts.startMs ?? 0;
    this.#estNextMs = startMs + IP_VS_EST_PERIOD_MS;
    const initial = Math.min(this.maxConns, opts.initialConns ?? 1024);
    this.#wheel = new TimerWheel(Math.max(16, initial), msToJiffies(startMs));
    this.conns = new ConnTable({
      maxConns: this.maxConns,
      initialCapacity: initial,
      seed: opts.random() >>> 0,
      onGrow: (cap) => this.#wheel.grow(cap),
    });
  }

  /** Live entries, templates included (the kernel's conn_count without one-packet entries). */
  get connCount(): number {
    return this.conns.size;
  }

  /** Bytes of every typed array of the connection layer (table, hash, timers). */
  get connBytes(): number {
    return this.conns.bytes + this.#wheel.bytes + this.#due.byteLength;
  }

  /**
   * Called synchronously for each entry that is freed by its timer, by expire_nodest_conn, by
   * the drop_entry defense or with its controlling template, before its slot is freed. Not called
   * for one-packet (OPS) entries, which live only within the inPacket call that made them.
   */
  onExpire(cb: ((conn: number) => void) | null): void {
    this.#listener = cb;
  }

  // =====================================================================================
  // Packets
  // =====================================================================================

  /** A client→director packet (ip_vs_in_hook). `f` is caller-owned and reused. Returns a VERDICT_*. */
  inPacket(f: Flow, nowMs: number): number {
    this.curConn = -1;
    this.curDest = null;
    this.curSvc = null;
    const proto = f.protocol;
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP && proto !== IPPROTO_SCTP) return VERDICT_NOT_OURS;
    const t = this.conns;
    let cp = t.findIn(f);

    if (cp >= 0 && this.#isNewConn(f)) {
      // A new flow on an old entry: reschedule (ip_vs_in_hook, old_ct = false without conntrack).
      const mode = this.sysctl.connReuseMode;
      const d = this.#destOf(cp);
      let resched = false;
      if (this.sysctl.expireNodestConn && d !== null && d.weight === 0) resched = true;
      else if (mode && this.#isNewConnExpected(cp, mode)) resched = true;
      if (resched) {
        if (t.nControl(cp) === 0) this.#expireNow(cp, nowMs);
        cp = -1;
      }
    }

    if (cp >= 0) {
      const d = this.#destOf(cp);
      if (d !== null && !d.isAvailable()) {
        if (this.sysctl.expireNodestConn) {
          this.#expireNow(cp, nowMs);
          cp = -1;
        } else {
          this.curDest = d;
          this.curSvc = d.svc;
          return VERDICT_DROP;
        }
      }
    }

    if (cp < 0) {
      const r = this.#tryToSchedule(f, nowMs);
      if (r < 0) return -r - 1;
      cp = r;
    }
    return this.#inPacketOnConn(cp, f.tcpFlags, f.len, nowMs);
  }

  /** ip_vs_in_hook after a connection was found or made: count, state, in_pkts, put. */
  #inPacketOnConn(cp: number, tcpFlags: number, len: number, nowMs: number): number {
    const t = this.conns;
    this.#inStats(cp, len);
    this.#setState(cp, DIR_INPUT, tcpFlags);
    const flags = t.flags(cp);
    if (flags & IP_VS_CONN_F_ONE_PACKET) {
      const ct = t.control(cp);
      if (ct >= 0) t.incInPkts(ct);
    } else {
      t.incInPkts(cp);
    }
    const d = this.#destOf(cp);
    this.curConn = cp;
    this.curDest = d;
    if (d !== null) this.curSvc = d.svc;
    this.#put(cp, nowMs);
    return (flags & IP_VS_CONN_F_FWD_MASK) === IP_VS_CONN_F_BYPASS ? VERDICT_BYPASS : VERDICT_FORWARD;
  }

  /**
   * A real server→client packet seen by the director (ip_vs_out_hook): f.s* = real server,
   * f.d* = client. FORWARD: rewrite the source to the entry's vaddr:vport (NAT entries).
   */
  outPacket(f: Flow, nowMs: number): number {
    this.curConn = -1;
    this.curDest = null;
    this.curSvc = null;
    const proto = f.protocol;
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP && proto !== IPPROTO_SCTP) return VERDICT_NOT_OURS;
    const cp = this.conns.findOut(f);
    if (cp >= 0) {
      // handle_response: no availability check here; ip_vs_out_stats skips deleted dests.
      this.#outStats(cp, f.len);
      this.#setState(cp, DIR_OUTPUT, f.tcpFlags);
      const d = this.#destOf(cp);
      this.curConn = cp;
      this.curDest = d;
      if (d !== null) this.curSvc = d.svc;
      this.#put(cp, nowMs);
      return VERDICT_FORWARD;
    }
    if (this.sysctl.natIcmpSend && this.#hasRealService(f)) {
      const rst = proto === IPPROTO_TCP && (f.tcpFlags & TCP_RST) !== 0;
      const abort = proto === IPPROTO_SCTP && f.tcpFlags === SCTP_CID_ABORT;
      if (!rst && !abort) return VERDICT_NO_DEST;
    }
    return VERDICT_NOT_OURS;
  }

  /**
   * Apply one packet to a known entry without a hash lookup (the proxy dataplane knows its
   * entry): dir 0 = client→server, 1 = server→client. Runs the state machine, counts the packet
   * (pkts += 1, bytes += len, only while the dest is available) and re-arms the timer.
   * For SCTP, `tcpFlags` is the chunk type (as Flow.tcpFlags).
   */
  packetOnConn(conn: number, dir: 0 | 1, tcpFlags: number, len: number, nowMs: number): void {
    const t = this.conns;
    if (!t.inUse(conn)) return;
    if (dir === 0) {
      this.#inStats(conn, len);
      this.#setState(conn, DIR_INPUT, tcpFlags);
      t.incInPkts(conn);
    } else {
      this.#outStats(conn, len);
      this.#setState(conn, DIR_OUTPUT, tcpFlags);
    }
    this.#put(conn, nowMs);
  }

  /** is_new_conn: a TCP SYN or an SCTP INIT chunk. */
  #isNewConn(f: Flow): boolean {
    if (f.protocol === IPPROTO_TCP) return (f.tcpFlags & TCP_SYN) !== 0;
    if (f.protocol === IPPROTO_SCTP) return f.tcpFlags === SCTP_CID_INIT;
    return false;
  }

  /** is_new_conn_expected. */
  #isNewConnExpected(cp: number, mode: number): boolean {
    const t = this.conns;
    if (t.control(cp) >= 0) return false;
    const st = t.state(cp);
    switch (t.proto(cp)) {
      case IPPROTO_TCP:
        return st === IP_VS_TCP_S_TIME_WAIT || st === IP_VS_TCP_S_CLOSE ||
          ((mode & 2) !== 0 && st === IP_VS_TCP_S_FIN_WAIT && (t.flags(cp) & IP_VS_CONN_F_NOOUTPUT) !== 0);
      case IPPROTO_SCTP:
        return st === IP_VS_SCTP_S_CLOSED;
      default:
        return false;
    }
  }

  /**
   * ip_vs_try_to_schedule + tcp/udp/sctp_conn_schedule. Returns a new entry (>= 0) or
   * -(verdict + 1).
   */
  #tryToSchedule(f: Flow, nowMs: number): number {
    const proto = f.protocol;
    const sysctl = this.sysctl;
    if (proto === IPPROTO_TCP) {
      if ((f.tcpFlags & TCP_RST) !== 0 || !(sysctl.sloppyTcp || (f.tcpFlags & TCP_SYN) !== 0)) return this.#passStray(f);
    } else if (proto === IPPROTO_SCTP) {
      const chunk = f.tcpFlags;
      if (chunk === SCTP_CID_ABORT || !(sysctl.sloppySctp || chunk === SCTP_CID_INIT)) return this.#passStray(f);
    }
    const svc = this.#findService(f);
    if (svc === null) return -(VERDICT_NOT_OURS + 1);
    this.curSvc = svc;
    if (this.#todrop()) return -(VERDICT_DROP + 1);
    const cp = this.#schedule(svc, f, nowMs);
    if (cp >= 0) return cp;
    if (cp === SCHED_IGNORED) return -(VERDICT_ACCEPT + 1);
    if (cp === SCHED_FAIL) return -(VERDICT_TABLE_FULL + 1);
    return -(this.#leave(svc, f, nowMs) + 1);
  }

  /** A packet that may not create an entry and has none continues into the local stack. */
  #passStray(f: Flow): number {
    const svc = this.#findService(f);
    this.curSvc = svc;
    return -((svc === null ? VERDICT_NOT_OURS : VERDICT_ACCEPT) + 1);
  }

  /** ip_vs_service_find for the packet's destination (cached for IPv4). */
  #findService(f: Flow): VirtualService | null {
    if (f.af !== AF_INET) return this.#lookupService(f);
    const gen = (this.table as IpvsServiceTable).generation >>> 0;
    const pp = ((f.protocol << 16) | f.dport) >>> 0;
    const mark = f.fwmark >>> 0;
    const h = Math.imul(f.d0 ^ Math.imul(pp, 0x9e3779b1) ^ Math.imul(mark, 0x85ebca6b), 0x27d4eb2f) >>> (32 - SVC_CACHE_BITS);
    if (this.#scGen[h] === gen && this.#scAddr[h] === f.d0 && this.#scPortProto[h] === pp && this.#scMark[h] === mark) {
      return this.#scSvc[h];
    }
    const svc = this.#lookupService(f);
    this.#scGen[h] = gen;
    this.#scAddr[h] = f.d0;
    this.#scPortProto[h] = pp;
    this.#scMark[h] = mark;
    this.#scSvc[h] = svc;
    return svc;
  }

  #lookupService(f: Flow): VirtualService | null {
    const a = new IpAddr(f.af, f.d0, f.d1, f.d2, f.d3);
    return this.table.lookupForPacket(f.af, f.fwmark, f.protocol, a, f.dport);
  }

  /** ip_vs_schedule: an entry, or SCHED_IGNORED / SCHED_LEAVE / SCHED_FAIL. */
  #schedule(svc: VirtualService, f: Flow, nowMs: number): number {
    const cport = f.sport;
    const vport = f.dport;
    if (cport === FTPDATA) return SCHED_IGNORED;
    if (svc.flags & IP_VS_SVC_F_PERSISTENT) return this.#schedPersist(svc, f, nowMs);
    // Non-persistent: the packet's port must be the service's (a port-0 service only works
    // persistent: the kernel logs "port zero only supported in persistent services").
    if (!svc.fwmark && vport !== svc.port) return SCHED_LEAVE;
    const dest = svc.scheduler ? svc.scheduler.schedule(svc, f, nowMs, this.random) : null;
    if (dest === null) return SCHED_LEAVE;
    const flags = (svc.flags & IP_VS_SVC_F_ONEPACKET) && f.protocol === IPPROTO_UDP ? IP_VS_CONN_F_ONE_PACKET : 0;
    const da = dest.addr;
    const cp = this.#connNew(svc.af, f.protocol, f.s0, f.s1, f.s2, f.s3, cport, f.d0, f.d1, f.d2, f.d3, vport,
      dest.af, da.w0, da.w1, da.w2, da.w3, dest.port ? dest.port : vport, flags, dest, f.fwmark);
    if (cp < 0) return SCHED_FAIL;
    this.#connStats(dest, svc);
    return cp;
  }

  /** ip_vs_sched_persist. */
  #schedPersist(svc: VirtualService, f: Flow, nowMs: number): number {
    const t = this.conns;
    const k = this.#tkey;
    persistTemplateKey(svc, f, k);
    let ct = t.findTemplate(k.af, k.protocol, k.c0, k.c1, k.c2, k.c3, k.v0, k.v1, k.v2, k.v3, k.vport);
    let dest: Dest;
    if (ct < 0 || !this.#checkTemplate(ct, null)) {
      const d = svc.scheduler ? svc.scheduler.schedule(svc, f, nowMs, this.random) : null;
      if (d === null) return SCHED_LEAVE;
      dest = d;
      const da = d.addr;
      ct = this.#connNew(k.af, k.protocol, k.c0, k.c1, k.c2, k.c3, 0, k.v0, k.v1, k.v2, k.v3, k.vport,
        d.af, da.w0, da.w1, da.w2, da.w3, templateDport(svc, f.dport, d), IP_VS_CONN_F_TEMPLATE, d, f.fwmark);
      if (ct < 0) return SCHED_FAIL;
      t.setTimeoutS(ct, svc.timeoutS);
    } else {
      dest = this.#destOf(ct) as Dest;
    }
    const flags = (svc.flags & IP_VS_SVC_F_ONEPACKET) && f.protocol === IPPROTO_UDP ? IP_VS_CONN_F_ONE_PACKET : 0;
    const da = dest.addr;
    const cp = this.#connNew(svc.af, f.protocol, f.s0, f.s1, f.s2, f.s3, f.sport, f.d0, f.d1, f.d2, f.d3, f.dport,
      dest.af, da.w0, da.w1, da.w2, da.w3, persistConnDport(svc, f.dport, dest), flags, dest, f.fwmark);
    if (cp < 0) {
      this.#put(ct, nowMs);
      return SCHED_FAIL;
    }
    t.setControl(cp, ct);
    t.setNControl(ct, t.nControl(ct) + 1);
    this.#put(ct, nowMs);
    this.#connStats(dest, svc);
    return cp;
  }

  /**
   * ip_vs_check_template: is the template's destination still usable (present, and with
   * expire_quiescent_template not weight 0, and `cdest` if given)? If not, invalidate it: ports
   * 0xffff so that it never matches again; its timer is left alone.
   */
  #checkTemplate(ct: number, cdest: Dest | null): boolean {
    const t = this.conns;
    const d = this.#destOf(ct);
    if (d === null || !d.isAvailable() || (this.sysctl.expireQuiescentTemplate && d.weight === 0) ||
      (cdest !== null && d !== cdest)) {
      if ((t.ports(ct) & 0xffff) !== INVALID_TEMPLATE_PORT && (t.flags(ct) & IP_VS_CONN_F_HASHED)) {
        t.unhash(ct);
        t.setDport(ct, INVALID_TEMPLATE_PORT);
        t.setPorts(ct, 0, INVALID_TEMPLATE_PORT);
        t.hash(ct);
      }
      return false;
    }
    return true;
  }

  /** ip_vs_leave: the verdict when the service has no destination for this packet. */
  #leave(svc: VirtualService, f: Flow, nowMs: number): number {
    if (this.sysctl.cacheBypass && svc.fwmark && this.#isBypassTarget(f)) {
      const flags = (svc.flags & IP_VS_SVC_F_ONEPACKET) && f.protocol === IPPROTO_UDP ? IP_VS_CONN_F_ONE_PACKET : 0;
      const cp = this.#connNew(svc.af, f.protocol, f.s0, f.s1, f.s2, f.s3, f.sport, f.d0, f.d1, f.d2, f.d3, f.dport,
        svc.af, 0, 0, 0, 0, 0, IP_VS_CONN_F_BYPASS | flags, null, f.fwmark);
      if (cp < 0) return VERDICT_TABLE_FULL;
      return this.#inPacketOnConn(cp, f.tcpFlags, f.len, nowMs);
    }
    if (svc.port === FTPPORT && f.dport !== FTPPORT) return VERDICT_ACCEPT;
    return VERDICT_NO_DEST;
  }

  /** ip_vs_todrop: the drop_packet defense. */
  #todrop(): boolean {
    if (!this.#dropRate) return false;
    if (--this.#dropCounter > 0) return false;
    this.#dropCounter = this.#dropRate;
    return true;
  }

  /** ip_vs_has_real_service: a NAT destination of any service with this address and port. */
  #hasRealService(f: Flow): boolean {
    for (const svc of this.table.services()) {
      if (svc.protocol !== f.protocol && !svc.fwmark) continue;
      for (const d of svc.dests()) {
        const a = d.addr;
        if (d.port === f.sport && d.af === f.af && a.w0 === f.s0 && a.w1 === f.s1 && a.w2 === f.s2 && a.w3 === f.s3 &&
          (d.connFlags & IP_VS_CONN_F_FWD_MASK) === IP_VS_CONN_F_MASQ) return true;
      }
    }
    return false;
  }

  // =====================================================================================
  // Entries
  // =====================================================================================

  /** ip_vs_conn_new + ip_vs_bind_dest + ip_vs_conn_hash. -1 when the table is full. */
  #connNew(
    af: Af, proto: number, c0: number, c1: number, c2: number, c3: number, cport: number,
    v0: number, v1: number, v2: number, v3: number, vport: number,
    daf: Af, d0: number, d1: number, d2: number, d3: number, dport: number,
    flags: number, dest: Dest | null, fwmark: number,
  ): number {
    const t = this.conns;
    const cp = t.alloc();
    if (cp < 0) return -1;
    t.setAddrs(cp, af, daf, c0, c1, c2, c3, v0, v1, v2, v3, d0, d1, d2, d3);
    t.setProto(cp, proto);
    t.setPorts(cp, cport, vport);
    t.setDport(cp, dport);
    t.setFwmark(cp, fwmark >>> 0);
    t.setTimeoutS(cp, INITIAL_TIMEOUT_S);
    if (dest !== null) {
      let connFlags = dest.connFlags;
      if (proto !== IPPROTO_UDP) connFlags &= ~IP_VS_CONN_F_ONE_PACKET;
      if (flags & IP_VS_CONN_F_TEMPLATE) connFlags &= ~IP_VS_CONN_F_ONE_PACKET;
      flags |= connFlags;
      t.setDest(cp, this.#destId(dest) + 1);
      bindDest(dest, flags);
    }
    if (!(flags & IP_VS_CONN_F_ONE_PACKET)) {
      flags |= IP_VS_CONN_F_HASHED;
      t.setFlags(cp, flags);
      t.hash(cp);
    } else {
      t.setFlags(cp, flags);
    }
    return cp;
  }

  #destId(d: Dest): number {
    let id = this.#destIds.get(d);
    if (id !== undefined) return id;
    id = this.#destFreeIds.length ? (this.#destFreeIds.pop() as number) : this.#destById.length;
    this.#destById[id] = d;
    this.#destWasAvailable[id] = d.isAvailable();
    this.#destIds.set(d, id);
    return id;
  }

  #destOf(cp: number): Dest | null {
    const id = this.conns.dest(cp);
    return id === 0 ? null : this.#destById[id - 1];
  }

  /** ip_vs_conn_put: re-arm the timer with the entry's timeout; a one-packet entry expires now. */
  #put(cp: number, nowMs: number): void {
    const t = this.conns;
    const now = msToJiffies(nowMs);
    if ((t.flags(cp) & IP_VS_CONN_F_ONE_PACKET) && !this.#wheel.isPending(cp)) {
      this.#expire(cp, now, now);
      return;
    }
    this.#wheel.arm(cp, now + t.timeoutS(cp) * HZ, now);
  }

  /** ip_vs_conn_expire_now: mod_timer_pending(jiffies) when the timer is pending and later. */
  #expireNow(cp: number, nowMs: number): void {
    const w = this.#wheel;
    const now = msToJiffies(nowMs);
    if (w.isPending(cp) && w.expires(cp) > now) w.arm(cp, now, now);
  }

  /** ip_vs_conn_del: delete an entry now (jiffy `now`) if its timer is pending. */
  #connDel(cp: number, now: number): void {
    if (this.#wheel.disarm(cp)) {
      const t = this.conns;
      if (t.control(cp) >= 0) t.setTimeoutS(cp, 0);
      this.#expire(cp, now, now);
    }
  }

  /**
   * ip_vs_conn_expire at jiffy `now` (`clk`: the timer base clock, one ahead while timers run).
   * An entry that controls others stays 60 s more (its timeout becomes 60 s for good);
   * otherwise it is unhashed, released from its template (and takes a non-assured template
   * with it when it was deleted, timeout 0), unbound and freed.
   */
  #expire(cp: number, now: number, clk: number): void {
    const t = this.conns;
    const w = this.#wheel;
    if (t.nControl(cp) > 0) {
      t.setTimeoutS(cp, EXPIRE_LATER_S);
      this.#rearm(cp, now + EXPIRE_LATER_S * HZ, clk);
      return;
    }
    const flags = t.flags(cp);
    const ops = (flags & IP_VS_CONN_F_ONE_PACKET) !== 0;
    if (!ops && this.#listener !== null) this.#listener(cp);
    if (flags & IP_VS_CONN_F_HASHED) {
      t.unhash(cp);
      t.setFlags(cp, flags & ~IP_VS_CONN_F_HASHED);
    }
    w.reset(cp);
    const ct = t.control(cp);
    if (ct >= 0) {
      const hasRef = t.timeoutS(cp) === 0 && t.inUse(ct);
      t.setControl(cp, -1);
      t.setNControl(ct, t.nControl(ct) - 1);
      if (hasRef && t.nControl(ct) === 0 &&
        (!(t.flags(ct) & IP_VS_CONN_F_TEMPLATE) || !(t.state(ct) & IP_VS_CTPL_S_ASSURED))) {
        this.#connDel(ct, now);
      }
    }
    const d = this.#destOf(cp);
    if (d !== null) unbindDest(d, t.flags(cp));
    t.free(cp);
  }

  // =====================================================================================
  // State machines and counters
  // =====================================================================================

  #setState(cp: number, dir: number, tcpFlags: number): void {
    const p = this.conns.proto(cp);
    if (p === IPPROTO_TCP) this.#setTcpState(cp, dir, tcpFlags);
    else if (p === IPPROTO_UDP) this.#setUdpState(cp, dir);
    else if (p === IPPROTO_SCTP) this.#setSctpState(cp, dir, tcpFlags);
  }

  /** set_tcp_state. */
  #setTcpState(cp: number, dir: number, tcpFlags: number): void {
    const t = this.conns;
    let off = dir === DIR_OUTPUT ? TCP_DIR_OUTPUT : TCP_DIR_INPUT;
    let flags = t.flags(cp);
    if (flags & IP_VS_CONN_F_NOOUTPUT) {
      if (off === TCP_DIR_OUTPUT) flags &= ~IP_VS_CONN_F_NOOUTPUT;
      else off = TCP_DIR_INPUT_ONLY;
    }
    const st = t.state(cp);
    const ns = tcpNextState(this.sysctl.secureTcp > 1 ? TCP_STATES_DOS : TCP_STATES, off, tcpFlags, st);
    if (ns !== st) {
      const d = this.#destOf(cp);
      if (d !== null) {
        const active = tcpStateActive(ns);
        if (!(flags & IP_VS_CONN_F_INACTIVE) && !active) {
          flags |= IP_VS_CONN_F_INACTIVE;
          setActive(d, false);
        } else if ((flags & IP_VS_CONN_F_INACTIVE) && active) {
          flags &= ~IP_VS_CONN_F_INACTIVE;
          setActive(d, true);
        }
      }
      if (ns === IP_VS_TCP_S_ESTABLISHED) this.#assureCt(cp);
    }
    t.setFlags(cp, flags);
    t.setState(cp, ns);
    t.setTimeoutS(cp, this.#tcpTimeoutS(ns));
  }

  #tcpTimeoutS(state: number): number {
    if (state === IP_VS_TCP_S_ESTABLISHED) return this.table.timeouts.tcp;
    if (state === IP_VS_TCP_S_FIN_WAIT) return this.table.timeouts.tcpfin;
    return TCP_TIMEOUTS_S[state];
  }

  /** udp_state_transition. */
  #setUdpState(cp: number, dir: number): void {
    this.conns.setTimeoutS(cp, this.table.timeouts.udp);
    if (dir === DIR_OUTPUT) this.#assureCt(cp);
  }

  /** set_sctp_state; `chunk` is the effective chunk type. */
  #setSctpState(cp: number, dir: number, chunk: number): void {
    const t = this.conns;
    let sdir = dir === DIR_OUTPUT ? SCTP_DIR_OUTPUT : SCTP_DIR_INPUT;
    let flags = t.flags(cp);
    if (flags & IP_VS_CONN_F_NOOUTPUT) {
      if (sdir === SCTP_DIR_OUTPUT) flags &= ~IP_VS_CONN_F_NOOUTPUT;
      else sdir = SCTP_DIR_INPUT_ONLY;
    }
    const st = t.state(cp);
    const ns = sctpNextState(sdir, chunk, st);
    if (ns !== st) {
      const d = this.#destOf(cp);
      if (d !== null) {
        if (!(flags & IP_VS_CONN_F_INACTIVE) && ns !== IP_VS_SCTP_S_ESTABLISHED) {
          flags |= IP_VS_CONN_F_INACTIVE;
          setActive(d, false);
        } else if ((flags & IP_VS_CONN_F_INACTIVE) && ns === IP_VS_SCTP_S_ESTABLISHED) {
          flags &= ~IP_VS_CONN_F_INACTIVE;
          setActive(d, true);
        }
      }
      if (ns === IP_VS_SCTP_S_ESTABLISHED) this.#assureCt(cp);
    }
    t.setFlags(cp, flags);
    t.setState(cp, ns);
    t.setTimeoutS(cp, SCTP_TIMEOUTS_S[ns]);
  }

  /** ip_vs_control_assure_ct. */
  #assureCt(cp: number): void {
    const t = this.conns;
    const ct = t.control(cp);
    if (ct >= 0 && (t.flags(ct) & IP_VS_CONN_F_TEMPLATE) && !(t.state(ct) & IP_VS_CTPL_S_ASSURED)) {
      t.setState(ct, t.state(ct) | IP_VS_CTPL_S_ASSURED);
    }
  }

  /** ip_vs_in_stats: only while the destination is available. */
  #inStats(cp: number, len: number): void {
    const d = this.#destOf(cp);
    if (d === null || !d.isAvailable()) return;
    countIn(d.stats, len);
    countIn(d.svc.stats, len);
    countIn(this.table.totStats, len);
  }

  /** ip_vs_out_stats. */
  #outStats(cp: number, len: number): void {
    const d = this.#destOf(cp);
    if (d === null || !d.isAvailable()) return;
    countOut(d.stats, len);
    countOut(d.svc.stats, len);
    countOut(this.table.totStats, len);
  }

  /** ip_vs_conn_stats: a connection made by the scheduler (templates are not counted). */
  #connStats(dest: Dest, svc: VirtualService): void {
    dest.stats.conns++;
    svc.stats.conns++;
    this.table.totStats.conns++;
  }

  // =====================================================================================
  // Timers
  // =====================================================================================

  /**
   * Connection expiry, the expire_nodest_conn flush after a dest was deleted, the estimator
   * every 2 s, scheduler periodic hooks and the dest trash (every 60 s). Call it often (the
   * daemon: every second or faster); entries expire at their exact time in time order.
   */
  tick(nowMs: number): void {
    this.#expireDue(nowMs);
    this.#checkDests(nowMs);
    if (nowMs >= this.#estNextMs) {
      if (this.sysctl.runEstimation) this.#estimate();
      this.#estNextMs += IP_VS_EST_PERIOD_MS;
      if (this.#estNextMs <= nowMs) this.#estNextMs = nowMs + IP_VS_EST_PERIOD_MS;
    }
    this.#schedulerTimers(nowMs);
    this.#trashTimer(nowMs);
  }

  /**
   * Fire every timer whose bucket expired by nowMs, in the kernel's order: the collected timers
   * come sorted; a handler that re-arms a timer into a bucket that already expired (a template
   * kept 60 s more, when tick runs late) puts it in a small heap merged with them, so one late
   * tick gives what the kernel's timers did one by one.
   */
  #expireDue(nowMs: number): void {
    const w = this.#wheel;
    const now = msToJiffies(nowMs);
    if (this.#due.length < w.pending + 1) this.#due = new Int32Array(Math.max(w.pending + 1, this.#due.length * 2));
    const due = this.#due;
    const n = w.collect(now, due);
    let i = 0;
    this.#lateN = 0;
    this.#firingUntil = now;
    try {
      for (;;) {
        let cp: number;
        if (this.#lateN > 0 && (i >= n || w.compare(this.#late[0], due[i]) < 0)) cp = this.#heapPop();
        else if (i < n) cp = due[i++];
        else break;
        if (!w.isDue(cp)) continue;
        const at = w.fireAt(cp);
        w.fire(cp);
        // The handler runs at the bucket's jiffy; the base clock is already one ahead.
        this.#expire(cp, at, at + 1);
      }
    } finally {
      this.#firingUntil = -Infinity;
    }
  }

  /** mod_timer from a timer handler: fires within the current round when already due. */
  #rearm(cp: number, expires: number, clk: number): void {
    const w = this.#wheel;
    if (w.bucketOf(expires, clk) > this.#firingUntil) {
      w.arm(cp, expires, clk);
      return;
    }
    w.armDue(cp, expires, clk);
    if (this.#lateN === this.#late.length) {
      const d = new Int32Array(this.#late.length * 2);
      d.set(this.#late);
      this.#late = d;
    }
    this.#heapPush(cp);
  }

  #heapLess(a: number, b: number): boolean {
    return this.#wheel.compare(a, b) < 0;
  }

  #heapPush(cp: number): void {
    const h = this.#late;
    let i = this.#lateN++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#heapLess(cp, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = cp;
  }

  #heapPop(): number {
    const h = this.#late;
    const top = h[0];
    const last = h[--this.#lateN];
    const n = this.#lateN;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.#heapLess(h[r], h[l]) ? r : l;
      if (!this.#heapLess(h[c], last)) break;
      h[i] = h[c];
      i = c;
    }
    if (n > 0) h[i] = last;
    return top;
  }

  /**
   * Dest registry upkeep: forget dests no entry refers to, and run ip_vs_expire_nodest_conn_flush
   * once when a dest with entries was deleted while expire_nodest_conn is set.
   */
  #checkDests(nowMs: number): void {
    let flush = false;
    const byId = this.#destById;
    for (let id = 0; id < byId.length; id++) {
      const d = byId[id];
      if (d === null) continue;
      const avail = d.isAvailable();
      if (this.#destWasAvailable[id] && !avail) flush = true;
      this.#destWasAvailable[id] = avail;
      if (d.refcnt === 0) {
        byId[id] = null;
        this.#destIds.delete(d);
        this.#destFreeIds.push(id);
      }
    }
    if (flush && this.sysctl.expireNodestConn) this.#expireNodestConnFlush(msToJiffies(nowMs));
  }

  /** ip_vs_expire_nodest_conn_flush: delete the entries (and their templates) of deleted dests. */
  #expireNodestConnFlush(now: number): void {
    const t = this.conns;
    const hi = t.hiWater;
    for (let cp = 0; cp < hi; cp++) {
      if (!t.inUse(cp)) continue;
      const d = this.#destOf(cp);
      if (d === null || d.isAvailable()) continue;
      if (t.nControl(cp) > 0) continue;
      const ctl = t.control(cp);
      this.#connDel(cp, now);
      if (ctl >= 0 && t.inUse(ctl) && t.nControl(ctl) === 0) this.#connDel(ctl, now);
    }
  }

  /** estimation_timer over every service, destination and the totals (ip_vs_est.c). */
  #estimate(): void {
    for (const svc of this.table.services()) {
      estimatorTick(svc.stats);
      const head = svc.destinations;
      for (let n = head.next; n !== head; n = n.next) estimatorTick((n as Dest).stats);
    }
    estimatorTick(this.table.totStats);
  }

  /** Scheduler.periodic every Scheduler.periodMs per service (lblc/lblcr garbage collection). */
  #schedulerTimers(nowMs: number): void {
    const seen = this.#schedTimers;
    const live = new Set<VirtualService>();
    for (const svc of this.table.services()) {
      const s = svc.scheduler;
      if (s === null || !s.periodMs || !s.periodic) continue;
      live.add(svc);
      let e = seen.get(svc);
      if (e === undefined || e.sched !== s) {
        e = { sched: s, nextMs: nowMs + s.periodMs };
        seen.set(svc, e);
        continue;
      }
      if (nowMs >= e.nextMs) {
        s.periodic(svc, nowMs);
        e.nextMs += s.periodMs;
        if (e.nextMs <= nowMs) e.nextMs = nowMs + s.periodMs;
      }
    }
    for (const svc of seen.keys()) if (!live.has(svc)) seen.delete(svc);
  }

  /** ip_vs_dest_trash_expire: every 60 s while the trash holds dests. */
  #trashTimer(nowMs: number): void {
    if (this.table.trashSize === 0) {
      this.#trashNextMs = 0;
      return;
    }
    if (this.#trashNextMs === 0) {
      this.#trashNextMs = nowMs + TRASH_TIMER_MS;
      return;
    }
    if (nowMs >= this.#trashNextMs) {
      this.table.purgeTrash(nowMs);
      this.#trashNextMs = this.table.trashSize > 0 ? nowMs + TRASH_TIMER_MS : 0;
    }
  }

  // =====================================================================================
  // Defense (§9): update_defense_level and ip_vs_random_dropentry, every second
  // =====================================================================================

  /**
   * defense_work_handler: recompute the automatic defenses from the available memory (free +
   * buffer pages; Infinity = plenty) and, while drop_entry is on, drop entries at random.
   * The kernel runs this every second and whenever a defense sysctl is written; here the
   * caller does (so a sysctl change takes effect at the next call). `rand` defaults to `random`.
   */
  defenseTick(nowMs: number, availMemPages = Infinity, rand: RandomU32 = this.random): void {
    const s = this.sysctl;
    const nomem = availMemPages < s.amemthresh;
    switch (s.dropEntry) {
      case 0: this.#dropEntryOn = false; break;
      case 1: if (nomem) { this.#dropEntryOn = true; s.dropEntry = 2; } else this.#dropEntryOn = false; break;
      case 2: if (nomem) this.#dropEntryOn = true; else { this.#dropEntryOn = false; s.dropEntry = 1; } break;
      case 3: this.#dropEntryOn = true; break;
    }
    const rate = () => Math.trunc(s.amemthresh / (s.amemthresh - availMemPages));
    switch (s.dropPacket) {
      case 0: this.#dropRate = 0; break;
      case 1: if (nomem) { this.#dropRate = this.#dropCounter = rate(); s.dropPacket = 2; } else this.#dropRate = 0; break;
      case 2: if (nomem) this.#dropRate = this.#dropCounter = rate(); else { this.#dropRate = 0; s.dropPacket = 1; } break;
      case 3: this.#dropRate = s.amDroprate; break;
    }
    // secure_tcp: the table in use is the secure one while the sysctl reads 2 or 3.
    if (s.secureTcp === 1 && nomem) s.secureTcp = 2;
    else if (s.secureTcp === 2 && !nomem) s.secureTcp = 1;
    if (this.#dropEntryOn) this.randomDropEntry(nowMs, rand);
  }

  /** ip_vs_random_dropentry: scan 1/32 of the hash buckets at random. Returns entries dropped. */
  randomDropEntry(nowMs: number, rand: RandomU32 = this.random): number {
    const t = this.conns;
    const now = msToJiffies(nowMs);
    const buckets = t.bucketCount;
    const mask = buckets - 1;
    let dropped = 0;
    for (let i = 0; i < buckets >> 5; i++) {
      const b = (rand() >>> 0) & mask;
      // Snapshot the chain: dropping an entry may drop its template from the same chain.
      let n = 0;
      for (let c = t.bucketHead(b); c >= 0; c = t.hnext(c)) {
        if (n === this.#scratch.length) {
          const s = new Int32Array(n * 2); s.set(this.#scratch); this.#scratch = s;
        }
        this.#scratch[n++] = c;
      }
      for (let j = 0; j < n; j++) {
        const cp = this.#scratch[j];
        if (!t.inUse(cp) || !this.#wheel.isPending(cp)) continue;
        if (this.#shouldDropEntry(cp, now)) {
          this.#connDel(cp, now);
          dropped++;
        }
      }
    }
    return dropped;
  }

  #shouldDropEntry(cp: number, now: number): boolean {
    const t = this.conns;
    if (t.nControl(cp) > 0) return false;
    if (t.flags(cp) & IP_VS_CONN_F_TEMPLATE) {
      const d = this.#destOf(cp);
      // A template of a one-packet service counts its traffic in in_pkts: drop it at the rate.
      if (d !== null && (d.svc.flags & IP_VS_SVC_F_ONEPACKET)) return this.#todropEntry(cp, now);
      return !(t.state(cp) & IP_VS_CTPL_S_ASSURED);
    }
    const st = t.state(cp);
    const p = t.proto(cp);
    if (p === IPPROTO_TCP) {
      if (st === IP_VS_TCP_S_SYN_RECV || st === IP_VS_TCP_S_SYNACK) return true;
      if (st === IP_VS_TCP_S_ESTABLISHED) return this.#todropEntry(cp, now);
      return false;
    }
    if (p === IPPROTO_SCTP) {
      if (st === IP_VS_SCTP_S_INIT1 || st === IP_VS_SCTP_S_INIT) return true;
      if (st === IP_VS_SCTP_S_ESTABLISHED) return this.#todropEntry(cp, now);
      return false;
    }
    return this.#todropEntry(cp, now);
  }

  /** todrop_entry: idle >= 60 s and 1..8 packets in, every i-th candidate with i packets. */
  #todropEntry(cp: number, now: number): boolean {
    const t = this.conns;
    if (t.timeoutS(cp) * HZ + now < this.#wheel.expires(cp) + 60 * HZ) return false;
    const i = t.inPkts(cp);
    if (i > 8 || i === 0) return false;
    if (--this.#todropCounter[i] > 0) return false;
    this.#todropCounter[i] = i;
    return true;
  }

  // =====================================================================================
  // Listing and accessors
  // =====================================================================================

  /** `ipvsadm -L -c` / /proc/net/ip_vs_conn: every hashed entry, in hash-table order. */
  listConns(nowMs: number): ConnInfo[] {
    const t = this.conns;
    const out: ConnInfo[] = [];
    for (let b = 0; b < t.bucketCount; b++) {
      for (let c = t.bucketHead(b); c >= 0; c = t.hnext(c)) out.push(this.connInfo(c, nowMs));
    }
    return out;
  }

  /** One entry as listConns shows it. */
  connInfo(c: number, nowMs: number): ConnInfo {
    const t = this.conns;
    // jiffies_delta_to_msecs(expires - jiffies) / 1000: 0 for a timer past due that waits for its bucket.
    const left = this.#wheel.isPending(c) ? jiffiesToMs(Math.max(0, this.#wheel.expires(c) - msToJiffies(nowMs))) : 0;
    return {
      conn: c,
      protocol: t.proto(c),
      af: this.connAf(c),
      daf: this.connDaf(c),
      caddr: this.#addrText(c, 0, this.connAf(c)),
      cport: t.ports(c) >>> 16,
      vaddr: this.#addrText(c, 1, this.connAf(c)),
      vport: t.ports(c) & 0xffff,
      daddr: this.#addrText(c, 2, this.connDaf(c)),
      dport: t.dport(c),
      fwmark: t.fwmark(c),
      template: (t.flags(c) & IP_VS_CONN_F_TEMPLATE) !== 0,
      state: this.connStateName(c),
      expiresS: left > 0 ? Math.floor(left / 1000) : 0,
      flags: t.flags(c),
      inPkts: t.inPkts(c),
      nControl: t.nControl(c),
    };
  }

  #addrText(c: number, which: 0 | 1 | 2, af: Af): string {
    const t = this.conns;
    if (af === AF_INET) return formatIPv4(t.addrWord(c, which, 0));
    return formatIPv6([t.addrWord(c, which, 0), t.addrWord(c, which, 1), t.addrWord(c, which, 2), t.addrWord(c, which, 3)]);
  }

  /** ip_vs_state_name. */
  connStateName(c: number): string {
    const t = this.conns;
    const st = t.state(c);
    if (t.flags(c) & IP_VS_CONN_F_TEMPLATE) return st < 2 ? TEMPLATE_STATE_NAMES[st] : 'ERR!';
    switch (t.proto(c)) {
      case IPPROTO_TCP: return tcpStateName(st);
      case IPPROTO_UDP: return udpStateName(st);
      case IPPROTO_SCTP: return sctpStateName(st);
      case 0: return 'NONE';
      default: return 'ERR!';
    }
  }

  connDest(c: number): Dest | null {
    return this.#destOf(c);
  }

  connState(c: number): number {
    return this.conns.state(c);
  }

  connFlags(c: number): number {
    return this.conns.flags(c);
  }

  connProtocol(c: number): number {
    return this.conns.proto(c);
  }

  connAf(c: number): Af {
    return (this.conns.afs(c) & AFS_V6) !== 0 ? AF_INET6 : AF_INET;
  }

  connDaf(c: number): Af {
    return (this.conns.afs(c) & AFS_DAF_V6) !== 0 ? AF_INET6 : AF_INET;
  }

  connCport(c: number): number {
    return this.conns.ports(c) >>> 16;
  }

  connVport(c: number): number {
    return this.conns.ports(c) & 0xffff;
  }

  connDport(c: number): number {
    return this.conns.dport(c);
  }

  connFwmark(c: number): number {
    return this.conns.fwmark(c);
  }

  /** IPv4 addresses as host-order u32 (word 0 of an IPv6 address); allocation-free. */
  connCaddr4(c: number): number {
    return this.conns.addrWord(c, 0, 0);
  }

  connVaddr4(c: number): number {
    return this.conns.addrWord(c, 1, 0);
  }

  connDaddr4(c: number): number {
    return this.conns.addrWord(c, 2, 0);
  }

  /** Word i (0..3) of the client (0), virtual (1) or destination (2) address. */
  connAddrWord(c: number, which: 0 | 1 | 2, i: number): number {
    return this.conns.addrWord(c, which, i);
  }

  connCaddr(c: number): IpAddr {
    return this.#addr(c, 0, this.connAf(c));
  }

  connVaddr(c: number): IpAddr {
    return this.#addr(c, 1, this.connAf(c));
  }

  /** The destination address; the dest's own IpAddr object when the entry has a dest (no allocation). */
  connDaddr(c: number): IpAddr {
    const d = this.#destOf(c);
    if (d !== null) return d.addr;
    return this.#addr(c, 2, this.connDaf(c));
  }

  #addr(c: number, which: 0 | 1 | 2, af: Af): IpAddr {
    const t = this.conns;
    return new IpAddr(af, t.addrWord(c, which, 0), t.addrWord(c, which, 1), t.addrWord(c, which, 2), t.addrWord(c, which, 3));
  }

  /** The controlling entry (persistence template), or -1. */
  connControl(c: number): number {
    return this.conns.control(c);
  }

  /** Entries this one controls. */
  connNControl(c: number): number {
    return this.conns.nControl(c);
  }

  /** The timeout the next packet re-arms with, in seconds. */
  connTimeoutS(c: number): number {
    return this.conns.timeoutS(c);
  }

  /** The entry's timer->expires in ms (what listings count down to), or NaN when it is not armed. */
  connExpiresMs(c: number): number {
    return this.#wheel.isPending(c) ? jiffiesToMs(this.#wheel.expires(c)) : NaN;
  }

  /** When the entry's timer really fires (the end of its timer-wheel bucket), in ms, or NaN. */
  connFiresAtMs(c: number): number {
    return this.#wheel.isPending(c) ? jiffiesToMs(this.#wheel.fireAt(c)) : NaN;
  }

  connInPkts(c: number): number {
    return this.conns.inPkts(c);
  }

  /** True while slot `c` holds a live entry. */
  connAlive(c: number): boolean {
    return this.conns.inUse(c);
  }
}

function countIn(s: Stats, len: number): void {
  s.inpkts++;
  s.inbytes += len;
}

function countOut(s: Stats, len: number): void {
  s.outpkts++;
  s.outbytes += len;
}
