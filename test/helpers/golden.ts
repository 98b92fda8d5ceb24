/**
 * Loads kernel goldens (test/golden/<area>/<case>.txt, format in test/golden/sched/README.md) and
 * replays them against the tslvs core: a fresh Ipvs, the recorded ipvsadm commands applied to its
 * table (translated here from ipvsadm's flags: default scheduler wlc, weight 1, -g, -p 360, port
 * rules of -g/-i), and every recorded packet sent through ipvs.inPacket(flow, nowMs) at its
 * recorded time. The replay returns, step by step, what tslvs did in the golden's own words, so a
 * test compares two string arrays and a mismatch shows the line of the golden it happened on.
 */
import { AssertionError } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AF_INET, AF_INET6, type Af, inetAton, IpAddr, parseAddr } from '../../src/core/addr.js';
import {
  type Dest, type DestUser, IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_MASQ, IP_VS_CONN_F_TUNNEL,
} from '../../src/core/dest.js';
import { IpvsError } from '../../src/core/errors.js';
import { Flow, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../src/core/flow.js';
import {
  type IpvsSysctls, Ipvs, VERDICT_ACCEPT, VERDICT_DROP, VERDICT_FORWARD, VERDICT_NO_DEST, VERDICT_NOT_OURS,
} from '../../src/core/ipvs.js';
import type { RandomU32 } from '../../src/core/sched/scheduler.js';
import type { ServiceId } from '../../src/core/service-table.js';
import {
  DEFAULT_NETMASK_V4, DEFAULT_NETMASK_V6, IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT, IP_VS_SVC_F_SCHED1,
  IP_VS_SVC_F_SCHED2, IP_VS_SVC_F_SCHED3, IPPROTO_TCP, IPPROTO_UDP, type Protocol, protocolName,
  type ServiceUser, type VirtualService,
} from '../../src/core/service.js';
import { ipvsStrerror } from '../../src/cli/tslvsadm/messages.js';
import { xorshift32 as seededXorshift32 } from '../../src/core/random.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const GOLDEN_DIR = join(REPO, 'test', 'golden');

export type Step =
  | { kind: 'ipvsadm'; line: number; args: string[]; expect: string }
  | { kind: 'sysctl'; line: number; name: string; value: number }
  | {
    kind: 'packet'; line: number; proto: 'tcp' | 'udp'; src: string; sport: number; dst: string; dport: number;
    flags: string; mark: number; atMs: number; expect: string;
  }
  | { kind: 'dests'; line: number; svc: string; sched: string; expect: string };

export interface Golden {
  /** File name without .txt, e.g. "wrr-432". */
  name: string;
  file: string;
  /** The recording kernel, e.g. "6.1.0-56-amd64 (Debian 6.1.192-2)". */
  kernel: string;
  title: string;
  steps: Step[];
}

/** Every golden test/golden/<dir>/<prefix>*.txt, sorted by name. */
export function loadGoldens(dir: string, prefix = ''): Golden[] {
  const d = join(GOLDEN_DIR, dir);
  return readdirSync(d)
    .filter((n) => n.endsWith('.txt') && n.startsWith(prefix))
    .sort()
    .map((n) => parseGolden(readFileSync(join(d, n), 'utf8'), n.slice(0, -4), join(d, n)));
}

const PACKET_RE = /^(tcp|udp) (\S+) (\S+)(?: ([SAFRP]+))?(?: mark=(\d+))? @(\d+) => (.+)$/;

export function parseGolden(text: string, name: string, file = name): Golden {
  const g: Golden = { name, file, kernel: '', title: '', steps: [] };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trimEnd();
    const line = i + 1;
    if (raw === '' || raw.startsWith('#')) continue;
    const sp = raw.indexOf(' ');
    const word = sp < 0 ? raw : raw.slice(0, sp);
    const rest = sp < 0 ? '' : raw.slice(sp + 1);
    const bad = (): never => {
      throw new Error(`${file}:${line}: cannot parse "${raw}"`);
    };
    switch (word) {
      case 'kernel': g.kernel = rest; break;
      case 'title': g.title = rest; break;
      case 'ipvsadm': {
        const k = rest.lastIndexOf(' => ');
        if (k < 0) bad();
        g.steps.push({ kind: 'ipvsadm', line, args: rest.slice(0, k).split(/\s+/), expect: rest.slice(k + 4) });
        break;
      }
      case 'sysctl': {
        const m = /^([a-z_]+)=(\d+)$/.exec(rest) ?? bad();
        g.steps.push({ kind: 'sysctl', line, name: m[1], value: Number(m[2]) });
        break;
      }
      case 'tcp':
      case 'udp': {
        const m = PACKET_RE.exec(raw) ?? bad();
        const [src, sport] = splitHostPort(m[2]) ?? bad();
        const [dst, dport] = splitHostPort(m[3]) ?? bad();
        g.steps.push({
          kind: 'packet', line, proto: m[1] as 'tcp' | 'udp', src, sport, dst, dport, flags: m[4] ?? '',
          mark: m[5] ? Number(m[5]) : 0, atMs: Number(m[6]), expect: m[7],
        });
        break;
      }
      case 'dests': {
        const m = /^(TCP|UDP|SCTP|FWM) (\S+) (\S+) => (.*)$/.exec(rest) ?? bad();
        g.steps.push({ kind: 'dests', line, svc: `${m[1]} ${m[2]}`, sched: m[3], expect: `${m[3]} ${m[4]}` });
        break;
      }
      default: bad();
    }
  }
  if (!g.kernel || !g.title) throw new Error(`${file}: no kernel or title line`);
  return g;
}

/** "a.b.c.d:port" or "[v6]:port" → [address text, port]. */
export function splitHostPort(s: string): [string, number] | null {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  return m ? [m[1], Number(m[2])] : null;
}

// ---------------------------------------------------------------------------------------------
// ipvsadm → ServiceTable

/** What `-p` without a value gives on the reference ipvsadm (spec §2.4: 360, not the man page's 300). */
const DEFAULT_PERSISTENT_S = 360;

interface ParsedCmd {
  cmd: string;
  id: ServiceId | null;
  sched: string;
  flags: number;
  timeoutS: number;
  netmask: number;
  dest: { addr: IpAddr; port: number | null } | null;
  connFlags: number;
  weight: number;
  uThreshold: number;
  lThreshold: number;
}

const SCHED_FLAGS: Record<string, number> = {
  'flag-1': IP_VS_SVC_F_SCHED1, 'flag-2': IP_VS_SVC_F_SCHED2, 'flag-3': IP_VS_SVC_F_SCHED3,
  'sh-fallback': IP_VS_SVC_F_SCHED1, 'sh-port': IP_VS_SVC_F_SCHED2,
  'mh-fallback': IP_VS_SVC_F_SCHED1, 'mh-port': IP_VS_SVC_F_SCHED2,
};

function addr(s: string): IpAddr {
  const a = parseAddr(s);
  if (!a) throw new Error(`golden: bad address "${s}"`);
  return a;
}

/** ipvsadm's -t/-u/-r argument: host[:port], [v6]:port, or a bare IPv6 address (port null). */
function hostPort(s: string): { addr: IpAddr; port: number | null } {
  const hp = splitHostPort(s);
  if (hp) return { addr: addr(hp[0]), port: hp[1] };
  return { addr: addr(s), port: null };
}

/** The subset of ipvsadm's command line the goldens use, with ipvsadm's defaults (spec §2.4, §2.7). */
export function parseIpvsadm(args: readonly string[]): ParsedCmd {
  const c: ParsedCmd = {
    cmd: args[0], id: null, sched: 'wlc', flags: 0, timeoutS: 0, netmask: -1, dest: null,
    connFlags: IP_VS_CONN_F_DROUTE, weight: 1, uThreshold: 0, lThreshold: 0,
  };
  let af: Af = AF_INET;
  let mask: string | null = null;
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    const next = (): string => {
      if (i + 1 >= args.length) throw new Error(`golden: ${a} needs a value`);
      return args[++i];
    };
    switch (a) {
      case '-t': case '-u': {
        const hp = hostPort(next());
        af = hp.addr.af;
        c.id = { af, protocol: (a === '-t' ? IPPROTO_TCP : IPPROTO_UDP) as Protocol, addr: hp.addr, port: hp.port ?? 0, fwmark: 0 };
        break;
      }
      case '-f': c.id = { af, protocol: IPPROTO_TCP, addr: new IpAddr(af, 0), port: 0, fwmark: Number(next()) }; break;
      case '-6':
        af = AF_INET6;
        if (c.id) c.id = { ...c.id, af, addr: new IpAddr(AF_INET6, 0) };
        break;
      case '-s': c.sched = next(); break;
      case '-p':
        c.flags |= IP_VS_SVC_F_PERSISTENT;
        c.timeoutS = /^\d+$/.test(args[i + 1] ?? '') ? Number(args[++i]) : DEFAULT_PERSISTENT_S;
        break;
      case '-M': mask = next(); break;
      case '-o': c.flags |= IP_VS_SVC_F_ONEPACKET; break;
      case '-b':
        for (const f of next().split(',')) {
          if (!(f in SCHED_FLAGS)) throw new Error(`golden: unknown scheduler flag ${f}`);
          c.flags |= SCHED_FLAGS[f];
        }
        break;
      case '-r': c.dest = hostPort(next()); break;
      case '-g': c.connFlags = IP_VS_CONN_F_DROUTE; break;
      case '-m': c.connFlags = IP_VS_CONN_F_MASQ; break;
      case '-i': c.connFlags = IP_VS_CONN_F_TUNNEL; break;
      case '-w': c.weight = Number(next()); break;
      case '-x': c.uThreshold = Number(next()); break;
      case '-y': c.lThreshold = Number(next()); break;
      default: throw new Error(`golden: ipvsadm option ${a} is not supported by the replay`);
    }
  }
  const v6 = c.id !== null && c.id.af === AF_INET6;
  if (mask === null) c.netmask = v6 ? DEFAULT_NETMASK_V6 : DEFAULT_NETMASK_V4;
  else if (v6) c.netmask = Number(mask);
  else {
    const m = inetAton(mask);
    if (m === null) throw new Error(`golden: bad netmask ${mask}`);
    c.netmask = m;
  }
  return c;
}

function serviceUser(c: ParsedCmd): ServiceUser {
  const id = c.id!;
  return {
    af: id.af, protocol: id.protocol, addr: id.addr, port: id.port, fwmark: id.fwmark,
    schedName: c.sched, flags: c.flags, timeoutS: c.timeoutS, netmask: c.netmask, peName: '',
  };
}

function destUser(c: ParsedCmd): DestUser {
  const id = c.id!;
  const d = c.dest!;
  // ipvsadm: no port means the service port; -a/-e of a -g or -i destination of a non-fwmark
  // service always takes the service port (spec §2.5 item 3; ipvsadm.c does it for those two
  // commands only, so -d names the port as given).
  let port = d.port ?? id.port;
  if ((c.cmd === '-a' || c.cmd === '-e') && !id.fwmark && c.connFlags !== IP_VS_CONN_F_MASQ) port = id.port;
  return {
    af: d.addr.af, addr: d.addr, port, connFlags: c.connFlags, weight: c.weight,
    uThreshold: c.uThreshold, lThreshold: c.lThreshold, tunType: 0, tunPort: 0, tunFlags: 0,
  };
}

/** Apply one ipvsadm command; returns "ok" or "exit 255: <ipvsadm's text>" as the golden writes it. */
export function applyIpvsadm(ipvs: Ipvs, args: readonly string[]): string {
  const t = ipvs.table;
  if (args[0] === '--set') {
    // ipvsadm --set tcp tcpfin udp (seconds; 0 leaves a value as it is).
    t.setTimeouts({ tcp: Number(args[1]), tcpfin: Number(args[2]), udp: Number(args[3]) });
    return 'ok';
  }
  const c = parseIpvsadm(args);
  try {
    switch (c.cmd) {
      case '-A': t.addService(serviceUser(c)); break;
      case '-E': t.editService(c.id!, serviceUser(c)); break;
      case '-D': t.delService(c.id!); break;
      case '-C': t.flush(); break;
      case '-a': t.addDest(c.id!, destUser(c)); break;
      case '-e': t.editDest(c.id!, destUser(c)); break;
      case '-d': {
        const u = destUser(c);
        t.delDest(c.id!, u.af, u.addr, u.port);
        break;
      }
      default: throw new Error(`golden: ipvsadm command ${c.cmd} is not supported by the replay`);
    }
  } catch (e) {
    if (e instanceof IpvsError) return `exit 255: ${ipvsStrerror(e.op, e.errno)}`;
    throw e;
  }
  return 'ok';
}

// ---------------------------------------------------------------------------------------------
// Replay

/** /proc/sys/net/ipv4/vs names → IpvsSysctls fields. */
const SYSCTLS: Record<string, keyof IpvsSysctls> = {
  expire_nodest_conn: 'expireNodestConn', expire_quiescent_template: 'expireQuiescentTemplate',
  conn_reuse_mode: 'connReuseMode', sloppy_tcp: 'sloppyTcp', sloppy_sctp: 'sloppySctp',
  lblc_expiration: 'lblcExpirationS', lblcr_expiration: 'lblcrExpirationS', cache_bypass: 'cacheBypass',
  schedule_icmp: 'schedule_icmp', nat_icmp_send: 'natIcmpSend',
};

const TCP_FLAG_BITS: Record<string, number> = { S: TCP_SYN, A: TCP_ACK, F: TCP_FIN, R: TCP_RST, P: TCP_PSH };

/** How the golden names a destination: "addr:port" or "[v6]:port". */
export function destName(d: Dest): string {
  return d.af === AF_INET6 ? `[${d.addr.toString()}]:${d.port}` : `${d.addr.toString()}:${d.port}`;
}

/** How the golden names a service in `dests` lines: "TCP 192.0.2.1:80", "FWM 5". */
export function serviceName(s: VirtualService): string {
  if (s.fwmark) return `FWM ${s.fwmark}`;
  const a = s.af === AF_INET6 ? `[${s.addr.toString()}]` : s.addr.toString();
  return `${protocolName(s.protocol)} ${a}:${s.port}`;
}

/** A step as compared: the golden line number, what was done, and the outcome. */
export interface Outcome {
  /** Commands and packets: "L<line> <step> => <result>". */
  picks: string[];
  /** `dests` lines: "L<line> <svc> => <sched> <dest>/w/a/i ...". */
  dests: string[];
}

export interface ReplayOptions {
  random?: RandomU32;
  /** Leave packet results as the destination only (drop the connection state). */
  destOnly?: boolean;
}

/** xorshift32: deterministic randomness for the replay (only twos and hash seeds use it). */
export const xorshift32 = (seed = 0x9e3779b9): RandomU32 => seededXorshift32(seed);

function stepText(s: Step): string {
  switch (s.kind) {
    case 'ipvsadm': return `ipvsadm ${s.args.join(' ')}`;
    case 'sysctl': return `sysctl ${s.name}=${s.value}`;
    case 'packet': return `${s.proto} ${s.src}:${s.sport} ${s.dst}:${s.dport}${s.flags ? ' ' + s.flags : ''}${s.mark ? ' mark=' + s.mark : ''}`;
    case 'dests': return `dests ${s.svc}`;
  }
}

/**
 * A dropped packet's entry is reported without its state: the kernel's /proc shows it, but
 * Ipvs.inPacket leaves curConn unset on VERDICT_DROP (only curDest names the entry's dest).
 */
function dropWithoutState(result: string): string {
  const w = result.split(' ');
  return w[0] === 'drop' && w.length > 2 ? `drop ${w[1]}` : result;
}

/** Without the connection state: "198.51.100.12:80 SYN_RECV" → "198.51.100.12:80". */
export function stripState(result: string): string {
  return result.split(',').map((r) => {
    const w = r.trim().split(' ');
    return w[0] === 'drop' && w.length > 1 ? `drop ${w[1]}` : w[0];
  }).join(',');
}

/** What the golden recorded, in the shape replay() returns. */
export function expected(g: Golden, opts: ReplayOptions = {}): Outcome {
  const out: Outcome = { picks: [], dests: [] };
  for (const s of g.steps) {
    if (s.kind === 'dests') out.dests.push(`L${s.line} ${s.svc} => ${s.expect}`);
    else if (s.kind === 'packet') out.picks.push(`L${s.line} ${stepText(s)} => ${opts.destOnly ? stripState(s.expect) : dropWithoutState(s.expect)}`);
    else if (s.kind === 'ipvsadm') out.picks.push(`L${s.line} ${stepText(s)} => ${s.expect.startsWith('exit 2:') ? '(ipvsadm refused it)' : s.expect}`);
  }
  return out;
}

/** Run the golden's steps against a fresh Ipvs; returns what tslvs did, in the golden's words. */
export function replay(g: Golden, opts: ReplayOptions = {}): Outcome {
  const ipvs = new Ipvs({ random: opts.random ?? xorshift32() });
  const out: Outcome = { picks: [], dests: [] };
  const f = new Flow();
  let now = 0;
  for (const s of g.steps) {
    switch (s.kind) {
      case 'ipvsadm':
        // exit 2 is ipvsadm refusing its own command line: nothing reached the kernel.
        if (s.expect.startsWith('exit 2:')) out.picks.push(`L${s.line} ${stepText(s)} => (ipvsadm refused it)`);
        else out.picks.push(`L${s.line} ${stepText(s)} => ${applyIpvsadm(ipvs, s.args)}`);
        break;
      case 'sysctl': {
        const k = SYSCTLS[s.name];
        if (!k) throw new Error(`${g.file}:${s.line}: sysctl ${s.name} is not supported by the replay`);
        ipvs.sysctl[k] = s.value;
        break;
      }
      case 'packet': {
        now = Math.max(now, s.atMs);
        ipvs.tick(now);
        fillFlow(f, s);
        const v = ipvs.inPacket(f, now);
        let r = verdictText(ipvs, v, now);
        if (opts.destOnly) r = stripState(r);
        out.picks.push(`L${s.line} ${stepText(s)} => ${r}`);
        break;
      }
      case 'dests': {
        ipvs.tick(now);
        const svc = ipvs.table.services().find((x) => serviceName(x) === s.svc);
        if (!svc) {
          out.dests.push(`L${s.line} ${s.svc} => (no such service)`);
          break;
        }
        const ds = svc.dests().map((d) => `${destName(d)}/w${d.weight}/a${d.activeConns}/i${d.inactConns}`);
        out.dests.push(`L${s.line} ${s.svc} => ${svc.schedName} ${ds.length ? ds.join(' ') : '-'}`);
        break;
      }
    }
  }
  return out;
}

function fillFlow(f: Flow, s: Extract<Step, { kind: 'packet' }>): void {
  const src = addr(s.src);
  const dst = addr(s.dst);
  f.af = src.af;
  f.protocol = s.proto === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
  f.fwmark = s.mark;
  f.setSaddr(src);
  f.setDaddr(dst);
  f.sport = s.sport;
  f.dport = s.dport;
  let flags = 0;
  for (const ch of s.flags) flags |= TCP_FLAG_BITS[ch];
  f.tcpFlags = s.proto === 'tcp' ? flags : 0;
  // What record-sched.py sends: 20-byte TCP header, or UDP with 10 bytes of payload.
  const ipHdr = src.af === AF_INET6 ? 40 : 20;
  f.len = ipHdr + (s.proto === 'tcp' ? 20 : 18);
}

function verdictText(ipvs: Ipvs, v: number, now: number): string {
  const conn = (): string => {
    const d = ipvs.curDest;
    const name = d ? destName(d) : '(no dest)';
    // "-": the entry is already gone (a one-packet entry lives only within inPacket).
    if (ipvs.curConn < 0 || !ipvs.connAlive(ipvs.curConn)) return `${name} -`;
    return `${name} ${ipvs.connInfo(ipvs.curConn, now).state}`;
  };
  switch (v) {
    case VERDICT_FORWARD: return conn();
    case VERDICT_NO_DEST: return 'nodest';
    case VERDICT_ACCEPT:
    case VERDICT_NOT_OURS: return 'pass';
    case VERDICT_DROP: return ipvs.curDest ? `drop ${destName(ipvs.curDest)}` : 'drop';
    default: return `verdict ${v}`;
  }
}


/**
 * Throws an AssertionError naming the first step where `got` and `want` differ (golden line,
 * expected and actual text, the two steps before it for context); passes when they are equal.
 */
export function assertSameSteps(got: readonly string[], want: readonly string[], file: string): void {
  const n = Math.max(got.length, want.length);
  for (let i = 0; i < n; i++) {
    if (got[i] === want[i]) continue;
    const ctx = want.slice(Math.max(0, i - 2), i).map((s) => `    ${s}`).join('\n');
    throw new AssertionError({
      message: `${relative(REPO, file)}: first difference at step ${i + 1} of ${want.length}\n${ctx}\n  kernel: ${want[i] ?? '(nothing)'}\n  tslvs:  ${got[i] ?? '(nothing)'}`,
      actual: got[i],
      expected: want[i],
      operator: 'strictEqual',
    });
  }
}
