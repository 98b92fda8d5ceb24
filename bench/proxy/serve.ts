// Runs the proxy dataplane alone for benchmarks: one TCP virtual service, masquerading to the
// given real servers, the core's timers ticking every second as the daemon does.
//   node dist/bench/proxy/serve.js VIP:PORT RS:PORT [RS:PORT...] [--sched wlc] [--set key=value ...]
// Prints "ready" when listening; on SIGTERM/SIGINT prints the dataplane's details as JSON.
import { AF_INET6, parseAddr } from '../../src/core/addr.js';
import { IP_VS_CONN_F_MASQ } from '../../src/core/dest.js';
import { Ipvs } from '../../src/core/ipvs.js';
import { DEFAULT_NETMASK_V4, IPPROTO_TCP } from '../../src/core/service.js';
import { ProxyDataplane } from '../../src/dataplane/proxy/proxy-dataplane.js';
import { xorshift32 } from '../../src/core/random.js';

function hostPort(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  if (!m) throw new Error(`expected ADDR:PORT, got "${s}"`);
  return { host: m[1], port: Number(m[2]) };
}

const args = process.argv.slice(2);
let sched = 'wlc';
const settings: Record<string, number> = {};
const pos: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--sched') sched = args[++i];
  else if (args[i] === '--tick-ms') i++;
  else if (args[i] === '--set') {
    const [k, v] = args[++i].split('=');
    settings[k] = Number(v);
  } else pos.push(args[i]);
}
const vip = hostPort(pos[0]);
const vaddr = parseAddr(vip.host);
if (!vaddr) throw new Error('bad VIP');
const ipvs = new Ipvs({ random: xorshift32(0x12345678), startMs: performance.now() });
const dp = new ProxyDataplane({ ipvs, now: () => performance.now(), settings });
const id = { af: vaddr.af, protocol: IPPROTO_TCP as typeof IPPROTO_TCP, addr: vaddr, port: vip.port, fwmark: 0 };
const j = ipvs.table.transaction(() => {
  ipvs.table.addService({ ...id, schedName: sched, flags: 0, timeoutS: 0, netmask: vaddr.af === AF_INET6 ? 128 : DEFAULT_NETMASK_V4, peName: '' });
  for (const rs of pos.slice(1)) {
    const r = hostPort(rs);
    const a = parseAddr(r.host);
    if (!a) throw new Error(`bad real server ${rs}`);
    ipvs.table.addDest(id, { af: a.af, addr: a, port: r.port, connFlags: IP_VS_CONN_F_MASQ, weight: 1, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 });
  }
});
await dp.apply(j.diff);
// The core's timers, as the daemon drives them (--tick-ms, default 1000 like tslvs run); the
// longest tick is printed on exit (an event loop turn that long delays every packet behind it).
const tickMs = Number(args[args.indexOf('--tick-ms') + 1] ?? 1000);
let tickMaxMs = 0;
const tick = setInterval(() => {
  const t0 = performance.now();
  ipvs.tick(t0);
  tickMaxMs = Math.max(tickMaxMs, performance.now() - t0);
}, args.includes('--tick-ms') ? tickMs : 1000);
console.log('ready');
const stop = async (): Promise<void> => {
  clearInterval(tick);
  console.log(JSON.stringify({ ...dp.details(), connEntries: ipvs.connCount, tickMaxMs }));
  await dp.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
