import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completePartial, rd16, rd32 } from '../../../../src/dataplane/packet/frame/checksum.js';
import { ipv4DecTtl } from '../../../../src/dataplane/packet/frame/ipv4.js';
import { Parsed, parseFrame } from '../../../../src/dataplane/packet/frame/parse.js';
import {
  rewriteDaddrV4, rewriteDaddrV6, rewriteDport, rewriteSaddrV4, rewriteSport,
} from '../../../../src/dataplane/packet/frame/rewrite.js';
import { ipv4HeaderOk, l4ChecksumOk, loadFrame } from '../fixtures.js';

function completed(name: string): { b: Uint8Array; p: Parsed } {
  const f = loadFrame(name);
  const b = f.bytes.slice();
  if (f.flags & 1) completePartial(b, f.csumStart, f.csumOffset, b.length, name.startsWith('udp'));
  const p = new Parsed();
  parseFrame(b, 0, b.length, p);
  return { b, p };
}

test('DNAT of a TCP SYN to 198.51.100.11:8080 keeps both checksums right (ip_vs_nat_xmit)', () => {
  const { b, p } = completed('tcp-syn-v4');
  rewriteDaddrV4(b, p, 0xc6336411, false);
  rewriteDport(b, p, 8080, false);
  ipv4DecTtl(b, 14);
  assert.equal(rd32(b, 30), 0xc6336411);
  assert.equal(rd16(b, 36), 8080);
  assert.ok(ipv4HeaderOk(b, 14));
  assert.ok(l4ChecksumOk(b, 0));
});

test('SNAT of a UDP reply back to the VIP keeps both checksums right', () => {
  const { b, p } = completed('udp-v4');
  rewriteSaddrV4(b, p, 0xcb00710a, false);
  rewriteSport(b, p, 5353, false);
  assert.ok(ipv4HeaderOk(b, 14));
  assert.ok(l4ChecksumOk(b, 0));
});

test('a UDP datagram without checksum (0) keeps 0 through NAT', () => {
  const { b, p } = completed('udp-v4');
  b[40] = 0; b[41] = 0;
  rewriteDaddrV4(b, p, 0xc6336411, false);
  rewriteDport(b, p, 9, false);
  assert.equal(rd16(b, 40), 0);
});

test('rewriting a partial checksum then completing it gives the same bytes as completing first', () => {
  for (const name of ['tcp-syn-v4', 'udp-v4', 'tcp-psh-v4']) {
    const f = loadFrame(name);
    const a = completed(name);
    rewriteDaddrV4(a.b, a.p, 0xc6336411, false);
    rewriteDport(a.b, a.p, 8080, false);
    const b = f.bytes.slice();
    const p = new Parsed();
    parseFrame(b, 0, b.length, p);
    rewriteDaddrV4(b, p, 0xc6336411, true);
    rewriteDport(b, p, 8080, true);
    completePartial(b, f.csumStart, f.csumOffset, b.length, name.startsWith('udp'));
    assert.deepEqual([...b], [...a.b], name);
  }
});

test('IPv6 DNAT fixes the transport checksum word by word', () => {
  const { b, p } = completed('tcp-syn-v6');
  rewriteDaddrV6(b, p, 0x20010db8, 0, 0, 0x11, false);
  rewriteDport(b, p, 8080, false);
  assert.equal(rd32(b, 14 + 24), 0x20010db8);
  assert.equal(rd32(b, 14 + 36), 0x11);
  assert.ok(l4ChecksumOk(b, 0));
});

test('TTL decrement keeps the header checksum right for every TTL', () => {
  const { b } = completed('udp-v4');
  for (let i = 0; i < 300; i++) {
    ipv4DecTtl(b, 14);
    assert.ok(ipv4HeaderOk(b, 14), `ttl ${b[22]}`);
  }
});
