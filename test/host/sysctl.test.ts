import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { confKey, interfaceOf, keyParts, Sysctl } from '../../src/host/sysctl.js';
import { TslvsError } from '../../src/errors.js';

async function fakeProcSys(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'tslvs-sysctl-'));
  for (const dev of ['all', 'eth0.100']) {
    await mkdir(join(root, 'net', 'ipv4', 'conf', dev), { recursive: true });
    await writeFile(join(root, 'net', 'ipv4', 'conf', dev, 'arp_ignore'), '0\n');
  }
  return root;
}

test('keys are spelled as sysctl(8) prints them: a dot inside an interface name is a slash', () => {
  assert.deepEqual(keyParts('net.ipv4.conf.eth0/100.arp_ignore'), ['net', 'ipv4', 'conf', 'eth0.100', 'arp_ignore']);
  assert.equal(confKey(4, 'eth0.100', 'arp_ignore'), 'net.ipv4.conf.eth0/100.arp_ignore');
  assert.equal(confKey(6, 'all', 'forwarding'), 'net.ipv6.conf.all.forwarding');
  assert.equal(interfaceOf('net.ipv4.conf.eth0/100.arp_ignore'), 'eth0.100');
  assert.equal(interfaceOf('net.ipv4.conf.all.arp_ignore'), null);
  assert.equal(interfaceOf('net.ipv4.ip_forward'), null);
});

test('a key cannot climb out of /proc/sys', () => {
  for (const bad of ['', 'net..ipv4', 'net.ipv4.conf.../x', 'net.ipv4.conf../.x']) {
    assert.throws(() => keyParts(bad), (e: unknown) => e instanceof TslvsError && e.code === 'TSLVS_ERR_BAD_OPTION', bad);
  }
});

test('get reads the value without its newline; set writes it as echo does', async () => {
  const root = await fakeProcSys();
  try {
    const s = new Sysctl(root);
    assert.equal(await s.get('net.ipv4.conf.all.arp_ignore'), '0');
    await s.set('net.ipv4.conf.eth0/100.arp_ignore', '1');
    assert.equal(await readFile(join(root, 'net/ipv4/conf/eth0.100/arp_ignore'), 'utf8'), '1\n');
    assert.equal(await s.get('net.ipv4.conf.eth0/100.arp_ignore'), '1');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a missing interface is named, and set never creates a parameter', async () => {
  const root = await fakeProcSys();
  try {
    const s = new Sysctl(root);
    assert.equal(await s.getIfExists('net.ipv4.conf.eth9.arp_ignore'), null);
    await assert.rejects(s.set('net.ipv4.conf.eth9.arp_ignore', '1'), (e: unknown) => {
      assert.ok(e instanceof TslvsError);
      assert.equal(e.code, 'TSLVS_ERR_HOST_INTERFACE');
      assert.match(e.message, /no interface "eth9" \(ENOENT\)/);
      return true;
    });
    await assert.rejects(s.get('net.ipv4.no_such_thing'), (e: unknown) => e instanceof TslvsError && e.code === 'TSLVS_ERR_HOST_COMMAND');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('no permission says to run as root (root; checked as user nobody)', { skip: process.getuid?.() === 0 ? false : 'needs root to drop to nobody' }, () => {
  // Root may write anything; a process of user nobody gets EACCES from the real /proc/sys.
  const mod = new URL('../../src/host/sysctl.js', import.meta.url).href;
  const code = `import(${JSON.stringify(mod)}).then((m) => new m.Sysctl().set('net.ipv4.conf.all.arp_ignore', '1'))` +
    `.then(() => console.log('written'), (e) => console.log(e.code, e.message, '|', e.hint))`;
  const out = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', code], { encoding: 'utf8' }).trim();
  assert.match(out, /^TSLVS_ERR_HOST_PERMISSION Cannot set kernel parameter "net\.ipv4\.conf\.all\.arp_ignore" to "1": permission denied \(EACCES\) \| run as root/);
});

test('the real /proc/sys reads as sysctl(8) does', async () => {
  const v = await new Sysctl().get('net.ipv4.conf.all.arp_ignore');
  assert.match(v, /^\d+$/);
});
