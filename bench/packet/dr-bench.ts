// Packets per second forwarded in DR mode with small frames by the packet dataplane, against the
// kernel's own IP forwarding of the same stream in the same namespaces (goal: ratio >= 0.5).
// Needs root and the native addon. Run: npx tsc -p . && node dist/bench/packet/dr-bench.js [seconds] [rounds]
//
// Namespaces on one bridge: gen (198.51.100.100) sends 60-byte UDP frames to VIP:9 through the
// director (198.51.100.1, its MAC as next hop in both runs); the sink (198.51.100.11) counts
// what arrives. Kernel run: ip_forward=1, route VIP via the sink. tslvs run: ip_forward=0,
// the packet dataplane (in this process) forwards with DR to the sink. The generator and the
// counter are child processes using the same addon (one sendmmsg / recvmmsg per batch).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Ipvs } from '../../src/core/ipvs.js';
import { createDataplane } from '../../src/dataplane/packet/index.js';
import { META_STRIDE, openPacketSocket } from '../../src/dataplane/packet/native.js';
import { Lab, nsExec } from '../../test/dataplane/packet/netns.js';
import { addService } from '../../test/dataplane/packet/table.js';

const VIP = '203.0.113.10';
const VIP_U32 = 0xcb00710a;
const FLOWS = 64;

function macOf(ns: string): number[] {
  const out = nsExec(ns, 'cat', '/sys/class/net/eth0/address').trim();
  return out.split(':').map((x) => parseInt(x, 16));
}

function csum(b: Uint8Array, o: number, n: number, init = 0): number {
  let s = init;
  for (let i = 0; i < n; i += 2) s += (b[o + i] << 8) | (i + 1 < n ? b[o + i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return ~s & 0xffff;
}

/** Child: send 60-byte UDP frames to VIP:9 for `seconds`; prints frames sent. */
function gen(ns: string, dstMac: number[], seconds: number): void {
  const { addon, h } = openPacketSocket('eth0', { netns: ns, slots: 1, vnetHdr: 0 });
  const b = new Uint8Array(h.buffer);
  const n = h.txBatch;
  for (let i = 0; i < n; i++) {
    const o = h.scratchOffset + i * 64;
    b.set(dstMac, o);
    b.set(h.mac, o + 6);
    b[o + 12] = 8; b[o + 13] = 0;
    const l3 = o + 14;
    b.set([0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 51, 100, 100, 203, 0, 113, 10], l3);
    const c = csum(b, l3, 20);
    b[l3 + 10] = c >> 8; b[l3 + 11] = c & 255;
    const u = l3 + 20;
    const sport = 10000 + (i % FLOWS);
    b.set([sport >> 8, sport & 255, 0, 9, 0, 26, 0, 0], u);
    b.fill(0x61, u + 8, u + 26);
    const pseudo = (198 << 8 | 51) + (100 << 8 | 100) + (203 << 8 | 0) + (113 << 8 | 10) + 17 + 26;
    const uc = csum(b, u, 26, pseudo) || 0xffff;
    b[u + 6] = uc >> 8; b[u + 7] = uc & 255;
    const m = i * META_STRIDE;
    h.txMeta[m] = o;
    h.txMeta[m + 1] = 60;
  }
  let sent = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) sent += addon.send(h, n);
  addon.close(h);
  console.log(String(sent));
}

/** Child: count UDP frames to VIP:9 for `seconds` after the first one; prints the count. */
async function sink(ns: string, seconds: number): Promise<void> {
  const { addon, h } = openPacketSocket('eth0', { netns: ns, slots: 256, slotSize: 2304, vnetHdr: 0 });
  // ld [30]; jeq VIP; ret 0 / ret 64
  const prog = new Uint8Array(32);
  const dv = new DataView(prog.buffer);
  dv.setUint16(0, 0x20, true); dv.setUint32(4, 30, true);
  dv.setUint16(8, 0x15, true); prog[10] = 0; prog[11] = 1; dv.setUint32(12, VIP_U32, true);
  dv.setUint16(16, 0x06, true); dv.setUint32(20, 64, true);
  dv.setUint16(24, 0x06, true); dv.setUint32(28, 0, true);
  addon.setFilter(h, prog);
  let count = 0;
  let start = 0;
  await new Promise<void>((resolve) => {
    addon.poll(h, () => {
      for (let n = addon.recv(h); n > 0; n = addon.recv(h)) {
        if (start === 0) start = performance.now();
        count += n;
      }
      if (start !== 0 && performance.now() - start > seconds * 1000) resolve();
    });
    setTimeout(resolve, (seconds + 5) * 1000);
  });
  addon.pollStop(h);
  addon.close(h);
  const elapsed = start === 0 ? 1 : (performance.now() - start) / 1000;
  console.log(String(Math.round(count / elapsed)));
}

function child(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    c.on('exit', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`${args[0]} exited ${code}`))));
  });
}

async function measure(lab: { gen: string; sink: string; dirMac: number[] }, seconds: number): Promise<{ sentPps: number; gotPps: number }> {
  const counter = child(['sink', lab.sink, String(seconds)]);
  await new Promise((r) => setTimeout(r, 500));
  const sent = await child(['gen', lab.gen, lab.dirMac.join(','), String(seconds + 0.5)]);
  const gotPps = await counter;
  return { sentPps: Math.round(sent / (seconds + 0.5)), gotPps };
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 3);
  const lab = new Lab();
  try {
    const br = lab.bridge('br');
    const g = lab.ns('gen');
    const d = lab.ns('dir');
    const s = lab.ns('sink');
    lab.attach(g, 'eth0', br, 'g');
    lab.attach(d, 'eth0', br, 'd');
    lab.attach(s, 'eth0', br, 's');
    nsExec(g, 'ip', 'addr', 'add', '198.51.100.100/24', 'dev', 'eth0');
    nsExec(d, 'ip', 'addr', 'add', '198.51.100.1/24', 'dev', 'eth0');
    nsExec(s, 'ip', 'addr', 'add', '198.51.100.11/24', 'dev', 'eth0');
    nsExec(d, 'sysctl', '-qw', 'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.eth0.send_redirects=0');
    // The sink does not hold the VIP: with forwarding off its kernel drops the datagrams silently
    // after the counter's socket has seen them, the cheapest end for the stream in both runs.
    // Let the bridge learn every MAC (the director pings the sink, the generator pings the director).
    for (const [ns, to] of [[d, '198.51.100.11'], [g, '198.51.100.1']]) {
      try { nsExec(ns, 'ping', '-c3', '-i0.2', '-W2', to); } catch { /* one answer is enough; the runs check delivery */ }
    }
    const dirMac = macOf(d);
    const info = { gen: g, sink: s, dirMac };

    // Alternate the two runs, so load from elsewhere on the machine hits both alike; report medians.
    const rounds = Number(process.argv[3] ?? 3);
    const kernel: { sentPps: number; gotPps: number }[] = [];
    const ours: { sentPps: number; gotPps: number }[] = [];
    const oursMmsg: { sentPps: number; gotPps: number }[] = [];
    let extra = '';
    for (let r = 0; r < rounds; r++) {
      nsExec(d, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
      nsExec(d, 'ip', 'route', 'add', `${VIP}/32`, 'via', '198.51.100.11');
      kernel.push(await measure(info, seconds));
      nsExec(d, 'ip', 'route', 'del', `${VIP}/32`);
      nsExec(d, 'sysctl', '-qw', 'net.ipv4.ip_forward=0');

      for (const ring of [true, false]) {
        const ipvs = new Ipvs({ random: () => 4 });
        const t0 = performance.now();
        const dp = await createDataplane({ ipvs, now: () => performance.now() - t0, settings: { interface: 'eth0', netns: d, ring } });
        await dp.apply(addService(ipvs, 'udp', VIP, 9, 'rr', [{ addr: '198.51.100.11', method: 'route' }]));
        await new Promise((res) => setTimeout(res, 300));
        const tick = setInterval(() => ipvs.tick(performance.now() - t0), 1000);
        (ring ? ours : oursMmsg).push(await measure(info, seconds));
        clearInterval(tick);
        const pd = dp as unknown as { batches: number; forwarder: { rxFrames: number } };
        if (ring) extra = `drops ${JSON.stringify(dp.stats().drops)}, ${(pd.forwarder.rxFrames / Math.max(1, pd.batches)).toFixed(1)} frames per batch`;
        await dp.close();
      }
    }
    const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const k = med(kernel.map((x) => x.gotPps));
    const o = med(ours.map((x) => x.gotPps));
    console.log(`packet DR forwarding of 60-byte UDP frames (${FLOWS} flows), ${rounds} rounds of ${seconds} s, medians`);
    console.log(`  kernel ip_forward   offered ${med(kernel.map((x) => x.sentPps))} pps, delivered ${k} pps  [${kernel.map((x) => x.gotPps).join(' ')}]`);
    const om = med(oursMmsg.map((x) => x.gotPps));
    console.log(`  tslvs DR, V3 ring   offered ${med(ours.map((x) => x.sentPps))} pps, delivered ${o} pps  [${ours.map((x) => x.gotPps).join(' ')}] (${extra})`);
    console.log(`  tslvs DR, recvmmsg  offered ${med(oursMmsg.map((x) => x.sentPps))} pps, delivered ${om} pps  [${oursMmsg.map((x) => x.gotPps).join(' ')}]`);
    console.log(`  ratio tslvs/kernel  ${(o / k).toFixed(2)} with the ring, ${(om / k).toFixed(2)} with recvmmsg (goal >= 0.5)`);
  } finally {
    lab.cleanup();
  }
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'gen') gen(rest[0], rest[1].split(',').map(Number), Number(rest[2]));
else if (mode === 'sink') void sink(rest[0], Number(rest[1]));
else main().catch((e) => { console.error(e); process.exit(1); });
