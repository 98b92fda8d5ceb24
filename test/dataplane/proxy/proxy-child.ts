// The proxy dataplane in a process of its own, for tests that watch its RSS and file
// descriptors from outside: one TCP service VIP:PORT masquerading to the given real servers,
// the core's timers ticking every second as the daemon does. Prints "ready".
//   node proxy-child.js VIP:PORT RS:PORT [RS:PORT...]
import { readdirSync } from 'node:fs';
import { parseAddr } from '../../../src/core/addr.js';
import { IP_VS_CONN_F_MASQ } from '../../../src/core/dest.js';
import { Ipvs } from '../../../src/core/ipvs.js';
import { DEFAULT_NETMASK_V4, IPPROTO_TCP } from '../../../src/core/service.js';
import { ProxyDataplane } from '../../../src/dataplane/proxy/proxy-dataplane.js';
import { relaySettings, seeded } from './harness.js';

function hostPort(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  if (!m) throw new Error(`expected ADDR:PORT, got "${s}"`);
  return { host: m[1], port: Number(m[2]) };
}

const [vipArg, ...rsArgs] = process.argv.slice(2);
const vip = hostPort(vipArg);
const vaddr = parseAddr(vip.host);
if (vaddr === null) throw new Error('bad VIP');
const ipvs = new Ipvs({ random: seeded(), startMs: performance.now() });
const dp = new ProxyDataplane({ ipvs, now: () => performance.now(), settings: relaySettings() });
const id = { af: vaddr.af, protocol: IPPROTO_TCP as typeof IPPROTO_TCP, addr: vaddr, port: vip.port, fwmark: 0 };
const j = ipvs.table.transaction(() => {
  ipvs.table.addService({ ...id, schedName: 'wlc', flags: 0, timeoutS: 0, netmask: DEFAULT_NETMASK_V4, peName: '' });
  for (const rs of rsArgs) {
    const r = hostPort(rs);
    const a = parseAddr(r.host);
    if (a === null) throw new Error(`bad real server ${rs}`);
    ipvs.table.addDest(id, { af: a.af, addr: a, port: r.port, connFlags: IP_VS_CONN_F_MASQ, weight: 1, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 });
  }
});
await dp.apply(j.diff);
setInterval(() => ipvs.tick(performance.now()), 1000);
// One line in, one JSON line out: the dataplane's gauges and this process's open descriptors,
// taken at the same instant (-1 when no descriptor is left to list them with).
const fdCount = (): number => { try { return readdirSync('/proc/self/fd').length; } catch { return -1; } };
process.stdin.on('data', () => process.stdout.write(`${JSON.stringify({ ...dp.details(), entries: ipvs.connCount, fds: fdCount() })}\n`));
process.stdin.on('end', () => process.exit(0));
console.log('ready');
