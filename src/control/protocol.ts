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

export type Request =
  | { type: 'hello'; version: number }
  | { type: 'exec'; cmds: TableCommand[] }
  | { type: 'get-table'; svc?: ServiceIdWire }
  | { type: 'get-conns' }
  | { type: 'status' }
  | { type: 'reload' }
  | { type: 'shutdown' };

export type Response =
  | { type: 'hello'; version: number; pid: number; dataplane: string }
  /** One entry per command, null when it succeeded. */
  | { type: 'exec'; results: (CommandError | null)[] }
  | { type: 'table'; table: TableSnapshot }
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
