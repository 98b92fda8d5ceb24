import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wr16 } from '../../../../src/dataplane/packet/frame/checksum.js';
import { ipv4HeaderCsum } from '../../../../src/dataplane/packet/frame/ipv4.js';
import {
  FRAG_FIRST, FRAG_LATER, FRAG_NONE, PARSE_BAD_CSUM, PARSE_BAD_IHL, PARSE_BAD_LENGTH, PARSE_BAD_TCP, PARSE_BAD_VERSION,
  PARSE_NOT_IP, PARSE_OK, PARSE_TRUNCATED, Parsed, parseFrame,
} from '../../../../src/dataplane/packet/frame/parse.js';
import { loadFrame } from '../fixtures.js';

// The fixtures were made by record-frames.ts: 192.0.2.1 / 2001:db8::1 sent to 192.0.2.2 / 2001:db8::2.
const A4 = 0xc0000201;
const B4 = 0xc0000202;

function parse(bytes: Uint8Array): Parsed {
  const p = new Parsed();
  parseFrame(bytes, 0, bytes.length, p);
  return p;
}

test('a TCP SYN from curl parses to its addresses, ports and flags', () => {
  const f = loadFrame('tcp-syn-v4');
  const p = parse(f.bytes);
  assert.equal(p.status, PARSE_OK);
  assert.equal(p.af, 2);
  assert.equal(p.proto, 6);
  assert.equal(p.l3, 14);
  assert.equal(p.l4, 34);
  assert.equal(p.dport, 80); // record-frames.ts: curl to the http.server on port 80 came first
  assert.equal(p.tcpFlags, 0x02);
  assert.equal(p.frag, FRAG_NONE);
  assert.equal((f.bytes[26] << 24 | f.bytes[27] << 16 | f.bytes[28] << 8 | f.bytes[29]) >>> 0, A4);
  assert.equal(p.ipEnd, f.bytes.length);
});

test('IPv6 TCP and UDP find the transport header after the fixed header', () => {
  const t = parse(loadFrame('tcp-syn-v6').bytes);
  assert.equal(t.status, PARSE_OK);
  assert.equal(t.af, 10);
  assert.equal(t.l4, 54);
  assert.equal(t.dport, 81);
  const u = parse(loadFrame('udp-v6').bytes);
  assert.equal(u.status, PARSE_OK);
  assert.equal(u.proto, 17);
  assert.equal(u.dport, 53);
});

test('IP options move the transport header by the IHL', () => {
  const p = parse(loadFrame('ipv4-options').bytes);
  assert.equal(p.status, PARSE_OK);
  assert.ok(p.ipHdrLen > 20);
  assert.equal(p.l4, 14 + p.ipHdrLen);
  assert.equal(p.proto, 1);
  assert.equal(p.icmpType, 8);
});

test('fragments: the first has ports, later ones have no transport header', () => {
  const first = parse(loadFrame('ipv4-frag-first').bytes);
  assert.equal(first.status, PARSE_OK);
  assert.equal(first.frag, FRAG_FIRST);
  assert.equal(first.icmpType, 8);
  const later = parse(loadFrame('ipv4-frag-later').bytes);
  assert.equal(later.status, PARSE_OK);
  assert.equal(later.frag, FRAG_LATER);
  assert.equal(later.l4, -1);
  const v6 = parse(loadFrame('ipv6-frag').bytes);
  assert.equal(v6.status, PARSE_OK);
  assert.equal(v6.frag, FRAG_FIRST);
  assert.equal(v6.proto, 58);
  assert.equal(v6.l4, 14 + 48);
});

test('ARP is recognised as not IP; the kernel\'s own ARP request is kept whole', () => {
  const p = parse(loadFrame('arp-request').bytes);
  assert.equal(p.status, PARSE_NOT_IP);
  assert.equal(p.ethType, 0x0806);
});

test('short frames and every truncation of a valid frame are refused, never thrown on', () => {
  for (const name of ['tcp-syn-v4', 'tcp-syn-v6', 'udp-v4', 'ipv4-options']) {
    const b = loadFrame(name).bytes;
    for (let len = 0; len < b.length; len++) {
      const p = new Parsed();
      const st = parseFrame(b, 0, len, p);
      // Cutting a frame makes the IP length lie (bad-length) or a header short (truncated).
      assert.ok(st === PARSE_TRUNCATED || st === PARSE_BAD_LENGTH, `${name} cut to ${len}: ${st}`);
    }
  }
});

test('a bad IHL, version, total length or header checksum is refused', () => {
  const base = loadFrame('udp-v4').bytes;
  const fix = (b: Uint8Array): void => { wr16(b, 24, 0); wr16(b, 24, ipv4HeaderCsum(b, 14, (b[14] & 15) * 4)); };
  let b = base.slice(); b[14] = 0x44; fix(b);
  assert.equal(parse(b).status, PARSE_BAD_IHL);
  b = base.slice(); b[14] = 0x4f; fix(b);
  assert.equal(parse(b).status, PARSE_TRUNCATED);
  b = base.slice(); b[14] = 0x55;
  assert.equal(parse(b).status, PARSE_BAD_VERSION);
  b = base.slice(); wr16(b, 16, 19); fix(b);
  assert.equal(parse(b).status, PARSE_BAD_LENGTH);
  b = base.slice(); wr16(b, 16, b.length); fix(b);
  assert.equal(parse(b).status, PARSE_BAD_LENGTH);
  b = base.slice(); b[22] ^= 1; // TTL changed without the checksum
  assert.equal(parse(b).status, PARSE_BAD_CSUM);
  b = base.slice(); wr16(b, 38, 7); // UDP length below the header
  assert.equal(parse(b).status, PARSE_BAD_LENGTH);
});

test('a TCP data offset below 5 words or past the segment is refused; odd flags are kept', () => {
  const base = loadFrame('tcp-syn-v4').bytes;
  let b = base.slice(); b[46] = 0x40;
  assert.equal(parse(b).status, PARSE_BAD_TCP);
  b = base.slice(); b[46] = 0xf0;
  assert.equal(parse(b).status, PARSE_BAD_TCP);
  b = base.slice(); b[47] = 0xff; // every flag, SYN+FIN+RST+...
  const p = parse(b);
  assert.equal(p.status, PARSE_OK);
  assert.equal(p.tcpFlags, 0xff);
});

test('Ethernet padding after a short datagram is not part of it', () => {
  const b = new Uint8Array(80);
  b.set(loadFrame('udp-v4').bytes);
  const p = new Parsed();
  assert.equal(parseFrame(b, 0, 80, p), PARSE_OK);
  assert.equal(p.ipEnd, loadFrame('udp-v4').bytes.length);
});

test('an in-band 802.1Q tag is skipped', () => {
  const f = loadFrame('tcp-syn-v4').bytes;
  const b = new Uint8Array(f.length + 4);
  b.set(f.subarray(0, 12));
  b[12] = 0x81; b[13] = 0x00; b[14] = 0x00; b[15] = 0x64;
  b.set(f.subarray(12), 16);
  const p = parse(b);
  assert.equal(p.status, PARSE_OK);
  assert.equal(p.l3, 18);
  assert.equal(p.dport, 80);
});

test('a frame inside a larger buffer is parsed at its offset', () => {
  const f = loadFrame('tcp-syn-v6').bytes;
  const b = new Uint8Array(f.length + 300);
  b.set(f, 123);
  const p = new Parsed();
  assert.equal(parseFrame(b, 123, f.length, p), PARSE_OK);
  assert.equal(p.l4, 123 + 54);
  assert.equal(p.dport, 81);
  void B4;
});
