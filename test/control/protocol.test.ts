// The compact forms of the control protocol: command rows give back the very command objects
// they were made from, and anything that is not a row is recognised as such.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandToRow, rowToCommand, type TableCommand } from '../../src/control/protocol.js';

const id = { af: 2 as const, protocol: 17 as const, addr: '192.0.2.1', port: 53, fwmark: 0 };
const id6 = { af: 10 as const, protocol: 6 as const, addr: '::', port: 0, fwmark: 9 };
const svc = { ...id, sched: 'wrr', flags: 1, timeoutS: 300, netmask: 0xffffff00, pe: 'sip' };
const dest = { af: 10 as const, addr: '2001:db8::7', port: 8080, fwd: 2, weight: 5, uThreshold: 9, lThreshold: 3, tunType: 1, tunPort: 6080, tunFlags: 2 };

test('every table command comes back from its row unchanged (proxyProtocol only when set)', () => {
  const cmds: TableCommand[] = [
    { cmd: 'add-service', svc }, { cmd: 'edit-service', svc: { ...svc, ...id6 } }, { cmd: 'del-service', svc: id },
    { cmd: 'add-dest', svc: id, dest }, { cmd: 'edit-dest', svc: id6, dest: { ...dest, proxyProtocol: 2 } },
    { cmd: 'del-dest', svc: id, dest: { af: 2, addr: '198.51.100.1', port: 1 } },
    { cmd: 'flush' }, { cmd: 'zero' }, { cmd: 'zero', svc: id }, { cmd: 'set-timeout', tcp: 1, tcpfin: 2, udp: 3 },
  ];
  for (const c of cmds) {
    const row = commandToRow(c);
    assert.deepEqual(rowToCommand(JSON.parse(JSON.stringify(row))), c, JSON.stringify(row));
  }
  assert.deepEqual(commandToRow({ cmd: 'add-dest', svc: id, dest }).slice(0, 2), ['a', 2]);
  assert.equal(commandToRow({ cmd: 'add-dest', svc: id, dest }).length, 17);
});

test('rows of the wrong shape are not commands (the daemon answers them as protocol errors)', () => {
  for (const bad of [null, 7, 'A', {}, [], [1], ['Q'], ['A', 2, 6], ['a', ...new Array(17).fill(0)], ['Z', 1, 2], ['C', 1], ['T', 1, 2]]) {
    assert.equal(rowToCommand(bad), null, JSON.stringify(bad));
  }
});
