// tslvs director: bad input in words, then (root) start/status/stop in a namespace of its own,
// with a real daemon in the background (the packet dataplane on a veth, or the proxy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { directorMain, failureLine, parseDirectorArgs } from '../../src/host/director.js';
import { addonPath } from '../../src/dataplane/packet/native.js';
import { TslvsError } from '../../src/errors.js';
import { HostNs, isRoot } from './ns.js';

const skip = !isRoot() ? 'needs root (network namespaces)' : !existsSync(addonPath()) ? 'native addon not built (npm run build:native)' : false;

function badOption(argv: string[], re: RegExp): void {
  assert.throws(() => parseDirectorArgs(argv, {}), (e: unknown) => e instanceof TslvsError && e.code === 'TSLVS_ERR_BAD_OPTION' && re.test(`${e.message}; ${e.hint}`), argv.join(' '));
}

test('director options: bad input is refused with the fix; TSLVS_SOCKET and TSLVS_STATE_DIR as tslvs run', () => {
  badOption(['start', '--dataplane', 'kernel'], /Invalid value "kernel" for --dataplane; expected packet or proxy/);
  badOption(['start', '--vip', 'vip.example'], /Invalid address "vip\.example" for --vip/);
  badOption(['stop', '--interface', 'eth0'], /Unknown option "--interface" for "tslvs director stop"/);
  badOption(['start', '--interface', 'a very long interface name'], /Invalid interface name/);
  badOption([], /"tslvs director" needs an action/);
  const o = parseDirectorArgs(['start', '--rules', 'r.txt', '--dataplane-opt', 'ring=false', '--dataplane-opt', 'slots=64'],
    { TSLVS_SOCKET: '/run/x/s.sock', TSLVS_STATE_DIR: '/var/tmp/st' });
  assert.equal(o.dataplane, 'packet');
  assert.equal(o.socket, '/run/x/s.sock');
  assert.equal(o.stateDir, '/var/tmp/st');
  assert.ok(o.rules!.endsWith('/r.txt') && o.rules!.startsWith('/'));
  assert.deepEqual(o.dataplaneOpts, ['ring=false', 'slots=64']);
});

test('the failure line is the daemon\'s error line, else its last line', () => {
  assert.equal(failureLine('tslvs: listening\ntslvs: Cannot open AF_PACKET socket on "eth0": permission denied (EPERM); run as root (TSLVS_ERR_DATAPLANE_UNAVAILABLE)\ntslvs: stopped\n'),
    'tslvs: Cannot open AF_PACKET socket on "eth0": permission denied (EPERM); run as root (TSLVS_ERR_DATAPLANE_UNAVAILABLE)');
  assert.equal(failureLine('node:internal/x\n    at y\nTypeError: boom\n    at z\n'), 'TypeError: boom');
  assert.equal(failureLine(''), '(the log is empty)');
});

test('help lists every option', async () => {
  let text = '';
  assert.equal(await directorMain(['help'], {}, { out: (t) => { text += t; } }), 0);
  for (const f of ['--dataplane', '--interface', '--vip', '--rules', '--use-file', '--socket', '--state-dir']) assert.match(text, new RegExp(f));
});

test('director start/status/stop with the packet dataplane (root): forwarding off on the interface, IPv6 VIPs blackholed, all back after stop', { skip, timeout: 60_000 }, async () => {
  const ns = new HostNs();
  try {
    // A router's settings: forwarding on for both families.
    ns.sh('sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
    const before = ns.snapshot();
    assert.equal((await ns.tslvs(['director', 'status'])).code, 3);

    const up = await ns.tslvs(['director', 'start', '--interface', 'eth0', '--vip', '203.0.113.10', '--vip', '2001:db8:1::10', '--http', 'off']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /^tslvs director started: daemon pid \d+, packet dataplane on eth0, VIP 203\.0\.113\.10, 2001:db8:1::10\n/);
    assert.match(up.stdout, / {2}sysctl -w net\.ipv4\.conf\.eth0\.forwarding=0\n {2}sysctl -w net\.ipv6\.conf\.all\.forwarding=0\n {2}ip -6 route add blackhole 2001:db8:1::10\/128\n/);
    assert.equal(ns.sysctl('net.ipv4.conf.eth0.forwarding'), '0');
    assert.equal(ns.sysctl('net.ipv4.conf.eth1.forwarding'), '1', 'only the dataplane\'s interface');
    assert.match(ns.sh('ip', '-6', 'route', 'show', 'type', 'blackhole'), /^blackhole 2001:db8:1::10 dev lo/);
    // The VIPs are not addresses of the director: the dataplane answers ARP for them.
    assert.doesNotMatch(ns.sh('ip', 'addr'), /203\.0\.113\.10/);

    const st = await ns.tslvs(['director', 'status']);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /^tslvs [\d.]+ is running: pid \d+, dataplane packet/);
    assert.match(st.stdout, /IP Virtual Server version 1\.2\.1 \(size=4096\)\n/);
    assert.doesNotMatch(st.stdout, /warning/);
    // Forwarding turned on again behind its back: status warns.
    ns.sh('sysctl', '-qw', 'net.ipv4.conf.eth0.forwarding=1');
    assert.match((await ns.tslvs(['director', 'status'])).stdout, /warning: IPv4 forwarding is on on eth0/);
    ns.sh('sysctl', '-qw', 'net.ipv4.conf.eth0.forwarding=0');

    // A second start finds it running.
    const again = await ns.tslvs(['director', 'start', '--interface', 'eth0']);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already running/);

    const down = await ns.tslvs(['director', 'stop']);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /^tslvs director stopped \(daemon pid \d+; 3 host change\(s\) undone\)\n$/);
    assert.equal(ns.snapshot(), before);
    const pid = Number(/daemon pid (\d+)/.exec(down.stdout)![1]);
    assert.ok(!existsSync(`/proc/${pid}`) || / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')), 'the daemon has exited');
    assert.equal((await ns.tslvs(['director', 'status'])).code, 3);
    assert.ok(existsSync(join(ns.tmp, 'state', 'director.log')));
  } finally {
    ns.remove();
  }
});

test('a daemon that dies during start is reported with its own error line, and the host changes are undone (root)', { skip, timeout: 60_000 }, async () => {
  const ns = new HostNs();
  try {
    ns.sh('sysctl', '-qw', 'net.ipv4.ip_forward=1');
    const before = ns.snapshot();
    const r = await ns.tslvs(['director', 'start', '--interface', 'eth0', '--http', 'off'], { TSLVS_PACKET_ADDON: '/nonexistent/tslvs_packet.node' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tslvs: The daemon exited during start \(status 1\): tslvs: The packet dataplane's native addon is not built \(no "\/nonexistent\/tslvs_packet\.node"\);.*\(TSLVS_ERR_DATAPLANE_UNAVAILABLE\); fix what it says and start again; the host changes were undone, the whole log is ".*director\.log" \(TSLVS_ERR_DAEMON_START\)\n$/);
    assert.equal(ns.snapshot(), before);
    assert.equal(existsSync(join(ns.tmp, 'state', 'director.json')), false);
  } finally {
    ns.remove();
  }
});

test('a killed daemon (root): status says stopped (exit 3), the next start undoes the old changes and starts afresh', { skip, timeout: 60_000 }, async () => {
  const ns = new HostNs();
  try {
    ns.sh('sysctl', '-qw', 'net.ipv4.ip_forward=1');
    const before = ns.snapshot();
    assert.equal((await ns.tslvs(['director', 'start', '--interface', 'eth0', '--http', 'off'])).code, 0);
    const pid = JSON.parse(readFileSync(join(ns.tmp, 'state', 'director.json'), 'utf8')).pid as number;
    process.kill(pid, 'SIGKILL');
    for (let t = 0; t < 100; t++) {
      try { process.kill(pid, 0); } catch { break; }
      await new Promise((res) => setTimeout(res, 20));
    }
    const st = await ns.tslvs(['director', 'status']);
    assert.equal(st.code, 3);
    assert.match(st.stdout, new RegExp(`^tslvs director is stopped: its daemon \\(pid ${pid}\\) does not answer`));
    const again = await ns.tslvs(['director', 'start', '--interface', 'eth0', '--http', 'off']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`the daemon of the previous start \\(pid ${pid}\\) is gone; its host changes were undone`));
    assert.equal((await ns.tslvs(['director', 'stop'])).code, 0);
    assert.equal(ns.snapshot(), before);
  } finally {
    ns.remove();
  }
});

test('director start refuses what cannot work, changing nothing (root): a VIP on the director, no such interface, a down one', { skip, timeout: 60_000 }, async () => {
  const ns = new HostNs();
  try {
    ns.sh('ip', 'addr', 'add', '203.0.113.10/32', 'dev', 'eth1');
    ns.sh('sysctl', '-qw', 'net.ipv4.ip_forward=1');
    const before = ns.snapshot();
    const vip = await ns.tslvs(['director', 'start', '--interface', 'eth0', '--vip', '203.0.113.10']);
    assert.equal(vip.code, 1);
    assert.match(vip.stderr, /^tslvs: VIP 203\.0\.113\.10 is an address of this director \(on eth1\).*ip addr del 203\.0\.113\.10\/32 dev eth1.*--dataplane proxy.*\(TSLVS_ERR_HOST_CONFLICT\)\n$/);
    const nodev = await ns.tslvs(['director', 'start', '--interface', 'eth9']);
    assert.equal(nodev.code, 1);
    assert.equal(nodev.stderr, 'tslvs: No network interface "eth9" (ENODEV); name an existing interface with --interface ("ip link" lists them) (TSLVS_ERR_HOST_INTERFACE)\n');
    ns.sh('ip', 'link', 'set', 'eth1', 'down');
    const down = await ns.tslvs(['director', 'start', '--interface', 'eth1', '--dataplane', 'proxy']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /Interface "eth1" is down; bring it up first \(ip link set eth1 up\) \(TSLVS_ERR_HOST_INTERFACE\)/);
    ns.sh('ip', 'link', 'set', 'eth1', 'up');
    const noroute = await ns.tslvs(['director', 'start']);
    assert.equal(noroute.code, 2);
    assert.match(noroute.stderr, /No --interface given and this host has no default route/);
    assert.equal(ns.snapshot(), before);
    assert.equal(existsSync(join(ns.tmp, 'state', 'director.json')), false);
  } finally {
    ns.remove();
  }
});

test('director with the proxy dataplane (root): the VIPs of the rules file on the interface, as the seed\'s ifconfig eth0:1; stop removes them', { skip: isRoot() ? false : 'needs root', timeout: 60_000 }, async () => {
  const ns = new HostNs();
  try {
    ns.sh('ip', 'route', 'add', 'default', 'via', '198.51.100.254');
    const before = ns.snapshot();
    const rules = join(ns.tmp, 'rules');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(rules, '-A -t 203.0.113.10:80 -s rr\n-a -t 203.0.113.10:80 -r 198.51.100.12:80 -m -w 1\n-A -u 203.0.113.11:53 -s rr\n');
    // No --interface: the default route's.
    const up = await ns.tslvs(['director', 'start', '--dataplane', 'proxy', '--rules', rules, '--http', 'off']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /proxy dataplane on eth0, VIP 203\.0\.113\.10, 203\.0\.113\.11\n {2}ip addr add 203\.0\.113\.10\/32 dev eth0\n {2}ip addr add 203\.0\.113\.11\/32 dev eth0\n/);
    assert.match(ns.sh('ip', 'addr', 'show', 'dev', 'eth0'), /inet 203\.0\.113\.10\/32 scope global eth0/);
    const st = await ns.tslvs(['director', 'status']);
    assert.equal(st.code, 0);
    assert.match(st.stdout, /TCP {2}203\.0\.113\.10:80 rr\n {2}-> 198\.51\.100\.12:80 {13}Masq {4}1/);
    assert.equal((await ns.tslvs(['director', 'stop'])).code, 0);
    assert.equal(ns.snapshot(), before);
  } finally {
    ns.remove();
  }
});

test('director -f keepalived.conf (root): the file\'s VIPs are prepared, the daemon runs it; a refused file stops the start in keepalived\'s words', { skip, timeout: 60_000 }, async () => {
  const ns = new HostNs();
  try {
    const { writeFileSync } = await import('node:fs');
    const conf = join(ns.tmp, 'keepalived.conf');
    writeFileSync(conf, [
      'virtual_server 203.0.113.20 80 {', '  lb_algo wlc', '  lb_kind DR', '  protocol TCP',
      '  real_server 198.51.100.12 80 {', '    weight 3', '  }', '}',
      'virtual_server 2001:db8:1::20 80 {', '  lb_algo rr', '  lb_kind DR', '  protocol TCP',
      '  real_server 2001:db8::12 80 {', '    weight 2', '  }', '}', '',
    ].join('\n'));
    const before = ns.snapshot();
    const up = await ns.tslvs(['director', 'start', '--interface', 'eth0', '-f', conf, '--http', 'off']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /VIP 203\.0\.113\.20, 2001:db8:1::20\n {2}ip -6 route add blackhole 2001:db8:1::20\/128\n/);
    const st = await ns.tslvs(['director', 'status']);
    assert.match(st.stdout, /TCP {2}203\.0\.113\.20:80 wlc\n {2}-> 198\.51\.100\.12:80 {13}Route {3}3/);
    assert.equal((await ns.tslvs(['director', 'stop'])).code, 0);
    assert.equal(ns.snapshot(), before);

    writeFileSync(conf, 'virtual_server 203.0.113.20 80 {\n  lb_kind XX\n}\n');
    const bad = await ns.tslvs(['director', 'start', '--interface', 'eth0', '-f', conf, '--http', 'off']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^tslvs: The daemon exited during start \(status 1\): tslvs: keepalived\.conf ".*" refused: .*unknown \[XX\] routing method.*\(TSLVS_ERR_KEEPALIVED_CONFIG\); .*\(TSLVS_ERR_DAEMON_START\)\n$/);
    assert.equal(ns.snapshot(), before);
  } finally {
    ns.remove();
  }
});
