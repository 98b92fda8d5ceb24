// ns per pick of the table and locality schedulers (dh, sh, mh, lblc, lblcr) at 2, 100, 1000 and
// 10000 destinations, printed beside rr measured in the same run on the same service (the peer:
// an O(1) cursor step). Also counts garbage collections during each timed loop: 0 means the pick
// path allocated nothing worth collecting.
// Run: npx tsc -p . && node dist/bench/core/sched-hash-bench.js [picks-per-case]
import { PerformanceObserver } from 'node:perf_hooks';
import { AF_INET, IpAddr } from '../../src/core/addr.js';
import { type Dest, IP_VS_CONN_F_DROUTE } from '../../src/core/dest.js';
import { Flow } from '../../src/core/flow.js';
import { hsiphash32, MH_HASH1 } from '../../src/core/hash.js';
import { IP_VS_MH_TAB_SIZE } from '../../src/core/sched/mh.js';
import { IPPROTO_UDP, type ServiceUser, type VirtualService } from '../../src/core/service.js';
import { ServiceTable } from '../../src/core/service-table.js';

const PICKS = Number(process.argv[2] ?? 2_000_000);
const SIZES = [2, 100, 1000, 10000];
const SCHEDS = ['dh', 'sh', 'mh', 'lblc', 'lblcr'] as const;
/** Distinct client (and, for dh/lblc/lblcr, destination) addresses cycled through. */
const KEYS = 1024;

let gcs = 0;
new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });

function serviceUser(sched: string): ServiceUser {
  return {
    af: AF_INET, protocol: IPPROTO_UDP, addr: IpAddr.v4(0xc6336401), port: 53, fwmark: 1,
    schedName: sched, flags: 0, timeoutS: 0, netmask: 0xffffffff, peName: '',
  };
}

/**
 * A fwmark service (so the destination address may vary) with n destinations of weight 1..4,
 * added under rr and then switched to `sched` (one table build instead of n). mh binds only up
 * to its 4093 slots, as the kernel: the rest are added after, and its table stays as it was.
 */
function build(sched: string, n: number): { table: ServiceTable; svc: VirtualService } {
  const table = new ServiceTable();
  const u = serviceUser('rr');
  const svc = table.addService(u);
  const addDest = (i: number) => table.addDest(u, {
    af: AF_INET, addr: IpAddr.v4(0xcb000000 + i), port: 53, connFlags: IP_VS_CONN_F_DROUTE,
    weight: 1 + (i & 3), uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0,
  });
  const first = sched === 'mh' ? Math.min(n, IP_VS_MH_TAB_SIZE) : n;
  for (let i = 0; i < first; i++) addDest(i);
  table.editService(u, { ...u, schedName: sched });
  for (let i = first; i < n; i++) addDest(i);
  return { table, svc };
}

const saddrs = new Uint32Array(KEYS);
const daddrs = new Uint32Array(KEYS);
for (let i = 0; i < KEYS; i++) {
  saddrs[i] = (0xc0000200 + Math.imul(i, 2654435761)) >>> 0;
  daddrs[i] = (0xc6336400 + i * 7) >>> 0;
}

let sink = 0;

/** ns per pick over `picks` schedules cycling through KEYS clients and destination addresses. */
function run(svc: VirtualService, picks: number, nowMs: number): { ns: number; gc: number } {
  const sched = svc.scheduler;
  if (sched === null) throw new Error('no scheduler');
  const flow = new Flow();
  flow.protocol = IPPROTO_UDP;
  flow.dport = 53;
  const rand = () => 0;
  // Warm up, which also fills the lblc/lblcr tables for every destination address.
  for (let i = 0; i < 50_000; i++) {
    flow.s0 = saddrs[i & (KEYS - 1)];
    flow.d0 = daddrs[(i >> 3) & (KEYS - 1)];
    flow.sport = 1024 + (i & 0x7fff);
    if (sched.schedule(svc, flow, nowMs, rand) !== null) sink++;
  }
  const g0 = gcs;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < picks; i++) {
    flow.s0 = saddrs[i & (KEYS - 1)];
    flow.d0 = daddrs[(i >> 3) & (KEYS - 1)];
    flow.sport = 1024 + (i & 0x7fff);
    const d: Dest | null = sched.schedule(svc, flow, nowMs, rand);
    if (d !== null) sink += d.port;
  }
  const ns = Number(process.hrtime.bigint() - t0) / picks;
  return { ns, gc: gcs - g0 };
}

/**
 * The cost of lblc/lblcr's miss path: each pick a new destination address, so a wlc scan over
 * every destination (linear, as in the kernel) and an entry creation. A first table is used to
 * warm up; the timed one is fresh.
 */
function runMisses(sched: string, n: number): number {
  const count = n >= 10000 ? 2000 : 10000;
  let ns = 0;
  for (const timed of [false, true]) {
    const { svc } = build(sched, n);
    const s = svc.scheduler;
    if (s === null) throw new Error('no scheduler');
    const flow = new Flow();
    flow.protocol = IPPROTO_UDP;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < count; i++) {
      flow.d0 = (0xc0000000 + i) >>> 0;
      if (s.schedule(svc, flow, 0, () => 0) !== null) sink++;
    }
    if (timed) ns = Number(process.hrtime.bigint() - t0) / count;
  }
  return ns;
}

function pad(s: string | number, w: number): string {
  return String(s).padStart(w);
}

// The hash mh pays once per pick (twice per destination on a rebuild).
{
  let h = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < PICKS; i++) h ^= hsiphash32(i, MH_HASH1);
  sink += h;
  console.log(`hsiphash32: ${(Number(process.hrtime.bigint() - t0) / PICKS).toFixed(1)} ns/call`);
}

console.log(`${PICKS} picks per case, ${KEYS} distinct clients / destination addresses`);
console.log(`${pad('sched', 6)} ${pad('dests', 6)} ${pad('ns/pick', 8)} ${pad('rr ns', 7)} ${pad('x rr', 6)} ${pad('gc', 3)}`);
for (const name of SCHEDS) {
  for (const n of SIZES) {
    const peer = run(build('rr', n).svc, PICKS, 0);
    const { svc } = build(name, n);
    const r = run(svc, PICKS, 0);
    console.log(`${pad(name, 6)} ${pad(n, 6)} ${pad(r.ns.toFixed(1), 8)} ${pad(peer.ns.toFixed(1), 7)} ${pad((r.ns / peer.ns).toFixed(2), 6)} ${pad(r.gc, 3)}`);
  }
}

console.log('mh at 10000: the kernel builds no table past 4093 destinations (EINVAL); picks use the 4093-destination table');
console.log('lblc/lblcr above: cache hits (1024 destination addresses, all cached): O(1) unless the cached');
console.log('destination has more active connections than its weight (then an O(n) lblc-overloaded scan)');
console.log('\nlblc/lblcr miss path (new destination address: wlc scan over all destinations, O(n), + entry creation)');
for (const name of ['lblc', 'lblcr']) {
  for (const n of SIZES) console.log(`${pad(name, 6)} ${pad(n, 6)} ${pad(runMisses(name, n).toFixed(1), 10)} ns/pick`);
}
if (sink === 0.5) console.log('');
