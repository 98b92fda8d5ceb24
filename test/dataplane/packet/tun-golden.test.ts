// Our IPIP, GUE and GRE encapsulation against the real kernel's (test/golden/packet/tun-kernel.txt,
// recorded in the oracle VM by record-tun-kernel.sh): the client's SYN is rebuilt from the
// kernel's inner packet, sent through the Forwarder with the same table, and the outer headers
// compared field by field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARPOP_REPLY, arpWrite } from '../../../src/dataplane/packet/frame/arp.js';
import { rd16, rd32 } from '../../../src/dataplane/packet/frame/checksum.js';
import { Forwarder } from '../../../src/dataplane/packet/forwarder.js';
import { META_STRIDE } from '../../../src/dataplane/packet/native.js';
import { ipv4HeaderOk, l4ChecksumOk, refSum } from './fixtures.js';
import { addService, newIpvs } from './table.js';

const GOLDEN = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../test/golden/packet/tun-kernel.txt');
const frames = existsSync(GOLDEN)
  ? readFileSync(GOLDEN, 'utf8').split('\n').map((l) => /^(ipip|gue|gre|gre-csum) (\d+) ([0-9a-f]+)$/.exec(l)).filter((m) => m !== null)
  : [];

for (const m of frames) {
  const kind = m![1];
  const k = Uint8Array.from(Buffer.from(m![3], 'hex'));
  test(`${kind}: our outer headers match the kernel's IPVS (Linux 6.1, oracle)`, () => {
    const encap = { ipip: 20, gue: 32, gre: 24, 'gre-csum': 28 }[kind]!;
    const inner = k.slice(14 + encap);
    // The client's packet: one hop earlier (TTL + 1), header checksum recomputed.
    inner[8]++;
    inner[10] = 0; inner[11] = 0;
    const s = refSum([...inner.subarray(0, 20)]) ^ 0xffff;
    inner[10] = s >> 8; inner[11] = s & 255;
    const client = new Uint8Array(14 + inner.length);
    client.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0x64, 8, 0]);
    client.set(inner, 14);

    const ipvs = newIpvs();
    const buf = new Uint8Array(65536 * 2);
    const rx = new Int32Array(8 * META_STRIDE);
    const tx = new Int32Array(8 * META_STRIDE);
    const fw = new Forwarder({
      ipvs, buffer: buf, txMeta: tx, txCap: 8, scratchStart: 65536, scratchEnd: 131072,
      mac: Uint8Array.from([2, 0, 0, 0, 0, 1]), mtu: 1500, local4: 0xc6336401, answerArp: true,
    });
    const vport = rd16(inner, 22);
    const diff = addService(ipvs, 'tcp', '203.0.113.10', vport, 'rr', [
      {
        addr: '198.51.100.11', method: 'tunnel', tunType: { ipip: 0, gue: 1, gre: 2, 'gre-csum': 2 }[kind],
        tunPort: kind === 'gue' ? 6080 : 0, tunFlags: kind === 'gre-csum' ? 1 : 0,
      },
    ]);
    for (const sv of diff.addedServices) fw.addVip(sv.addr);
    for (const d of diff.addedDests) fw.addDest(d);
    arpWrite(buf, 256, ARPOP_REPLY, k, 0, 0xc633640b, 0xc6336401, null, 0);
    rx[0] = 256; rx[1] = 60;
    fw.env.resetBatch();
    fw.processBatch(rx, 1, 0);
    buf.set(client, 1024);
    rx[0] = 1024; rx[1] = client.length;
    // veth may have handed the kernel's frame over with the inner TCP checksum still partial.
    const partial = (Number(m![2]) & 1) !== 0;
    rx[2] = partial ? 1 : 0; rx[4] = partial ? 34 : 0; rx[5] = partial ? 16 : 0;
    fw.env.resetBatch();
    fw.processBatch(rx, 1, 0);
    assert.equal(fw.env.txN, 1);
    const out = buf.slice(tx[0], tx[0] + tx[1]);
    assert.equal(out.length, k.length);
    assert.deepEqual([...out.subarray(0, 6)], [...k.subarray(0, 6)], 'to the real server\'s MAC');
    const o = 14;
    assert.equal(out[o], k[o], 'version and IHL');
    assert.equal(out[o + 1], k[o + 1], 'TOS');
    assert.equal(rd16(out, o + 2), rd16(k, o + 2), 'total length');
    assert.equal(rd16(out, o + 6), rd16(k, o + 6), 'DF copied, no fragment offset');
    if (rd16(k, o + 6) & 0x4000) assert.equal(rd16(out, o + 4), rd16(k, o + 4), 'IP ID (0 with DF, as the kernel sent it)');
    assert.equal(out[o + 8], k[o + 8], 'outer TTL = inner TTL after the decrement');
    assert.equal(out[o + 9], k[o + 9], 'protocol');
    assert.equal(rd32(out, o + 12), rd32(k, o + 12), 'source: the director');
    assert.equal(rd32(out, o + 16), rd32(k, o + 16), 'destination: the real server');
    assert.ok(ipv4HeaderOk(out, o));
    if (kind === 'gue') {
      const u = o + 20;
      const sport = rd16(out, u);
      assert.ok(sport >= 32768 && sport <= 60999, `source port ${sport} in the ephemeral range`);
      assert.equal(rd16(out, u + 2), rd16(k, u + 2), 'destination port');
      assert.equal(rd16(out, u + 4), rd16(k, u + 4), 'UDP length');
      assert.equal(rd16(out, u + 6), rd16(k, u + 6), 'UDP checksum (none without --tun-csum)');
      assert.deepEqual([...out.subarray(u + 8, u + 12)], [...k.subarray(u + 8, u + 12)], 'GUE header');
    }
    if (kind.startsWith('gre')) {
      const g = o + 20;
      assert.deepEqual([...out.subarray(g, g + 4)], [...k.subarray(g, g + 4)], 'GRE flags and protocol');
      if (kind === 'gre-csum') {
        assert.equal(rd16(out, g + 6), 0, 'reserved');
        assert.equal(refSum([...out.subarray(g)]), 0xffff, 'GRE checksum over header and payload');
      }
    }
    // The inner packet is the kernel's byte for byte, but for its checksum, which we complete.
    const ti = 14 + encap;
    const csumAt = ti + 20 + 16;
    assert.deepEqual([...out.subarray(ti, csumAt)], [...k.subarray(ti, csumAt)]);
    assert.deepEqual([...out.subarray(csumAt + 2)], [...k.subarray(csumAt + 2)]);
    assert.ok(l4ChecksumOk(Uint8Array.from([...out.subarray(0, 12), 8, 0, ...out.subarray(ti)]), 0), 'inner TCP checksum complete');
  });
}

test('the kernel\'s encapsulation was recorded for both tunnel types', () => {
  assert.deepEqual(frames.map((m) => m![1]).sort(), ['gre', 'gre-csum', 'gue', 'ipip']);
});
