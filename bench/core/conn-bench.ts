// The connection layer at scale: memory per entry and packet rate with N live entries (default
// 1,000,000), beside a peer measured in the same run: the obvious JavaScript design, a Map from a
// string key to one object per connection. Also counts garbage collections during each timed
// loop (0: the path allocated nothing worth collecting).
// Budget (STYLE rule 8): <= 160 bytes per entry (every typed array / entries), >= 2,000,000
// lookups/s on one core.
// Run: npx tsc -p . && node --expose-gc dist/bench/core/conn-bench.js [entries] [--no-peer]
import { PerformanceObserver } from 'node:perf_hooks';
import { AF_INET, IpAddr } from '../../src/core/addr.js';
import { IP_VS_CONN_F_DROUTE } from '../../src/core/dest.js';
import { Flow, TCP_ACK, TCP_SYN } from '../../src/core/flow.js';
import { Ipvs, VERDICT_FORWARD } from '../../src/core/ipvs.js';
import { IPPROTO_TCP, type ServiceUser } from '../../src/core/service.js';
import { xorshift32 } from '../../src/core/random.js';

const N = Number(process.argv[2] ?? 1_000_000);
const PEER = !process.argv.includes('--no-peer');
const LOOKUPS = 4_000_000;

let gcs = 0;
new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** GC entries reach the observer asynchronously: yield so that the loop's collections are counted. */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 20));
}

const xorshift = xorshift32;

// N distinct clients: address 10.x.y.z and port 1024.. in a shuffled order.
const caddr = new Uint32Array(N);
const cport = new Uint16Array(N);
for (let i = 0; i < N; i++) {
  caddr[i] = (0x0a000000 + Math.floor(i / 50)) >>> 0;
  cport[i] = 1024 + (i % 50) * 997 % 60000;
}
// The clients of the timed loops, in a random order, laid out sequentially (a packet arrives
// with its addresses in hand; only the table's memory is touched at random).
const lookAddr = new Uint32Array(LOOKUPS);
const lookPort = new Uint16Array(LOOKUPS);
{
  const r = xorshift(42);
  for (let k = 0; k < LOOKUPS; k++) {
    const i = r() % N;
    lookAddr[k] = caddr[i];
    lookPort[k] = cport[i];
  }
}
const VIP = 0xc0000201; // 192.0.2.1

function build(): Ipvs {
  const ipvs = new Ipvs({ random: xorshift(7), maxConns: Math.max(N + 1024, 1 << 20) });
  const u: ServiceUser = {
    af: AF_INET, protocol: IPPROTO_TCP, addr: IpAddr.v4(VIP), port: 80, fwmark: 0,
    schedName: 'rr', flags: 0, timeoutS: 0, netmask: 0xffffffff, peName: '',
  };
  ipvs.table.addService(u);
  for (let i = 0; i < 10; i++) {
    ipvs.table.addDest(u, {
      af: AF_INET, addr: IpAddr.v4(0xcb007100 + i), port: 80, connFlags: IP_VS_CONN_F_DROUTE,
      weight: 1, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0,
    });
  }
  return ipvs;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/**
 * A timed loop: CPU time of this process (user + system), which is what "per second on one
 * core" means when other work shares the machine, and the wall time beside it.
 */
class Timer {
  #cpu = process.cpuUsage();
  #wall = performance.now();
  stop(): { cpuMs: number; wallMs: number } {
    const c = process.cpuUsage(this.#cpu);
    return { cpuMs: (c.user + c.system) / 1000, wallMs: performance.now() - this.#wall };
  }
}

function rate(n: number, t: { cpuMs: number; wallMs: number }): string {
  return `${fmt(n / t.cpuMs * 1000)} /s of CPU (${fmt(n / t.wallMs * 1000)} /s wall)`;
}

// ---- tslvs ----
gc();
const heap0 = process.memoryUsage().heapUsed;
const ipvs = build();
const f = new Flow();
f.af = AF_INET;
f.protocol = IPPROTO_TCP;
f.d0 = VIP;
f.dport = 80;
f.len = 40;
let now = 1000;
let tm = new Timer();
let g0 = gcs;
f.tcpFlags = TCP_SYN;
for (let i = 0; i < N; i++) {
  f.s0 = caddr[i];
  f.sport = cport[i];
  if (ipvs.inPacket(f, now) !== VERDICT_FORWARD) throw new Error(`packet ${i} not forwarded`);
}
const insertT = tm.stop();
await settle();
const insertGcs = gcs - g0;
if (ipvs.connCount !== N) throw new Error(`expected ${N} entries, have ${ipvs.connCount}`);
gc();
const heapTslvs = process.memoryUsage().heapUsed - heap0;
const bytes = ipvs.connBytes;

// Lookups only (ConnTable.findIn), then the whole packet path of an established flow
// (lookup, counters, state machine, timer re-arm).
let sink = 0;
tm = new Timer();
g0 = gcs;
for (let k = 0; k < LOOKUPS; k++) {
  f.s0 = lookAddr[k];
  f.sport = lookPort[k];
  sink = (sink + ipvs.conns.findIn(f)) | 0;
}
const lookupT = tm.stop();
await settle();
const lookupGcs = gcs - g0;

f.tcpFlags = TCP_ACK;
now += 1000;
tm = new Timer();
g0 = gcs;
for (let k = 0; k < LOOKUPS; k++) {
  f.s0 = lookAddr[k];
  f.sport = lookPort[k];
  sink = (sink + ipvs.inPacket(f, now)) | 0;
}
const packetT = tm.stop();
await settle();
const packetGcs = gcs - g0;

// Expiry of every entry: ESTABLISHED ones go 900 s after their last packet, rounded up to
// their timer-wheel bucket (4096 jiffies, 16.4 s at that distance), as in the kernel.
tm = new Timer();
for (let s = 0; s <= 918; s++) ipvs.tick(now + s * 1000);
const expireT = tm.stop();
const left = ipvs.connCount;

console.log(`tslvs conn layer, ${fmt(N)} live entries (node ${process.version})`);
console.log(`  memory: ${fmt(bytes)} bytes of typed arrays = ${(bytes / N).toFixed(1)} B/entry (budget 160); JS heap growth ${(heapTslvs / N).toFixed(1)} B/entry`);
console.log(`  insert (SYN -> schedule -> entry): ${rate(N, insertT)}, ${insertGcs} GCs`);
console.log(`  lookup (findIn):                   ${rate(LOOKUPS, lookupT)}, ${lookupGcs} GCs (budget 2,000,000)`);
console.log(`  packet on an entry (inPacket):     ${rate(LOOKUPS, packetT)}, ${packetGcs} GCs`);
console.log(`  expire all (900 s + wheel rounding): ${rate(N, expireT)}, ${fmt(left)} left`);

// ---- peer: Map<string, object> ----
if (PEER) {
  interface PeerConn { caddr: number; cport: number; vaddr: number; vport: number; daddr: number; dport: number; state: number; flags: number; expires: number; inPkts: number; }
  gc();
  const p0 = process.memoryUsage().heapUsed;
  const map = new Map<string, PeerConn>();
  tm = new Timer();
  for (let i = 0; i < N; i++) {
    map.set(`6:${caddr[i]}:${cport[i]}:${VIP}:80`, {
      caddr: caddr[i], cport: cport[i], vaddr: VIP, vport: 80, daddr: 0xcb007100 + (i % 10), dport: 80,
      state: 3, flags: 0, expires: now + 60_000, inPkts: 1,
    });
  }
  const peerInsertT = tm.stop();
  gc();
  const peerHeap = process.memoryUsage().heapUsed - p0;
  tm = new Timer();
  g0 = gcs;
  for (let k = 0; k < LOOKUPS; k++) {
    const c = map.get(`6:${lookAddr[k]}:${lookPort[k]}:${VIP}:80`);
    if (c) {
      c.inPkts++;
      c.expires = now + 900_000;
    }
  }
  const peerLookupT = tm.stop();
  await settle();
  const peerGcs = gcs - g0;
  console.log(`peer: Map<string, object>, ${fmt(N)} entries`);
  console.log(`  memory: ${(peerHeap / N).toFixed(1)} B/entry of JS heap  -> tslvs uses ${(bytes / peerHeap).toFixed(2)}x`);
  console.log(`  insert: ${rate(N, peerInsertT)}  -> tslvs ${(peerInsertT.cpuMs / insertT.cpuMs).toFixed(2)}x`);
  console.log(`  lookup + touch: ${rate(LOOKUPS, peerLookupT)}, ${peerGcs} GCs  -> tslvs findIn ${(peerLookupT.cpuMs / lookupT.cpuMs).toFixed(2)}x, inPacket ${(peerLookupT.cpuMs / packetT.cpuMs).toFixed(2)}x (CPU time)`);
}
if (sink === 0.5) console.log(sink);
