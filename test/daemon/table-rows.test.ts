// The compact table (get-table with rows) must carry everything tslvsadm's listings read: decoded
// with snapshotFromRows it equals the full snapshot, counters included when asked for and zero
// otherwise, for every kind of service and real server, with live connections and traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotFromRows, type TableCommand, type TableSnapshot } from '../../src/control/protocol.js';
import { IpAddr } from '../../src/core/addr.js';
import { Flow, TCP_SYN } from '../../src/core/flow.js';
import { Ipvs } from '../../src/core/ipvs.js';
import { NoneDataplane } from '../../src/dataplane/none/none-dataplane.js';
import { Director } from '../../src/daemon/director.js';
import { handleRequest } from '../../src/daemon/requests.js';

const v4 = { af: 2 as const, protocol: 6 as const, addr: '192.0.2.1', port: 80, fwmark: 0 };
const v6 = { af: 10 as const, protocol: 17 as const, addr: '2001:db8::1', port: 53, fwmark: 0 };
const fwm = { af: 2 as const, protocol: 6 as const, addr: '0.0.0.0', port: 0, fwmark: 7 };
const base = { sched: 'rr', flags: 0, timeoutS: 0, netmask: 0xffffffff, pe: '' };
const dest = (addr: string, extra: Record<string, number> = {}) =>
  ({ af: 2 as const, addr, port: 80, fwd: 0, weight: 1, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0, ...extra });

async function director(): Promise<Director> {
  const d = new Director({ ipvs: new Ipvs({ random: () => 5 }), dataplane: new NoneDataplane(), store: null });
  const cmds: TableCommand[] = [
    { cmd: 'add-service', svc: { ...v4, ...base, sched: 'wlc', flags: 1, timeoutS: 30, netmask: 0xffffff00, pe: 'sip' } },
    { cmd: 'add-dest', svc: v4, dest: dest('198.51.100.1', { weight: 3, uThreshold: 10, lThreshold: 2 }) },
    { cmd: 'add-dest', svc: v4, dest: dest('198.51.100.2', { fwd: 3, proxyProtocol: 2 }) },
    { cmd: 'add-service', svc: { ...v6, ...base, sched: 'mh', flags: 0x18, netmask: 64 } },
    { cmd: 'add-dest', svc: v6, dest: { af: 10, addr: '2001:db8::a', port: 53, fwd: 2, weight: 0, uThreshold: 0, lThreshold: 0, tunType: 1, tunPort: 6080, tunFlags: 1 } },
    { cmd: 'add-service', svc: { ...fwm, ...base, sched: 'none' } },
  ];
  assert.ok((await d.exec(cmds)).every((r) => r === null));
  // A connection and some traffic, so that the counters and connection counts are not all zero.
  const f = new Flow();
  f.setSaddr(IpAddr.v4(0xcb007105)).setDaddr(IpAddr.v4(0xc0000201));
  f.sport = 41000;
  f.dport = 80;
  f.tcpFlags = TCP_SYN;
  f.len = 60;
  d.ipvs.inPacket(f, 1000);
  d.tick(3000);
  return d;
}

/** The full snapshot without what rows never carry (health), counters zeroed unless kept. */
function expected(t: TableSnapshot, stats: boolean): TableSnapshot {
  const zero = { conns: 0, inpkts: 0, outpkts: 0, inbytes: 0, outbytes: 0, cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0 };
  return {
    ...t,
    totals: stats ? t.totals : zero,
    services: t.services.map((s) => ({
      ...s, stats: stats ? s.stats : zero,
      dests: s.dests.map(({ health: _h, ...e }) => ({ ...e, stats: stats ? e.stats : zero })),
    })),
  };
}

test('rows decode to the full snapshot, with counters when asked for and without otherwise', async () => {
  const d = await director();
  const full = await d.snapshot();
  assert.ok(full.services[0].dests.some((e) => e.activeConns > 0) && full.services[0].stats.conns > 0, 'the table has traffic');
  for (const stats of [false, true]) {
    const rows = JSON.parse(JSON.stringify(await d.snapshotRows(undefined, stats)));
    assert.deepEqual(snapshotFromRows(rows), expected(full, stats));
    const one = await d.snapshotRows(v6, stats);
    assert.deepEqual(snapshotFromRows(one).services, expected(await d.snapshot(v6), stats).services);
  }
});

test('get-table with rows answers table-rows in under half the bytes of the full table; a missing service is ESRCH', async () => {
  const d = await director();
  const ctx = { director: d, reload: async () => '', shutdown: () => undefined, facts: () => ({}) };
  const rows = await handleRequest(ctx, { type: 'get-table', rows: true });
  const full = await handleRequest(ctx, { type: 'get-table' });
  assert.equal(rows.type, 'table-rows');
  assert.equal(full.type, 'table');
  assert.ok(JSON.stringify(rows).length * 2 < JSON.stringify(full).length);
  assert.deepEqual(await handleRequest(ctx, { type: 'get-table', rows: true, svc: { ...v4, port: 81 } }),
    { type: 'error', error: { op: 'get-service', errno: 'ESRCH' } });
});
