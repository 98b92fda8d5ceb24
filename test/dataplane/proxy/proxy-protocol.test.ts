// The PROXY protocol header: its bytes as proxy-protocol.txt defines them, and real nginx and
// HAProxy real servers configured to require it reporting the client's address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AF_INET, AF_INET6 } from '../../../src/core/addr.js';
import { encodeProxyV1, encodeProxyV2 } from '../../../src/dataplane/proxy/proxy-protocol.js';
import { Director, freePort, ip, until } from './harness.js';

const VIP = '127.0.0.13';

test('PROXY v1 is one text line: PROXY TCP4|TCP6 src dst sport dport CRLF', () => {
  assert.equal(encodeProxyV1(AF_INET, '198.51.100.7', '192.0.2.1', 51000, 80).toString('latin1'),
    'PROXY TCP4 198.51.100.7 192.0.2.1 51000 80\r\n');
  assert.equal(encodeProxyV1(AF_INET6, '2001:db8::7', '2001:db8::1', 1, 443).toString('latin1'),
    'PROXY TCP6 2001:db8::7 2001:db8::1 1 443\r\n');
});

test('PROXY v2 is the signature, 0x21, the family byte, the length and the addresses in network order', () => {
  const s = ip('198.51.100.7');
  const d = ip('192.0.2.1');
  const v4 = encodeProxyV2(AF_INET, s.w0, 0, 0, 0, d.w0, 0, 0, 0, 51000, 80);
  assert.equal(v4.toString('hex'),
    '0d0a0d0a000d0a515549540a' + '21' + '11' + '000c' + 'c6336407' + 'c0000201' + 'c738' + '0050');
  const s6 = ip('2001:db8::7');
  const d6 = ip('2001:db8::1');
  const v6 = encodeProxyV2(AF_INET6, s6.w0, s6.w1, s6.w2, s6.w3, d6.w0, d6.w1, d6.w2, d6.w3, 1, 443);
  assert.equal(v6.toString('hex'),
    '0d0a0d0a000d0a515549540a' + '21' + '21' + '0024' +
    '20010db8000000000000000000000007' + '20010db8000000000000000000000001' + '0001' + '01bb');
});

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function get(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: VIP, port, path: '/', localAddress, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(body.trim()));
    });
    req.on('error', reject);
  });
}

async function startDaemon(cmd: string, args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d) => { err += d; });
  await until(() => {
    if (child.exitCode !== null) throw new Error(`${cmd} exited: ${err}`);
    const r = spawnSync('sh', ['-c', `ss -ltn 'sport = :${port}' | grep -q LISTEN`]);
    return r.status === 0;
  }, 10_000, `${cmd} to listen on ${port}`);
  return child;
}

for (const version of [1, 2]) {
  test(`nginx behind PROXY v${version} sees the client's address and port`, async (t) => {
    if (!have('nginx')) {
      t.skip('nginx is not installed (apt-get install -y nginx-light)');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'tslvs-pp-nginx-'));
    const port = await freePort();
    writeFileSync(join(dir, 'nginx.conf'), `
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server {
    listen 127.0.0.1:${port} proxy_protocol;
    location / { return 200 "$proxy_protocol_addr $proxy_protocol_port $proxy_protocol_server_addr $proxy_protocol_server_port\\n"; }
  }
}
`);
    const nginx = await startDaemon('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], port);
    const d = new Director();
    try {
      const vport = await freePort(VIP);
      const id = await d.addService('tcp', VIP, vport);
      await d.addDest(id, '127.0.0.1', port, { proxyProtocol: version });
      const body = await get(vport, '127.0.0.31');
      const [addr, cport, saddr, sport] = body.split(' ');
      assert.equal(addr, '127.0.0.31');
      assert.ok(Number(cport) > 0);
      assert.equal(saddr, VIP);
      assert.equal(Number(sport), vport);
    } finally {
      await d.close();
      nginx.kill('SIGTERM');
      await new Promise((r) => nginx.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`HAProxy with accept-proxy behind PROXY v${version} sees the client's address`, async (t) => {
    if (!have('haproxy')) {
      t.skip('haproxy is not installed (apt-get install -y haproxy)');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'tslvs-pp-haproxy-'));
    const port = await freePort();
    writeFileSync(join(dir, 'haproxy.cfg'), `
global
  maxconn 100
defaults
  mode http
  timeout connect 5s
  timeout client 5s
  timeout server 5s
frontend f
  bind 127.0.0.1:${port} accept-proxy
  http-request return status 200 content-type text/plain lf-string "%[src] %[src_port] %[dst] %[dst_port]"
`);
    const hap = await startDaemon('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], port);
    const d = new Director();
    try {
      const vport = await freePort(VIP);
      const id = await d.addService('tcp', VIP, vport);
      await d.addDest(id, '127.0.0.1', port, { proxyProtocol: version });
      const [addr, cport, dst, dport] = (await get(vport, '127.0.0.32')).split(' ');
      assert.equal(addr, '127.0.0.32');
      assert.ok(Number(cport) > 0);
      assert.equal(dst, VIP);
      assert.equal(Number(dport), vport);
    } finally {
      await d.close();
      hap.kill('SIGTERM');
      await new Promise((r) => hap.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
