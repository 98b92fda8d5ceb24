import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rd32 } from '../../../../src/dataplane/packet/frame/checksum.js';
import { ND_NA, ND_NS, ndAnswerInPlace, ndLinkAddr, ndTarget, ndValid, ndWriteSolicit } from '../../../../src/dataplane/packet/frame/nd.js';
import { Parsed, parseFrame, PARSE_OK } from '../../../../src/dataplane/packet/frame/parse.js';
import { l4ChecksumOk, loadFrame } from '../fixtures.js';

const MAC = Uint8Array.from([2, 0, 0, 0, 0, 9]);

test('the kernel\'s duplicate address detection probe is valid, has no link-layer option and gets no answer', () => {
  // record-frames.ts caught the DAD solicitation of a's link-local address: source ::, target fe80::...
  const b = loadFrame('icmpv6-ns').bytes.slice();
  const p = new Parsed();
  assert.equal(parseFrame(b, 0, b.length, p), PARSE_OK);
  assert.ok(ndValid(b, p));
  assert.equal(p.icmpType, ND_NS);
  assert.equal(rd32(b, ndTarget(p)), 0xfe800000);
  assert.equal(ndLinkAddr(b, p), -1);
  const before = [...b];
  assert.equal(ndAnswerInPlace(b, p, MAC), 0);
  assert.deepEqual([...b], before);
});

test('answering a solicitation in place gives a solicited advertisement with our MAC and a valid checksum', () => {
  const b = new Uint8Array(86);
  const asker = Uint8Array.from([2, 0, 0, 0, 0, 0x64]);
  const askerIp = new Uint8Array(16); askerIp.set([0x20, 0x01, 0x0d, 0xb8]); askerIp[15] = 0x64;
  ndWriteSolicit(b, 0, asker, askerIp, 0x20010db8, 1, 0, 0x10);
  const p = new Parsed();
  parseFrame(b, 0, b.length, p);
  assert.deepEqual([...b.subarray(ndLinkAddr(b, p), ndLinkAddr(b, p) + 6)], [...asker]);
  assert.equal(ndAnswerInPlace(b, p, MAC), b.length);
  const a = new Parsed();
  assert.equal(parseFrame(b, 0, b.length, a), PARSE_OK);
  assert.ok(ndValid(b, a));
  assert.equal(a.icmpType, ND_NA);
  assert.equal(b[a.l4 + 4] & 0x60, 0x60, 'solicited and override');
  assert.deepEqual([...b.subarray(0, 6)], [...asker]);
  assert.deepEqual([...b.subarray(38, 54)], [...askerIp]);
  assert.deepEqual([rd32(b, 22), rd32(b, 26), rd32(b, 30), rd32(b, 34)], [0x20010db8, 1, 0, 0x10], 'from the target address');
  assert.deepEqual([...b.subarray(ndLinkAddr(b, a), ndLinkAddr(b, a) + 6)], [...MAC]);
  assert.ok(l4ChecksumOk(b, 0));
});

test('a written solicitation goes to the solicited-node group and parses back', () => {
  const b = new Uint8Array(128);
  const src = new Uint8Array(16); src[0] = 0x20; src[1] = 0x01; src[2] = 0x0d; src[3] = 0xb8; src[15] = 1;
  const n = ndWriteSolicit(b, 0, MAC, src, 0x20010db8, 0, 0, 0x00abcdef);
  assert.equal(n, 86);
  assert.deepEqual([...b.subarray(0, 6)], [0x33, 0x33, 0xff, 0xab, 0xcd, 0xef]);
  const p = new Parsed();
  assert.equal(parseFrame(b, 0, n, p), PARSE_OK);
  assert.ok(ndValid(b, p));
  assert.deepEqual([rd32(b, 14 + 24), rd32(b, 14 + 28), rd32(b, 14 + 32), rd32(b, 14 + 36)], [0xff020000, 0, 1, 0xffabcdef]);
  assert.ok(l4ChecksumOk(b, 0));
});

test('hop limits other than 255 make neighbour discovery invalid (RFC 4861 7.1.1)', () => {
  const b = loadFrame('icmpv6-ns').bytes.slice();
  b[21] = 254;
  const p = new Parsed();
  parseFrame(b, 0, b.length, p);
  assert.equal(ndValid(b, p), false);
});
