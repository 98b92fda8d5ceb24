/**
 * Rules files in `ipvsadm -S -n` save format (ipvsadm.c, the -A/-a lines that `ipvsadm-save`
 * prints and `ipvsadm -R` reads back), parsed into control-protocol table commands. Used by the
 * daemon's `--rules FILE` (start-up and reload) and open to tslvsadm.
 *
 * What is read: `-A`/`--add-service` and `-a`/`--add-server` lines with `-t`, `-u`,
 * `--sctp-service`, `-f MARK [-6]`, `-s`, `-p [N]`, `-M`, `--pe`, `-o`, `-b`, `-r`, `-g|-m|-i`,
 * `-w`, `-x`, `-y`, `--tun-type`, `--tun-port`, `--tun-nocsum|--tun-csum|--tun-remcsum`, and
 * tslvs's `--proxy-protocol N` (which tslvsadm -S writes only when set); blank lines and `#`
 * comments. Defaults are ipvsadm's (scheduler wlc, weight 1, direct routing, persistence 360 s
 * for a bare -p, mask /32 or /128). Addresses must be numeric: a name
 * (from `ipvsadm -S` without -n) is refused rather than resolved behind the user's back.
 * All or nothing (STYLE rule 7): the first bad line throws TslvsError with file:line.
 */
import { AF_INET, AF_INET6, formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../core/addr.js';
import type { DestWire, ServiceIdWire, ServiceWire, TableCommand } from '../control/protocol.js';
import { TslvsError } from '../errors.js';

/** A command and the 1-based line it came from, so a refusal can point at the file. */
export interface RuleEntry {
  readonly line: number;
  readonly cmd: TableCommand;
}

const IP_VS_SVC_F_PERSISTENT = 0x0001;
const IP_VS_SVC_F_ONEPACKET = 0x0004;
const IP_VS_SVC_F_SCHED1 = 0x0008;
const IP_VS_SVC_F_SCHED2 = 0x0010;
const IP_VS_SVC_F_SCHED3 = 0x0020;
/** libipvs.h IPVS_SVC_PERSISTENT_TIMEOUT (6*60) for a bare -p, ipvsadm.c MAX_TIMEOUT (31 days). */
const IPVS_SVC_PERSISTENT_TIMEOUT_S = 360;
const MAX_TIMEOUT_S = 86400 * 31;
const INT_MAX = 2147483647;
const FWD = { masq: 0, local: 1, tunnel: 2, route: 3 } as const;
const TUN_TYPES: Record<string, number> = { ipip: 0, gue: 1, gre: 2 };
const TUN_FLAGS: Record<string, number> = { '--tun-nocsum': 0, '--tun-csum': 1, '--tun-remcsum': 2 };

const SERVICE_OPTS = new Set(['-t', '--tcp-service', '-u', '--udp-service', '--sctp-service', '-f', '--fwmark-service']);
/** Options that take a value (the token after them). `-p` takes one only if it looks like a number. */
const WITH_VALUE = new Set([
  ...SERVICE_OPTS, '-s', '--scheduler', '-M', '--netmask', '--pe', '-b', '--sched-flags', '-r', '--real-server',
  '-w', '--weight', '-x', '--u-threshold', '-y', '--l-threshold', '--tun-type', '--tun-port', '--proxy-protocol',
]);

/** Options without a value. */
const SWITCHES = new Set(['-g', '--gatewaying', '-m', '--masquerading', '-i', '--ipip', '-o', '--ops', '--tun-nocsum', '--tun-csum', '--tun-remcsum']);
const DEST_ONLY = ['r', 'fwd', 'w', 'x', 'y', 'tun-type', 'tun-port', 'csum', 'proxy-protocol'] as const;
const SERVICE_ONLY = ['s', 'p', 'M', 'pe', 'o', 'b'] as const;

class LineError extends Error {}

/** Parses a whole rules file; throws TslvsError TSLVS_ERR_RULES_SYNTAX at the first bad line. */
export function parseIpvsadmRules(text: string, file = 'rules'): RuleEntry[] {
  const out: RuleEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    const hash = raw.indexOf('#');
    const body = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (body === '') continue;
    try {
      out.push({ line: i + 1, cmd: parseRuleLine(body) });
    } catch (err) {
      if (!(err instanceof LineError)) throw err;
      throw new TslvsError('TSLVS_ERR_RULES_SYNTAX', `${file}:${i + 1}: ${err.message} in "${body}"`,
        'fix that line; rules files use "ipvsadm -S -n" format (-A and -a lines, numeric addresses)');
    }
  }
  return out;
}

/** One save-format line (without comment) to a table command; throws LineError. */
function parseRuleLine(body: string): TableCommand {
  const tok = body.split(/\s+/);
  if (tok[0] === 'ipvsadm') tok.shift();
  const verb = tok.shift();
  let kind: 'svc' | 'dest';
  if (verb === '-A' || verb === '--add-service') kind = 'svc';
  else if (verb === '-a' || verb === '--add-server') kind = 'dest';
  else throw new LineError(`Unsupported command "${verb}": only -A and -a lines are read`);

  const opts = new Map<string, string>();
  let v6 = false;
  for (let i = 0; i < tok.length; i++) {
    const t = tok[i];
    const eq = t.startsWith('--') ? t.indexOf('=') : -1;
    const name = eq > 0 ? t.slice(0, eq) : t;
    let value = eq > 0 ? t.slice(eq + 1) : '';
    if (name === '-6' || name === '--ipv6') {
      v6 = true;
      continue;
    }
    if (WITH_VALUE.has(name)) {
      if (eq < 0) {
        if (i + 1 >= tok.length) throw new LineError(`Option "${name}" needs a value`);
        value = tok[++i];
      }
    } else if (name === '-p' || name === '--persistent') {
      if (eq < 0 && i + 1 < tok.length && /^\d+$/.test(tok[i + 1])) value = tok[++i];
    } else if (!SWITCHES.has(name)) {
      throw new LineError(`Unknown option "${t}"`);
    }
    const key = canonical(name);
    if (opts.has(key) && key !== 'fwd' && key !== 'csum') throw new LineError(`Option "${name}" given twice`);
    if ((key === 'fwd' || key === 'csum') && opts.has(key)) throw new LineError(`Conflicting option "${name}"`);
    opts.set(key, key === 'fwd' || key === 'csum' ? name : value);
  }

  const svc = parseServiceId(opts, v6);
  if (kind === 'svc') {
    for (const k of DEST_ONLY) {
      if (opts.has(k)) throw new LineError(`Option "${optName(k)}" belongs on an -a line`);
    }
    return { cmd: 'add-service', svc: serviceWire(svc, opts) };
  }
  for (const k of SERVICE_ONLY) {
    if (opts.has(k)) throw new LineError(`Option "${optName(k)}" belongs on an -A line`);
  }
  return { cmd: 'add-dest', svc: idOnly(svc), dest: destWire(svc, opts) };
}

function canonical(name: string): string {
  switch (name) {
    case '-t': case '--tcp-service': return 't';
    case '-u': case '--udp-service': return 'u';
    case '--sctp-service': return 'sctp';
    case '-f': case '--fwmark-service': return 'f';
    case '-s': case '--scheduler': return 's';
    case '-p': case '--persistent': return 'p';
    case '-M': case '--netmask': return 'M';
    case '--pe': return 'pe';
    case '-o': case '--ops': return 'o';
    case '-b': case '--sched-flags': return 'b';
    case '-r': case '--real-server': return 'r';
    case '-g': case '--gatewaying': case '-m': case '--masquerading': case '-i': case '--ipip': return 'fwd';
    case '-w': case '--weight': return 'w';
    case '-x': case '--u-threshold': return 'x';
    case '-y': case '--l-threshold': return 'y';
    case '--tun-type': return 'tun-type';
    case '--tun-port': return 'tun-port';
    case '--proxy-protocol': return 'proxy-protocol';
    default: return 'csum';
  }
}

function optName(k: string): string {
  const names: Record<string, string> = {
    'proxy-protocol': '--proxy-protocol', r: '-r', fwd: '-g/-m/-i', w: '-w', x: '-x', y: '-y', 'tun-type': '--tun-type', 'tun-port': '--tun-port',
    csum: '--tun-*csum', s: '-s', p: '-p', M: '-M', pe: '--pe', o: '-o', b: '-b',
  };
  return names[k] ?? k;
}

/** The last service selector parsed: the -a lines of one service repeat it. */
let memoKey = '';
let memoId: ServiceIdWire | null = null;

function parseServiceId(opts: Map<string, string>, v6: boolean): ServiceIdWire {
  let k = '';
  let n = 0;
  for (const key of SELECTORS) {
    if (opts.has(key)) {
      k = key;
      n++;
    }
  }
  if (n === 0) throw new LineError('No virtual service given (-t, -u, --sctp-service or -f)');
  if (n > 1) throw new LineError('More than one virtual service given');
  const v = opts.get(k) as string;
  const key = `${k} ${v}${v6 ? ' 6' : ''}`;
  if (key === memoKey && memoId) return memoId;
  const id = parseServiceSelector(k, v, v6);
  memoKey = key;
  memoId = id;
  return id;
}

const SELECTORS = ['t', 'u', 'sctp', 'f'] as const;

function parseServiceSelector(k: string, v: string, v6: boolean): ServiceIdWire {
  if (k === 'f') {
    const mark = parseUint(v, 1, 0xffffffff, 'fwmark');
    return v6 ? { af: AF_INET6, protocol: 6, addr: '::', port: 0, fwmark: mark } : { af: AF_INET, protocol: 6, addr: '0.0.0.0', port: 0, fwmark: mark };
  }
  if (v6) throw new LineError('"-6" is only for fwmark services (-f)');
  const protocol = k === 't' ? 6 : k === 'u' ? 17 : 132;
  const ap = parseAddrPort(v, 'virtual service');
  return { af: ap.af, protocol, addr: ap.addr, port: ap.port ?? 0, fwmark: 0 };
}

function idOnly(s: ServiceIdWire): ServiceIdWire {
  return { af: s.af, protocol: s.protocol, addr: s.addr, port: s.port, fwmark: s.fwmark };
}

function serviceWire(id: ServiceIdWire, opts: Map<string, string>): ServiceWire {
  const sched = opts.get('s') ?? 'wlc';
  if (sched.length === 0 || sched.length > 15) throw new LineError(`Invalid scheduler name "${sched}"`);
  let flags = 0;
  let timeoutS = 0;
  if (opts.has('p')) {
    flags |= IP_VS_SVC_F_PERSISTENT;
    const p = opts.get('p') as string;
    timeoutS = p === '' ? IPVS_SVC_PERSISTENT_TIMEOUT_S : parseUint(p, 1, MAX_TIMEOUT_S, 'persistence timeout');
  }
  let netmask = id.af === AF_INET6 ? 128 : 0xffffffff;
  const m = opts.get('M');
  if (m !== undefined) {
    if (id.af === AF_INET6) {
      netmask = parseUint(m, 1, 128, 'IPv6 netmask');
    } else {
      const v = parseIPv4(m);
      if (v === null) throw new LineError(`Invalid persistence mask "${m}"`);
      netmask = v;
    }
  }
  if (opts.has('o')) {
    if (!id.fwmark && id.protocol !== 17) throw new LineError('One-packet scheduling (-o) is only for UDP virtual services');
    flags |= IP_VS_SVC_F_ONEPACKET;
  }
  const b = opts.get('b');
  if (b !== undefined) flags |= parseSchedFlags(sched, b);
  if (!id.fwmark && id.port === 0 && !(flags & IP_VS_SVC_F_PERSISTENT)) {
    throw new LineError('Zero port specified for non-persistent service');
  }
  const pe = opts.get('pe') ?? '';
  if (pe.length > 15) throw new LineError(`Invalid persistence engine name "${pe}"`);
  return { af: id.af, protocol: id.protocol, addr: id.addr, port: id.port, fwmark: id.fwmark, sched, flags, timeoutS, netmask, pe };
}

/** ipvsadm.c parse_sched_flags: sh-/mh- words only with their scheduler. */
function parseSchedFlags(sched: string, list: string): number {
  let flags = 0;
  for (const f of list.split(',')) {
    switch (f) {
      case 'flag-1': flags |= IP_VS_SVC_F_SCHED1; break;
      case 'flag-2': flags |= IP_VS_SVC_F_SCHED2; break;
      case 'flag-3': flags |= IP_VS_SVC_F_SCHED3; break;
      case 'sh-fallback': case 'sh-port': case 'mh-fallback': case 'mh-port':
        if (sched !== f.slice(0, 2)) throw new LineError(`Incompatible scheduler flag "${f}" for scheduler "${sched}"`);
        flags |= f.endsWith('fallback') ? IP_VS_SVC_F_SCHED1 : IP_VS_SVC_F_SCHED2;
        break;
      default: throw new LineError(`Invalid scheduler flag "${f}"`);
    }
  }
  return flags;
}

function destWire(svc: ServiceIdWire, opts: Map<string, string>): DestWire {
  const r = opts.get('r');
  if (r === undefined) throw new LineError('No real server given (-r)');
  const ap = parseAddrPort(r, 'real server');
  const f = opts.get('fwd');
  const fwd = f === '-m' || f === '--masquerading' ? FWD.masq : f === '-i' || f === '--ipip' ? FWD.tunnel : FWD.route;
  const weight = opts.has('w') ? parseUint(opts.get('w') as string, 0, 65535, 'weight') : 1;
  const uThreshold = opts.has('x') ? parseUint(opts.get('x') as string, 0, INT_MAX, 'upper threshold') : 0;
  const lThreshold = opts.has('y') ? parseUint(opts.get('y') as string, 0, INT_MAX, 'lower threshold') : 0;
  let tunType = 0;
  let tunPort = 0;
  let tunFlags = 0;
  const tt = opts.get('tun-type');
  if (tt !== undefined) {
    if (fwd !== FWD.tunnel) throw new LineError('"--tun-type" needs tunnel forwarding (-i)');
    const v = TUN_TYPES[tt];
    if (v === undefined) throw new LineError(`Invalid tunnel type "${tt}"`);
    tunType = v;
  }
  const tp = opts.get('tun-port');
  if (tp !== undefined) {
    if (tunType !== TUN_TYPES.gue) throw new LineError('"--tun-port" is only for --tun-type gue');
    tunPort = parseUint(tp, 1, 65535, 'tunnel port');
  } else if (tunType === TUN_TYPES.gue) {
    throw new LineError('"--tun-type gue" needs --tun-port');
  }
  const cs = opts.get('csum');
  if (cs !== undefined) {
    if (tunType === TUN_TYPES.ipip) throw new LineError(`"${cs}" is not for ipip tunnels`);
    if (cs === '--tun-remcsum' && tunType !== TUN_TYPES.gue) throw new LineError('"--tun-remcsum" is only for gue tunnels');
    tunFlags = TUN_FLAGS[cs];
  }
  // ipvsadm copies the virtual port when -r gives none (parse_service returned 1).
  const port = ap.port ?? svc.port;
  const d: DestWire = { af: ap.af, addr: ap.addr, port, fwd, weight, uThreshold, lThreshold, tunType, tunPort, tunFlags };
  const pp = opts.get('proxy-protocol');
  if (pp !== undefined) d.proxyProtocol = parseUint(pp, 0, 2, 'PROXY protocol version');
  return d;
}

function parseUint(s: string, min: number, max: number, what: string): number {
  if (!/^\d+$/.test(s)) throw new LineError(`Invalid ${what} "${s}"`);
  const n = Number(s);
  if (n < min || n > max) throw new LineError(`Invalid ${what} "${s}": expected ${min}..${max}`);
  return n;
}

/** `a.b.c.d[:port]` or `[v6][:port]`, numeric only; the address comes back in inet_ntop form. */
function parseAddrPort(s: string, what: string): { af: 2 | 10; addr: string; port: number | undefined } {
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw new LineError(`Invalid ${what} address "${s}"`);
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new LineError(`Invalid ${what} address "${s}"`);
      portText = rest.slice(1);
    }
    const w = parseIPv6(host);
    if (!w) throw new LineError(`Invalid ${what} address "${s}"`);
    return { af: AF_INET6, addr: formatIPv6(w), port: portOf(portText, s, what) };
  }
  const colon = s.lastIndexOf(':');
  host = colon >= 0 ? s.slice(0, colon) : s;
  portText = colon >= 0 ? s.slice(colon + 1) : undefined;
  const v4 = parseIPv4(host);
  if (v4 === null) {
    throw new LineError(/[a-zA-Z]/.test(host) && !host.includes(':')
      ? `Host name "${host}" in ${what}: names are not resolved, save the rules with "ipvsadm -S -n"`
      : `Invalid ${what} address "${s}"`);
  }
  return { af: AF_INET, addr: formatIPv4(v4), port: portOf(portText, s, what) };
}

function portOf(text: string | undefined, s: string, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) {
    throw new LineError(/[a-zA-Z]/.test(text)
      ? `Service name "${text}" in ${what} "${s}": names are not resolved, save the rules with "ipvsadm -S -n"`
      : `Invalid port in ${what} "${s}"`);
  }
  const n = Number(text);
  if (n > 65535) throw new LineError(`Invalid port in ${what} "${s}"`);
  return n;
}
