/**
 * One ipvsadm command line → one validated action, as ipvsadm.c's parse_options and
 * process_options do it, in the same order so that the first error reported is the same:
 * options left to right with each value checked as it is read (popt errors, per-option
 * messages), "--set" values, leftover words, -b flags, the legality table, then the checks of
 * each command. Nothing here talks to the daemon; the result is either a Failure with
 * ipvsadm's text and exit status, or an action for main.ts to carry out.
 */
import type { DestIdWire, DestWire, ServiceIdWire, ServiceWire, TableCommand } from '../../control/protocol.js';
import { Popt } from './argv.js';
import { type Failure, M, poptFailure } from './messages.js';
import { Cmd, genericOptCheck, OPTION_TABLE, Optc, OptionSet, type OptVal, tunnelOptCheck } from './options.js';
import {
  AF_INET, AF_INET6, atoiU32, inetAton, inetPton4, inetPton6, IPPROTO_SCTP,
  IPPROTO_TCP, IPPROTO_UDP, ntop, parseFwmark, type Resolver, stringToNumber,
} from './resolve.js';

/** ipvsadm's FMT_* printing flags. */
export const FMT_NUMERIC = 0x0001;
export const FMT_RULE = 0x0002;
export const FMT_STATS = 0x0004;
export const FMT_RATE = 0x0008;
export const FMT_THRESHOLDS = 0x0010;
export const FMT_PERSISTENTCONN = 0x0020;
export const FMT_NOSORT = 0x0040;
export const FMT_EXACT = 0x0080;
export const FMT_TUN_INFO = 0x0100;
/** tslvs: --json */
export const FMT_JSON = 0x1000;

export const IP_VS_SVC_F_PERSISTENT = 0x0001;
export const IP_VS_SVC_F_ONEPACKET = 0x0004;
export const IP_VS_SVC_F_SCHED1 = 0x0008;
export const IP_VS_SVC_F_SCHED2 = 0x0010;
export const IP_VS_SVC_F_SCHED3 = 0x0020;

export const IP_VS_CONN_F_MASQ = 0;
export const IP_VS_CONN_F_LOCALNODE = 1;
export const IP_VS_CONN_F_TUNNEL = 2;
export const IP_VS_CONN_F_DROUTE = 3;
export const IP_VS_CONN_F_FWD_MASK = 7;

/** IPVS_SVC_PERSISTENT_TIMEOUT: what "-p" without a value gives (the man page says 300). */
const IPVS_SVC_PERSISTENT_TIMEOUT = 360;
/** ipvsadm's MAX_TIMEOUT: 31 days. */
const MAX_TIMEOUT = 86400 * 31;
const INT_MAX = 2147483647;
const IP_VS_SCHEDNAME_MAXLEN = 16;
const IP_VS_PENAME_MAXLEN = 16;
const IP_VS_IFNAME_MAXLEN = 16;
const DEF_SCHED = 'wlc';
const DEF_MCAST_IFN = 'eth0';

/** ipvs_service_t as ipvsadm fills it. */
export interface SvcEntry {
  af: number;
  protocol: number;
  addr: [number, number, number, number];
  port: number;
  fwmark: number;
  sched: string;
  flags: number;
  timeout: number;
  /** IPv4: host-order u32 mask; IPv6: prefix length. */
  netmask: number;
  pe: string;
}

/** ipvs_dest_t as ipvsadm fills it. */
export interface DestEntry {
  af: number;
  addr: [number, number, number, number];
  port: number;
  connFlags: number;
  weight: number;
  uThreshold: number;
  lThreshold: number;
  tunType: number;
  tunPort: number;
  tunFlags: number;
  /** tslvs extension: 0 off, 1 or 2. */
  proxyProtocol: number;
}

export type Action =
  | { type: 'exec'; cmd: TableCommand }
  | { type: 'list-conns'; format: number }
  | { type: 'list-service'; svc: ServiceIdWire; entry: SvcEntry; format: number }
  | { type: 'list-timeout'; format: number }
  | { type: 'list-daemon'; format: number }
  | { type: 'list-all'; format: number }
  | { type: 'save'; format: number }
  | { type: 'restore' }
  | { type: 'sync'; start: boolean; state: 'master' | 'backup' };

export type Outcome =
  /** fail() or tryhelp_exit(): the process ends, even in the middle of a restore. */
  | { kind: 'fail'; failure: Failure }
  /** A popt error: printed, the line's result is -1 and a restore goes on. */
  | { kind: 'popt-error'; failure: Failure }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'run'; action: Action };

export interface ParseContext {
  program: string;
  resolver: Resolver;
  env?: Readonly<Record<string, string | undefined>>;
  /** True for the lines of -R (restore_table's reading_stdin). */
  readingStdin?: boolean;
}

class Fail {
  constructor(readonly failure: Failure) {}
}

const SERVICE_NONE = 0;
const SERVICE_ADDR = 1;
const SERVICE_PORT = 2;

function newSvc(): SvcEntry {
  return { af: 0, protocol: 0, addr: [0, 0, 0, 0], port: 0, fwmark: 0, sched: '', flags: 0, timeout: 0, netmask: 0xffffffff, pe: '' };
}

function isAllDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

/**
 * parse_service: "[v6]:port", "v6", "host[:port]" into svc (af, addr, port; an IPv6 address
 * also sets the netmask to 128). Returns SERVICE_ADDR | SERVICE_PORT bits, 0 on failure.
 * Quirk kept: a bracketed address that is not IPv6 ("[1.2.3.4]:80") loses its port, because
 * ipvsadm looks for the port again inside the brackets.
 */
export function parseService(buf: string, svc: SvcEntry, resolver: Resolver): number {
  if (isAllDigits(buf)) return SERVICE_NONE;
  let s = buf;
  let portText: string | null = null;
  if (s[0] === '[') {
    s = s.slice(1);
    const rb = s.indexOf(']');
    if (rb < 0) return SERVICE_NONE;
    const after = s.slice(rb + 1);
    s = s.slice(0, rb);
    if (after[0] !== ':') return SERVICE_NONE;
    portText = after.slice(1);
  }
  const v6 = inetPton6(s);
  if (v6) {
    svc.addr = v6;
    svc.af = AF_INET6;
    svc.netmask = 128;
  } else {
    const c = s.lastIndexOf(':');
    portText = c >= 0 ? s.slice(c + 1) : null;
    if (c >= 0) s = s.slice(0, c);
    let v4 = inetAton(s);
    if (v4 === null) v4 = resolver.hostToAddr(s);
    if (v4 === null) return SERVICE_NONE;
    svc.addr = [v4, 0, 0, 0];
    svc.af = AF_INET;
  }
  let result = SERVICE_ADDR;
  if (portText !== null) {
    result |= SERVICE_PORT;
    let port = stringToNumber(portText, 0, 65535);
    if (port === -1) port = resolver.nameToPort(portText, svc.protocol) ?? -1;
    if (port === -1) return SERVICE_NONE;
    svc.port = port;
  }
  return result;
}

/** parse_netmask for an IPv4 service: dotted mask (inet_aton) or a host name. */
function parseNetmask(buf: string, resolver: Resolver): number | null {
  const v = inetAton(buf);
  if (v !== null) return v;
  return resolver.hostToAddr(buf);
}

function parseSchedFlags(sched: string, arg: string): number {
  const name = sched.length > 0 ? sched : DEF_SCHED;
  let flags = 0;
  // strtok(arg, ","): empty fields are skipped. ipvsadm crashes (NULL strcmp) when no field is
  // left ("-b ,"); tslvsadm reports it as an invalid flag instead.
  const words = arg.split(',').filter((w) => w.length > 0);
  if (words.length === 0) throw new Fail(M.invalidSchedFlag(''));
  for (const w of words) {
    if (w === 'flag-1') flags |= IP_VS_SVC_F_SCHED1;
    else if (w === 'flag-2') flags |= IP_VS_SVC_F_SCHED2;
    else if (w === 'flag-3') flags |= IP_VS_SVC_F_SCHED3;
    else if (w === 'sh-fallback' || w === 'sh-port' || w === 'mh-fallback' || w === 'mh-port') {
      flags |= w.endsWith('fallback') ? IP_VS_SVC_F_SCHED1 : IP_VS_SVC_F_SCHED2;
      if (name !== w.slice(0, 2)) throw new Fail(M.incompatibleSchedFlag(w));
    } else throw new Fail(M.invalidSchedFlag(w));
  }
  return flags;
}

function parseTunType(s: string): number {
  return s === 'ipip' ? 0 : s === 'gue' ? 1 : s === 'gre' ? 2 : -1;
}

function setOpt(options: OptionSet, o: Optc): void {
  const e = options.set(o);
  if (e) throw new Fail(e);
}

function parseTimeout(buf: string | null, min: number, max: number): number {
  if (buf === null) return IPVS_SVC_PERSISTENT_TIMEOUT;
  const i = stringToNumber(buf, min, max);
  if (i === -1) throw new Fail(M.invalidTimeout(buf, min));
  return i;
}

const zeroAddrText = (af: number): string => (af === AF_INET6 ? '::' : '0.0.0.0');

export function serviceIdWire(svc: SvcEntry): ServiceIdWire {
  const af = svc.af === AF_INET6 ? 10 : 2;
  if (svc.fwmark) return { af, protocol: IPPROTO_TCP, addr: zeroAddrText(af), port: 0, fwmark: svc.fwmark };
  return { af, protocol: svc.protocol as 6 | 17 | 132, addr: ntop({ af, w: svc.addr }), port: svc.port, fwmark: 0 };
}

// Object literals written out in full (no spread): a restore builds 100,000 of them.
function serviceWire(svc: SvcEntry): ServiceWire {
  const af = svc.af === AF_INET6 ? 10 : 2;
  const fw = svc.fwmark !== 0;
  return {
    af, protocol: fw ? IPPROTO_TCP : svc.protocol as 6 | 17 | 132, addr: fw ? zeroAddrText(af) : ntop({ af, w: svc.addr }),
    port: fw ? 0 : svc.port, fwmark: svc.fwmark, sched: svc.sched, flags: svc.flags, timeoutS: svc.timeout, netmask: svc.netmask, pe: svc.pe,
  };
}

function destIdWire(d: DestEntry): DestIdWire {
  const af = d.af === AF_INET6 ? 10 : 2;
  return { af, addr: ntop({ af, w: d.addr }), port: d.port };
}

function destWire(d: DestEntry): DestWire {
  const af = d.af === AF_INET6 ? 10 : 2;
  const addr = ntop({ af, w: d.addr });
  const fwd = d.connFlags & IP_VS_CONN_F_FWD_MASK;
  if (d.proxyProtocol) {
    return {
      af, addr, port: d.port, fwd, weight: d.weight, uThreshold: d.uThreshold, lThreshold: d.lThreshold,
      tunType: d.tunType, tunPort: d.tunPort, tunFlags: d.tunFlags, proxyProtocol: d.proxyProtocol,
    };
  }
  return {
    af, addr, port: d.port, fwd, weight: d.weight, uThreshold: d.uThreshold, lThreshold: d.lThreshold,
    tunType: d.tunType, tunPort: d.tunPort, tunFlags: d.tunFlags,
  };
}

interface Parsed {
  cmd: Cmd;
  svc: SvcEntry;
  dest: DestEntry;
  timeout: { tcp: number; tcpfin: number; udp: number };
  daemonState: 'master' | 'backup';
  mcastIfn: string;
  options: OptionSet;
  format: number;
}

/** parse_options: returns the filled entry, or throws Fail / returns an early outcome. */
function parseOptions(argv: readonly string[], ctx: ParseContext, ce: Parsed): Outcome | null {
  const con = new Popt<OptVal>(argv, OPTION_TABLE, ctx.env ?? {});
  const { options } = ce;
  const resolver = ctx.resolver;
  let schedFlagsArg = '';

  let ev = con.getNextOpt();
  if (ev.type !== 'opt') throw new Fail(M.tryHelp(ctx.program));
  switch (ev.val) {
    case 'A': ce.cmd = Cmd.ADD; break;
    case 'E': ce.cmd = Cmd.EDIT; break;
    case 'D': ce.cmd = Cmd.DEL; break;
    case 'a': ce.cmd = Cmd.ADDDEST; break;
    case 'e': ce.cmd = Cmd.EDITDEST; break;
    case 'd': ce.cmd = Cmd.DELDEST; break;
    case 'C': ce.cmd = Cmd.FLUSH; break;
    case 'L': case 'l': ce.cmd = Cmd.LIST; break;
    case 'Z': ce.cmd = Cmd.ZERO; break;
    case 'set': ce.cmd = Cmd.TIMEOUT; break;
    case 'R': ce.cmd = Cmd.RESTORE; break;
    case 'S': ce.cmd = Cmd.SAVE; break;
    case 'start-daemon':
    case 'stop-daemon': {
      const start = ev.val === 'start-daemon';
      ce.cmd = start ? Cmd.STARTDAEMON : Cmd.STOPDAEMON;
      if (ev.arg === 'master' || ev.arg === 'backup') ce.daemonState = ev.arg;
      else throw new Fail(start ? M.illegalStartDaemon() : M.illegalStopDaemon());
      break;
    }
    case 'h': return { kind: 'help' };
    case 'v': return { kind: 'version' };
    default: throw new Fail(M.tryHelp(ctx.program));
  }

  for (ev = con.getNextOpt(); ev.type === 'opt'; ev = con.getNextOpt()) {
    const arg = ev.arg as string;
    switch (ev.val) {
      case 't':
      case 'u':
      case 'sctp-service': {
        setOpt(options, Optc.SERVICE);
        ce.svc.protocol = ev.val === 't' ? IPPROTO_TCP : ev.val === 'u' ? IPPROTO_UDP : IPPROTO_SCTP;
        if (!(parseService(arg, ce.svc, resolver) & SERVICE_ADDR)) throw new Fail(M.illegalServiceAddress());
        break;
      }
      case 'f': {
        setOpt(options, Optc.SERVICE);
        ce.svc.af = AF_INET;
        ce.svc.protocol = IPPROTO_TCP;
        const mark = parseFwmark(arg);
        if (mark === null) throw new Fail(M.invalidFwmark(arg));
        ce.svc.fwmark = mark;
        break;
      }
      case 's':
        setOpt(options, Optc.SCHEDULER);
        ce.svc.sched = arg.slice(0, IP_VS_SCHEDNAME_MAXLEN - 1);
        break;
      case 'p':
        setOpt(options, Optc.PERSISTENT);
        ce.svc.flags |= IP_VS_SVC_F_PERSISTENT;
        ce.svc.timeout = parseTimeout(ev.arg, 1, MAX_TIMEOUT);
        break;
      case 'M':
        setOpt(options, Optc.NETMASK);
        if (ce.svc.af !== AF_INET6) {
          const m = parseNetmask(arg, resolver);
          if (m === null) throw new Fail(M.illegalPersistentMask());
          ce.svc.netmask = m;
        } else {
          ce.svc.netmask = atoiU32(arg);
          if (ce.svc.netmask < 1 || ce.svc.netmask > 128) throw new Fail(M.illegalIpv6Netmask());
        }
        break;
      case 'r': {
        setOpt(options, Optc.SERVER);
        const t: SvcEntry = { ...ce.svc, addr: [...ce.svc.addr] };
        const parse = parseService(arg, t, resolver);
        ce.dest.af = t.af;
        ce.dest.addr = t.addr;
        ce.dest.port = t.port;
        if (!(parse & SERVICE_ADDR)) throw new Fail(M.illegalRealServer());
        if (parse === SERVICE_ADDR) ce.dest.port = ce.svc.port;
        break;
      }
      case 'i':
        setOpt(options, Optc.FORWARD);
        ce.dest.connFlags = IP_VS_CONN_F_TUNNEL;
        break;
      case 'g':
        setOpt(options, Optc.FORWARD);
        ce.dest.connFlags = IP_VS_CONN_F_DROUTE;
        break;
      case 'm':
        setOpt(options, Optc.FORWARD);
        ce.dest.connFlags = IP_VS_CONN_F_MASQ;
        break;
      case 'w':
        setOpt(options, Optc.WEIGHT);
        // ipvsadm 1.31's source says 0..65535; the reference binary (Debian 1:1.31-1) takes
        // 0..INT_MAX (70000 accepted, 2147483648 refused in the oracle). The binary wins.
        if ((ce.dest.weight = stringToNumber(arg, 0, INT_MAX)) === -1) throw new Fail(M.illegalWeight());
        break;
      case 'x':
        setOpt(options, Optc.UTHRESHOLD);
        if ((ce.dest.uThreshold = stringToNumber(arg, 0, INT_MAX)) === -1) throw new Fail(M.illegalUThreshold());
        break;
      case 'y':
        setOpt(options, Optc.LTHRESHOLD);
        if ((ce.dest.lThreshold = stringToNumber(arg, 0, INT_MAX)) === -1) throw new Fail(M.illegalLThreshold());
        break;
      case 'c':
        setOpt(options, Optc.CONNECTION);
        break;
      case 'n':
        setOpt(options, Optc.NUMERIC);
        ce.format |= FMT_NUMERIC;
        break;
      case 'mcast-interface':
        setOpt(options, Optc.MCAST);
        ce.mcastIfn = arg.slice(0, IP_VS_IFNAME_MAXLEN - 1);
        break;
      case 'I':
        setOpt(options, Optc.SYNCID);
        if (stringToNumber(arg, 0, 255) === -1) throw new Fail(M.illegalSyncid());
        break;
      case 'timeout':
        setOpt(options, Optc.TIMEOUT);
        break;
      case 'daemon':
        setOpt(options, Optc.DAEMON);
        break;
      case 'stats':
        setOpt(options, Optc.STATS);
        ce.format |= FMT_STATS;
        break;
      case 'rate':
        setOpt(options, Optc.RATE);
        ce.format |= FMT_RATE;
        break;
      case 'thresholds':
        setOpt(options, Optc.THRESHOLDS);
        ce.format |= FMT_THRESHOLDS;
        break;
      case 'persistent-conn':
        setOpt(options, Optc.PERSISTENTCONN);
        ce.format |= FMT_PERSISTENTCONN;
        break;
      case 'nosort':
        setOpt(options, Optc.NOSORT);
        ce.format |= FMT_NOSORT;
        break;
      case 'sort':
        break;
      case 'X':
        setOpt(options, Optc.EXACT);
        ce.format |= FMT_EXACT;
        break;
      case '6':
        if (ce.svc.fwmark) {
          ce.svc.af = AF_INET6;
          ce.svc.netmask = 128;
        } else throw new Fail(M.ipv6BeforeFwmark());
        break;
      case 'o':
        setOpt(options, Optc.ONEPACKET);
        ce.svc.flags |= IP_VS_SVC_F_ONEPACKET;
        break;
      case 'pe':
        setOpt(options, Optc.PERSISTENCE_ENGINE);
        ce.svc.pe = arg.slice(0, IP_VS_PENAME_MAXLEN);
        break;
      case 'b':
        setOpt(options, Optc.SCHED_FLAGS);
        schedFlagsArg = arg.slice(0, 127);
        break;
      case 'mcast-group':
        setOpt(options, Optc.MCAST_GROUP);
        if (arg.includes(':')) {
          const g = inetPton6(arg);
          if (g === null || g[0] >>> 24 !== 0xff) throw new Fail(M.invalidMcastGroup6(arg));
        } else {
          const g = inetPton4(arg);
          if (g === null || g >>> 28 !== 0xe) throw new Fail(M.invalidMcastGroup4(arg));
        }
        break;
      case 'mcast-port':
        setOpt(options, Optc.MCAST_PORT);
        if (stringToNumber(arg, 1, 65535) === -1) throw new Fail(M.illegalMcastPort());
        break;
      case 'mcast-ttl':
        setOpt(options, Optc.MCAST_TTL);
        if (stringToNumber(arg, 1, 255) === -1) throw new Fail(M.illegalMcastTtl());
        break;
      case 'sync-maxlen':
        setOpt(options, Optc.SYNC_MAXLEN);
        if (stringToNumber(arg, 1, 65535 - 20 - 8) === -1) throw new Fail(M.illegalSyncMaxlen());
        break;
      case 'tun-info':
        setOpt(options, Optc.TUN_INFO);
        ce.format |= FMT_TUN_INFO;
        break;
      case 'tun-type': {
        setOpt(options, Optc.TUN_TYPE);
        const t = parseTunType(arg);
        if (t === -1) throw new Fail(M.illegalTunnelType());
        ce.dest.tunType = t;
        break;
      }
      case 'tun-port': {
        setOpt(options, Optc.TUN_PORT);
        const p = stringToNumber(arg, 1, 65535);
        if (p === -1) throw new Fail(M.illegalTunnelPort());
        ce.dest.tunPort = p;
        break;
      }
      case 'tun-nocsum':
        setOpt(options, Optc.TUN_NOCSUM);
        break;
      case 'tun-csum':
        setOpt(options, Optc.TUN_CSUM);
        ce.dest.tunFlags |= 1;
        break;
      case 'tun-remcsum':
        setOpt(options, Optc.TUN_REMCSUM);
        ce.dest.tunFlags |= 2;
        break;
      case 'json':
        setOpt(options, Optc.JSON);
        ce.format |= FMT_JSON;
        break;
      case 'proxy-protocol': {
        setOpt(options, Optc.PROXY_PROTOCOL);
        const v = stringToNumber(arg, 1, 2);
        if (v === -1) throw new Fail(M.illegalProxyProtocol());
        ce.dest.proxyProtocol = v;
        break;
      }
      default:
        throw new Fail(M.invalidOption(con.badOption()));
    }
  }

  if (ev.type === 'error') return { kind: 'popt-error', failure: poptFailure(con.badOption(), ev.code) };

  if (ce.cmd === Cmd.TIMEOUT) {
    const a0 = con.getArg();
    const a1 = a0 === null ? null : con.getArg();
    const a2 = a1 === null ? null : con.getArg();
    if (a0 === null || a1 === null || a2 === null) throw new Fail(M.setNeedsThree());
    ce.timeout = { tcp: parseTimeout(a0, 0, MAX_TIMEOUT), tcpfin: parseTimeout(a1, 0, MAX_TIMEOUT), udp: parseTimeout(a2, 0, MAX_TIMEOUT) };
  }

  const extra = con.getArg();
  if (extra !== null) throw new Fail(M.unexpectedArgument(extra));

  if (schedFlagsArg.length > 0) {
    ce.svc.flags &= ~(IP_VS_SVC_F_SCHED1 | IP_VS_SVC_F_SCHED2 | IP_VS_SVC_F_SCHED3);
    ce.svc.flags |= parseSchedFlags(ce.svc.sched, schedFlagsArg);
  }
  return null;
}

/**
 * Parses and validates one command line (argv[0] is the program name). Throws NeedLookup
 * (resolve.ts) when a host name has to be looked up first; everything else is an Outcome.
 */
export function parseCommand(argv: readonly string[], ctx: ParseContext): Outcome {
  const ce: Parsed = {
    cmd: Cmd.NONE,
    svc: newSvc(),
    dest: {
      af: 0, addr: [0, 0, 0, 0], port: 0, connFlags: IP_VS_CONN_F_DROUTE, weight: 1, uThreshold: 0, lThreshold: 0,
      tunType: 0, tunPort: 0, tunFlags: 0, proxyProtocol: 0,
    },
    timeout: { tcp: 0, tcpfin: 0, udp: 0 },
    daemonState: 'master',
    mcastIfn: '',
    options: new OptionSet(),
    format: 0,
  };
  try {
    const early = parseOptions(argv, ctx, ce);
    if (early) return early;
    return { kind: 'run', action: processOptions(ce, ctx) };
  } catch (e) {
    if (e instanceof Fail) return { kind: 'fail', failure: e.failure };
    throw e;
  }
}

/** The rest of process_options: the table, the per-command checks, and the action. */
function processOptions(ce: Parsed, ctx: ParseContext): Action {
  const { options, svc, dest } = ce;
  const check = genericOptCheck(ce.cmd, options);
  if (check) throw new Fail(check);

  if (ce.cmd === Cmd.ADD || ce.cmd === Cmd.EDIT) {
    if (!svc.fwmark && !svc.port && !(svc.flags & IP_VS_SVC_F_PERSISTENT)) throw new Fail(M.zeroPort());
    if (svc.flags & IP_VS_SVC_F_ONEPACKET && !svc.fwmark && svc.protocol !== IPPROTO_UDP) throw new Fail(M.opsOnlyUdp());
    if (svc.sched.length === 0) svc.sched = DEF_SCHED;
  }
  if (ce.cmd === Cmd.STARTDAEMON && ce.mcastIfn.length === 0) ce.mcastIfn = DEF_MCAST_IFN;

  const fwd = dest.connFlags & IP_VS_CONN_F_FWD_MASK;
  if (ce.cmd === Cmd.ADDDEST || ce.cmd === Cmd.EDITDEST) {
    // With -g or -i the real server port must be the service port (not for fwmark services).
    if (!svc.fwmark && (fwd === IP_VS_CONN_F_TUNNEL || fwd === IP_VS_CONN_F_DROUTE)) dest.port = svc.port;
    if (dest.af !== svc.af && fwd !== IP_VS_CONN_F_TUNNEL) throw new Fail(M.differentAf());
    if ((options.has(Optc.TUN_TYPE) || options.has(Optc.TUN_PORT) || options.has(Optc.TUN_NOCSUM)
      || options.has(Optc.TUN_CSUM) || options.has(Optc.TUN_REMCSUM)) && fwd !== IP_VS_CONN_F_TUNNEL) {
      throw new Fail(M.tunnelConflict());
    }
    const t = tunnelOptCheck(dest.tunType, options);
    if (t) throw new Fail(t);
  }

  switch (ce.cmd) {
    case Cmd.LIST: {
      const c = options.has(Optc.CONNECTION) || options.has(Optc.TIMEOUT) || options.has(Optc.DAEMON);
      const s = options.has(Optc.STATS) || options.has(Optc.RATE) || options.has(Optc.THRESHOLDS);
      const td = options.has(Optc.TIMEOUT) || options.has(Optc.DAEMON);
      if ((c && s) || (td && options.has(Optc.PERSISTENTCONN))) throw new Fail(M.listConflict());
      if (options.has(Optc.CONNECTION)) return { type: 'list-conns', format: ce.format };
      if (options.has(Optc.SERVICE)) return { type: 'list-service', svc: serviceIdWire(svc), entry: svc, format: ce.format };
      if (options.has(Optc.TIMEOUT)) return { type: 'list-timeout', format: ce.format };
      if (options.has(Optc.DAEMON)) return { type: 'list-daemon', format: ce.format };
      return { type: 'list-all', format: ce.format };
    }
    case Cmd.RESTORE:
      // restore_table refuses to nest ("avoid infinite loop").
      if (ctx.readingStdin) throw new Fail(M.tryHelp(ctx.program));
      return { type: 'restore' };
    case Cmd.SAVE:
      return { type: 'save', format: ce.format | FMT_RULE };
    case Cmd.FLUSH:
      return { type: 'exec', cmd: { cmd: 'flush' } };
    case Cmd.ADD:
      return { type: 'exec', cmd: { cmd: 'add-service', svc: serviceWire(svc) } };
    case Cmd.EDIT:
      return { type: 'exec', cmd: { cmd: 'edit-service', svc: serviceWire(svc) } };
    case Cmd.DEL:
      return { type: 'exec', cmd: { cmd: 'del-service', svc: serviceIdWire(svc) } };
    case Cmd.ZERO:
      return { type: 'exec', cmd: options.has(Optc.SERVICE) ? { cmd: 'zero', svc: serviceIdWire(svc) } : { cmd: 'zero' } };
    case Cmd.ADDDEST:
      return { type: 'exec', cmd: { cmd: 'add-dest', svc: serviceIdWire(svc), dest: destWire(dest) } };
    case Cmd.EDITDEST:
      return { type: 'exec', cmd: { cmd: 'edit-dest', svc: serviceIdWire(svc), dest: destWire(dest) } };
    case Cmd.DELDEST:
      return { type: 'exec', cmd: { cmd: 'del-dest', svc: serviceIdWire(svc), dest: destIdWire(dest) } };
    case Cmd.TIMEOUT:
      return { type: 'exec', cmd: { cmd: 'set-timeout', ...ce.timeout } };
    case Cmd.STARTDAEMON:
      return { type: 'sync', start: true, state: ce.daemonState };
    case Cmd.STOPDAEMON:
      return { type: 'sync', start: false, state: ce.daemonState };
    default:
      throw new Error(`unreachable command ${ce.cmd}`);
  }
}

