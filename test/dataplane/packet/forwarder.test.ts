// The Forwarder without sockets: recorded frames in, frames to send out, against a real Ipvs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARPOP_REPLY, ARPOP_REQUEST, arpOp, arpSpa, arpWrite } from '../../../src/dataplane/packet/frame/arp.js';
import { completePartial, rd16, rd32 } from '../../../src/dataplane/packet/frame/checksum.js';
import { Forwarder } from '../../../src/dataplane/packet/forwarder.js';
import { icmpBuildErrorV4 } from '../../../src/dataplane/packet/frame/icmp.js';
import { META_STRIDE } from '../../../src/dataplane/packet/native.js';
import type { Ipvs } from '../../../src/core/ipvs.js';
import { allFrames, ipv4HeaderOk, l4ChecksumOk, loadFrame, refSum, rng } from './fixtures.js';
import { addService, newIpvs } from './table.js';

const MAC = Uint8Array.from([2, 0, 0, 0, 0, 1]);
const RS1_MAC = [2, 0, 0, 0, 1, 11];
const SLOT = 4096;

class Rig {
  readonly buf = new Uint8Array(SLOT * 8 + 65536);
  readonly rx = new Int32Array(64 * META_STRIDE);
  readonly tx = new Int32Array(64 * META_STRIDE);
  readonly fw: Forwarder;
  n = 0;

  constructor(readonly ipvs: Ipvs) {
    this.fw = new Forwarder({
      ipvs, buffer: this.buf, txMeta: this.tx, txCap: 64, scratchStart: SLOT * 8, scratchEnd: SLOT * 8 + 65536,
      mac: MAC, mtu: 1500, local4: 0xc0000201 + 100, answerArp: true,
    });
  }

  /** Puts a frame in the next slot (at +128 headroom) with rx metadata. */
  add(bytes: Uint8Array, flags = 0, csumStart = 0, csumOff = 0): number {
    const off = this.n * SLOT + 128;
    this.buf.set(bytes, off);
    const m = this.n * META_STRIDE;
    this.rx.fill(0, m, m + META_STRIDE);
    this.rx[m] = off; this.rx[m + 1] = bytes.length; this.rx[m + 2] = flags; this.rx[m + 4] = csumStart; this.rx[m + 5] = csumOff;
    this.n++;
    return off;
  }

  run(nowMs = 1000): Uint8Array[] {
    this.fw.env.resetBatch();
    this.fw.processBatch(this.rx, this.n, nowMs);
    this.n = 0;
    const out: Uint8Array[] = [];
    for (let i = 0; i < this.fw.env.txN; i++) out.push(this.buf.slice(this.tx[i * META_STRIDE], this.tx[i * META_STRIDE] + this.tx[i * META_STRIDE + 1]));
    return out;
  }

  /** An ARP reply from ip at mac, as a real server would send it. */
  arpReply(ip: number, mac: number[]): void {
    const b = new Uint8Array(60);
    arpWrite(b, 0, ARPOP_REPLY, Uint8Array.from(mac), 0, ip, 0xc0000265, MAC, 0);
    this.add(b);
  }
}

// record-frames.ts: 192.0.2.1:port → 192.0.2.2:80 (TCP SYN, partial checksum), UDP → 192.0.2.2:53.
const VIP = '192.0.2.2';

function syn(): { bytes: Uint8Array; flags: number; csumStart: number; csumOffset: number } {
  return loadFrame('tcp-syn-v4');
}

test('DR: the SYN goes unchanged but for TTL to the real server\'s MAC, with its checksum completed', () => {
  const ipvs = newIpvs();
  const r = new Rig(ipvs);
  const diff = addService(ipvs, 'tcp', VIP, 80, 'rr', [{ addr: '198.51.100.11', method: 'route' }]);
  for (const s of diff.addedServices) r.fw.addVip(s.addr);
  for (const d of diff.addedDests) r.fw.addDest(d);
  // The dataplane asks for the real server's MAC...
  r.fw.env.resetBatch();
  assert.equal(r.fw.housekeeping(0), 1);
  const req = r.buf.slice(r.tx[0], r.tx[0] + r.tx[1]);
  assert.equal(arpOp(req, 14), ARPOP_REQUEST);
  assert.equal(rd32(req, 14 + 24), 0xc633640b);
  // ...and before the answer, packets for it are dropped.
  const f = syn();
  r.add(f.bytes, f.flags, f.csumStart, f.csumOffset);
  assert.equal(r.run().length, 0);
  assert.equal(r.fw.env.drops[8], 1, 'no-neigh');
  r.arpReply(0xc633640b, RS1_MAC);
  assert.equal(r.run().length, 0);
  r.add(f.bytes, f.flags, f.csumStart, f.csumOffset);
  const [out] = r.run();
  assert.deepEqual([...out.subarray(0, 6)], RS1_MAC);
  assert.deepEqual([...out.subarray(6, 12)], [...MAC]);
  assert.equal(out[22], f.bytes[22] - 1, 'TTL - 1');
  const expect = f.bytes.slice();
  completePartial(expect, f.csumStart, f.csumOffset, expect.length, false);
  assert.deepEqual([...out.subarray(26, 38)], [...expect.subarray(26, 38)], 'addresses unchanged');
  assert.deepEqual([...out.subarray(34)], [...expect.subarray(34)], 'segment unchanged but for the completed checksum');
  assert.ok(ipv4HeaderOk(out, 14));
  assert.ok(l4ChecksumOk(out, 0));
});

test('NAT: the request is DNATed, the reply SNATed back to the VIP and sent to the client\'s MAC', () => {
  const ipvs = newIpvs();
  const r = new Rig(ipvs);
  const diff = addService(ipvs, 'tcp', VIP, 80, 'rr', [{ addr: '198.51.100.11', port: 8080, method: 'masq' }]);
  for (const s of diff.addedServices) r.fw.addVip(s.addr);
  for (const d of diff.addedDests) r.fw.addDest(d);
  r.arpReply(0xc633640b, RS1_MAC);
  r.run();
  const f = syn();
  r.add(f.bytes, f.flags, f.csumStart, f.csumOffset);
  const [out] = r.run();
  assert.equal(rd32(out, 30), 0xc633640b);
  assert.equal(rd16(out, 36), 8080);
  assert.ok(ipv4HeaderOk(out, 14));
  assert.ok(l4ChecksumOk(out, 0));
  // The real server answers 198.51.100.11:8080 → client; make that frame from the request.
  const rep = out.slice();
  for (let i = 0; i < 6; i++) { rep[i] = MAC[i]; rep[6 + i] = RS1_MAC[i]; }
  rep.copyWithin(26, 30, 34);
  rep.set(f.bytes.subarray(26, 30), 30);
  const sport = rd16(f.bytes, 34);
  rep[34] = 8080 >> 8; rep[35] = 8080 & 255; rep[36] = sport >> 8; rep[37] = sport & 255;
  rep[47] = 0x12; // SYN+ACK
  rep[24] = 0; rep[25] = 0; rep[50] = 0; rep[51] = 0;
  // Fresh checksums for the made-up reply (header, then TCP as a full checksum).
  let s = 0; for (let i = 14; i < 34; i += 2) s += (rep[i] << 8) | rep[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  rep[24] = (~s >> 8) & 255; rep[25] = ~s & 255;
  rep[50] = 0; rep[51] = 0;
  let t = (rep[26] << 8 | rep[27]) + (rep[28] << 8 | rep[29]) + (rep[30] << 8 | rep[31]) + (rep[32] << 8 | rep[33]) + 6 + (rep.length - 34);
  for (let i = 34; i < rep.length; i += 2) t += (rep[i] << 8) | (i + 1 < rep.length ? rep[i + 1] : 0);
  while (t > 0xffff) t = (t & 0xffff) + (t >>> 16);
  rep[50] = (~t >> 8) & 255; rep[51] = ~t & 255;
  assert.ok(l4ChecksumOk(rep, 0));
  r.add(rep);
  const [back] = r.run();
  assert.ok(back, 'the reply is forwarded');
  assert.deepEqual([...back.subarray(0, 6)], [...f.bytes.subarray(6, 12)], 'to the MAC the SYN came from');
  assert.equal(rd32(back, 26), 0xc0000202, 'source is the VIP again');
  assert.equal(rd16(back, 34), 80);
  assert.ok(ipv4HeaderOk(back, 14));
  assert.ok(l4ChecksumOk(back, 0));
  assert.equal(ipvs.listConns(1000)[0].state, 'SYN_RECV');
});

test('no destination: ICMP port unreachable from the VIP back to the client (ip_vs_leave)', () => {
  const ipvs = newIpvs();
  const r = new Rig(ipvs);
  const diff = addService(ipvs, 'tcp', VIP, 80, 'rr', []);
  for (const s of diff.addedServices) r.fw.addVip(s.addr);
  const f = syn();
  r.add(f.bytes, f.flags, f.csumStart, f.csumOffset);
  const [err] = r.run();
  assert.equal(err[14 + 9], 1);
  assert.equal(err[34], 3);
  assert.equal(err[35], 3);
  assert.equal(rd32(err, 26), 0xc0000202);
  assert.equal(rd32(err, 30), 0xc0000201);
  assert.deepEqual([...err.subarray(0, 6)], [...f.bytes.subarray(6, 12)]);
  assert.ok(ipv4HeaderOk(err, 14));
  assert.ok(l4ChecksumOk(err, 0));
});

test('ARP requests for a VIP are answered; for other addresses they are not', () => {
  const ipvs = newIpvs();
  const r = new Rig(ipvs);
  for (const s of addService(ipvs, 'tcp', VIP, 80, 'rr', []).addedServices) r.fw.addVip(s.addr);
  r.add(loadFrame('arp-request').bytes); // asks for 192.0.2.2
  const [ans] = r.run();
  assert.equal(arpOp(ans, 14), ARPOP_REPLY);
  assert.equal(arpSpa(ans, 14), 0xc0000202);
  assert.deepEqual([...ans.subarray(22, 28)], [...MAC]);
  const other = loadFrame('arp-request').bytes.slice();
  other[41] = 99;
  r.add(other);
  assert.equal(r.run().length, 0);
});

test('TUN: IPIP to the real server, outer TTL = inner TTL after the decrement, DF copied', () => {
  const ipvs = newIpvs();
  const r = new Rig(ipvs);
  const diff = addService(ipvs, 'tcp', VIP, 80, 'rr', [{ addr: '198.51.100.11', method: 'tunnel' }]);
  for (const s of diff.addedServices) r.fw.addVip(s.addr);
  for (const d of diff.addedDests) r.fw.addDest(d);
  r.arpReply(0xc633640b, RS1_MAC);
  r.run();
  const f = syn();
  r.add(f.bytes, f.flags, f.csumStart, f.csumOffset);
  const [out] = r.run();
  assert.equal(out.length, f.bytes.length + 20);
  assert.equal(out[14 + 9], 4, 'IPIP');
  assert.equal(rd32(out, 30), 0xc633640b);
  assert.equal(rd32(out, 26), 0xc0000201 + 100);
  assert.equal(out[22], f.bytes[22] - 1);
  assert.equal(out[34 + 8], f.bytes[22] - 1, 'inner TTL');
  assert.equal(rd16(out, 20) & 0x4000, rd16(f.bytes, 20) & 0x4000);
  assert.ok(ipv4HeaderOk(out, 14));
  assert.ok(ipv4HeaderOk(out, 34));
  assert.deepEqual([...out.subarray(0, 6)], RS1_MAC);
});

test('TUN: a DF packet that no longer fits gets "fragmentation needed" with MTU - 20', () => {
  const ipvs = newIpvs();
  const r = new Rig(ipvs);
  const diff = addService(ipvs, 'tcp', VIP, 80, 'rr', [{ addr: '198.51.100.11', method: 'tunnel' }]);
  for (const s of diff.addedServices) r.fw.addVip(s.addr);
  for (const d of diff.addedDests) r.fw.addDest(d);
  r.arpReply(0xc633640b, RS1_MAC);
  r.run();
  // A 1500-byte SYN with DF (padding as payload; options are not needed for the test).
  const f = syn();
  const big = new Uint8Array(1514);
  big.set(f.bytes);
  big[16] = 1500 >> 8; big[17] = 1500 & 255;
  big[24] = 0; big[25] = 0;
  let s = 0; for (let i = 14; i < 34; i += 2) s += (big[i] << 8) | big[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  big[24] = (~s >> 8) & 255; big[25] = ~s & 255;
  r.add(big, f.flags, f.csumStart, f.csumOffset);
  const [err] = r.run();
  assert.equal(err[34], 3);
  assert.equal(err[35], 4);
  assert.equal(rd16(err, 34 + 6), 1480);
  assert.equal(r.fw.env.drops[11], 1);
});

test('NAT: ICMP errors about a connection are translated both ways (ip_vs_nat_icmp)', () => {
  const ipvs = newIpvs();
  const r = new Rig(ipvs);
  const diff = addService(ipvs, 'tcp', VIP, 80, 'rr', [{ addr: '198.51.100.11', port: 8080, method: 'masq' }]);
  for (const s of diff.addedServices) r.fw.addVip(s.addr);
  for (const d of diff.addedDests) r.fw.addDest(d);
  r.arpReply(0xc633640b, RS1_MAC);
  r.run();
  const f = syn();
  r.add(f.bytes, f.flags, f.csumStart, f.csumOffset);
  const [req] = r.run();
  const sport = rd16(f.bytes, 34);
  // The real server's ICMP error about the request it got (client → 198.51.100.11:8080).
  const b = new Uint8Array(2048);
  b.set(req, 1024);
  const n = icmpBuildErrorV4(b, 14, 1000, 1024 + 14, 1024 + req.length, 3, 3, 0, 0xc633640b, 0xc0000201, 1);
  b.set(RS1_MAC, 6); b.set(MAC, 0); b[12] = 8; b[13] = 0;
  r.add(b.slice(0, 14 + n));
  const [toClient] = r.run();
  assert.ok(toClient, 'translated error sent');
  assert.equal(rd32(toClient, 26), 0xc0000202, 'from the VIP');
  assert.deepEqual([...toClient.subarray(0, 6)], [...f.bytes.subarray(6, 12)]);
  const q = 14 + 28;
  assert.equal(rd32(toClient, q + 16), 0xc0000202, 'quoted destination is the VIP');
  assert.equal(rd16(toClient, q + 22), 80, 'quoted port is the virtual port');
  assert.ok(ipv4HeaderOk(toClient, 14));
  assert.ok(ipv4HeaderOk(toClient, q));
  assert.ok(l4ChecksumOk(toClient, 0), 'ICMP checksum over the rewritten quote');
  // The client's ICMP error about a reply it got (VIP:80 → client): to the real server, quoting it.
  const rep = new Uint8Array(74);
  rep.set(f.bytes.subarray(0, 74));
  rep.set([192, 0, 2, 2], 26); rep.set([192, 0, 2, 1], 30);
  rep[34] = 0; rep[35] = 80; rep[36] = sport >> 8; rep[37] = sport & 255;
  const c = new Uint8Array(2048);
  c.set(rep, 1024);
  const m = icmpBuildErrorV4(c, 14, 1000, 1024 + 14, 1024 + 74, 3, 4, 1400, 0xc0000201, 0xc0000202, 2);
  c.set(f.bytes.subarray(0, 12)); c[12] = 8; c[13] = 0;
  r.add(c.slice(0, 14 + m));
  const [toRs] = r.run();
  assert.ok(toRs, 'forwarded to the real server');
  assert.equal(rd32(toRs, 30), 0xc633640b);
  assert.equal(rd32(toRs, q + 12), 0xc633640b, 'quoted source is the real server');
  assert.equal(rd16(toRs, q + 20), 8080);
  assert.ok(ipv4HeaderOk(toRs, 14));
  assert.ok(l4ChecksumOk(toRs, 0));
  assert.deepEqual([...toRs.subarray(0, 6)], RS1_MAC);
});

test('random and mutated frames through the whole forwarder never throw and never write outside their slot', () => {
  const ipvs = newIpvs();
  const r = new Rig(ipvs);
  const diffs = [
    addService(ipvs, 'tcp', VIP, 80, 'rr', [{ addr: '198.51.100.11', port: 8080, method: 'masq' }]),
    addService(ipvs, 'udp', VIP, 53, 'rr', [{ addr: '198.51.100.12', method: 'route' }]),
    addService(ipvs, 'tcp', '2001:db8::2', 81, 'rr', [{ addr: '2001:db8::11', method: 'masq' }]),
    addService(ipvs, 'tcp', VIP, 81, 'rr', [{ addr: '198.51.100.13', method: 'tunnel', tunType: 1, tunPort: 6080 }]),
  ];
  for (const diff of diffs) {
    for (const s of diff.addedServices) r.fw.addVip(s.addr);
    for (const d of diff.addedDests) r.fw.addDest(d);
  }
  r.arpReply(0xc633640b, RS1_MAC);
  r.arpReply(0xc633640c, RS1_MAC);
  r.arpReply(0xc633640d, RS1_MAC);
  r.run();
  const seeds = allFrames();
  const next = rng(0xf0f0);
  for (let round = 0; round < 300; round++) {
    const lens: number[] = [];
    for (let i = 0; i < 8; i++) {
      const s = seeds[next() % seeds.length];
      const b = s.bytes.slice(0, Math.max(0, s.bytes.length - (next() % 3 === 0 ? next() % 40 : 0)));
      for (let k = next() % 6; k > 0 && b.length > 0; k--) b[14 + (next() % Math.max(1, b.length - 14))] = next() & 0xff;
      // Half the time, make the frame one of ours: VIP as destination or a real server as source.
      if (b.length > 34 && b[12] === 8 && next() % 2) b.set(next() % 2 ? [192, 0, 2, 2] : [198, 51, 100, 11], next() % 2 ? 30 : 26);
      const flags = next() % 4 === 0 ? 1 : 0;
      const at = r.add(b, flags, flags ? 34 : 0, flags ? 16 : 0);
      r.buf.fill(0xee, at + b.length, at + b.length + 64);
      lens.push(at + b.length);
    }
    r.run(round * 10);
    for (const end of lens) {
      for (let j = end; j < end + 64; j++) assert.equal(r.buf[j], 0xee, `round ${round}: wrote past a frame`);
    }
  }
});

/** A UDP datagram of `n` payload bytes from 192.0.2.1:5000 to dst:53, cut into IPv4 fragments of up to 1480 bytes. */
function udpFragments(dst: number[], n: number, id: number): Uint8Array[] {
  const udp = new Uint8Array(8 + n);
  udp.set([0x13, 0x88, 0, 53, (8 + n) >> 8, (8 + n) & 255, 0, 0]);
  for (let i = 0; i < n; i++) udp[8 + i] = (i * 7) & 255;
  const pseudo = [192, 0, 2, 1, ...dst, 0, 17, (8 + n) >> 8, (8 + n) & 255];
  const c = refSum([...pseudo, ...udp]) ^ 0xffff;
  udp[6] = c >> 8; udp[7] = c & 255;
  const out: Uint8Array[] = [];
  for (let at = 0; at < udp.length; at += 1480) {
    const part = udp.subarray(at, Math.min(udp.length, at + 1480));
    const f = new Uint8Array(34 + part.length);
    f.set([...MAC, 2, 0, 0, 0, 0, 0x64, 8, 0]);
    const more = at + 1480 < udp.length ? 0x2000 : 0;
    const fo = more | (at / 8);
    f.set([0x45, 0, (20 + part.length) >> 8, (20 + part.length) & 255, id >> 8, id & 255, fo >> 8, fo & 255, 64, 17, 0, 0, 192, 0, 2, 1, ...dst], 14);
    const h = refSum([...f.subarray(14, 34)]) ^ 0xffff;
    f[24] = h >> 8; f[25] = h & 255;
    f.set(part, 34);
    out.push(f);
  }
  return out;
}

test('fragments follow the first one: DR unchanged but TTL, NAT with the address rewritten and the datagram checksum right', () => {
  const ipvs = newIpvs();
  const r = new Rig(ipvs);
  const diffs = [
    addService(ipvs, 'udp', VIP, 53, 'rr', [{ addr: '198.51.100.11', method: 'route' }]),
    addService(ipvs, 'udp', '192.0.2.3', 53, 'rr', [{ addr: '198.51.100.12', method: 'masq' }]),
  ];
  for (const diff of diffs) {
    for (const s of diff.addedServices) r.fw.addVip(s.addr);
    for (const d of diff.addedDests) r.fw.addDest(d);
  }
  r.arpReply(0xc633640b, RS1_MAC);
  r.arpReply(0xc633640c, RS1_MAC);
  r.run();
  // DR: a later fragment before its first is dropped; then the whole datagram goes through.
  const dr = udpFragments([192, 0, 2, 2], 3000, 77);
  r.add(dr[2]);
  assert.equal(r.run().length, 0);
  for (const f of dr) r.add(f);
  const outDr = r.run();
  assert.equal(outDr.length, 3);
  outDr.forEach((o, i) => {
    assert.deepEqual([...o.subarray(0, 6)], RS1_MAC);
    assert.equal(o[22], 63);
    assert.deepEqual([...o.subarray(26, 34)], [...dr[i].subarray(26, 34)]);
    assert.ok(ipv4HeaderOk(o, 14));
  });
  // NAT: every fragment gets the real server as destination; the reassembled UDP checksum verifies.
  const nat = udpFragments([192, 0, 2, 3], 3000, 78);
  for (const f of nat) r.add(f);
  const outNat = r.run();
  assert.equal(outNat.length, 3);
  const udp: number[] = [];
  for (const o of outNat) {
    assert.deepEqual([...o.subarray(30, 34)], [198, 51, 100, 12]);
    assert.ok(ipv4HeaderOk(o, 14));
    udp.push(...o.subarray(34));
  }
  assert.equal(refSum([192, 0, 2, 1, 198, 51, 100, 12, 0, 17, udp.length >> 8, udp.length & 255, ...udp]), 0xffff);
});
