// Replays the connection-layer goldens (test/golden/conn/*.txt, recorded on the real kernel by
// record-conn.sh; format in test/golden/conn/README.md) against the tslvs core: every recorded
// command and packet at its recorded time, every listing compared line by line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AF_INET6, type Af, parseAddr } from '../../../src/core/addr.js';
import { SCTP_CID_ABORT, sctpEffectiveChunk } from '../../../src/core/conn/sctp-state.js';
import { jiffiesToMs } from '../../../src/core/conn/timer-wheel.js';
import { IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_MASQ } from '../../../src/core/dest.js';
import { Flow } from '../../../src/core/flow.js';
import {
  type IpvsSysctls, Ipvs, VERDICT_DROP, VERDICT_NO_DEST, VERDICT_NOT_OURS, VERDICT_TABLE_FULL,
} from '../../../src/core/ipvs.js';
import { DEFAULT_NETMASK_V4, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, type VirtualService } from '../../../src/core/service.js';
import { statsView } from '../../../src/core/stats/counters.js';
import { applyIpvsadm, GOLDEN_DIR } from '../../helpers/golden.js';
import { seeded, TCP_FLAGS } from './lab.js';

const SYSCTLS: Record<string, keyof IpvsSysctls> = {
  expire_nodest_conn: 'expireNodestConn', expire_quiescent_template: 'expireQuiescentTemplate',
  conn_reuse_mode: 'connReuseMode', sloppy_tcp: 'sloppyTcp', sloppy_sctp: 'sloppySctp', secure_tcp: 'secureTcp',
  drop_entry: 'dropEntry', drop_packet: 'dropPacket', am_droprate: 'amDroprate', amemthresh: 'amemthresh',
  nat_icmp_send: 'natIcmpSend', cache_bypass: 'cacheBypass',
};
/** Written to /proc, these run update_defense_level at once (proc_do_defense_mode). */
const DEFENSE = new Set(['secure_tcp', 'drop_entry', 'drop_packet']);
const SCTP_CHUNKS: Record<string, number> = {
  DATA: 0, INIT: 1, INIT_ACK: 2, ABORT: SCTP_CID_ABORT, SHUTDOWN: 7, SHUTDOWN_ACK: 8, COOKIE_ECHO: 10, COOKIE_ACK: 11,
  SHUTDOWN_COMPLETE: 14,
};

interface Golden { name: string; kernel: string; title: string; jiffies: number; lines: string[] }

function load(): Golden[] {
  const dir = join(GOLDEN_DIR, 'conn');
  return readdirSync(dir).filter((n) => n.endsWith('.txt')).sort().map((n) => {
    const lines = readFileSync(join(dir, n), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    const kernel = lines.find((l) => l.startsWith('kernel '))?.slice(7) ?? '?';
    const title = lines.find((l) => l.startsWith('title '))?.slice(6) ?? n;
    const jiffies = Number(lines.find((l) => l.startsWith('jiffies '))?.slice(8) ?? 0);
    const steps = lines.filter((l) => !l.startsWith('kernel ') && !l.startsWith('title ') && !l.startsWith('jiffies '));
    return { name: n.slice(0, -4), kernel, title, jiffies, lines: steps };
  });
}

function hostPort(s: string): { addr: string; port: number } {
  const m = /^\[(.+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`bad address ${s}`);
  return { addr: m[1], port: Number(m[2]) };
}

function hp(addr: string, port: number, af: Af): string {
  return af === AF_INET6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function svcName(s: VirtualService): string {
  if (s.fwmark) return `FWM ${s.fwmark}`;
  const p = s.protocol === IPPROTO_TCP ? 'TCP' : s.protocol === IPPROTO_UDP ? 'UDP' : 'SCTP';
  return `${p} ${hp(s.addr.toString(), s.port, s.af)}`;
}

/** ipvsadm -A/-a with --sctp-service, which the shared ipvsadm translation does not know. */
function applySctp(ipvs: Ipvs, args: string[]): string {
  const vip = hostPort(args[args.indexOf('--sctp-service') + 1]);
  const a = parseAddr(vip.addr)!;
  const id = { af: a.af, protocol: IPPROTO_SCTP as 132, addr: a, port: vip.port, fwmark: 0 };
  if (args[0] === '-A') {
    const s = args.indexOf('-s');
    ipvs.table.addService({ ...id, schedName: s >= 0 ? args[s + 1] : 'wlc', flags: 0, timeoutS: 0, netmask: DEFAULT_NETMASK_V4, peName: '' });
  } else if (args[0] === '-a') {
    const r = args[args.indexOf('-r') + 1];
    const d = parseAddr(r)!;
    ipvs.table.addDest(id, {
      af: d.af, addr: d, port: vip.port, connFlags: args.includes('-m') ? IP_VS_CONN_F_MASQ : IP_VS_CONN_F_DROUTE,
      weight: 1, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0,
    });
  } else {
    throw new Error(`sctp command ${args.join(' ')}`);
  }
  return 'ok';
}

interface Replayed {
  lines: string[];
  /** Listing lines whose seconds-left value is within 20 ms of a whole second. */
  nearSecond: Set<number>;
}

/** What tslvs does with the golden's steps, in the golden's own words (comparable line by line). */
function replay(g: Golden): Replayed {
  // The clock is the kernel's jiffies in ms, so that timer-wheel buckets (aligned on absolute
  // jiffies) fall where they fell on the kernel; the estimator starts with the case.
  const base = jiffiesToMs(g.jiffies);
  const ipvs = new Ipvs({ random: seeded(), startMs: base });
  const f = new Flow();
  const out: string[] = [];
  const nearSecond = new Set<number>();
  let now = base;
  for (const line of g.lines) {
    if (line.startsWith('  ')) continue; // the kernel's listing lines; ours come from the core
    const at = /@(\d+)/.exec(line);
    if (at) {
      now = Math.max(now, base + Number(at[1]));
      ipvs.tick(now);
    }
    const w = line.split(' ');
    switch (w[0]) {
      case 'ipvsadm': {
        const args = line.slice(8, line.indexOf(' => ')).split(' ');
        // exit 2 is ipvsadm refusing its own command line: nothing reached the kernel.
        if (line.includes(' => exit 2: ')) {
          out.push(line);
          break;
        }
        const r = args.includes('--sctp-service') ? applySctp(ipvs, args) : applyIpvsadm(ipvs, args);
        out.push(`ipvsadm ${args.join(' ')} => ${r}`);
        break;
      }
      case 'sysctl': {
        out.push(line);
        const [name, value] = w[1].split('=');
        const k = SYSCTLS[name];
        if (!k) throw new Error(`${g.name}: sysctl ${name} is not supported by the replay`);
        ipvs.sysctl[k] = Number(value);
        if (DEFENSE.has(name)) ipvs.defenseTick(now);
        break;
      }
      case 'tcp': case 'udp': case 'sctp': {
        const src = hostPort(w[1]);
        const dst = hostPort(w[2]);
        const s = parseAddr(src.addr)!;
        f.af = s.af;
        f.setSaddr(s).setDaddr(parseAddr(dst.addr)!);
        f.sport = src.port;
        f.dport = dst.port;
        f.protocol = w[0] === 'tcp' ? IPPROTO_TCP : w[0] === 'udp' ? IPPROTO_UDP : IPPROTO_SCTP;
        f.len = Number(/len=(\d+)/.exec(line)![1]);
        f.fwmark = Number(/mark=(\d+)/.exec(line)?.[1] ?? 0);
        if (w[0] === 'tcp') f.tcpFlags = [...w[3]].reduce((a, c) => a | (TCP_FLAGS[c] ?? 0), 0);
        else if (w[0] === 'sctp') {
          const [first, then] = w[3].split('+');
          f.tcpFlags = sctpEffectiveChunk(SCTP_CHUNKS[first], then ? SCTP_CHUNKS[then] : -1);
        } else f.tcpFlags = 0;
        // LOCAL_OUT runs ip_vs_out_hook, then ip_vs_in_hook for what it did not take.
        let v = ipvs.outPacket(f, now);
        if (v === VERDICT_NOT_OURS) v = ipvs.inPacket(f, now);
        const eperm = v === VERDICT_DROP || v === VERDICT_NO_DEST || v === VERDICT_TABLE_FULL;
        out.push(`${line.slice(0, line.indexOf(' => '))} => ${eperm ? 'EPERM' : 'ok'}`);
        break;
      }
      case 'conns': {
        out.push(line);
        const near = new Set<string>();
        const rows = ipvs.listConns(now).map((c) => {
          const pro = c.protocol === 6 ? 'TCP' : c.protocol === 17 ? 'UDP' : c.protocol === 132 ? 'SCTP' : 'IP';
          const exp = `${String(Math.floor(c.expiresS / 60)).padStart(2, '0')}:${String(c.expiresS % 60).padStart(2, '0')}`;
          const row = `${pro.padEnd(3)} ${exp.padEnd(6)} ${c.state.padEnd(11)} ${hp(c.caddr, c.cport, c.af).padEnd(18)} ` +
            `${hp(c.vaddr, c.vport, c.af).padEnd(18)} ${hp(c.daddr, c.dport, c.daf)}`;
          const leftMs = ipvs.connExpiresMs(c.conn) - now;
          if (leftMs > 0 && (leftMs % 1000 < 20 || leftMs % 1000 > 980)) near.add(row);
          return row;
        });
        for (const r of rows.sort()) {
          if (near.has(r)) nearSecond.add(out.length);
          out.push(`  ${r}`);
        }
        break;
      }
      case 'dests': {
        out.push(line);
        const blocks = ipvs.table.services().map((s): [string, string[]] => [svcName(s),
          s.dests().map((d) => `-> ${hp(d.addr.toString(), d.port, d.af)} w${d.weight} p${d.persistConns} a${d.activeConns} i${d.inactConns}`).sort()]);
        for (const [head, ds] of blocks.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
          out.push(`  ${head}`);
          for (const d of ds) out.push(`    ${d}`);
        }
        break;
      }
      case 'stats': {
        out.push(line);
        const fmt = (v: ReturnType<typeof statsView>) => `c${v.conns} ip${v.inpkts} op${v.outpkts} ib${v.inbytes} ob${v.outbytes}`;
        const blocks = ipvs.table.services().map((s): [string, string[]] => [`${svcName(s)} ${fmt(statsView(s.stats))}`,
          s.dests().map((d) => `-> ${hp(d.addr.toString(), d.port, d.af)} ${fmt(statsView(d.stats))}`).sort()]);
        for (const [head, ds] of blocks.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
          out.push(`  ${head}`);
          for (const d of ds) out.push(`    ${d}`);
        }
        out.push(`  total ${fmt(statsView(ipvs.table.totStats))}`);
        break;
      }
      default:
        throw new Error(`${g.name}: unknown step: ${line}`);
    }
  }
  return { lines: out, nearSecond };
}

/**
 * The VM's clock stamps are a few jiffies off the kernel's own reading of jiffies, so a
 * seconds-left value may differ by one when tslvs's exact value is within 20 ms of a second.
 */
function sameRow(got: string, want: string, near: boolean): boolean {
  if (got === want) return true;
  if (!near) return false;
  const m = /^( {2}\S+ )(\d\d):(\d\d)( .*)$/;
  const a = m.exec(got);
  const b = m.exec(want);
  if (!a || !b || a[1] !== b[1] || a[4].trimEnd() !== b[4].trimEnd()) return false;
  return Math.abs((Number(a[2]) * 60 + Number(a[3])) - (Number(b[2]) * 60 + Number(b[3]))) === 1;
}

for (const g of load()) {
  test(`conn layer does as Linux ${g.kernel} did: ${g.name}: ${g.title}`, () => {
    const { lines: got, nearSecond } = replay(g);
    const want = g.lines;
    for (let i = 0; i < Math.max(got.length, want.length); i++) {
      if (!sameRow(got[i] ?? '', want[i] ?? '', nearSecond.has(i))) {
        const ctx = want.slice(Math.max(0, i - 4), i).join('\n');
        assert.fail(`test/golden/conn/${g.name}.txt: first difference at step ${i + 1}\n${ctx}\n  kernel: ${want[i] ?? '(nothing)'}\n  tslvs:  ${got[i] ?? '(nothing)'}`);
      }
    }
  });
}
