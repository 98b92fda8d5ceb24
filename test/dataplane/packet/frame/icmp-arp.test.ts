import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ARPOP_REPLY, arpAnswerInPlace, arpIsEthIpv4, arpOp, arpSpa, arpTpa, arpWrite, ARPOP_REQUEST,
} from '../../../../src/dataplane/packet/frame/arp.js';
import { rd16, rd32 } from '../../../../src/dataplane/packet/frame/checksum.js';
import {
  icmpBuildErrorV4, icmpBuildErrorV6, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, mayAnswerWithError,
} from '../../../../src/dataplane/packet/frame/icmp.js';
import { Parsed, parseFrame, parseQuoted, PARSE_OK } from '../../../../src/dataplane/packet/frame/parse.js';
import { ipv4HeaderOk, l4ChecksumOk, loadFrame, refSum } from '../fixtures.js';

test('the kernel\'s ARP request for 192.0.2.2 is answered in place with our MAC', () => {
  const b = loadFrame('arp-request').bytes.slice();
  assert.ok(arpIsEthIpv4(b, 14, b.length));
  assert.equal(arpOp(b, 14), ARPOP_REQUEST);
  assert.equal(arpTpa(b, 14), 0xc0000202);
  const asker = b.slice(6, 12);
  const mac = Uint8Array.from([2, 0, 0, 0, 0, 9]);
  arpAnswerInPlace(b, 0, 14, mac, 0);
  assert.equal(arpOp(b, 14), ARPOP_REPLY);
  assert.equal(arpSpa(b, 14), 0xc0000202);
  assert.equal(arpTpa(b, 14), 0xc0000201);
  assert.deepEqual([...b.subarray(0, 6)], [...asker]);
  assert.deepEqual([...b.subarray(6, 12)], [...mac]);
  assert.deepEqual([...b.subarray(22, 28)], [...mac]);
  assert.deepEqual([...b.subarray(32, 38)], [...asker]);
});

test('a gratuitous ARP announces the address as sender and target, broadcast', () => {
  const b = new Uint8Array(64);
  const mac = Uint8Array.from([2, 0, 0, 0, 0, 9]);
  assert.equal(arpWrite(b, 0, ARPOP_REQUEST, mac, 0, 0xcb00710a, 0xcb00710a, null, 0), 60);
  assert.deepEqual([...b.subarray(0, 6)], [255, 255, 255, 255, 255, 255]);
  assert.equal(rd16(b, 12), 0x0806);
  assert.equal(arpSpa(b, 14), 0xcb00710a);
  assert.equal(arpTpa(b, 14), 0xcb00710a);
});

test('port unreachable about a SYN quotes it, verifies, and parses back to the same flow', () => {
  const syn = loadFrame('tcp-syn-v4').bytes;
  const b = new Uint8Array(2048);
  b.set(syn, 1024);
  const p = new Parsed();
  assert.equal(parseFrame(b, 1024, syn.length, p), PARSE_OK);
  assert.ok(mayAnswerWithError(p));
  const n = icmpBuildErrorV4(b, 14, 1000, p.l3, p.ipEnd, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, 0xcb00710a, rd32(b, p.l3 + 12), 7);
  assert.equal(n, 28 + (p.ipEnd - p.l3));
  b[12] = 0x08; b[13] = 0;
  const e = new Parsed();
  assert.equal(parseFrame(b, 0, 14 + n, e), PARSE_OK);
  assert.equal(e.icmpType, 3);
  assert.equal(e.icmpCode, 3);
  assert.ok(ipv4HeaderOk(b, 14));
  assert.ok(l4ChecksumOk(b, 0));
  const q = new Parsed();
  assert.equal(parseQuoted(b, e.l4 + 8, e.ipEnd, 2, q), PARSE_OK);
  assert.equal(q.dport, p.dport);
  assert.equal(q.sport, p.sport);
  // An error is never sent about an error.
  assert.equal(mayAnswerWithError(e), false);
});

test('ICMPv6 errors carry a checksum over the pseudo header', () => {
  const syn = loadFrame('tcp-syn-v6').bytes;
  const b = new Uint8Array(4096);
  b.set(syn, 2048);
  const p = new Parsed();
  parseFrame(b, 2048, syn.length, p);
  const n = icmpBuildErrorV6(b, 14, 1500, p.l3, p.ipEnd, 1, 4, 0, p.l3 + 24, p.l3 + 8);
  b[12] = 0x86; b[13] = 0xdd;
  assert.ok(n > 48);
  assert.ok(l4ChecksumOk(b, 0));
  assert.equal(refSum([...b.subarray(14 + 24, 14 + 40)]), refSum([...syn.subarray(14 + 8, 14 + 24)]));
});

test('errors quote at most 576 bytes in all over IPv4', () => {
  const big = loadFrame('ipv4-frag-first').bytes;
  const b = new Uint8Array(4096);
  b.set(big, 2048);
  const p = new Parsed();
  parseFrame(b, 2048, big.length, p);
  assert.equal(icmpBuildErrorV4(b, 14, 2000, p.l3, p.ipEnd, 3, 4, 1400, 1, 2, 0), 576);
  assert.equal(icmpBuildErrorV4(b, 14, 100, p.l3, p.ipEnd, 3, 4, 1400, 1, 2, 0), 0);
});
