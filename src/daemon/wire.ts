/**
 * Conversion between the control protocol's wire form (src/control/protocol.ts: text addresses,
 * plain numbers) and the core's objects (IpAddr, ServiceUser, DestUser, VirtualService, Dest),
 * in both directions: table commands in, table snapshots and saved state out. Malformed wire
 * values are refused the way ip_vs_genl_parse_service/_dest refuse bad attributes: an IpvsError
 * (EINVAL, or EAFNOSUPPORT for an unknown family) before anything changes.
 */
import { AF_INET, AF_INET6, type Af, IpAddr, parseAddr } from '../core/addr.js';
import type { Dest, DestUser } from '../core/dest.js';
import { IP_VS_CONN_F_FWD_MASK } from '../core/dest.js';
import { type Errno, IpvsError, type IpvsOp } from '../core/errors.js';
import type { ConnInfo, Ipvs } from '../core/ipvs.js';
import type { Protocol, ServiceUser, VirtualService } from '../core/service.js';
import type { ServiceId, ServiceTable } from '../core/service-table.js';
import { type Stats, statsView } from '../core/stats/counters.js';
import type {
  CommandError, ConnWire, DestIdWire, DestSnapshot, DestWire, HealthWire, ServiceIdWire, ServiceSnapshot, ServiceWire, StatsWire,
  TableCommand, TableSnapshot,
} from '../control/protocol.js';

/** IP_VS_VERSION_CODE 0x010201, as `ipvsadm -L` prints it. */
export const IPVS_VERSION = '1.2.1';

const ANY4 = new IpAddr(AF_INET, 0);
const ANY6 = new IpAddr(AF_INET6, 0, 0, 0, 0);

/** The libipvs operation a table command is reported under (ipvs_strerror keys on it). */
export function opOf(cmd: TableCommand): IpvsOp {
  switch (cmd.cmd) {
    case 'zero': return cmd.svc ? 'zero-service' : 'zero';
    default: return cmd.cmd;
  }
}

const COMMANDS = new Set(['add-service', 'edit-service', 'del-service', 'flush', 'add-dest', 'edit-dest', 'del-dest', 'zero', 'set-timeout']);

/**
 * A batch entry that is not a table command at all (not an object, unknown `cmd`): there is no
 * libipvs operation to blame, so it is answered as a protocol error. Null for a well-formed one.
 */
export function malformedCommand(cmd: unknown): CommandError | null {
  const name = isObj(cmd) ? cmd.cmd : undefined;
  if (typeof name === 'string' && COMMANDS.has(name)) return null;
  return {
    op: typeof name === 'string' ? name : 'exec', errno: 'EINVAL', code: 'TSLVS_ERR_PROTOCOL',
    message: `Not a table command: ${JSON.stringify(cmd)?.slice(0, 80) ?? String(cmd)}`,
    hint: 'send objects with "cmd" set to one of add-service, edit-service, del-service, flush, add-dest, edit-dest, del-dest, zero, set-timeout',
  };
}

function bad(op: IpvsOp, detail: string, errno: Errno = 'EINVAL'): never {
  throw new IpvsError(op, errno, detail);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function u32(op: IpvsOp, v: unknown, what: string, max = 0xffffffff): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) bad(op, `${what} must be an integer 0..${max}`);
  return v;
}

function str(op: IpvsOp, v: unknown, what: string): string {
  if (typeof v !== 'string') bad(op, `${what} must be a string`);
  return v;
}

function afOf(op: IpvsOp, v: unknown): Af {
  if (v !== AF_INET && v !== AF_INET6) bad(op, `address family ${String(v)} not supported`, 'EAFNOSUPPORT');
  return v;
}

function addrOf(op: IpvsOp, af: Af, v: unknown, what: string): IpAddr {
  const a = parseAddr(str(op, v, what));
  if (!a || a.af !== af) bad(op, `${what} "${String(v)}" is not an IPv${af === AF_INET ? 4 : 6} address`);
  return a;
}

/** ip_vs_genl_parse_service's identity part. */
export function serviceIdFromWire(op: IpvsOp, w: unknown): ServiceId {
  if (!isObj(w)) bad(op, 'service missing');
  const af = afOf(op, w.af);
  const fwmark = u32(op, w.fwmark ?? 0, 'fwmark');
  if (fwmark) return { af, protocol: 6, addr: af === AF_INET ? ANY4 : ANY6, port: 0, fwmark };
  const protocol = w.protocol;
  if (protocol !== 6 && protocol !== 17 && protocol !== 132) bad(op, `protocol ${String(protocol)} not supported`);
  return { af, protocol: protocol as Protocol, addr: addrOf(op, af, w.addr, 'virtual address'), port: u32(op, w.port, 'port', 65535), fwmark: 0 };
}

/**
 * serviceIdFromWire with a one-entry memo: in a restore batch the -a lines of one service follow
 * each other, so most lookups repeat the previous identity. The result depends only on these
 * five fields, so reusing it for equal fields is exact.
 */
let memoWire: { af: unknown; protocol: unknown; addr: unknown; port: unknown; fwmark: unknown } | null = null;
let memoId: ServiceId | null = null;

function serviceIdMemo(op: IpvsOp, w: unknown): ServiceId {
  if (memoId !== null && memoWire !== null && isObj(w) && w.af === memoWire.af && w.addr === memoWire.addr &&
    w.port === memoWire.port && w.protocol === memoWire.protocol && w.fwmark === memoWire.fwmark) {
    return memoId;
  }
  const id = serviceIdFromWire(op, w);
  const o = w as Record<string, unknown>;
  memoWire = { af: o.af, protocol: o.protocol, addr: o.addr, port: o.port, fwmark: o.fwmark };
  memoId = id;
  return id;
}

export function serviceUserFromWire(op: IpvsOp, w: unknown): ServiceUser {
  const id = serviceIdFromWire(op, w);
  const s = w as Record<string, unknown>;
  // Fields spelled out: object spread is several times slower, and a restore runs this 10^5 times.
  return {
    af: id.af, protocol: id.protocol, addr: id.addr, port: id.port, fwmark: id.fwmark,
    schedName: str(op, s.sched, 'scheduler'),
    flags: u32(op, s.flags ?? 0, 'flags'),
    timeoutS: u32(op, s.timeoutS ?? 0, 'timeout'),
    netmask: u32(op, s.netmask ?? (id.af === AF_INET6 ? 128 : 0xffffffff), 'netmask'),
    peName: str(op, s.pe ?? '', 'persistence engine'),
  };
}

export function destIdFromWire(op: IpvsOp, w: unknown): { af: Af; addr: IpAddr; port: number } {
  if (!isObj(w)) bad(op, 'destination missing');
  const af = afOf(op, w.af);
  return { af, addr: addrOf(op, af, w.addr, 'real server address'), port: u32(op, w.port, 'port', 65535) };
}

/** ip_vs_genl_parse_dest. Weight and thresholds are signed in the kernel: ERANGE is its call. */
export function destUserFromWire(op: IpvsOp, w: unknown): DestUser {
  const id = destIdFromWire(op, w);
  const d = w as Record<string, unknown>;
  const weight = d.weight ?? 1;
  if (typeof weight !== 'number' || !Number.isInteger(weight)) bad(op, 'weight must be an integer');
  return {
    af: id.af, addr: id.addr, port: id.port,
    connFlags: u32(op, d.fwd ?? 0, 'forwarding method', IP_VS_CONN_F_FWD_MASK),
    weight,
    uThreshold: u32(op, d.uThreshold ?? 0, 'upper threshold'),
    lThreshold: u32(op, d.lThreshold ?? 0, 'lower threshold'),
    tunType: u32(op, d.tunType ?? 0, 'tunnel type', 255),
    tunPort: u32(op, d.tunPort ?? 0, 'tunnel port', 65535),
    tunFlags: u32(op, d.tunFlags ?? 0, 'tunnel flags', 65535),
    proxyProtocol: u32(op, d.proxyProtocol ?? 0, 'proxy protocol version', 2),
  };
}

/** Runs one table command (checked with malformedCommand first); throws IpvsError before changing anything, or completes. */
export function applyTableCommand(table: ServiceTable, cmd: TableCommand): void {
  const op = opOf(cmd);
  switch (cmd.cmd) {
    case 'add-service':
      table.addService(serviceUserFromWire(op, cmd.svc));
      return;
    case 'edit-service': {
      const u = serviceUserFromWire(op, cmd.svc);
      table.editService(u, u);
      return;
    }
    case 'del-service':
      table.delService(serviceIdFromWire(op, cmd.svc));
      return;
    case 'flush':
      table.flush();
      return;
    case 'add-dest':
      table.addDest(serviceIdMemo(op, cmd.svc), destUserFromWire(op, cmd.dest));
      return;
    case 'edit-dest':
      table.editDest(serviceIdMemo(op, cmd.svc), destUserFromWire(op, cmd.dest));
      return;
    case 'del-dest': {
      const id = serviceIdMemo(op, cmd.svc);
      const d = destIdFromWire(op, cmd.dest);
      table.delDest(id, d.af, d.addr, d.port);
      return;
    }
    case 'zero':
      if (cmd.svc) table.zeroService(serviceIdFromWire(op, cmd.svc));
      else table.zeroAll();
      return;
    case 'set-timeout':
      table.setTimeouts({
        tcp: u32(op, cmd.tcp, 'tcp timeout', 0x7fffffff),
        tcpfin: u32(op, cmd.tcpfin, 'tcpfin timeout', 0x7fffffff),
        udp: u32(op, cmd.udp, 'udp timeout', 0x7fffffff),
      });
      return;
    default:
      bad(op, `unknown command "${String((cmd as { cmd?: unknown }).cmd)}"`);
  }
}

/** A failed command as the protocol reports it. */
export function ipvsErrorToWire(e: IpvsError): CommandError {
  return { op: e.op, errno: e.errno };
}

export function serviceIdToWire(svc: VirtualService): ServiceIdWire {
  return { af: svc.af, protocol: svc.protocol, addr: svc.addr.toString(), port: svc.port, fwmark: svc.fwmark };
}

export function serviceToWire(svc: VirtualService): ServiceWire {
  return {
    af: svc.af, protocol: svc.protocol, addr: svc.addr.toString(), port: svc.port, fwmark: svc.fwmark,
    sched: svc.schedName, flags: svc.flags, timeoutS: svc.timeoutS, netmask: svc.netmask, pe: svc.peName,
  };
}

export function destIdToWire(d: Dest): DestIdWire {
  return { af: d.af, addr: d.addr.toString(), port: d.port };
}

export function destToWire(d: Dest): DestWire {
  const w: DestWire = {
    af: d.af, addr: d.addr.toString(), port: d.port, fwd: d.connFlags & IP_VS_CONN_F_FWD_MASK, weight: d.weight,
    uThreshold: d.uThreshold, lThreshold: d.lThreshold, tunType: d.tunType, tunPort: d.tunPort, tunFlags: d.tunFlags,
  };
  if (d.proxyProtocol) w.proxyProtocol = d.proxyProtocol;
  return w;
}

export function statsToWire(s: Stats): StatsWire {
  return statsView(s);
}

/** The health of a destination of a service (the daemon's health runner), or undefined for an unchecked one. */
export type HealthLookup = (svc: VirtualService, d: Dest) => HealthWire | undefined;

function destSnapshot(d: Dest, svc?: VirtualService, health?: HealthLookup): DestSnapshot {
  const s: DestSnapshot = {
    af: d.af, addr: d.addr.toString(), port: d.port, fwd: d.connFlags & IP_VS_CONN_F_FWD_MASK, weight: d.weight,
    uThreshold: d.uThreshold, lThreshold: d.lThreshold, tunType: d.tunType, tunPort: d.tunPort, tunFlags: d.tunFlags,
    activeConns: d.activeConns, inactConns: d.inactConns, persistConns: d.persistConns,
    overloaded: d.isOverloaded(), stats: statsToWire(d.stats),
  };
  if (d.proxyProtocol) s.proxyProtocol = d.proxyProtocol;
  if (health && svc) {
    const h = health(svc, d);
    if (h) s.health = h;
  }
  return s;
}

export function serviceSnapshot(svc: VirtualService, health?: HealthLookup): ServiceSnapshot {
  return {
    af: svc.af, protocol: svc.protocol, addr: svc.addr.toString(), port: svc.port, fwmark: svc.fwmark,
    sched: svc.schedName, flags: svc.flags, timeoutS: svc.timeoutS, netmask: svc.netmask, pe: svc.peName,
    dests: svc.dests().map((d) => destSnapshot(d, svc, health)), stats: statsToWire(svc.stats),
  };
}

/** The whole table (or the given services) as `get-table` returns it, with health where `health` knows it. */
export function buildSnapshot(ipvs: Ipvs, dataplane: string, only?: readonly VirtualService[], health?: HealthLookup): TableSnapshot {
  const t = ipvs.table;
  return {
    version: IPVS_VERSION,
    connTabSize: 2 ** ipvs.connTabBits,
    timeouts: { ...t.timeouts },
    services: (only ?? t.services()).map((svc) => serviceSnapshot(svc, health)),
    totals: statsToWire(t.totStats),
    dataplane,
  };
}

/** One connection entry as `get-conns` sends it. */
export function connToWire(c: ConnInfo): ConnWire {
  const w: ConnWire = {
    protocol: c.protocol, af: c.af, caddr: c.caddr, cport: c.cport, vaddr: c.vaddr, vport: c.vport,
    daddr: c.daddr, dport: c.dport, fwmark: c.fwmark, template: c.template, state: c.state, expiresS: c.expiresS,
  };
  if (c.daf !== c.af) w.daf = c.daf;
  return w;
}
