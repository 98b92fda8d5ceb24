import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  completePartial, csumAdd, csumFinish, csumFold, csumReplace16, csumReplace32, csumReplacePartial32, rd16, wr16,
} from '../../../../src/dataplane/packet/frame/checksum.js';
import { allFrames, l4ChecksumOk, refSum, rng } from '../fixtures.js';

test('the RFC 1071 example sums to ddf2', () => {
  // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 → one's-complement sum ddf2.
  const b = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.equal(csumFold(csumAdd(b, 0, 8, 0)), 0xddf2);
  assert.equal(csumFinish(b, 0, 8, 0), 0xddf2 ^ 0xffff);
});

test('odd lengths pad the last byte with zero and never read past the end', () => {
  const b = Uint8Array.from([0x12, 0x34, 0x56, 0xff]);
  assert.equal(csumFold(csumAdd(b, 0, 3, 0)), refSum([0x12, 0x34, 0x56]));
});

test('incremental updates (RFC 1624 eqn. 3) equal a full recomputation', () => {
  const next = rng(1624);
  for (let round = 0; round < 2000; round++) {
    const len = 2 * (4 + (next() % 40));
    const b = new Uint8Array(len);
    for (let i = 0; i < len; i++) b[i] = next() & 0xff;
    wr16(b, 0, 0);
    wr16(b, 0, csumFinish(b, 0, len, 0));
    const at = 2 + 2 * (next() % ((len - 4) / 2));
    if (round % 2 === 0) {
      const old = rd16(b, at);
      const neu = next() & 0xffff;
      wr16(b, at, neu);
      wr16(b, 0, csumReplace16(rd16(b, 0), old, neu));
    } else if (at + 4 <= len) {
      const old = ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
      const neu = next() >>> 0;
      b[at] = neu >>> 24; b[at + 1] = (neu >>> 16) & 255; b[at + 2] = (neu >>> 8) & 255; b[at + 3] = neu & 255;
      wr16(b, 0, csumReplace32(rd16(b, 0), old, neu));
    }
    assert.equal(refSum([...b]), 0xffff, `round ${round}`);
  }
});

test('completing the partial checksums veth handed over gives checksums that verify', () => {
  const partial = allFrames().filter((f) => (f.flags & 1) !== 0);
  assert.ok(partial.length >= 4, 'the recorded TCP and UDP frames arrived with partial checksums');
  for (const f of partial) {
    const b = f.bytes.slice();
    assert.equal(l4ChecksumOk(b, 0), false, `${f.name} arrives with only the pseudo-header sum`);
    assert.ok(completePartial(b, f.csumStart, f.csumOffset, b.length, b[f.csumStart - 40 + 6] === 17 || b[23] === 17));
    assert.ok(l4ChecksumOk(b, 0), f.name);
  }
});

test('a partial checksum follows an address change the way the kernel updates it', () => {
  for (const f of allFrames().filter((x) => (x.flags & 1) !== 0 && x.bytes[12] === 0x08)) {
    const b = f.bytes.slice();
    const field = f.csumStart + f.csumOffset;
    const old = ((b[30] << 24) | (b[31] << 16) | (b[32] << 8) | b[33]) >>> 0;
    const neu = 0xcb007105; // 203.0.113.5
    b[30] = 203; b[31] = 0; b[32] = 113; b[33] = 5;
    wr16(b, field, csumReplacePartial32(rd16(b, field), old, neu));
    completePartial(b, f.csumStart, f.csumOffset, 14 + ((b[16] << 8) | b[17]), b[23] === 17);
    assert.ok(l4ChecksumOk(b, 0), f.name);
  }
});

test('completePartial refuses offsets outside the frame and changes nothing', () => {
  const b = new Uint8Array(40).fill(7);
  assert.equal(completePartial(b, 30, 9, 40, false), false);
  assert.equal(completePartial(b, -1, 0, 40, false), false);
  assert.equal(completePartial(b, 0, 0, 41, false), false);
  assert.deepEqual([...b], new Array(40).fill(7));
});
