// DNS_CHECK against dnsmasq (a real DNS server from Debian) and a scripted UDP responder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createDnsProbe, dnsQuery } from '../../src/health/dns-check.js';
import type { DnsCheck } from '../../src/config/keepalived/types.js';
import { checkerOf, have, startDnsmasq } from './servers.js';

const ctx = { vsDelayLoopMs: 1000, randomBytes: (n: number) => new Uint8Array(n).fill(0x42) };
const probe = (c: DnsCheck) => createDnsProbe(c, ctx).run({ url: 0, signal: new AbortController().signal });

test('the query is keepalived\'s: id, RD only, one question, labels, type, class IN; the root is one zero byte', () => {
  assert.equal(dnsQuery(0x4242, 'www.example.test', 1).toString('hex'),
    '424201000001000000000000' + '03777777076578616d706c650474657374' + '00' + '0001' + '0001');
  assert.equal(dnsQuery(1, '', 6).toString('hex'), '000101000001000000000000' + '00' + '0006' + '0001');
  assert.equal(dnsQuery(1, '.', 6).toString('hex'), '000101000001000000000000' + '00' + '0006' + '0001');
});

test('DNS_CHECK against dnsmasq: NOERROR passes, REFUSED (non-zero RCODE) fails', { skip: !have('dnsmasq') && 'dnsmasq is not installed' }, async () => {
  const dns = await startDnsmasq({ 'www.example.test': '192.0.2.5' });
  try {
    const good = checkerOf(' DNS_CHECK { type A\n name www.example.test\n connect_timeout 2 }', dns.port, '', 'UDP') as DnsCheck;
    const r = await probe(good);
    assert.equal(r.ok, true, r.detail);
    const refused = checkerOf(' DNS_CHECK { type A\n name other.example.org\n connect_timeout 2 }', dns.port, '', 'UDP') as DnsCheck;
    const f = await probe(refused);
    assert.equal(f.ok, false);
    assert.match(f.detail, /rcode = [1-9]/);
  } finally {
    await dns.stop();
  }
});

test('DNS_CHECK ignores datagrams with another id or QR clear and waits for the real answer', async () => {
  const srv = createSocket('udp4');
  await new Promise<void>((r) => srv.bind(0, '127.0.0.1', r));
  const port = srv.address().port;
  srv.on('message', (m, from) => {
    const id = m.readUInt16BE(0);
    const reply = (rid: number, flags: number) => { const b = Buffer.from(m); b.writeUInt16BE(rid, 0); b.writeUInt16BE(flags, 2); srv.send(b, from.port, from.address); };
    reply(id ^ 1, 0x8180); // wrong id
    reply(id, 0x0100); // a query, not a response
    srv.send(Buffer.alloc(4), from.port, from.address); // too short
    setTimeout(() => reply(id, 0x8180), 20); // the answer
  });
  try {
    const c = checkerOf(' DNS_CHECK { connect_timeout 1 }', port, '', 'UDP') as DnsCheck;
    assert.equal((await probe(c)).ok, true);
  } finally {
    srv.close();
  }
});

test('DNS_CHECK fails with a read timeout when nothing answers', async () => {
  const srv = createSocket('udp4');
  await new Promise<void>((r) => srv.bind(0, '127.0.0.1', r));
  try {
    const c = checkerOf(' DNS_CHECK { connect_timeout 0.2 }', srv.address().port, '', 'UDP') as DnsCheck;
    assert.deepEqual(await probe(c), { ok: false, detail: 'read timeout from socket' });
  } finally {
    srv.close();
  }
});
