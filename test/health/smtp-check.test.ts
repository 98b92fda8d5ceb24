// SMTP_CHECK against a small scripted SMTP server on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { createSmtpProbe, smtpStatus } from '../../src/health/smtp-check.js';
import type { SmtpCheck } from '../../src/config/keepalived/types.js';
import { checkerOf } from './servers.js';

async function smtpServer(banner: string, heloReply: string): Promise<{ port: number; seen: string[]; close: () => void }> {
  const seen: string[] = [];
  const srv = createServer((s: Socket) => {
    s.write(banner);
    let buf = '';
    s.on('data', (b) => {
      buf += b.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        seen.push(line);
        if (line.startsWith('HELO')) s.write(heloReply);
        else if (line === 'QUIT') s.end('221 bye\r\n');
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as { port: number }).port, seen, close: () => srv.close() };
}

const run = (c: SmtpCheck) => createSmtpProbe(c).run({ url: 0, signal: new AbortController().signal });

test('smtp status codes: three digits then a space or the end of the line', () => {
  assert.deepEqual(['220 mx ready', '250', '220-multi', '2200 x', 'abc'].map(smtpStatus), [220, 250, -1, -1, -1]);
});

test('SMTP_CHECK: banner 220, HELO with helo_name answered 250, QUIT', async () => {
  const s = await smtpServer('220 mx.example.test ESMTP\r\n', '250 mx.example.test\r\n');
  try {
    const c = checkerOf(' SMTP_CHECK { helo_name lvs.example.test\n connect_timeout 1 }', s.port) as SmtpCheck;
    const r = await run(c);
    assert.equal(r.ok, true, r.detail);
    assert.deepEqual(s.seen, ['HELO lvs.example.test', 'QUIT']);
    const d = checkerOf(' SMTP_CHECK { }', s.port) as SmtpCheck;
    await run(d);
    assert.equal(s.seen[2], 'HELO smtpchecker.keepalived.org');
  } finally {
    s.close();
  }
});

test('SMTP_CHECK fails on a bad banner, a multi-line banner (as keepalived), or a refused HELO', async () => {
  for (const [banner, helo, why] of [['554 go away\r\n', '250 ok\r\n', /Bad greeting banner/], ['220-first\r\n220 second\r\n', '250 ok\r\n', /Bad greeting banner/], ['220 ok\r\n', '500 no\r\n', /Bad HELO response/]] as const) {
    const s = await smtpServer(banner, helo);
    try {
      const r = await run(checkerOf(' SMTP_CHECK { connect_timeout 1 }', s.port) as SmtpCheck);
      assert.equal(r.ok, false);
      assert.match(r.detail, why);
    } finally {
      s.close();
    }
  }
});
