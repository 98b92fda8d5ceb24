// UDP services: a flow (core entry, state UDP) per client address and port, replies from the
// VIP, expiry by the udp timeout, one-packet scheduling (-o).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Director, sleep, until } from './harness.js';

const VIP = '127.0.0.12';

interface UdpServer { sock: dgram.Socket; port: number; got: number }

async function udpServer(name: string, host = '127.0.0.1'): Promise<UdpServer> {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const srv: UdpServer = { sock, port: 0, got: 0 };
  sock.on('message', (m, r) => {
    srv.got++;
    sock.send(`${name}:${m.toString()}`, r.port, r.address);
  });
  await new Promise<void>((r) => sock.bind(0, host, () => r()));
  srv.port = sock.address().port;
  return srv;
}

async function udpPort(host: string): Promise<number> {
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((r) => s.bind(0, host, () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

class Client {
  readonly sock: dgram.Socket;
  readonly replies: string[] = [];
  constructor(v6 = false) {
    this.sock = dgram.createSocket(v6 ? 'udp6' : 'udp4');
    this.sock.on('message', (m, r) => this.replies.push(`${m.toString()}@${r.address}:${r.port}`));
  }

  async ask(host: string, port: number, text: string): Promise<string> {
    const n = this.replies.length;
    this.sock.send(text, port, host);
    await until(() => this.replies.length > n, 3000, `a reply to "${text}"`);
    return this.replies[n];
  }

  close(): void {
    this.sock.close();
  }
}

test('UDP: datagrams of one client flow stick to one real server; replies come from the VIP', async () => {
  const dir = new Director();
  const a = await udpServer('A');
  const b = await udpServer('B');
  const c1 = new Client();
  const c2 = new Client();
  try {
    const port = await udpPort(VIP);
    const id = await dir.addService('udp', VIP, port);
    const da = await dir.addDest(id, '127.0.0.1', a.port);
    const db = await dir.addDest(id, '127.0.0.1', b.port);
    assert.equal(await c1.ask(VIP, port, 'x'), `B:x@${VIP}:${port}`);
    assert.equal(await c1.ask(VIP, port, 'y'), `B:y@${VIP}:${port}`);
    assert.equal(await c2.ask(VIP, port, 'z'), `A:z@${VIP}:${port}`);
    assert.equal(await c1.ask(VIP, port, 'w'), `B:w@${VIP}:${port}`);
    assert.deepEqual(dir.states(), ['UDP', 'UDP']);
    // UDP entries never count as active (§5.4); one connection per flow; bytes are payloads.
    assert.deepEqual(dir.conns(db), { active: 0, inact: 1 });
    assert.deepEqual(dir.counters(db), { conns: 1, inpkts: 3, outpkts: 3, inbytes: 3, outbytes: 9 });
    assert.deepEqual(dir.counters(da), { conns: 1, inpkts: 1, outpkts: 1, inbytes: 1, outbytes: 3 });
    assert.equal(dir.dp.details().activeFlows, 2);
  } finally {
    c1.close(); c2.close(); a.sock.close(); b.sock.close();
    await dir.close();
  }
});

test('UDP: a flow ends with its entry after the udp timeout; the next datagram is scheduled anew', async () => {
  const dir = new Director();
  const a = await udpServer('A');
  const b = await udpServer('B');
  const c = new Client();
  try {
    await dir.setTimeouts(0, 0, 1);
    const port = await udpPort(VIP);
    const id = await dir.addService('udp', VIP, port);
    await dir.addDest(id, '127.0.0.1', a.port);
    await dir.addDest(id, '127.0.0.1', b.port);
    assert.match(await c.ask(VIP, port, '1'), /^B:1@/);
    await until(() => dir.dp.details().activeFlows === 0, 4000, 'the flow to expire');
    assert.deepEqual(dir.states(), []);
    assert.match(await c.ask(VIP, port, '2'), /^A:2@/);
  } finally {
    c.close(); a.sock.close(); b.sock.close();
    await dir.close();
  }
});

test('UDP one-packet scheduling (-o): every datagram is scheduled on its own and counted as a connection', async () => {
  const dir = new Director();
  const a = await udpServer('A');
  const b = await udpServer('B');
  const c = new Client();
  try {
    const port = await udpPort(VIP);
    const id = await dir.addService('udp', VIP, port, { ops: true });
    const da = await dir.addDest(id, '127.0.0.1', a.port);
    const db = await dir.addDest(id, '127.0.0.1', b.port);
    const got: string[] = [];
    for (const t of ['1', '2', '3', '4']) got.push((await c.ask(VIP, port, t)).split('@')[0]);
    assert.deepEqual(got, ['B:1', 'A:2', 'B:3', 'A:4']);
    assert.equal(da.stats.conns + db.stats.conns, 4);
    assert.deepEqual(dir.states(), [], 'one-packet entries are never in the table');
  } finally {
    c.close(); a.sock.close(); b.sock.close();
    await dir.close();
  }
});

test('UDP no destination: the datagram is dropped and counted', async () => {
  const dir = new Director();
  const c = new Client();
  try {
    const port = await udpPort(VIP);
    await dir.addService('udp', VIP, port);
    c.sock.send('x', port, VIP);
    await until(() => dir.dp.stats().drops.noDest === 1, 2000, 'the drop');
    await sleep(50);
    assert.deepEqual(c.replies, []);
  } finally {
    c.close();
    await dir.close();
  }
});

test('UDP over IPv6 on ::1', async () => {
  const dir = new Director();
  const a = await udpServer('A6', '::1');
  const c = new Client(true);
  try {
    const port = await udpPort('::1');
    const id = await dir.addService('udp', '::1', port);
    await dir.addDest(id, '::1', a.port);
    assert.equal(await c.ask('::1', port, 'q'), `A6:q@::1:${port}`);
  } finally {
    c.close(); a.sock.close();
    await dir.close();
  }
});

test('a UDP service whose port is taken is refused with EADDRINUSE', async () => {
  const dir = new Director();
  const squat = dgram.createSocket('udp4');
  const port = await udpPort(VIP);
  await new Promise<void>((r) => squat.bind(port, VIP, () => r()));
  try {
    await assert.rejects(dir.addService('udp', VIP, port), (e: Error & { errno?: string; hint?: string }) =>
      e.errno === 'EADDRINUSE' && /\(UDP\)/.test(e.message) && /ss -lunp/.test(e.hint ?? ''));
    assert.equal(dir.dp.details().listeners, 0);
  } finally {
    squat.close();
    await dir.close();
  }
});


