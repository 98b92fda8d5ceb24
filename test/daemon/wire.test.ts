import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIPv4 } from '../../src/core/addr.js';
import { IpvsError } from '../../src/core/errors.js';
import { Ipvs } from '../../src/core/ipvs.js';
import { applyTableCommand, destIdFromWire, destUserFromWire, serviceIdFromWire } from '../../src/daemon/wire.js';

test('IPv4 addresses on the wire follow the core\'s strict dotted-quad rule exactly', () => {
  const cases = ['1.2.3.4', '0.0.0.0', '255.255.255.255', '256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1..2.3', '1.2.3.4 ',
    'a.b.c.d', '1.2.3.1000', '001.002.003.004', '', '.1.2.3', '1.2.3.', '::ffff:1.2.3.4', '1.2.3.4:80', '+1.2.3.4'];
  let x = 7;
  for (let i = 0; i < 2000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    cases.push([x & 511, (x >>> 9) & 511, (x >>> 18) & 255, x >>> 26].map((n, k) => (k === 1 && n > 300 ? `0${n % 10}` : String(n))).join('.'));
  }
  for (const c of cases) {
    let got: number | null;
    try {
      got = destIdFromWire('add-dest', { af: 2, addr: c, port: 1 }).addr.w0;
    } catch (e) {
      assert.ok(e instanceof IpvsError && e.errno === 'EINVAL');
      got = null;
    }
    assert.equal(got, parseIPv4(c), JSON.stringify(c));
  }
});

test('consecutive commands naming the same service reuse its identity, and only then', () => {
  const a = serviceIdFromWire('add-dest', { af: 2, protocol: 6, addr: '192.0.2.1', port: 80, fwmark: 0 });
  const table = new Ipvs({ random: () => 1 }).table;
  const svc = (addr: string, port: number, protocol: 6 | 17) => ({ af: 2 as const, protocol, addr, port, fwmark: 0 });
  const dest = (addr: string) => ({ af: 2 as const, addr, port: 80, fwd: 0, weight: 1, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 });
  for (const [addr, port, protocol] of [['192.0.2.1', 80, 6], ['192.0.2.1', 80, 17], ['192.0.2.1', 81, 6], ['192.0.2.2', 80, 6]] as const) {
    applyTableCommand(table, { cmd: 'add-service', svc: { ...svc(addr, port, protocol), sched: 'rr', flags: 0, timeoutS: 0, netmask: 0xffffffff, pe: '' } });
  }
  // Alternate between services that differ in one field each: every dest must land where its command says.
  const order = [['192.0.2.1', 80, 6], ['192.0.2.1', 80, 17], ['192.0.2.1', 80, 17], ['192.0.2.1', 81, 6], ['192.0.2.2', 80, 6], ['192.0.2.1', 80, 6]] as const;
  order.forEach(([addr, port, protocol], i) => applyTableCommand(table, { cmd: 'add-dest', svc: svc(addr, port, protocol), dest: dest(`198.51.100.${i + 1}`) }));
  assert.deepEqual(table.services().map((s) => [s.addr.toString(), s.port, s.protocol, s.dests().map((d) => d.addr.toString())]), [
    ['192.0.2.1', 80, 6, ['198.51.100.6', '198.51.100.1']],
    ['192.0.2.1', 80, 17, ['198.51.100.3', '198.51.100.2']],
    ['192.0.2.1', 81, 6, ['198.51.100.4']],
    ['192.0.2.2', 80, 6, ['198.51.100.5']],
  ]);
  assert.equal(a.addr.toString(), '192.0.2.1');
});

test('wire values the kernel would refuse as attributes are EINVAL (EAFNOSUPPORT for a family)', () => {
  const bad = (f: () => unknown, errno: string) => assert.throws(f, (e: unknown) => e instanceof IpvsError && e.errno === errno);
  bad(() => serviceIdFromWire('add-service', { af: 3, protocol: 6, addr: '1.2.3.4', port: 1, fwmark: 0 }), 'EAFNOSUPPORT');
  bad(() => serviceIdFromWire('add-service', { af: 2, protocol: 1, addr: '1.2.3.4', port: 1, fwmark: 0 }), 'EINVAL');
  bad(() => serviceIdFromWire('add-service', { af: 2, protocol: 6, addr: '2001:db8::1', port: 1, fwmark: 0 }), 'EINVAL');
  bad(() => serviceIdFromWire('add-service', { af: 2, protocol: 6, addr: '1.2.3.4', port: 70000, fwmark: 0 }), 'EINVAL');
  bad(() => destUserFromWire('add-dest', { af: 2, addr: '1.2.3.4', port: 1, weight: 1.5 }), 'EINVAL');
  bad(() => destUserFromWire('add-dest', { af: 2, addr: '1.2.3.4', port: 1, fwd: 9 }), 'EINVAL');
  assert.equal(destUserFromWire('add-dest', { af: 2, addr: '1.2.3.4', port: 1, weight: -1 }).weight, -1, 'the table answers ERANGE itself');
  assert.equal(serviceIdFromWire('add-service', { af: 10, protocol: 6, addr: 'x', port: 0, fwmark: 5 }).addr.toString(), '::');
});
