// PING_CHECK runs iputils' ping (Node has no ICMP sockets): a reply from loopback, none from a
// documentation address that nobody owns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPingProbe, pingArgs } from '../../src/health/ping-check.js';
import type { PingCheck } from '../../src/config/keepalived/types.js';
import { checkerOf, have } from './servers.js';

const run = (c: PingCheck, cmd?: string) => createPingProbe(c, cmd).run({ url: 0, signal: new AbortController().signal });

test('ping is called once, numeric, with connect_timeout as its wait', () => {
  const c = checkerOf(' PING_CHECK { connect_timeout 1.5\n bindto 127.0.0.1 }', 80) as PingCheck;
  assert.deepEqual(pingArgs(c), ['-n', '-q', '-c', '1', '-W', '1.5', '-I', '127.0.0.1', '127.0.0.1']);
});

test('PING_CHECK succeeds on an echo reply and fails without one (needs root or ping_group_range)', { skip: !have('ping') && 'iputils-ping is not installed' }, async () => {
  const up = await run(checkerOf(' PING_CHECK { connect_timeout 2 }', 80) as PingCheck);
  assert.equal(up.ok, true, up.detail);
  const down = await run(checkerOf(' PING_CHECK { connect_timeout 0.3\n connect_ip 192.0.2.254 }', 80) as PingCheck);
  assert.equal(down.ok, false);
});

test('PING_CHECK says how to fix a missing ping binary', async () => {
  const r = await run(checkerOf(' PING_CHECK { }', 80) as PingCheck, '/nonexistent/ping');
  assert.equal(r.ok, false);
  assert.match(r.detail, /ENOENT.*install iputils-ping/);
});
