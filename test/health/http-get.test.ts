// HTTP_GET and SSL_GET against nginx-light and small Node servers: status codes, digests as
// keepalived's genhash computes them (spec 1.9.3 vectors), the exact request bytes, read rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { join } from 'node:path';
import { createHttpProbe, httpDigest, httpRequestBytes, parseResponse } from '../../src/health/http-get.js';
import type { HttpCheck } from '../../src/config/keepalived/types.js';
import { checkerOf, have, startNginx, tempDir } from './servers.js';

const get = (c: HttpCheck, url = 0) => createHttpProbe(c).run({ url, signal: new AbortController().signal });

test('the digest is the MD5 of the body, as genhash prints it (spec vectors)', () => {
  assert.equal(httpDigest(Buffer.from('hello keepalived\n')), 'e05003f6b7448aa2c2497bb671696f04');
  assert.equal(httpDigest(Buffer.from('abc')), '900150983cd24fb0d6963f7d28e17f72');
});

test('the request is keepalived\'s request_template: HTTP/1.0, KeepAliveClient, Host from virtualhost or addr:port', () => {
  const c = checkerOf(' HTTP_GET { url { path /healthz }\n virtualhost www.example.test }', 80) as HttpCheck;
  assert.equal(httpRequestBytes(c, c.urls[0]), 'GET /healthz HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: www.example.test\r\n\r\n');
  const c11 = checkerOf(' HTTP_GET { url { path / }\n http_protocol 1.1 }', 8080) as HttpCheck;
  assert.equal(httpRequestBytes(c11, c11.urls[0]), 'GET / HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: 127.0.0.1:8080\r\n\r\n');
});

test('status line and Content-Length are read as lib/html.c does (three digits then a space; case-sensitive header)', () => {
  assert.equal(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef'))!.body.toString(), 'abc');
  assert.equal(parseResponse(Buffer.from('HTTP/1.1 200\r\n\r\n'))!.statusCode, 0);
  assert.equal(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabcdef'))!.body.toString(), 'abcdef');
  assert.equal(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\n')), null);
});

test('HTTP_GET against nginx: 2xx passes, 404/503 fail unless listed, digest must match', { skip: !have('nginx') && 'nginx-light is not installed' }, async () => {
  const ng = await startNginx({ 'healthz': 'hello keepalived\n', 'abc': 'abc' });
  try {
    const c = checkerOf(` HTTP_GET {
      url { path /healthz
        digest e05003f6b7448aa2c2497bb671696f04 }
      url { path /abc
        digest e05003f6b7448aa2c2497bb671696f04 }
      url { path /missing }
      url { path /missing
        status_code 404 }
      url { path /down
        status_code 200-299 500-599 }
      connect_timeout 2 }`, ng.port) as HttpCheck;
    const results = [];
    for (let i = 0; i < c.urls.length; i++) results.push((await get(c, i)).ok);
    assert.deepEqual(results, [true, false, false, true, true]);
    assert.match((await get(c, 1)).detail, /^MD5 digest error .* 900150983cd24fb0d6963f7d28e17f72$/);
    assert.match((await get(c, 2)).detail, /HTTP status code error .*: 404$/);
  } finally {
    await ng.stop();
  }
});

test('HTTP_GET sends exactly the template bytes and waits for the server to close', async () => {
  let seen = '';
  const srv = createServer((s: Socket) => {
    s.on('data', (b) => {
      seen += b.toString('latin1');
      if (seen.endsWith('\r\n\r\n')) {
        // Content-Length is satisfied early, but keepalived reads on until the connection closes.
        s.write('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok');
        setTimeout(() => s.end(), 100);
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    const c = checkerOf(' HTTP_GET { url { path /x?y=1\n virtualhost v.example.test } }', port) as HttpCheck;
    const r = await get(c);
    assert.equal(r.ok, true, r.detail);
    assert.equal(seen, 'GET /x?y=1 HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: v.example.test\r\n\r\n');
  } finally {
    srv.close();
  }
});

test('HTTP_GET fails on a read timeout (server never closes) and on regex mismatch', async () => {
  const srv = createServer((s: Socket) => s.once('data', () => s.write('HTTP/1.0 200 OK\r\n\r\nstatus: degraded')));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    const c = checkerOf(' HTTP_GET { url { path / }\n connect_timeout 0.3 }', port) as HttpCheck;
    const r = await get(c);
    assert.equal(r.ok, false);
    assert.match(r.detail, /^Timeout HTTP read/);
  } finally {
    srv.close();
  }
  const srv2 = createServer((s: Socket) => s.once('data', () => s.end('HTTP/1.0 200 OK\r\n\r\nstatus: degraded')));
  await new Promise<void>((r) => srv2.listen(0, '127.0.0.1', r));
  const port2 = (srv2.address() as { port: number }).port;
  try {
    const c = checkerOf(' HTTP_GET { url { path /\n regex "status: (ok|fine)" } }', port2) as HttpCheck;
    assert.equal((await get(c)).ok, false);
    const c2 = checkerOf(' HTTP_GET { url { path /\n regex "status: degraded" } }', port2) as HttpCheck;
    assert.equal((await get(c2)).ok, true);
    const c3 = checkerOf(' HTTP_GET { url { path /\n regex "degraded"\n regex_no_match } }', port2) as HttpCheck;
    assert.equal((await get(c3)).ok, false);
  } finally {
    srv2.close();
  }
});

test('SSL_GET speaks TLS and sends the virtualhost as SNI with enable_sni', { skip: !have('openssl') && 'openssl is not installed' }, async () => {
  const t = tempDir('tslvs-tls-');
  try {
    const key = join(t.dir, 'k.pem');
    const cert = join(t.dir, 'c.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=secure.example.test'], { stdio: 'ignore' });
    assert.equal(r.status, 0);
    let sni: string | false = false;
    const srv = createTlsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (s) => {
      sni = (s as unknown as { servername: string | false }).servername;
      s.once('data', () => s.end('HTTP/1.0 200 OK\r\n\r\nsecure'));
    });
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    const port = (srv.address() as { port: number }).port;
    try {
      const c = checkerOf(' SSL_GET { url { path /\n digest 0b0e0dd9b3b2e1e0a68cbb1a1e5c5dd1 }\n url { path / }\n enable_sni\n virtualhost secure.example.test }', port) as HttpCheck;
      assert.equal((await get(c, 1)).ok, true);
      assert.equal(sni, 'secure.example.test');
      assert.equal((await get(c, 0)).ok, false);
    } finally {
      srv.close();
    }
  } finally {
    t.remove();
  }
});
