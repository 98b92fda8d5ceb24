/**
 * The kernel's IPVS /proc files, written from the daemon's table: /proc/net/ip_vs
 * (ip_vs_ctl.c ip_vs_info_seq_show), /proc/net/ip_vs_stats (ip_vs_stats_show) and
 * /proc/net/ip_vs_conn (ip_vs_conn.c ip_vs_conn_seq_show), byte for byte, so tools that read
 * those files (Prometheus' node_exporter with --path.procfs, scripts that grep them) work on
 * tslvs. The formatters are pure: the TableSnapshot of src/control/protocol.ts and a connection
 * listing in, text out. writeProcFiles at the end is the one I/O part: temp file + rename.
 *
 * Where tslvs cannot be the kernel:
 * - Services come in the daemon's table order (address services first, then fwmark services,
 *   as the kernel walks its two hash tables). The kernel's order is its hash-bucket order, and
 *   the 6.1 hash (ip_vs_svc_hashkey) mixes in the address of the netns_ipvs structure, so no
 *   one can reproduce it; consumers do not rely on it (procfs parses line by line).
 * - Real servers come newest first, as the kernel's list (the snapshot's order already is).
 * - Timeouts print in jiffies of HZ 250, Debian amd64's CONFIG_HZ (the reference kernel).
 */
import { rename, writeFile, mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type IpAddr, parseIPv4, parseIPv6 } from '../core/addr.js';
import type { Dest } from '../core/dest.js';
import type { VirtualService } from '../core/service.js';
import type { ConnWire, ServiceSnapshot, StatsWire, TableSnapshot } from './protocol.js';

/** CONFIG_HZ of Debian's amd64 kernels: svc->timeout is kept (and printed) in jiffies. */
export const HZ = 250;

const IP_VS_SVC_F_PERSISTENT = 0x0001;
const IP_VS_SVC_F_ONEPACKET = 0x0004;
const IP_VS_CONN_F_FWD_MASK = 0x0007;
const IP_VS_CONN_F_LOCALNODE = 0x0001;
const IP_VS_CONN_F_TUNNEL = 0x0002;
const IP_VS_CONN_F_DROUTE = 0x0003;

const AF_INET6 = 10;

/** ip_vs_proto_name. */
export function procProtoName(p: number): string {
  switch (p) {
    case 0: return 'IP';
    case 1: return 'ICMP';
    case 6: return 'TCP';
    case 17: return 'UDP';
    case 58: return 'ICMPv6';
    case 132: return 'SCTP';
    default: return `IP_${p}`;
  }
}

/** ip_vs_fwd_name: anything but Local, Tunnel and Route is Masq. */
export function fwdName(fwd: number): string {
  switch (fwd & IP_VS_CONN_F_FWD_MASK) {
    case IP_VS_CONN_F_LOCALNODE: return 'Local';
    case IP_VS_CONN_F_TUNNEL: return 'Tunnel';
    case IP_VS_CONN_F_DROUTE: return 'Route';
    default: return 'Masq';
  }
}

/** "00".."FF" (%02X of a byte): the 8-digit addresses and 4-digit ports of a 10^5-line file from a table. */
const HEX2: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).toUpperCase().padStart(2, '0'));

/** %0<width>X. */
function hex(v: number, width: number): string {
  const u = v >>> 0;
  if (width === 8) return HEX2[u >>> 24] + HEX2[(u >>> 16) & 255] + HEX2[(u >>> 8) & 255] + HEX2[u & 255];
  if (width === 4 && u <= 0xffff) return HEX2[u >>> 8] + HEX2[u & 255];
  return u.toString(16).toUpperCase().padStart(width, '0');
}

/** %<width>LX: a 64-bit counter, upper-case hex, right-aligned in spaces. */
function hexWide(v: number, width: number): string {
  const n = Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
  return n.toString(16).toUpperCase().padStart(width, ' ');
}

function padEnd(s: string, width: number): string {
  return s.length >= width ? s : s + ' '.repeat(width - s.length);
}

function padStart(s: string, width: number): string {
  return s.length >= width ? s : ' '.repeat(width - s.length) + s;
}

/** The four host-order words of an address in wire text, or null. */
function words(af: number, text: string): [number, number, number, number] | null {
  if (af === AF_INET6) return parseIPv6(text);
  const v = parseIPv4(text);
  return v === null ? null : [v, 0, 0, 0];
}

/** %pI6: eight groups of four lower-case hex digits. */
export function ipv6Full(w: readonly number[]): string {
  const g: string[] = [];
  for (let i = 0; i < 4; i++) g.push((w[i] >>> 16).toString(16).padStart(4, '0'), (w[i] & 0xffff).toString(16).padStart(4, '0'));
  return g.join(':');
}

/** An address as the kernel prints it here: %08X (host order) for IPv4, %pI6 for IPv6. */
function procAddr(af: number, text: string): string {
  if (af !== AF_INET6) {
    return hex(parseIPv4(text) ?? 0, 8);
  }
  const w = words(af, text) ?? [0, 0, 0, 0];
  return af === AF_INET6 ? ipv6Full(w) : hex(w[0], 8);
}

/** The text form of a kernel integer printed with %d: a signed 32-bit value. */
function d32(v: number): string {
  return String(v | 0);
}

/** Byte swap of a u32: the IPv6 prefix length goes through ntohl() on its way to %08X. */
function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | ((v >>> 24) & 0xff)) >>> 0;
}

function serviceLine(s: ServiceSnapshot, hz: number): string {
  return serviceLineOf(s.af, s.protocol, s.fwmark ? '' : procAddr(s.af, s.addr), s.port, s.fwmark, s.sched, s.flags, s.timeoutS, s.netmask, hz);
}

/** A service line; `addr` is the address as procAddr prints it (unused for a fwmark service). */
function serviceLineOf(af: number, protocol: number, addr: string, port: number, fwmark: number, schedName: string, flags: number,
  timeoutS: number, netmask: number, hz: number): string {
  const sched = schedName === '' ? 'none' : schedName;
  const ops = (flags & IP_VS_SVC_F_ONEPACKET) !== 0 ? 'ops ' : '';
  let head: string;
  if (fwmark) head = `FWM  ${hex(fwmark, 8)} ${sched} ${ops}`;
  // "%s  [%pI6]:%04X %s ": the IPv6 branch has no ops field (observed on 6.1).
  else if (af === AF_INET6) head = `${procProtoName(protocol)}  [${addr}]:${hex(port, 4)} ${sched} `;
  else head = `${procProtoName(protocol)}  ${addr}:${hex(port, 4)} ${sched} ${ops} `;
  if ((flags & IP_VS_SVC_F_PERSISTENT) === 0) return `${head}\n`;
  // svc->timeout is in jiffies; the mask is ntohl(svc->netmask): an IPv4 mask as is, an IPv6
  // prefix length byte-swapped (-M 64 prints 40000000 on little-endian machines).
  const mask = af === AF_INET6 ? bswap32(netmask) : netmask;
  return `${head}persistent ${d32(timeoutS * hz)} ${hex(mask, 8)}\n`;
}

/** An address of the table as procAddr prints its text. */
function procAddrOf(a: IpAddr): string {
  return a.af === AF_INET6 ? ipv6Full([a.w0, a.w1, a.w2, a.w3]) : hex(a.w0, 8);
}

/**
 * formatIpVsServices straight from the table's services (the daemon's refresh of a big table):
 * the same text without a snapshot object per entry, appended to `out` one string per service.
 */
export function formatIpVsTableServices(services: readonly VirtualService[], out: string[], hz = HZ): void {
  const lines: string[] = [];
  for (const s of services) {
    lines.push(serviceLineOf(s.af, s.protocol, s.fwmark ? '' : procAddrOf(s.addr), s.port, s.fwmark, s.schedName, s.flags, s.timeoutS, s.netmask, hz));
    const head = s.destinations;
    for (let n = head.next; n !== head; n = n.next) {
      const d = n as Dest;
      const addr = d.af === AF_INET6 ? `[${procAddrOf(d.addr)}]` : procAddrOf(d.addr);
      lines.push(`  -> ${addr}:${hex(d.port, 4)}      ${FWD7[d.connFlags & IP_VS_CONN_F_FWD_MASK]} ${pad6(d.weight)} ` +
        `${pad10(d.activeConns)} ${pad10(d.inactConns)}\n`);
    }
    out.push(lines.join(''));
    lines.length = 0;
  }
}

/** The three title lines of /proc/net/ip_vs. */
export function ipVsHeader(t: Pick<TableSnapshot, 'version' | 'connTabSize'>): string {
  return `IP Virtual Server version ${t.version} (size=${t.connTabSize})\n` +
    'Prot LocalAddress:Port Scheduler Flags\n' +
    '  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n';
}

/**
 * The lines of /proc/net/ip_vs for these services, in the order given, appended to `out` one
 * string per service (each service's lines are joined flat at once: 10^5 line strings kept to
 * the end cost more in garbage collection than the formatting). The daemon formats a big table
 * a slice of services at a time (src/daemon/observe.ts).
 */
export function formatIpVsServices(services: readonly ServiceSnapshot[], out: string[], hz = HZ): void {
  const lines: string[] = [];
  for (const s of services) {
    lines.push(serviceLine(s, hz));
    for (const d of s.dests) {
      const addr = d.af === AF_INET6 ? `[${procAddr(d.af, d.addr)}]` : procAddr(d.af, d.addr);
      lines.push(`  -> ${addr}:${hex(d.port, 4)}      ${FWD7[d.fwd & IP_VS_CONN_F_FWD_MASK]} ${pad6(d.weight)} ` +
        `${pad10(d.activeConns)} ${pad10(d.inactConns)}\n`);
    }
    out.push(lines.join(''));
    lines.length = 0;
  }
}

/** /proc/net/ip_vs for the snapshot. */
export function formatIpVs(t: TableSnapshot, hz = HZ): string {
  const out: string[] = [ipVsHeader(t)];
  // ip_vs_info_array walks ip_vs_svc_table first, then ip_vs_svc_fwm_table.
  formatIpVsServices(t.services.filter((s) => !s.fwmark), out, hz);
  formatIpVsServices(t.services.filter((s) => s.fwmark), out, hz);
  return out.join('');
}

/** padEnd(fwdName(fwd), 7) for the eight values of fwd & IP_VS_CONN_F_FWD_MASK. */
const FWD7: readonly string[] = Array.from({ length: 8 }, (_, f) => padEnd(fwdName(f), 7));
const SMALL = 1024;
const PAD6: readonly string[] = Array.from({ length: SMALL }, (_, n) => padEnd(String(n), 6));
const PAD10: readonly string[] = Array.from({ length: SMALL }, (_, n) => padEnd(String(n), 10));
/** padEnd(d32(v), 6) and padEnd(d32(v), 10), made once for the small values most entries have. */
const pad6 = (v: number): string => (Number.isInteger(v) && v >= 0 && v < SMALL ? PAD6[v] : padEnd(d32(v), 6));
const pad10 = (v: number): string => (Number.isInteger(v) && v >= 0 && v < SMALL ? PAD10[v] : padEnd(d32(v), 10));

function statsRow(a: number, b: number, c: number, d: number, e: number): string {
  return `${hexWide(a, 8)} ${hexWide(b, 8)} ${hexWide(c, 8)} ${hexWide(d, 16)} ${hexWide(e, 16)}\n`;
}

/** /proc/net/ip_vs_stats: the global totals and the estimator's rates. */
export function formatIpVsStats(s: StatsWire): string {
  return '   Total Incoming Outgoing         Incoming         Outgoing\n' +
    '   Conns  Packets  Packets            Bytes            Bytes\n' +
    statsRow(s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes) +
    '\n' +
    ' Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n' +
    statsRow(s.cps, s.inpps, s.outpps, s.inbps, s.outbps);
}

/** A connection entry; `daf` (the real server's family) defaults to the entry's own. */
export type ProcConn = ConnWire & { daf?: 2 | 10 };

export const IP_VS_CONN_HEADER = 'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n';

/** One /proc/net/ip_vs_conn line. */
export function formatConnLine(c: ProcConn): string {
  const daf = c.daf ?? (c.daddr.includes(':') ? AF_INET6 : 2);
  const dbuf = procAddr(daf, c.daddr);
  // A fwmark persistence template carries the mark in vaddr (ip_vs_sched_persist: .ip = htonl(mark)).
  const vaddr = c.template && c.fwmark
    ? (c.af === AF_INET6 ? ipv6Full([c.fwmark >>> 0, 0, 0, 0]) : hex(c.fwmark, 8))
    : procAddr(c.af, c.vaddr);
  const pe = c.peName ? ` ${c.peName} ${c.peData ?? ''}` : '';
  const expires = padStart(String(Math.max(0, Math.floor(c.expiresS)) >>> 0), 7);
  return `${padEnd(procProtoName(c.protocol), 3)} ${procAddr(c.af, c.caddr)} ${hex(c.cport, 4)} ${vaddr} ${hex(c.vport, 4)} ` +
    `${dbuf} ${hex(c.dport, 4)} ${padEnd(c.state, 11)} ${expires}${pe}\n`;
}

/** /proc/net/ip_vs_conn for a listing (in the core's hash order). */
export function formatIpVsConn(conns: readonly ProcConn[]): string {
  const out: string[] = [IP_VS_CONN_HEADER];
  for (const c of conns) out.push(formatConnLine(c));
  return out.join('');
}

/** The files under <state-dir>/proc, by their name below proc/. */
export interface ProcFiles {
  'net/ip_vs': string;
  'net/ip_vs_stats': string;
  'net/ip_vs_conn': string;
}

export function formatProcFiles(t: TableSnapshot, conns: readonly ProcConn[], hz = HZ): ProcFiles {
  return { 'net/ip_vs': formatIpVs(t, hz), 'net/ip_vs_stats': formatIpVsStats(t.totals), 'net/ip_vs_conn': formatIpVsConn(conns) };
}

/**
 * Writes the files under `root` (e.g. <state-dir>/proc), each atomically: a reader (node_exporter
 * scraping at any moment) sees the old or the new content, never a torn file. A file whose
 * content did not change since `previous` is not rewritten. Returns what is now on disk.
 */
export async function writeProcFiles(root: string, files: ProcFiles, previous: Partial<ProcFiles> = {}): Promise<ProcFiles> {
  await mkdir(join(root, 'net'), { recursive: true });
  for (const name of Object.keys(files) as (keyof ProcFiles)[]) {
    if (previous[name] === files[name]) continue;
    const path = join(root, name);
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      await writeFile(tmp, files[name], { mode: 0o644 });
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }
  return { ...files };
}
