// UDP_CHECK against real UDP sockets on loopback: ICMP port unreachable, silence, replies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createUdpProbe, UDP_BUFSIZE, udpReplyOk } from '../../src/health/udp-check.js';
import type { UdpCheck } from '../../src/config/keepalived/types.js';
import { checkerOf, freePort } from './servers.js';

const ctx = { vsDelayLoopMs: 1000, randomBytes: (n: number) => new Uint8Array(n).fill(7) };
const run = (c: UdpCheck) => createUdpProbe(c, ctx).run({ url: 0, signal: new AbortController().signal });

async function udpServer(onMsg?: (m: Buffer, reply: (b: Buffer) => void) => void) {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const got: Buffer[] = [];
  s.on('message', (m, from) => { got.push(m); onMsg?.(m, (b) => s.send(b, from.port, from.address)); });
  return { port: s.address().port, got, close: () => s.close() };
}

test('reply matching: lengths within min/max, data compared over the shorter length, X nibbles are wildcards', () => {
  const c = { minReplyLength: 2, maxReplyLength: 4, replyData: [0x1c, 0x00, 0x00], replyMask: [0x00, 0xff, 0x0f] };
  assert.equal(udpReplyOk(c, Uint8Array.from([0x1c, 0x99, 0x05, 1])), true);
  assert.equal(udpReplyOk(c, Uint8Array.from([0x1d, 0x99])), false);
  assert.equal(udpReplyOk(c, Uint8Array.from([0x1c, 0x99, 0x15])), false);
  assert.equal(udpReplyOk(c, Uint8Array.from([0x1c])), false);
});

test('a payload whose last byte is ff is refused, as keepalived\'s read_hex_str does (its 0xff end marker)', () => {
  assert.equal((checkerOf(' UDP_CHECK { payload 01 ff }', 53, '', 'UDP') as UdpCheck).payload, null);
  assert.deepEqual((checkerOf(' UDP_CHECK { payload ff 01 }', 53, '', 'UDP') as UdpCheck).payload, [255, 1]);
});

test('UDP_CHECK fails on ICMP port unreachable from a closed port', async () => {
  const port = await freePort();
  const r = await run(checkerOf(' UDP_CHECK { connect_timeout 1 }', port, '', 'UDP') as UdpCheck);
  assert.equal(r.ok, false);
  assert.match(r.detail, /ECONNREFUSED/);
});

test('UDP_CHECK: silence is success unless require_reply; the payload is sent, else 32 random bytes', async () => {
  const s = await udpServer();
  try {
    assert.equal((await run(checkerOf(' UDP_CHECK { connect_timeout 0.2\n payload 01 02 fe }', s.port, '', 'UDP') as UdpCheck)).ok, true);
    assert.equal((await run(checkerOf(' UDP_CHECK { connect_timeout 0.2 }', s.port, '', 'UDP') as UdpCheck)).ok, true);
    assert.equal((await run(checkerOf(' UDP_CHECK { connect_timeout 0.2\n require_reply }', s.port, '', 'UDP') as UdpCheck)).ok, false);
    assert.deepEqual([...s.got[0]], [1, 2, 254]);
    assert.equal(s.got[1].length, UDP_BUFSIZE);
  } finally {
    s.close();
  }
});

test('UDP_CHECK with require_reply checks the reply against the expected bytes', async () => {
  const s = await udpServer((m, reply) => reply(Buffer.from([0x1c, m[0], 0x0a])));
  try {
    assert.equal((await run(checkerOf(' UDP_CHECK { connect_timeout 1\n payload 33\n require_reply 1c XX 0x }', s.port, '', 'UDP') as UdpCheck)).ok, true);
    assert.equal((await run(checkerOf(' UDP_CHECK { connect_timeout 1\n payload 33\n require_reply 1c 33 0b }', s.port, '', 'UDP') as UdpCheck)).ok, false);
    assert.equal((await run(checkerOf(' UDP_CHECK { connect_timeout 1\n require_reply\n min_reply_length 4 }', s.port, '', 'UDP') as UdpCheck)).ok, false);
  } finally {
    s.close();
  }
});
