import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyIpFailure, Ip, type IpRunner, ipErrno, normalizeDst, routeArgs, routeText } from '../../src/host/ip.js';
import { TslvsError } from '../../src/errors.js';

/** A runner that records command lines and answers from a script. */
function scripted(answers: Record<string, { stdout?: string; stderr?: string; code?: number | string }>): { run: IpRunner; calls: string[] } {
  const calls: string[] = [];
  const run: IpRunner = async (args) => {
    const line = args.join(' ');
    calls.push(line);
    const a = answers[line] ?? { stdout: '' };
    if (a.code !== undefined) throw { code: a.code, stderr: a.stderr ?? '' };
    return { stdout: a.stdout ?? '', stderr: '' };
  };
  return { run, calls };
}

// Messages as iproute2 6.1 prints them (seen on the development machine).
test('iproute2 messages map to errno', () => {
  assert.equal(ipErrno('RTNETLINK answers: Operation not permitted'), 'EPERM');
  assert.equal(ipErrno('setting the network namespace "x" failed: Operation not permitted'), 'EPERM');
  assert.equal(ipErrno('Cannot find device "eth9"'), 'ENODEV');
  assert.equal(ipErrno('Device "nope" does not exist.'), 'ENODEV');
  assert.equal(ipErrno('Error: ipv4: Address already assigned.'), 'EEXIST');
  assert.equal(ipErrno('RTNETLINK answers: File exists'), 'EEXIST');
  assert.equal(ipErrno('Error: ipv4: Address not found.'), 'EADDRNOTAVAIL');
  assert.equal(ipErrno('RTNETLINK answers: No such process'), 'ESRCH');
  assert.equal(ipErrno('Error: Nexthop has invalid gateway.'), 'ENETUNREACH');
  assert.equal(ipErrno('Error: any valid prefix is expected rather than "bogus".'), 'EINVAL');
});

test('a failed command becomes one line with the command, iproute2\'s reason and the fix', () => {
  const perm = classifyIpFailure(['addr', 'add', '203.0.113.10/32', 'dev', 'lo'], { code: 2, stderr: 'RTNETLINK answers: Operation not permitted\n' });
  assert.equal(perm.code, 'TSLVS_ERR_HOST_PERMISSION');
  assert.equal(perm.message, '"ip addr add 203.0.113.10/32 dev lo" failed: RTNETLINK answers: Operation not permitted (EPERM)');
  assert.match(perm.hint, /run as root/);
  const dev = classifyIpFailure(['link', 'show', 'dev', 'eth9'], { code: 1, stderr: 'Device "eth9" does not exist.\n' });
  assert.equal(dev.code, 'TSLVS_ERR_HOST_INTERFACE');
  assert.match(dev.hint, /"eth9" is not an interface here/);
  const gw = classifyIpFailure(['-4', 'route', 'add', 'default', 'via', '10.9.9.9'], { code: 2, stderr: 'Error: Nexthop has invalid gateway.\n' });
  assert.equal(gw.code, 'TSLVS_ERR_HOST_COMMAND');
  assert.equal(gw.errno, 'ENETUNREACH');
  assert.match(gw.hint, /directly connected network/);
  const missing = classifyIpFailure(['link', 'show'], { code: 'ENOENT', stderr: '' });
  assert.equal(missing.code, 'TSLVS_ERR_HOST_COMMAND');
  assert.match(missing.hint, /install iproute2/);
});

test('route specs are typed as an administrator would', () => {
  assert.deepEqual(routeArgs({ family: 6, type: 'blackhole', dst: '2001:db8::10/128' }), ['blackhole', '2001:db8::10/128']);
  assert.equal(routeText('add', { family: 4, dst: 'default', via: '198.51.100.1', dev: 'eth0', metric: 100 }), 'ip -4 route add default via 198.51.100.1 dev eth0 metric 100');
  assert.equal(normalizeDst(6, '2001:db8::10'), '2001:db8::10/128');
  assert.equal(normalizeDst(4, '203.0.113.10'), '203.0.113.10/32');
  assert.equal(normalizeDst(4, 'default'), 'default');
});

test('reads go through ip -j; default metrics are left out so a route re-adds as it was', async () => {
  const { run, calls } = scripted({
    '-j link show': { stdout: '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"link_type":"loopback"},{"ifindex":2,"ifname":"eth0","flags":["BROADCAST","UP"],"link_type":"ether"}]' },
    '-j addr show dev lo': { stdout: '[{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8},{"family":"inet6","local":"::1","prefixlen":128}]}]' },
    '-j -6 route show type blackhole': { stdout: '[{"type":"blackhole","dst":"2001:db8::10","dev":"lo","metric":1024,"flags":[],"pref":"medium"}]' },
    '-j -4 route show default': { stdout: '[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},{"dst":"default","gateway":"192.0.2.254","dev":"eth0","metric":100,"flags":[]}]' },
    '-j link show dev eth9': { code: 1, stderr: 'Device "eth9" does not exist.\n' },
  });
  const ip = new Ip(run);
  assert.deepEqual(await ip.links(), [
    { name: 'lo', index: 1, up: true, loopback: true }, { name: 'eth0', index: 2, up: true, loopback: false },
  ]);
  assert.deepEqual(await ip.addrs('lo'), [
    { dev: 'lo', family: 4, addr: '127.0.0.1', prefixLen: 8 }, { dev: 'lo', family: 6, addr: '::1', prefixLen: 128 },
  ]);
  assert.deepEqual(await ip.routes(6, { type: 'blackhole' }), [{ family: 6, type: 'blackhole', dst: '2001:db8::10/128' }]);
  assert.deepEqual(await ip.routes(4, { dst: 'default' }), [
    { family: 4, dst: 'default', via: '192.0.2.1', dev: 'eth0' }, { family: 4, dst: 'default', via: '192.0.2.254', dev: 'eth0', metric: 100 },
  ]);
  assert.equal(await ip.link('eth9'), null);
  await ip.addrAdd({ dev: 'lo', family: 6, addr: '2001:db8::10', prefixLen: 128 });
  await ip.routeDel({ family: 6, type: 'blackhole', dst: '2001:db8::10/128' });
  assert.deepEqual(calls.slice(-2), ['addr add 2001:db8::10/128 dev lo nodad', '-6 route del blackhole 2001:db8::10/128']);
});

test('a refused change rejects with a TslvsError that keeps the errno', async () => {
  const { run } = scripted({ 'addr del 203.0.113.10/32 dev lo': { code: 2, stderr: 'Error: ipv4: Address not found.\n' } });
  await assert.rejects(new Ip(run).addrDel({ dev: 'lo', family: 4, addr: '203.0.113.10', prefixLen: 32 }),
    (e: unknown) => e instanceof TslvsError && e.errno === 'EADDRNOTAVAIL' && e.code === 'TSLVS_ERR_HOST_COMMAND');
});
