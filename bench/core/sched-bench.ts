// ns per pick of every scheduler at 2, 100, 1,000 and 10,000 destinations under a production-like
// workload, against the goal of <= 200 ns per pick at 10,000 destinations, with rr (the O(1)
// cursor step) measured in the same run as the peer.
//
// One step = schedule() + bindDest() of the new connection (active, as a TCP SYN), and to keep the
// number of live connections steady (4 per destination): the connection opened n * 2 steps
// earlier goes inactive (setActive false, as a FIN does), and the one opened n * 4 steps earlier is
// released (unbindDest). So every step also pays the scheduler's connsChanged hooks, and the
// lc-family counters move as in production. Weights vary (1..16, one destination in 50 at 0,
// "quiesced"), and one destination in 10 has an upper threshold low enough to flip OVERLOAD.
// Flows cycle through 4096 client and 4096 destination addresses (dh/sh/mh hash them, lblc/lblcr
// cache them), twos draws from xorshift32.
//
// Extra rows: rr/wrr with 99 % of the destinations quiesced (the kernel's scan walks past them),
// wrr with one heavy destination among light ones, lblc/lblcr when every flow misses the cache.
//
// Each scheduler runs in a child process of its own (fresh JIT feedback, as in a daemon running
// one scheduler); each case is the best of --rounds runs, since other processes only add time.
// Run: npm run bench, or npx tsc -p . && node dist/bench/core/sched-bench.js [--only rr,wlc] [--sizes 100,10000] [--ms 300] [--rounds 3]
import { PerformanceObserver } from 'node:perf_hooks';
import { AF_INET, IpAddr } from '../../src/core/addr.js';
import { bindDest, setActive, unbindDest } from '../../src/core/conn/bind.js';
import { type Dest, IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_INACTIVE } from '../../src/core/dest.js';
import { Flow } from '../../src/core/flow.js';
import { IP_VS_MH_TAB_SIZE } from '../../src/core/sched/mh.js';
import { SCHEDULER_NAMES } from '../../src/core/sched/registry.js';
import { IPPROTO_TCP, type ServiceUser, type VirtualService } from '../../src/core/service.js';
import { ServiceTable } from '../../src/core/service-table.js';
import { xorshift32 } from '../../src/core/random.js';

const GOAL_NS = 200;
const GOAL_DESTS = 10_000;

function arg(name: string): string | null {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : null;
}
const SIZES = (arg('--sizes') ?? '2,100,1000,10000').split(',').map(Number);
const ONLY = arg('--only')?.split(',') ?? null;
/** Minimum time per timed case. */
const MIN_MS = Number(arg('--ms') ?? 300);
const KEYS = 4096;

let gcs = 0;
new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });


type Shape = 'mixed' | 'sparse' | 'skew';

interface Case {
  label: string;
  sched: string;
  shape: Shape;
  /** Every flow a new destination address (lblc/lblcr cache misses). */
  miss: boolean;
}

function serviceUser(sched: string): ServiceUser {
  return {
    af: AF_INET, protocol: IPPROTO_TCP, addr: IpAddr.v4(0xc6336401), port: 80, fwmark: 1,
    schedName: sched, flags: 0, timeoutS: 0, netmask: 0xffffffff, peName: '',
  };
}

/** Weight and upper threshold of destination i. */
function destShape(shape: Shape, i: number, n: number): { weight: number; u: number } {
  const h = Math.imul(i + 1, 2654435761) >>> 0;
  if (shape === 'sparse') return { weight: i % 100 === 99 || (n < 100 && i === n - 1) ? 1 + (h % 16) : 0, u: 0 };
  if (shape === 'skew') return { weight: i === n >> 1 ? 1000 : 1, u: 0 };
  const weight = i % 50 === 49 ? 0 : 1 + (h % 16);
  return { weight, u: i % 10 === 3 ? 4 + (h % 5) : 0 };
}

/**
 * A fwmark service (so destination addresses vary) with n destinations, added under rr and then
 * switched to `sched`, as a restore would. mh binds only up to its 4093 slots, as the kernel: the
 * rest are added after, and its table stays as it was.
 */
function build(sched: string, n: number, shape: Shape): VirtualService {
  const table = new ServiceTable();
  const u = serviceUser('rr');
  const svc = table.addService(u);
  const addDest = (i: number) => {
    const s = destShape(shape, i, n);
    table.addDest(u, {
      af: AF_INET, addr: IpAddr.v4(0xcb000000 + i), port: 80, connFlags: IP_VS_CONN_F_DROUTE,
      weight: s.weight, uThreshold: s.u, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0,
    });
  };
  const first = sched === 'mh' ? Math.min(n, IP_VS_MH_TAB_SIZE) : n;
  for (let i = 0; i < first; i++) addDest(i);
  table.editService(u, { ...u, schedName: sched });
  for (let i = first; i < n; i++) addDest(i);
  return svc;
}

const saddrs = new Uint32Array(KEYS);
const daddrs = new Uint32Array(KEYS);
for (let i = 0; i < KEYS; i++) {
  saddrs[i] = (0xc0000200 + Math.imul(i, 2654435761)) >>> 0;
  daddrs[i] = (0xc6336400 + i * 7) >>> 0;
}

let sink = 0;

/** The workload of one case; `steps` steps from where the previous call stopped. */
class Workload {
  readonly flow = new Flow();
  readonly rand = xorshift32(0x9e3779b9);
  /** Live connections by age: the dest (null when the pick failed). */
  readonly ring: (Dest | null)[];
  readonly live: number;
  readonly half: number;
  i = 0;
  fails = 0;

  constructor(readonly svc: VirtualService, readonly miss: boolean) {
    this.live = Math.max(64, svc.numDests * 4);
    this.half = this.live >> 1;
    this.ring = new Array<Dest | null>(this.live).fill(null);
    this.flow.protocol = IPPROTO_TCP;
    this.flow.dport = 80;
  }

  run(steps: number): void {
    const { svc, flow, ring, live, half, rand } = this;
    const sched = svc.scheduler;
    if (sched === null) throw new Error('no scheduler');
    for (let k = 0; k < steps; k++) {
      const i = this.i++;
      flow.s0 = saddrs[i & (KEYS - 1)];
      flow.d0 = this.miss ? (0xc0000000 + i) >>> 0 : daddrs[(i >>> 3) & (KEYS - 1)];
      flow.sport = 1024 + (i & 0x7fff);
      const slot = i % live;
      const old = ring[slot];
      if (old !== null) unbindDest(old, IP_VS_CONN_F_INACTIVE);
      const mid = ring[(i + half) % live];
      if (mid !== null) setActive(mid, false);
      const d = sched.schedule(svc, flow, 0, rand);
      if (d !== null) {
        bindDest(d, 0);
        sink += d.port;
      } else {
        this.fails++;
      }
      ring[slot] = d;
    }
  }
}

interface Result {
  ns: number;
  gc: number;
  picks: number;
  fails: number;
}

/** Warm up until the ring is full (steady state), then time at least MIN_MS. */
function measure(c: Case, n: number): Result {
  const svc = build(c.sched, n, c.shape);
  const w = new Workload(svc, c.miss);
  w.run(w.live + 2000);
  const fails0 = w.fails;
  const g0 = gcs;
  let picks = 0;
  let chunk = 256;
  // CPU time of this process (user + system, GC threads included), not wall time: on a shared
  // machine the time spent descheduled is not the scheduler's.
  const c0 = process.cpuUsage();
  let ns = 0;
  for (;;) {
    w.run(chunk);
    picks += chunk;
    const c = process.cpuUsage(c0);
    ns = (c.user + c.system) * 1000;
    if (ns >= MIN_MS * 1e6) break;
    if (ns < MIN_MS * 1e5) chunk *= 2;
  }
  return { ns: ns / picks, gc: gcs - g0, picks, fails: w.fails - fails0 };
}

function pad(s: string | number, w: number): string {
  return String(s).padStart(w);
}

const EXTRA: Case[] = [
  { label: 'rr-sparse', sched: 'rr', shape: 'sparse', miss: false },
  { label: 'wrr-sparse', sched: 'wrr', shape: 'sparse', miss: false },
  { label: 'wrr-skew', sched: 'wrr', shape: 'skew', miss: false },
  { label: 'lblc-miss', sched: 'lblc', shape: 'mixed', miss: true },
  { label: 'lblcr-miss', sched: 'lblcr', shape: 'mixed', miss: true },
];
const cases: Case[] = [
  ...SCHEDULER_NAMES.map((s): Case => ({ label: s, sched: s, shape: 'mixed', miss: false })),
  ...EXTRA,
].filter((c) => ONLY === null || ONLY.includes(c.label) || ONLY.includes(c.sched));

const ROUNDS = Number(arg('--rounds') ?? 3);

/** The best of ROUNDS runs: other processes on the machine only ever add time. */
function best(c: Case, n: number): Result {
  let r = measure(c, n);
  for (let i = 1; i < ROUNDS; i++) {
    const x = measure(c, n);
    if (x.ns < r.ns) r = { ...x, gc: Math.max(x.gc, r.gc) };
  }
  return r;
}

if (arg('--child') !== null) {
  // One case in this process (fresh JIT feedback, as a daemon running one scheduler has):
  // prints "n ns gc" lines for the parent.
  const label = arg('--child');
  const c = label === 'rr-peer'
    ? { label: 'rr', sched: 'rr', shape: 'mixed' as Shape, miss: false }
    : [...SCHEDULER_NAMES.map((s): Case => ({ label: s, sched: s, shape: 'mixed', miss: false })), ...EXTRA].find((x) => x.label === label);
  if (c === undefined) throw new Error(`no case "${label}"`);
  for (const n of SIZES) {
    const r = best(c, n);
    console.log(`${n} ${r.ns} ${r.gc}`);
  }
} else {
  const { execFileSync } = await import('node:child_process');
  const self = process.argv[1];
  const child = (label: string): Map<number, Result> => {
    const out = execFileSync(process.execPath, [
      self, '--child', label, '--sizes', SIZES.join(','), '--ms', String(MIN_MS), '--rounds', String(ROUNDS),
    ], { encoding: 'utf8' });
    const m = new Map<number, Result>();
    for (const line of out.trim().split('\n')) {
      const [n, ns, gc] = line.split(' ').map(Number);
      m.set(n, { ns, gc, picks: 0, fails: 0 });
    }
    return m;
  };
  console.log(`CPU ns per step (schedule + bindDest + the steady release), best of ${ROUNDS} x >= ${MIN_MS} ms of CPU, each scheduler in its own process`);
  console.log(`goal <= ${GOAL_NS} ns at ${GOAL_DESTS} dests; peer: rr on the mixed service, measured in this run`);
  console.log('sparse: 99 % of dests at weight 0; skew: one dest at weight 1000, the rest 1; miss: every flow a new lblc/lblcr address');
  console.log(`${'sched'.padEnd(11)} ${pad('dests', 6)} ${pad('ns/pick', 9)} ${pad('rr ns', 7)} ${pad('x rr', 7)} ${pad('goal', 5)} ${pad('', 4)} ${pad('gc', 4)}`);
  const peers = child('rr-peer');
  let failed = 0;
  for (const c of cases) {
    const rs = child(c.label);
    for (const n of SIZES) {
      const r = rs.get(n) as Result;
      const peer = (peers.get(n) as Result).ns;
      const atGoal = n === GOAL_DESTS;
      const ok = !atGoal || r.ns <= GOAL_NS;
      if (!ok) failed++;
      console.log(
        `${c.label.padEnd(11)} ${pad(n, 6)} ${pad(r.ns.toFixed(1), 9)} ${pad(peer.toFixed(1), 7)} ${pad((r.ns / peer).toFixed(2), 7)} ` +
        `${pad(atGoal ? GOAL_NS : '', 5)} ${pad(atGoal ? (ok ? 'pass' : 'FAIL') : '', 4)} ${pad(r.gc, 4)}`,
      );
    }
  }
  console.log(failed === 0 ? 'every case meets the goal' : `${failed} case(s) miss the goal`);
}
if (sink === 0.5) console.log('');
