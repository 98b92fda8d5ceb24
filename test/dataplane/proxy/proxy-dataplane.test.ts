// apply(): listeners follow the table, all or nothing; what a socket cannot do is refused with
// the way out; settings are validated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { IP_VS_CONN_F_MASQ } from '../../../src/core/dest.js';
import { Ipvs } from '../../../src/core/ipvs.js';
import { DEFAULT_NETMASK_V4, IPPROTO_SCTP, IPPROTO_TCP } from '../../../src/core/service.js';
import { TslvsError } from '../../../src/errors.js';
import { createDataplane } from '../../../src/dataplane/proxy/index.js';
import { ProxyDataplane } from '../../../src/dataplane/proxy/proxy-dataplane.js';
import { relayAddonPath } from '../../../src/dataplane/proxy/relay-addon.js';
import { Director, freePort, ip, realServer, seeded, whoServes } from './harness.js';

const VIP = '127.0.0.11';

async function refused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

test('createDataplane gives the proxy dataplane', async () => {
  const ipvs = new Ipvs({ random: seeded() });
  const dp = await createDataplane({ ipvs, now: () => performance.now(), settings: {} });
  assert.equal(dp.kind, 'proxy');
  assert.deepEqual(dp.stats().activeFlows, 0);
  await dp.close();
});

test('settings: unknown keys and bad values are refused with the accepted range', () => {
  const ipvs = new Ipvs({ random: seeded() });
  const mk = (settings: Record<string, unknown>) => new ProxyDataplane({ ipvs, now: () => 0, settings });
  assert.throws(() => mk({ retry: 3 }), (e: TslvsError) => e.code === 'TSLVS_ERR_BAD_OPTION' && /retries/.test(e.hint));
  assert.throws(() => mk({ retries: -1 }), (e: TslvsError) => e.code === 'TSLVS_ERR_BAD_OPTION' && /from 0 to 100/.test(e.hint));
  assert.throws(() => mk({ connectTimeoutMs: '5s' }), (e: TslvsError) => e.code === 'TSLVS_ERR_BAD_OPTION');
});

test('TCP goes through the native relay when it is built (on relay threads with threads N), and through Node\'s TCP handles with nativeRelay 0', async (t) => {
  if (process.platform !== 'linux' || !existsSync(relayAddonPath())) {
    t.skip('the native relay is not built (npm run build:native)');
    return;
  }
  const a = await realServer('A');
  for (const [nativeRelay, threads, engine] of [[1, 0, 'native'], [0, 0, 'uv'], [1, 3, 'native']] as const) {
    const dir = new Director({ nativeRelay, threads });
    try {
      const port = await freePort(VIP);
      const id = await dir.addService('tcp', VIP, port);
      await dir.addDest(id, '127.0.0.1', a.port);
      assert.equal(await whoServes(VIP, port), 'A');
      assert.equal(dir.dp.details().engine, engine);
      assert.equal(dir.dp.details().threads, threads);
      assert.equal(dir.dp.relayUnavailable, nativeRelay === 1 ? '' : 'nativeRelay is 0');
    } finally {
      await dir.close();
    }
  }
  await a.close();
});

test('a service listens while it is in the table, and stops when deleted', async () => {
  const dir = new Director();
  const a = await realServer('A');
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    await dir.addDest(id, '127.0.0.1', a.port);
    assert.equal(await whoServes(VIP, port), 'A');
    await dir.delService(id);
    assert.equal(await refused(VIP, port), true);
    assert.equal(dir.dp.details().listeners, 0);
  } finally {
    await dir.close(); await a.close();
  }
});

test('deleting and re-adding the same VIP:port in one transaction keeps serving', async () => {
  const dir = new Director();
  const a = await realServer('A');
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    await dir.addDest(id, '127.0.0.1', a.port);
    await dir.txn(() => {
      const t = dir.ipvs.table;
      t.delService(id);
      t.addService({ ...id, schedName: 'wlc', flags: 0, timeoutS: 0, netmask: DEFAULT_NETMASK_V4, peName: '' });
      t.addDest(id, { af: 2, addr: ip('127.0.0.1'), port: a.port, connFlags: IP_VS_CONN_F_MASQ, weight: 1, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 });
    });
    assert.equal(dir.service(id).schedName, 'wlc');
    assert.equal(await whoServes(VIP, port), 'A');
  } finally {
    await dir.close(); await a.close();
  }
});

test('a VIP:port in use is refused with EADDRINUSE, and nothing this apply bound stays bound', async () => {
  const dir = new Director();
  const squatter = net.createServer();
  const taken = await freePort(VIP);
  await new Promise<void>((r) => squatter.listen(taken, VIP, () => r()));
  try {
    const free = await freePort(VIP);
    await assert.rejects(dir.txn(() => {
      const t = dir.ipvs.table;
      t.addService({ ...dir.svcId('tcp', VIP, free), schedName: 'rr', flags: 0, timeoutS: 0, netmask: DEFAULT_NETMASK_V4, peName: '' });
      t.addService({ ...dir.svcId('tcp', VIP, taken), schedName: 'rr', flags: 0, timeoutS: 0, netmask: DEFAULT_NETMASK_V4, peName: '' });
    }), (e: TslvsError) => {
      assert.equal(e.code, 'TSLVS_ERR_DATAPLANE_REFUSED');
      assert.equal(e.errno, 'EADDRINUSE');
      assert.match(e.message, new RegExp(`^Cannot listen on "${VIP.replace(/\./g, '\\.')}:${taken}" \\(TCP\\): .* \\(EADDRINUSE\\)$`));
      assert.match(e.hint, /ss -ltnp/);
      return true;
    });
    assert.equal(dir.dp.details().listeners, 0);
    assert.equal(dir.ipvs.table.size, 0, 'the transaction was rolled back');
    assert.equal(await refused(VIP, free), true, 'the first listener of the failed apply was closed');
  } finally {
    squatter.close();
    await dir.close();
  }
});

test('a VIP that is not a local address is refused with the command that fixes it', async (t) => {
  const nonlocal = readFileSync('/proc/sys/net/ipv4/ip_nonlocal_bind', 'utf8').trim();
  if (nonlocal !== '0') {
    t.skip('net.ipv4.ip_nonlocal_bind=1 here: every address binds');
    return;
  }
  const dir = new Director();
  try {
    await assert.rejects(dir.addService('tcp', '192.0.2.123', 80), (e: TslvsError) => {
      assert.equal(e.errno, 'EADDRNOTAVAIL');
      assert.match(e.message, /^Cannot listen on "192\.0\.2\.123:80" \(TCP\): the address is not configured on this host \(EADDRNOTAVAIL\)$/);
      assert.match(e.hint, /ip addr add 192\.0\.2\.123\/32 dev lo/);
      assert.match(e.hint, /sysctl -w net\.ipv4\.ip_nonlocal_bind=1/);
      return true;
    });
    await assert.rejects(dir.addService('udp', '2001:db8::123', 53), (e: TslvsError) => {
      assert.equal(e.errno, 'EADDRNOTAVAIL');
      assert.match(e.hint, /ip -6 addr add 2001:db8::123\/128 dev lo/);
      return true;
    });
  } finally {
    await dir.close();
  }
});

test('direct routing and tunnel destinations are refused, naming --dataplane packet', async () => {
  const dir = new Director();
  try {
    const port = await freePort(VIP);
    const id = await dir.addService('tcp', VIP, port);
    for (const method of ['g', 'i'] as const) {
      await assert.rejects(dir.addDest(id, '127.0.0.1', 80, { method }), (e: TslvsError) => {
        assert.equal(e.code, 'TSLVS_ERR_DATAPLANE_REFUSED');
        assert.match(e.message, method === 'g' ? /direct routing \(-g\)/ : /tunnelling \(-i\)/);
        assert.match(e.hint, /--dataplane packet/);
        return true;
      });
    }
    assert.equal(dir.service(id).numDests, 0);
    // A masquerading dest edited to direct routing is refused the same way.
    const d = await dir.addDest(id, '127.0.0.1', 80);
    await assert.rejects(dir.editDest(id, d, { method: 'g' }), /--dataplane packet|direct routing/);
  } finally {
    await dir.close();
  }
});

test('fwmark, port-0 and SCTP services are refused before anything is bound', async () => {
  const dir = new Director();
  try {
    const base = { schedName: 'rr', flags: 0, timeoutS: 0, netmask: DEFAULT_NETMASK_V4, peName: '' };
    await assert.rejects(dir.txn(() => dir.ipvs.table.addService({ af: 2, protocol: IPPROTO_TCP, addr: ip('0.0.0.0'), port: 0, fwmark: 7, ...base })),
      (e: TslvsError) => /fwmark service "FWM 7"/.test(e.message) && /--dataplane packet/.test(e.hint));
    await assert.rejects(dir.txn(() => dir.ipvs.table.addService({ af: 2, protocol: IPPROTO_TCP, addr: ip(VIP), port: 0, fwmark: 0, ...base, flags: 1, timeoutS: 300 })),
      (e: TslvsError) => /port-0 service/.test(e.message));
    await assert.rejects(dir.txn(() => dir.ipvs.table.addService({ af: 2, protocol: IPPROTO_SCTP, addr: ip(VIP), port: 9, fwmark: 0, ...base })),
      (e: TslvsError) => /only TCP and UDP/.test(e.message));
    assert.equal(dir.ipvs.table.size, 0);
    assert.equal(dir.dp.details().listeners, 0);
  } finally {
    await dir.close();
  }
});

test('close() resets live connections and stops listening', async () => {
  const dir = new Director();
  const a = await realServer('A', '127.0.0.1', 'silent');
  const port = await freePort(VIP);
  const id = await dir.addService('tcp', VIP, port);
  await dir.addDest(id, '127.0.0.1', a.port);
  const c = net.connect({ host: VIP, port });
  await new Promise<void>((r) => c.on('connect', () => r()));
  const end = new Promise<string | undefined>((r) => { let code: string | undefined; c.on('error', (e: NodeJS.ErrnoException) => { code = e.code; }); c.on('close', () => r(code)); });
  await new Promise((r) => setTimeout(r, 50));
  await dir.close();
  assert.equal(await end, 'ECONNRESET');
  assert.equal(await refused(VIP, port), true);
  await a.close();
});
