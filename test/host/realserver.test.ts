// tslvs realserver: bad input in words, then (root) the whole life in a namespace of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRealserverArgs, realserverMain } from '../../src/host/realserver.js';
import { TslvsError } from '../../src/errors.js';
import { HostNs, isRoot } from './ns.js';

const skip = isRoot() ? false : 'needs root (network namespaces)';
const VIP = '203.0.113.10';
const VIP6 = '2001:db8:1::10';

function badOption(argv: string[], re: RegExp): void {
  assert.throws(() => parseRealserverArgs(argv, {}), (e: unknown) => e instanceof TslvsError && e.code === 'TSLVS_ERR_BAD_OPTION' && re.test(`${e.message}; ${e.hint}`), argv.join(' '));
}

test('bad input is refused before anything changes, with the fix', () => {
  badOption(['start'], /needs --vip ADDR.*for example --vip 203\.0\.113\.10/);
  badOption(['begin', '--vip', VIP], /Unknown action "begin".*start\|stop\|status/);
  badOption(['start', '--vip', '203.0.113.300'], /Invalid address "203\.0\.113\.300" for --vip/);
  badOption(['start', '--vip', '127.0.0.1'], /not a unicast address/);
  badOption(['start', '--vip', '224.0.0.1'], /not a unicast address/);
  badOption(['start', VIP], /Unexpected argument "203\.0\.113\.10".*--vip 203\.0\.113\.10/);
  badOption(['start', '--vip'], /Option "--vip" needs a value/);
  badOption(['start', '--vip', VIP, '--gateway', '198.51.100.1', '--gateway', '198.51.100.2'], /Option "--gateway" given twice/);
  badOption(['start', '--gateway', 'router'], /Invalid address "router" for --gateway/);
  badOption(['start', '--vip', VIP, '--interface', 'a/b'], /Invalid interface name/);
  const o = parseRealserverArgs(['status', '--vip', '2001:DB8:1:0::10', '--vip', VIP, '--vip', VIP, '--state-dir', 'rel'], {});
  assert.deepEqual(o.vips, [VIP6, VIP]);
  assert.ok(o.stateDir.endsWith('/rel') && o.stateDir.startsWith('/'));
});

test('help lists every option', async () => {
  let text = '';
  assert.equal(await realserverMain(['help'], {}, { out: (t) => { text += t; } }), 0);
  for (const f of ['--vip', '--interface', '--gateway', '--state-dir']) assert.match(text, new RegExp(f));
});

test('realserver start/status/stop (root): VIP on lo, ARP quiet on all and each interface, everything back after stop', { skip, timeout: 60_000 }, async () => {
  const ns = new HostNs();
  try {
    ns.sh('sysctl', '-qw', 'net.ipv4.conf.eth1.arp_announce=1');
    const before = ns.snapshot();
    const down = await ns.tslvs(['realserver', 'status']);
    assert.equal(down.code, 3);
    assert.match(down.stdout, /^tslvs realserver is stopped/);

    const up = await ns.tslvs(['realserver', 'start', '--vip', VIP, '--vip', VIP6]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /ip addr add 203\.0\.113\.10\/32 dev lo\n {2}ip addr add 2001:db8:1::10\/128 dev lo\n/);
    for (const where of ['all', 'eth0', 'eth1']) {
      assert.equal(ns.sysctl(`net.ipv4.conf.${where}.arp_ignore`), '1');
      assert.equal(ns.sysctl(`net.ipv4.conf.${where}.arp_announce`), '2');
    }
    const lo = ns.ip('-n', ns.name, 'addr', 'show', 'dev', 'lo');
    assert.match(lo, /inet 203\.0\.113\.10\/32 scope global lo/);
    assert.match(lo, /inet6 2001:db8:1::10\/128 scope global/);
    const state = JSON.parse(readFileSync(join(ns.tmp, 'state', 'realserver.json'), 'utf8'));
    assert.equal(state.format, 'tslvs-realserver');
    assert.deepEqual(state.changes.find((c: { key?: string }) => c.key === 'net.ipv4.conf.eth1.arp_announce'),
      { kind: 'sysctl', key: 'net.ipv4.conf.eth1.arp_announce', prev: '1', value: '2' });

    const st = await ns.tslvs(['realserver', 'status']);
    assert.equal(st.code, 0, st.stdout);
    assert.match(st.stdout, /^tslvs realserver is running\n {2}ok {3}VIP 203\.0\.113\.10 is on lo\n {2}ok {3}VIP 2001:db8:1::10 is on lo\n {2}ok {3}ARP kept quiet about the VIP on /);

    // A second start changes nothing and records nothing twice.
    const again = await ns.tslvs(['realserver', 'start', '--vip', VIP]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /everything was in place already/);
    assert.equal(JSON.parse(readFileSync(join(ns.tmp, 'state', 'realserver.json'), 'utf8')).changes.length, state.changes.length);

    const stop = await ns.tslvs(['realserver', 'stop']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /^tslvs realserver stopped: 8 change\(s\) undone/);
    assert.equal(ns.snapshot(), before);
    assert.equal(existsSync(join(ns.tmp, 'state', 'realserver.json')), false);
    assert.equal((await ns.tslvs(['realserver', 'status', '--vip', VIP])).code, 3);
    // Stopping again is fine and says so.
    const twice = await ns.tslvs(['realserver', 'stop']);
    assert.equal(twice.code, 0);
    assert.match(twice.stdout, /not started .*nothing to undo/);
  } finally {
    ns.remove();
  }
});

test('realserver status tells the truth from the live system (root): a VIP removed by hand is missed, start puts it back', { skip, timeout: 60_000 }, async () => {
  const ns = new HostNs();
  try {
    assert.equal((await ns.tslvs(['realserver', 'start', '--vip', VIP])).code, 0);
    ns.sh('ip', 'addr', 'del', `${VIP}/32`, 'dev', 'lo');
    ns.sh('sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=0', 'net.ipv4.conf.eth0.arp_ignore=0');
    const st = await ns.tslvs(['realserver', 'status']);
    assert.equal(st.code, 3);
    assert.match(st.stdout, /not running as started/);
    assert.match(st.stdout, /MISS VIP 203\.0\.113\.10 is not on lo/);
    assert.match(st.stdout, /MISS eth0 would answer ARP for the VIP: arp_ignore 0, arp_announce 2/);
    // Configured by hand (no state file): status checks the named VIP all the same.
    const fix = await ns.tslvs(['realserver', 'start', '--vip', VIP]);
    assert.equal(fix.code, 0);
    assert.equal((await ns.tslvs(['realserver', 'status'])).code, 0);
    // eth0 was changed by hand after start: stop leaves it and says so; all goes back.
    ns.sh('sysctl', '-qw', 'net.ipv4.conf.eth0.arp_ignore=2');
    const stop = await ns.tslvs(['realserver', 'stop']);
    assert.equal(stop.code, 0);
    assert.match(stop.stdout, /note: left net\.ipv4\.conf\.eth0\.arp_ignore at 2: it was changed again after start \(start set 1, it was 0 before\)/);
    assert.equal(ns.sysctl('net.ipv4.conf.all.arp_ignore'), '0');
    assert.equal(ns.sysctl('net.ipv4.conf.eth0.arp_ignore'), '2');
  } finally {
    ns.remove();
  }
});

test('realserver stop --vip removes one VIP and keeps the others running (root)', { skip, timeout: 60_000 }, async () => {
  const ns = new HostNs();
  try {
    assert.equal((await ns.tslvs(['realserver', 'start', '--vip', VIP, '--vip', '203.0.113.11'])).code, 0);
    const one = await ns.tslvs(['realserver', 'stop', '--vip', VIP]);
    assert.equal(one.code, 0);
    assert.match(one.stdout, /removed VIP 203\.0\.113\.10; still serving 203\.0\.113\.11/);
    assert.doesNotMatch(ns.ip('-n', ns.name, 'addr', 'show', 'dev', 'lo'), /203\.0\.113\.10\//);
    assert.equal(ns.sysctl('net.ipv4.conf.all.arp_ignore'), '1');
    assert.equal((await ns.tslvs(['realserver', 'status'])).code, 0);
    assert.equal((await ns.tslvs(['realserver', 'stop'])).code, 0);
    assert.equal(ns.sysctl('net.ipv4.conf.all.arp_ignore'), '0');
  } finally {
    ns.remove();
  }
});

test('realserver --gateway replaces the default routes and puts them back (root)', { skip, timeout: 60_000 }, async () => {
  const ns = new HostNs();
  try {
    ns.sh('ip', 'route', 'add', 'default', 'via', '198.51.100.254', 'metric', '50');
    ns.sh('ip', 'route', 'add', 'default', 'via', '198.51.100.253', 'metric', '100');
    const before = ns.snapshot();
    const up = await ns.tslvs(['realserver', 'start', '--gateway', '198.51.100.1']);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(ns.sh('ip', 'route', 'show', 'default').trim(), 'default via 198.51.100.1 dev eth0');
    assert.match((await ns.tslvs(['realserver', 'status'])).stdout, /ok {3}default route via 198\.51\.100\.1/);
    assert.equal((await ns.tslvs(['realserver', 'stop'])).code, 0);
    assert.equal(ns.snapshot(), before);
  } finally {
    ns.remove();
  }
});

test('a start that fails half way undoes what it did (root): unreachable gateway, VIP on eth0, unknown interface', { skip, timeout: 60_000 }, async () => {
  const ns = new HostNs();
  try {
    const before = ns.snapshot();
    const gw = await ns.tslvs(['realserver', 'start', '--vip', VIP, '--gateway', '192.0.2.99']);
    assert.equal(gw.code, 1);
    assert.equal(gw.stderr, 'tslvs: "ip -4 route add default via 192.0.2.99" failed: Error: Nexthop has invalid gateway. (ENETUNREACH); ' +
      'the gateway must be on a directly connected network of this host ("ip route" shows them) (TSLVS_ERR_HOST_COMMAND)\n');
    assert.equal(ns.snapshot(), before);
    assert.equal(existsSync(join(ns.tmp, 'state', 'realserver.json')), false);

    const nodev = await ns.tslvs(['realserver', 'start', '--vip', VIP, '--interface', 'eth9']);
    assert.equal(nodev.code, 1);
    assert.match(nodev.stderr, /No interface "eth9" for --interface \(ENODEV\); name an existing interface .*\(TSLVS_ERR_HOST_INTERFACE\)\n$/);

    ns.sh('ip', 'addr', 'add', `${VIP}/32`, 'dev', 'eth0');
    const before2 = ns.snapshot();
    const conflict = await ns.tslvs(['realserver', 'start', '--vip', VIP]);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /VIP 203\.0\.113\.10 is an address of "eth0" on this real server.*ip addr del 203\.0\.113\.10\/32 dev eth0.*\(TSLVS_ERR_HOST_CONFLICT\)/);
    assert.equal(ns.snapshot(), before2);
  } finally {
    ns.remove();
  }
});

test('without root privileges start says to run as root and changes nothing (root; run as user nobody)', { skip, timeout: 60_000 }, async () => {
  const ns = new HostNs();
  const dir = mkdtempSync(join(tmpdir(), 'tslvs-nobody-'));
  try {
    chmodSync(dir, 0o777);
    const before = ns.snapshot();
    const r = await ns.tslvs(['realserver', 'start', '--vip', VIP, '--state-dir', dir], {}, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tslvs: "ip addr add 203\.0\.113\.10\/32 dev lo" failed: RTNETLINK answers: Operation not permitted \(EPERM\); run as root \(or with CAP_NET_ADMIN\) \(TSLVS_ERR_HOST_PERMISSION\)\n$/);
    assert.equal(ns.snapshot(), before);
    assert.equal(existsSync(join(dir, 'realserver.json')), false);
  } finally {
    ns.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});
