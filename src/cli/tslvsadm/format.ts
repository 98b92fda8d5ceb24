/**
 * ipvsadm's listings, byte for byte (ipvsadm.c print_title, print_service_entry, print_largenum,
 * list_all, list_service, list_conn/print_conn, list_timeout): C printf widths that pad but never
 * cut, the cuts ipvsadm makes itself (IPv4 service names at 33 characters, IPv4 real server
 * names at 28, every "addr:port" text at 59 by its 60-byte buffer), trailing spaces included.
 * Sorting is glibc's qsort, a stable top-down merge sort, with libipvs's comparators, whose
 * signed 32-bit subtraction of unsigned addresses makes 10.x sort after 192.168.x.
 * The rule format (-S) lives in save.ts.
 */
import type { ConnWire, DestSnapshot, ServiceSnapshot, StatsWire, TableSnapshot } from '../../control/protocol.js';
import {
  FMT_EXACT, FMT_NOSORT, FMT_PERSISTENTCONN, FMT_RATE, FMT_RULE, FMT_STATS, FMT_THRESHOLDS, FMT_TUN_INFO,
  IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_FWD_MASK, IP_VS_CONN_F_LOCALNODE, IP_VS_CONN_F_MASQ, IP_VS_CONN_F_TUNNEL,
  IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT, IP_VS_SVC_F_SCHED1, IP_VS_SVC_F_SCHED2, IP_VS_SVC_F_SCHED3,
} from './command.js';
import { TUN_NAMES } from './messages.js';
import { AF_INET, AF_INET6, type Addr, inetPton4, inetPton6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, ntop, parseWireAddr, type Resolver } from './resolve.js';
import { ruleDestLine, ruleServiceLine } from './save.js';

const SPACES = ' '.repeat(64);
const spaces = (n: number): string => (n <= 64 ? SPACES.slice(0, n) : ' '.repeat(n));
/** "%-Ns": pad on the right to n characters, never cut. */
export const padR = (s: string, n: number): string => (s.length >= n ? s : s + spaces(n - s.length));
/** "%Ns": pad on the left. */
export const padL = (s: string, n: number): string => (s.length >= n ? s : spaces(n - s.length) + s);

/** addr:port → name text, as ipvsadm's addrport_to_anyname (with -n, or through the resolver). */
export class Namer {
  readonly #resolver: Resolver;
  readonly #numeric: boolean;
  /** Addresses a reverse lookup is still needed for (the caller looks them up and formats again). */
  readonly misses: Addr[] = [];

  constructor(resolver: Resolver, numeric: boolean) {
    this.#resolver = resolver;
    this.#numeric = numeric;
  }

  get numeric(): boolean {
    return this.#numeric;
  }

  /** addrport for an address of a column set (AddrCols): the numeric IPv4 text is ready-made. */
  addrportAt(c: AddrCols, i: number, port: number, proto: number): string {
    if (this.#numeric && c.af[i] === AF_INET) return `${c.text[i]}:${port}`;
    return this.addrport(c.addr(i), port, proto);
  }

  addrport(a: Addr, port: number, proto: number): string {
    const v6 = a.af !== AF_INET;
    let text: string;
    if (this.#numeric) {
      text = `${v6 ? '[' : ''}${ntop(a)}${v6 ? ']' : ''}:${port}`;
    } else {
      let host = this.#resolver.cachedName(a);
      if (host === undefined) {
        this.misses.push(a);
        host = null;
      }
      const pname = this.#resolver.portToName(port, proto) ?? String(port);
      text = `${v6 ? '[' : ''}${host ?? ntop(a)}${v6 ? ']' : ''}:${pname}`;
    }
    // snprintf(buf, 60, ...): 59 characters at most.
    return text.length > 59 ? text.slice(0, 59) : text;
  }
}

/**
 * The addresses of a list of snapshot entries, parsed once into columns (a listing can have
 * 100,000 real servers; per-entry objects would cost more in garbage collection than the
 * formatting itself). text[i] is the inet_ntop form.
 */
export class AddrCols {
  readonly af: Uint8Array;
  readonly w: Uint32Array;
  readonly text: string[];

  constructor(entries: readonly { af: number; addr: string }[]) {
    const n = entries.length;
    this.af = new Uint8Array(n);
    this.w = new Uint32Array(4 * n);
    this.text = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const e = entries[i];
      if (e.af === AF_INET6) {
        const a = parseWireAddr(AF_INET6, e.addr);
        this.af[i] = AF_INET6;
        this.w.set(a.w, 4 * i);
        this.text[i] = ntop(a);
      } else {
        const canonical = inetPton4(e.addr);
        const v = canonical ?? parseWireAddr(AF_INET, e.addr).w[0];
        this.af[i] = AF_INET;
        this.w[4 * i] = v;
        this.text[i] = canonical !== null ? e.addr : ntop({ af: AF_INET, w: [v, 0, 0, 0] });
      }
    }
  }

  addr(i: number): Addr {
    return { af: this.af[i], w: [this.w[4 * i], this.w[4 * i + 1], this.w[4 * i + 2], this.w[4 * i + 3]] };
  }
}

/**
 * glibc msort_with_tmp on a segment of an index array: stable top-down merge sort, the left
 * half gets floor(n/2) elements, the left element wins when cmp <= 0. With ipvsadm's
 * non-transitive comparators the result depends on exactly this algorithm and the input order.
 */
export function msortIndex(idx: Int32Array, tmp: Int32Array, lo: number, n: number, cmp: (a: number, b: number) => number): void {
  if (n <= 1) return;
  const n1 = n >>> 1;
  msortIndex(idx, tmp, lo, n1, cmp);
  msortIndex(idx, tmp, lo + n1, n - n1, cmp);
  let i = lo;
  let j = lo + n1;
  let k = lo;
  const iEnd = lo + n1;
  const jEnd = lo + n;
  while (i < iEnd && j < jEnd) tmp[k++] = cmp(idx[i], idx[j]) <= 0 ? idx[i++] : idx[j++];
  while (i < iEnd) tmp[k++] = idx[i++];
  for (let m = lo; m < k; m++) idx[m] = tmp[m];
}

/** msortIndex over a whole array of values (returns a sorted copy). */
export function msort<T>(arr: readonly T[], cmp: (a: T, b: T) => number): T[] {
  const idx = Int32Array.from(arr.keys());
  msortIndex(idx, new Int32Array(arr.length), 0, arr.length, (a, b) => cmp(arr[a], arr[b]));
  return Array.from(idx, (i) => arr[i]);
}

/** (int)(a - b) on two u32 values, the overflow ipvsadm's comparators have. */
const diff32 = (a: number, b: number): number => ((a - b) | 0);

/** The address part of libipvs's comparators; the first entry's family decides. */
function cmpAddrAt(c1: AddrCols, i: number, c2: AddrCols, j: number): number {
  if (c1.af[i] === AF_INET6) {
    let r = 0;
    for (let k = 0; r === 0 && k < 4; k++) r = diff32(c1.w[4 * i + k], c2.w[4 * j + k]);
    return r;
  }
  return diff32(c1.w[4 * i], c2.w[4 * j]);
}

/**
 * The protocol ipvsadm sees for a service: the kernel sends none for a fwmark service (libipvs
 * leaves it 0), so its real servers' ports never resolve to names.
 */
const protoOf = (se: ServiceSnapshot): number => (se.fwmark ? 0 : se.protocol);

const protocolName = (p: number): string => (p === IPPROTO_TCP ? 'TCP' : p === IPPROTO_UDP ? 'UDP' : p === IPPROTO_SCTP ? 'SCTP' : '?');
const optionFromProtocol = (p: number): string | null =>
  (p === IPPROTO_TCP ? '-t' : p === IPPROTO_UDP ? '-u' : p === IPPROTO_SCTP ? '--sctp-service' : null);

export function fwdName(fwd: number): string {
  switch (fwd & IP_VS_CONN_F_FWD_MASK) {
    case IP_VS_CONN_F_MASQ: return 'Masq';
    case IP_VS_CONN_F_LOCALNODE: return 'Local';
    case IP_VS_CONN_F_TUNNEL: return 'Tunnel';
    case IP_VS_CONN_F_DROUTE: return 'Route';
    default: return '(null)';
  }
}

const TUN_FLAGS = ['-c', '+c', 'r+c'];

function fwdTunInfo(d: DestSnapshot): string | null {
  if ((d.fwd & IP_VS_CONN_F_FWD_MASK) !== IP_VS_CONN_F_TUNNEL) return null;
  let s: string;
  switch (d.tunType) {
    case 0: s = TUN_NAMES[0]; break;
    case 1: s = `${TUN_NAMES[1]}:${d.tunPort}:${TUN_FLAGS[d.tunFlags] ?? '(null)'}`; break;
    case 2: s = `${TUN_NAMES[2]}:${TUN_FLAGS[d.tunFlags] ?? '(null)'}`; break;
    default: return null;
  }
  return s.slice(0, 15);
}

/** print_largenum: 8 significant columns with K/M/G/T, or the exact value with --exact. */
export function largenum(i: number, format: number): string {
  if (format & FMT_EXACT) {
    const t = String(i);
    return padL(t, t.length <= 8 ? 9 : t.length + 1);
  }
  if (i < 100000000) return padL(String(i), 9);
  if (i < 1000000000) return `${padL(String(Math.floor(i / 1000)), 8)}K`;
  if (i < 100000000000) return `${padL(String(Math.floor(i / 1000000)), 8)}M`;
  if (i < 100000000000000) return `${padL(String(Math.floor(i / 1000000000)), 8)}G`;
  return `${padL(String(Math.floor(i / 1000000000000)), 8)}T`;
}

/** print_sched_flags (without the parentheses). */
export function schedFlagsText(sched: string, flags: number): string {
  const out: string[] = [];
  if (sched === 'sh' || sched === 'mh') {
    if (flags & IP_VS_SVC_F_SCHED1) out.push(`${sched}-fallback`);
    if (flags & IP_VS_SVC_F_SCHED2) out.push(`${sched}-port`);
  } else {
    if (flags & IP_VS_SVC_F_SCHED1) out.push('flag-1');
    if (flags & IP_VS_SVC_F_SCHED2) out.push('flag-2');
    if (flags & IP_VS_SVC_F_SCHED3) out.push('flag-3');
  }
  return out.join(',');
}

export const hasSchedFlags = (flags: number): boolean => (flags & (IP_VS_SVC_F_SCHED1 | IP_VS_SVC_F_SCHED2 | IP_VS_SVC_F_SCHED3)) !== 0;

export function printTitle(format: number): string {
  if (format & FMT_STATS) {
    return `${padR('Prot LocalAddress:Port', 33)} ${padL('Conns', 8)} ${padL('InPkts', 8)} ${padL('OutPkts', 8)} ${padL('InBytes', 8)} ${padL('OutBytes', 8)}\n  -> RemoteAddress:Port\n`;
  }
  if (format & FMT_RATE) {
    return `${padR('Prot LocalAddress:Port', 33)} ${padL('CPS', 8)} ${padL('InPPS', 8)} ${padL('OutPPS', 8)} ${padL('InBPS', 8)} ${padL('OutBPS', 8)}\n  -> RemoteAddress:Port\n`;
  }
  if (format & FMT_THRESHOLDS) {
    return `${padR('Prot LocalAddress:Port', 33)} ${padR('Uthreshold', 10)} ${padR('Lthreshold', 10)} ${padR('ActiveConn', 10)} ${padR('InActConn', 10)}\n  -> RemoteAddress:Port\n`;
  }
  if (format & FMT_PERSISTENTCONN) {
    return `${padR('Prot LocalAddress:Port', 33)} ${padR('Weight', 9)} ${padR('PersistConn', 11)} ${padR('ActiveConn', 10)} ${padR('InActConn', 10)}\n  -> RemoteAddress:Port\n`;
  }
  if (format & FMT_TUN_INFO) {
    return 'Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n';
  }
  if (!(format & FMT_RULE)) {
    return 'Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n';
  }
  return '';
}

const stats5 = (s: StatsWire, format: number, rate: boolean): string => (rate
  ? largenum(s.cps, format) + largenum(s.inpps, format) + largenum(s.outpps, format) + largenum(s.inbps, format) + largenum(s.outbps, format)
  : largenum(s.conns, format) + largenum(s.inpkts, format) + largenum(s.outpkts, format) + largenum(s.inbytes, format) + largenum(s.outbytes, format));

const u = (n: number): string => String(n >>> 0);
const d32 = (n: number): string => String(n | 0);

/**
 * padR(u(n), 10) and padR(d32(n), 6), made once for the small values nearly every real server
 * has (connection counts, weights): a listing of 10^5 real servers then builds no number text.
 */
const SMALL = 1024;
const U10: string[] = Array.from({ length: SMALL }, (_, n) => padR(String(n), 10));
const D6: string[] = Array.from({ length: SMALL }, (_, n) => padR(String(n), 6));
const u10 = (n: number): string => (n >= 0 && n < SMALL && Number.isInteger(n) ? U10[n] : padR(u(n), 10));
const d6 = (n: number): string => (n >= 0 && n < SMALL && Number.isInteger(n) ? D6[n] : padR(d32(n), 6));
const FWD7: Record<number, string> = { 0: padR('Masq', 7), 1: padR('Local', 7), 2: padR('Tunnel', 7), 3: padR('Route', 7) };
const fwd7 = (fwd: number): string => FWD7[fwd & IP_VS_CONN_F_FWD_MASK] ?? padR(fwdName(fwd), 7);

/** The service's printed name: "TCP  1.2.3.4:80", "FWM  7 IPv6", or "-t 1.2.3.4:80" for -S. */
function serviceName(se: ServiceSnapshot, cols: AddrCols, i: number, format: number, namer: Namer): string {
  if (se.fwmark) {
    const mark = d32(se.fwmark);
    if (format & FMT_RULE) return se.af === AF_INET6 ? `-f ${mark} -6` : `-f ${mark}`;
    return se.af === AF_INET6 ? `FWM  ${mark} IPv6` : `FWM  ${mark}`;
  }
  const vname = namer.addrportAt(cols, i, se.port, protoOf(se));
  if (format & FMT_RULE) return `${optionFromProtocol(se.protocol) ?? '--xxx-service'} ${vname}`;
  const name = `${padR(protocolName(se.protocol), 4)} ${vname}`;
  return se.af !== AF_INET6 && name.length > 33 ? name.slice(0, 33) : name;
}

const schedName = (se: ServiceSnapshot): string => (se.sched.length > 0 ? se.sched : 'none');

/** The service line of print_service_entry (without newline). */
function serviceLine(se: ServiceSnapshot, svcName: string, format: number): string {
  if (format & FMT_RULE) return ruleServiceLine(svcName, se, schedName(se));
  if (format & FMT_STATS) return padR(svcName, 33) + stats5(se.stats, format, false);
  if (format & FMT_RATE) return padR(svcName, 33) + stats5(se.stats, format, true);
  let out = `${svcName} ${schedName(se)}`;
  if (hasSchedFlags(se.flags)) out += ` (${schedFlagsText(se.sched, se.flags)})`;
  if (se.flags & IP_VS_SVC_F_PERSISTENT) {
    out += ` persistent ${u(se.timeoutS)}`;
    if (se.af === AF_INET && se.netmask >>> 0 !== 0xffffffff) out += ` mask ${ntop({ af: AF_INET, w: [se.netmask >>> 0, 0, 0, 0] })}`;
    if (se.af === AF_INET6 && se.netmask !== 128) out += ` mask ${d32(se.netmask)}`;
    if (se.pe) out += ` pe ${se.pe}`;
  }
  if (se.flags & IP_VS_SVC_F_ONEPACKET) out += ' ops';
  return out;
}

/** One real server line of print_service_entry (with newline). */
function destLine(e: DestSnapshot, svcName: string, dname: string, format: number): string {
  if (format & FMT_RULE) return ruleDestLine(svcName, dname, e);
  if (format & FMT_STATS) return `  -> ${padR(dname, 28)}${stats5(e.stats, format, false)}\n`;
  if (format & FMT_RATE) {
    return `  -> ${padR(dname, 28)} ${padL(String(e.stats.cps), 8)} ${padL(String(e.stats.inpps), 8)} ${padL(String(e.stats.outpps), 8)}`
      + `${largenum(e.stats.inbps, format)}${largenum(e.stats.outbps, format)}\n`;
  }
  if (format & FMT_THRESHOLDS) {
    return `  -> ${padR(dname, 28)} ${padR(u(e.uThreshold), 10)} ${padR(u(e.lThreshold), 10)} ${padR(u(e.activeConns), 10)} ${padR(u(e.inactConns), 10)}\n`;
  }
  if (format & FMT_PERSISTENTCONN) {
    return `  -> ${padR(dname, 28)} ${padR(u(e.weight), 9)} ${padR(u(e.persistConns), 11)} ${padR(u(e.activeConns), 10)} ${padR(u(e.inactConns), 10)}\n`;
  }
  if (format & FMT_TUN_INFO) {
    return `  -> ${padR(dname, 28)} ${padR(fwdName(e.fwd), 7)} ${padR(fwdTunInfo(e) ?? 'n/a', 13)} ${padR(d32(e.weight), 6)} ${padR(u(e.activeConns), 10)} ${padR(u(e.inactConns), 10)}\n`;
  }
  return `  -> ${padR(dname, 28)} ${fwd7(e.fwd)} ${d6(e.weight)} ${u10(e.activeConns)} ${u10(e.inactConns)}\n`;
}

/**
 * print_service_entry for a list of services: services and real servers sorted with libipvs's
 * comparators (ipvs_cmp_services, ipvs_cmp_dests) unless --nosort, then printed.
 */
function serviceEntries(services: readonly ServiceSnapshot[], format: number, namer: Namer): string {
  const ns = services.length;
  const scols = new AddrCols(services);
  const order = Int32Array.from({ length: ns }, (_, i) => i);
  if (!(format & FMT_NOSORT)) {
    msortIndex(order, new Int32Array(ns), 0, ns, (i, j) => {
      const s1 = services[i];
      const s2 = services[j];
      let r = diff32(s1.fwmark >>> 0, s2.fwmark >>> 0);
      if (r !== 0) return r;
      r = s1.af - s2.af;
      if (r !== 0) return r;
      r = protoOf(s1) - protoOf(s2);
      if (r !== 0) return r;
      r = cmpAddrAt(scols, i, scols, j);
      if (r !== 0) return r;
      return s1.port - s2.port;
    });
  }
  // Every real server of every service in one column set; offsets per service.
  const all: DestSnapshot[] = [];
  const off = new Int32Array(ns + 1);
  for (let i = 0; i < ns; i++) {
    off[i] = all.length;
    for (const d of services[i].dests) all.push(d);
  }
  off[ns] = all.length;
  const dcols = new AddrCols(all);
  const didx = Int32Array.from({ length: all.length }, (_, i) => i);
  const dtmp = new Int32Array(all.length);
  const cmpDests = (i: number, j: number): number => {
    const r = cmpAddrAt(dcols, i, dcols, j);
    return r !== 0 ? r : all[i].port - all[j].port;
  };
  // Each service's lines are joined into one flat string at once: a line is a tree of
  // concatenations, and 10^5 of them kept until the end cost more in garbage collection than
  // all the formatting.
  const parts: string[] = [];
  const lines: string[] = [];
  for (let k = 0; k < ns; k++) {
    const i = order[k];
    const se = services[i];
    const svcName = serviceName(se, scols, i, format, namer);
    lines.push(serviceLine(se, svcName, format), '\n');
    const lo = off[i];
    const n = off[i + 1] - lo;
    if (!(format & FMT_NOSORT)) msortIndex(didx, dtmp, lo, n, cmpDests);
    const proto = protoOf(se);
    for (let m = lo; m < lo + n; m++) {
      const d = didx[m];
      const e = all[d];
      let dname = namer.addrportAt(dcols, d, e.port, proto);
      if (!(format & FMT_RULE) && e.af !== AF_INET6 && dname.length > 28) dname = dname.slice(0, 28);
      lines.push(destLine(e, svcName, dname, format));
    }
    parts.push(lines.join(''));
    lines.length = 0;
  }
  return parts.join('');
}

/** list_all (also -S, which has FMT_RULE and no version line). */
export function listAll(t: TableSnapshot, format: number, namer: Namer): string {
  const head = format & FMT_RULE ? '' : `IP Virtual Server version ${t.version} (size=${t.connTabSize})\n`;
  return head + printTitle(format) + serviceEntries(t.services, format, namer);
}

/** list_service: the titles and one service (no version line). */
export function listService(se: ServiceSnapshot, format: number, namer: Namer): string {
  return printTitle(format) + serviceEntries([se], format, namer);
}

export function listTimeout(t: TableSnapshot['timeouts']): string {
  return `Timeout (tcp tcpfin udp): ${d32(t.tcp)} ${d32(t.tcpfin)} ${d32(t.udp)}\n`;
}

/** ip_vs_proto_name: the protocol word /proc/net/ip_vs_conn starts each line with. */
export function connProtoName(p: number): string {
  switch (p) {
    case 6: return 'TCP';
    case 17: return 'UDP';
    case 132: return 'SCTP';
    case 1: return 'ICMP';
    case 58: return 'ICMPv6';
    case 0: return 'IP';
    default: return `IP_${p}`;
  }
}

/**
 * list_conn/print_conn. ipvsadm re-reads /proc/net/ip_vs_conn; the same fields come from the
 * daemon. A fwmark persistence template shows its mark as the virtual address (0.0.0.N).
 */
export function listConns(conns: readonly ConnWire[], format: number, namer: Namer): string {
  const parts: string[] = ['IPVS connection entries\n'];
  if (format & FMT_PERSISTENTCONN) {
    parts.push(`pro expire ${padR('state', 11)} ${padR('source', 18)} ${padR('virtual', 18)} ${padR('destination', 18)} ${padR('pe name', 16)} pe_data\n`);
  } else {
    parts.push(`pro expire ${padR('state', 11)} ${padR('source', 18)} ${padR('virtual', 18)} destination\n`);
  }
  for (const c of conns) {
    const protoText = connProtoName(c.protocol);
    const proto = protoText === 'TCP' ? IPPROTO_TCP : protoText === 'UDP' ? IPPROTO_UDP : protoText === 'SCTP' ? IPPROTO_SCTP : 0;
    const af = c.af === AF_INET6 ? AF_INET6 : AF_INET;
    const caddr = parseWireAddr(af, c.caddr);
    let vaddr: Addr;
    if (c.template && c.fwmark) vaddr = { af, w: [c.fwmark >>> 0, 0, 0, 0] };
    else vaddr = parseWireAddr(af, c.vaddr);
    const d6 = inetPton6(c.daddr);
    const daddr: Addr = d6 ? { af: AF_INET6, w: d6 } : { af: AF_INET, w: [inetPton4(c.daddr) ?? 0, 0, 0, 0] };
    const cname = namer.addrport(caddr, c.cport, proto);
    const vname = namer.addrport(vaddr, c.vport, proto);
    const dname = namer.addrport(daddr, c.dport, proto);
    const secs = Math.max(0, Math.floor(c.expiresS));
    const expire = `${String(Math.floor(secs / 60)).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')}`;
    const state = c.state;
    if (format & FMT_PERSISTENTCONN && c.peName) {
      parts.push(`${padR(protoText, 3)} ${padR(expire, 6)} ${padR(state, 11)} ${padR(cname, 18)} ${padR(vname, 18)} ${padR(dname, 16)} ${padR(c.peName, 18)} ${c.peData ?? ''}\n`);
    } else {
      parts.push(`${padR(protoText, 3)} ${padR(expire, 6)} ${padR(state, 11)} ${padR(cname, 18)} ${padR(vname, 18)} ${dname}\n`);
    }
  }
  return parts.join('');
}

