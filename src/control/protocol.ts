/**
 * The control protocol between the CLIs (tslvsadm, tslvs) and the daemon: newline-delimited
 * JSON over a Unix domain socket, one request and one response per line. Table commands mirror
 * the IPVS generic netlink commands one to one (include/uapi/linux/ip_vs.h), so a future kernel
 * dataplane maps them directly. Addresses travel as text (inet_ntop form).
 * This file holds types and pure helpers only; src/cli imports nothing else from the daemon side.
 */

export const PROTOCOL_VERSION = 1;

export interface ServiceIdWire {
  af: 2 | 10;
  protocol: 6 | 17 | 132;
  addr: string;
  port: number;
  /** Non-zero: a fwmark service (protocol, addr and port are then ignored). */
  fwmark: number;
}

export interface ServiceWire extends ServiceIdWire {
  sched: string;
  flags: number;
  timeoutS: number;
  /** IPv4: u32 mask; IPv6: prefix length. */
  netmask: number;
  pe: string;
}

export interface DestIdWire {
  af: 2 | 10;
  addr: string;
  port: number;
}

export interface DestWire extends DestIdWire {
  /** Forwarding method bits: 0 masq, 1 local, 2 tunnel, 3 route. */
  fwd: number;
  weight: number;
  uThreshold: number;
  lThreshold: number;
  tunType: number;
  tunPort: number;
  tunFlags: number;
  /** tslvs extension: PROXY protocol version sent to this real server (0 off, 1, 2). */
  proxyProtocol?: number;
}

export type TableCommand =
  | { cmd: 'add-service'; svc: ServiceWire }
  | { cmd: 'edit-service'; svc: ServiceWire }
  | { cmd: 'del-service'; svc: ServiceIdWire }
  | { cmd: 'flush' }
  | { cmd: 'add-dest'; svc: ServiceIdWire; dest: DestWire }
  | { cmd: 'edit-dest'; svc: ServiceIdWire; dest: DestWire }
  | { cmd: 'del-dest'; svc: ServiceIdWire; dest: DestIdWire }
  | { cmd: 'zero'; svc?: ServiceIdWire }
  | { cmd: 'set-timeout'; tcp: number; tcpfin: number; udp: number };

/** A failed table command: the libipvs operation and errno, plus tslvs's own explanation. */
export interface CommandError {
  op: string;
  errno: string;
  /** For failures that are not kernel errnos (a dataplane refusing): one line, then a hint. */
  message?: string;
  hint?: string;
  /** tslvs extension: the TSLVS_ERR_* code (docs/errors.md) when tslvs itself refused. */
  code?: string;
}

export interface StatsWire {
  conns: number;
  inpkts: number;
  outpkts: number;
  inbytes: number;
  outbytes: number;
  cps: number;
  inpps: number;
  outpps: number;
  inbps: number;
  outbps: number;
}

export interface HealthWire {
  checker: string;
  up: boolean;
  lastResult: string;
  latencyMs: number | null;
  lastTransitionMs: number | null;
}

export interface DestSnapshot extends DestWire {
  activeConns: number;
  inactConns: number;
  persistConns: number;
  overloaded: boolean;
  stats: StatsWire;
  health?: HealthWire;
}

export interface ServiceSnapshot extends ServiceWire {
  /** Destinations in kernel list order (newest first), as --nosort shows them. */
  dests: DestSnapshot[];
  stats: StatsWire;
}

export interface ConnWire {
  protocol: number;
  af: 2 | 10;
  caddr: string;
  cport: number;
  vaddr: string;
  vport: number;
  daddr: string;
  dport: number;
  /** Address family of daddr when it differs from `af` (a tunnel to a real server of the other family). */
  daf?: 2 | 10;
  /** 0.0.0.N style text for fwmark templates is produced by the formatter from `fwmark`. */
  fwmark: number;
  template: boolean;
  state: string;
  expiresS: number;
  peName?: string;
  peData?: string;
}

export interface TableSnapshot {
  version: string;
  connTabSize: number;
  timeouts: { tcp: number; tcpfin: number; udp: number };
  /** In the daemon's table order (creation order; the kernel's is its hash order). */
  services: ServiceSnapshot[];
  totals: StatsWire;
  dataplane: string;
}

/**
 * A table command as a compact row, for big batches (`tslvsadm -R` of 10^5 lines): the fields
 * of the TableCommand objects in a fixed order after a one-letter command as ipvsadm spells it.
 * A third of the JSON, and no object per command for the daemon to decode.
 *   ['A' | 'E', af, protocol, addr, port, fwmark, sched, flags, timeoutS, netmask, pe]
 *   ['D', af, protocol, addr, port, fwmark]
 *   ['a' | 'e', af, protocol, addr, port, fwmark,
 *     daf, daddr, dport, fwd, weight, uThreshold, lThreshold, tunType, tunPort, tunFlags, proxyProtocol]
 *   ['d', af, protocol, addr, port, fwmark, daf, daddr, dport]
 *   ['C']  flush;  ['Z']  zero everything;  ['Z', af, protocol, addr, port, fwmark]  zero one service
 *   ['T', tcp, tcpfin, udp]  set-timeout
 */
export type CommandRow = (string | number)[];

const svcIdRow = (s: ServiceIdWire): (string | number)[] => [s.af, s.protocol, s.addr, s.port, s.fwmark];

/** The row of a table command (rowToCommand gives the same command back). */
export function commandToRow(c: TableCommand): CommandRow {
  switch (c.cmd) {
    case 'add-service':
    case 'edit-service': {
      const s = c.svc;
      return [c.cmd === 'add-service' ? 'A' : 'E', s.af, s.protocol, s.addr, s.port, s.fwmark, s.sched, s.flags, s.timeoutS, s.netmask, s.pe];
    }
    case 'del-service': return ['D', ...svcIdRow(c.svc)];
    case 'add-dest':
    case 'edit-dest': {
      const s = c.svc;
      const d = c.dest;
      return [c.cmd === 'add-dest' ? 'a' : 'e', s.af, s.protocol, s.addr, s.port, s.fwmark,
        d.af, d.addr, d.port, d.fwd, d.weight, d.uThreshold, d.lThreshold, d.tunType, d.tunPort, d.tunFlags, d.proxyProtocol ?? 0];
    }
    case 'del-dest': return ['d', ...svcIdRow(c.svc), c.dest.af, c.dest.addr, c.dest.port];
    case 'flush': return ['C'];
    case 'zero': return c.svc ? ['Z', ...svcIdRow(c.svc)] : ['Z'];
    case 'set-timeout': return ['T', c.tcp, c.tcpfin, c.udp];
  }
}

/** One word of the row letters above to the command it names. */
const ROW_COMMANDS: Readonly<Record<string, { cmd: TableCommand['cmd']; length: number }>> = {
  A: { cmd: 'add-service', length: 11 }, E: { cmd: 'edit-service', length: 11 }, D: { cmd: 'del-service', length: 6 },
  a: { cmd: 'add-dest', length: 17 }, e: { cmd: 'edit-dest', length: 17 }, d: { cmd: 'del-dest', length: 9 },
  C: { cmd: 'flush', length: 1 }, T: { cmd: 'set-timeout', length: 4 },
};

/**
 * The table command a row stands for, or null when it is no row at all (not an array, an
 * unknown letter, the wrong length). Field values are passed on as they are: the daemon checks
 * them as it checks the object form, with the same errors.
 */
export function rowToCommand(r: unknown): TableCommand | null {
  if (!Array.isArray(r) || typeof r[0] !== 'string') return null;
  if (r[0] === 'Z') {
    if (r.length === 1) return { cmd: 'zero' };
    if (r.length !== 6) return null;
  } else if (ROW_COMMANDS[r[0]]?.length !== r.length) return null;
  // The casts hand unchecked values on: the daemon validates every field (wire.ts).
  const id = (): ServiceIdWire => ({ af: r[1], protocol: r[2], addr: r[3], port: r[4], fwmark: r[5] });
  switch (r[0]) {
    case 'A':
    case 'E': {
      const svc: ServiceWire = { af: r[1], protocol: r[2], addr: r[3], port: r[4], fwmark: r[5], sched: r[6], flags: r[7], timeoutS: r[8], netmask: r[9], pe: r[10] };
      return r[0] === 'A' ? { cmd: 'add-service', svc } : { cmd: 'edit-service', svc };
    }
    case 'D': return { cmd: 'del-service', svc: id() };
    case 'a':
    case 'e': {
      const dest: DestWire = {
        af: r[6], addr: r[7], port: r[8], fwd: r[9], weight: r[10], uThreshold: r[11], lThreshold: r[12],
        tunType: r[13], tunPort: r[14], tunFlags: r[15],
      };
      if (r[16] !== 0) dest.proxyProtocol = r[16];
      return r[0] === 'a' ? { cmd: 'add-dest', svc: id(), dest } : { cmd: 'edit-dest', svc: id(), dest };
    }
    case 'd': return { cmd: 'del-dest', svc: id(), dest: { af: r[6], addr: r[7], port: r[8] } };
    case 'C': return { cmd: 'flush' };
    case 'Z': return { cmd: 'zero', svc: id() };
    case 'T': return { cmd: 'set-timeout', tcp: r[1], tcpfin: r[2], udp: r[3] };
    default: return null;
  }
}

/**
 * A real server in a compact table (get-table with rows: true), fields in this order:
 * af, addr, port, fwd, weight, uThreshold, lThreshold, tunType, tunPort, tunFlags,
 * proxyProtocol (0: off), activeConns, inactConns, persistConns, overloaded (0 or 1), then, when
 * counters were asked for, the ten StatsWire values in STATS_FIELDS order.
 */
export type DestRow = (string | number)[];

/**
 * A service in a compact table: af, protocol, addr, port, fwmark, sched, flags, timeoutS,
 * netmask, pe, its real servers (DestRow[] in list order), then, when counters were asked
 * for, the ten StatsWire values in STATS_FIELDS order.
 */
export type ServiceRow = (string | number | DestRow[])[];

export const STATS_FIELDS = ['conns', 'inpkts', 'outpkts', 'inbytes', 'outbytes', 'cps', 'inpps', 'outpps', 'inbps', 'outbps'] as const;

/** get-table's answer when asked for rows: what the listings need, without an object per entry. */
export interface TableRows {
  version: string;
  connTabSize: number;
  timeouts: { tcp: number; tcpfin: number; udp: number };
  services: ServiceRow[];
  /** Only when counters were asked for. */
  totals?: StatsWire;
  dataplane: string;
}

const DEST_ROW_FIELDS = 15;
const SERVICE_ROW_FIELDS = 11;

/** Counters a compact table was sent without: all zero. */
const NO_STATS: StatsWire = Object.freeze({ conns: 0, inpkts: 0, outpkts: 0, inbytes: 0, outbytes: 0, cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0 });

function statsAt(r: readonly unknown[], at: number): StatsWire {
  if (r.length < at + STATS_FIELDS.length) return NO_STATS;
  return {
    conns: r[at] as number, inpkts: r[at + 1] as number, outpkts: r[at + 2] as number, inbytes: r[at + 3] as number, outbytes: r[at + 4] as number,
    cps: r[at + 5] as number, inpps: r[at + 6] as number, outpps: r[at + 7] as number, inbps: r[at + 8] as number, outbps: r[at + 9] as number,
  };
}

/** A compact table as the snapshot objects the listings format (counters all zero if not sent). */
export function snapshotFromRows(t: TableRows): TableSnapshot {
  const services: ServiceSnapshot[] = new Array<ServiceSnapshot>(t.services.length);
  for (let i = 0; i < t.services.length; i++) {
    const s = t.services[i] as [2 | 10, 6 | 17 | 132, string, number, number, string, number, number, number, string, DestRow[]];
    const rows = s[10];
    const dests: DestSnapshot[] = new Array<DestSnapshot>(rows.length);
    for (let k = 0; k < rows.length; k++) {
      const d = rows[k] as [2 | 10, string, number, number, number, number, number, number, number, number, number, number, number, number, number];
      const e: DestSnapshot = {
        af: d[0], addr: d[1], port: d[2], fwd: d[3], weight: d[4], uThreshold: d[5], lThreshold: d[6],
        tunType: d[7], tunPort: d[8], tunFlags: d[9],
        activeConns: d[11], inactConns: d[12], persistConns: d[13], overloaded: d[14] === 1, stats: statsAt(d, DEST_ROW_FIELDS),
      };
      if (d[10]) e.proxyProtocol = d[10];
      dests[k] = e;
    }
    services[i] = {
      af: s[0], protocol: s[1], addr: s[2], port: s[3], fwmark: s[4], sched: s[5], flags: s[6], timeoutS: s[7], netmask: s[8], pe: s[9],
      dests, stats: statsAt(s, SERVICE_ROW_FIELDS),
    };
  }
  return {
    version: t.version, connTabSize: t.connTabSize, timeouts: t.timeouts, services, totals: t.totals ?? NO_STATS, dataplane: t.dataplane,
  };
}

export type Request =
  | { type: 'hello'; version: number }
  | { type: 'exec'; cmds: TableCommand[] }
  /** The same as `cmds`, as compact rows (one result per row). */
  | { type: 'exec'; rows: CommandRow[] }
  /**
   * `rows`: answer with a compact table (`table-rows`), with counters only when `stats` is set;
   * `ipvsadm -L` without --stats/--rate asks for that (a third of the bytes, a fraction of the work).
   */
  | { type: 'get-table'; svc?: ServiceIdWire; rows?: boolean; stats?: boolean }
  | { type: 'get-conns' }
  | { type: 'status' }
  | { type: 'reload' }
  | { type: 'shutdown' };

export type Response =
  | { type: 'hello'; version: number; pid: number; dataplane: string }
  /** One entry per command, null when it succeeded. */
  | { type: 'exec'; results: (CommandError | null)[] }
  | { type: 'table'; table: TableSnapshot }
  | { type: 'table-rows'; table: TableRows }
  | { type: 'conns'; conns: ConnWire[] }
  | { type: 'status'; status: Record<string, unknown> }
  /** `message`: a one-line summary (what a reload changed). */
  | { type: 'ok'; message?: string }
  | { type: 'error'; error: CommandError };

/** Where a daemon started by root listens. */
export const ROOT_SOCKET_PATH = '/run/tslvs/tslvs.sock';

/**
 * The control socket a CLI or daemon uses when no --socket is given: $TSLVS_SOCKET, else
 * /run/tslvs/tslvs.sock for root, else $XDG_RUNTIME_DIR/tslvs/tslvs.sock, else
 * /tmp/tslvs-<uid>/tslvs.sock. Pure: the caller passes the environment and its uid.
 */
export function defaultSocketPath(env: Readonly<Record<string, string | undefined>>, uid: number): string {
  if (env.TSLVS_SOCKET) return env.TSLVS_SOCKET;
  if (uid === 0) return ROOT_SOCKET_PATH;
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && runtime.startsWith('/')) return `${runtime.replace(/\/+$/, '')}/tslvs/tslvs.sock`;
  return `/tmp/tslvs-${uid}/tslvs.sock`;
}
