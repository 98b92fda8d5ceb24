import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rd16, rd32 } from '../../../../src/dataplane/packet/frame/checksum.js';
import { gsoSegmentLen, gsoSegments, gsoWriteSegment } from '../../../../src/dataplane/packet/frame/gso.js';
import { Parsed, parseFrame } from '../../../../src/dataplane/packet/frame/parse.js';
import { ipv4HeaderOk, l4ChecksumOk, loadFrame } from '../fixtures.js';

test('a TCP super-frame is cut into mss-sized segments with their own length, ID, sequence, flags and checksums', () => {
  const f = loadFrame('tcp-psh-v4'); // curl's GET: PSH+ACK with a payload
  const b = new Uint8Array(8192);
  b.set(f.bytes);
  const p = new Parsed();
  assert.equal(parseFrame(b, 0, f.bytes.length, p), 0);
  const payStart = p.l4 + p.l4HdrLen;
  const payload = [...b.subarray(payStart, p.ipEnd)];
  const mss = 20;
  const n = gsoSegments(p, mss);
  assert.equal(n, Math.ceil(payload.length / mss));
  const seq = rd32(b, p.l4 + 4);
  const id = rd16(b, p.l3 + 4);
  const joined: number[] = [];
  for (let k = 0; k < n; k++) {
    const out = 4096 + k * 128;
    b.set(b.subarray(0, 14), out - 14); // an Ethernet header in front, for the checkers
    const len = gsoWriteSegment(b, p, mss, k, n, out);
    assert.equal(len, gsoSegmentLen(p, mss, k));
    const seg = b.slice(out - 14, out + len);
    assert.equal(rd16(seg, 16), len);
    assert.equal(rd16(seg, 18), (id + k) & 0xffff);
    assert.ok(ipv4HeaderOk(seg, 14));
    assert.ok(l4ChecksumOk(seg, 0), `segment ${k}`);
    assert.equal(rd32(seg, 14 + 20 + 4), (seq + k * mss) >>> 0);
    assert.equal(seg[14 + 20 + 13] & 0x08, k === n - 1 ? 0x08 : 0, 'PSH only on the last');
    joined.push(...seg.subarray(14 + (p.l4 + p.l4HdrLen - p.l3)));
  }
  assert.deepEqual(joined, payload);
});

test('only TCP frames with a header are cut', () => {
  const p = new Parsed();
  const u = loadFrame('udp-v4').bytes;
  parseFrame(u, 0, u.length, p);
  assert.equal(gsoSegments(p, 100), 0);
});
