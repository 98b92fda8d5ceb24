// The change journal behind start/stop: saved before each change, undone newest first, careful
// about values others changed, and never losing a change it could not undo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Change, describe, describeUndo, type Host, Journal, type JournalState } from '../../src/host/changes.js';
import { Ip, type IpRunner } from '../../src/host/ip.js';
import { Sysctl } from '../../src/host/sysctl.js';
import { TslvsError } from '../../src/errors.js';

interface Fixture {
  dir: string;
  host: Host;
  calls: string[];
  statePath: string;
  /** Makes the next `ip` command with this text fail with iproute2's message. */
  failNext: Map<string, string>;
  /** Called before every ip command (to look at the state file at that moment). */
  onIp?: (line: string) => Promise<void>;
}

async function fixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'tslvs-journal-'));
  await mkdir(join(dir, 'proc', 'net', 'ipv4', 'conf', 'all'), { recursive: true });
  await writeFile(join(dir, 'proc', 'net', 'ipv4', 'conf', 'all', 'arp_ignore'), '0\n');
  await writeFile(join(dir, 'proc', 'net', 'ipv4', 'conf', 'all', 'arp_announce'), '0\n');
  const f: Fixture = { dir, calls: [], statePath: join(dir, 'state', 'x.json'), failNext: new Map(), host: null as unknown as Host };
  const run: IpRunner = async (args) => {
    const line = args.join(' ');
    await f.onIp?.(line);
    f.calls.push(line);
    const err = f.failNext.get(line);
    if (err !== undefined) {
      f.failNext.delete(line);
      throw { code: 2, stderr: err };
    }
    return { stdout: '', stderr: '' };
  };
  f.host = { ip: new Ip(run), sysctl: new Sysctl(join(dir, 'proc')) };
  return f;
}

const ADDR: Change = { kind: 'addr-add', addr: { dev: 'lo', family: 4, addr: '203.0.113.10', prefixLen: 32 }, vip: '203.0.113.10' };
const IGNORE: Change = { kind: 'sysctl', key: 'net.ipv4.conf.all.arp_ignore', prev: '0', value: '1' };
const ANNOUNCE: Change = { kind: 'sysctl', key: 'net.ipv4.conf.all.arp_announce', prev: '0', value: '2' };

const newState = (): JournalState & { format: string } => ({ format: 'test', changes: [] });

test('changes read as the commands an administrator would type, and their undo', () => {
  assert.equal(describe(ADDR), 'ip addr add 203.0.113.10/32 dev lo');
  assert.equal(describeUndo(ADDR), 'ip addr del 203.0.113.10/32 dev lo');
  assert.equal(describe(IGNORE), 'sysctl -w net.ipv4.conf.all.arp_ignore=1');
  assert.equal(describeUndo(IGNORE), 'sysctl -w net.ipv4.conf.all.arp_ignore=0');
  const hole: Change = { kind: 'route-add', route: { family: 6, type: 'blackhole', dst: '2001:db8::10/128' } };
  assert.equal(describeUndo(hole), 'ip -6 route del blackhole 2001:db8::10/128');
});

test('each change is in the state file before it is made', async () => {
  const f = await fixture();
  try {
    const seen: number[] = [];
    f.onIp = async () => {
      seen.push((JSON.parse(await readFile(f.statePath, 'utf8')) as JournalState).changes.length);
    };
    const j = new Journal(f.host, f.statePath, newState());
    await j.make(IGNORE);
    await j.make(ADDR);
    assert.deepEqual(seen, [2], 'the address was recorded (second change) before ip ran');
    assert.equal(await f.host.sysctl.get('net.ipv4.conf.all.arp_ignore'), '1');
  } finally {
    await rm(f.dir, { recursive: true, force: true });
  }
});

test('a change the host refuses leaves no record; rollback undoes only this run, newest first', async () => {
  const f = await fixture();
  try {
    const earlier = new Journal(f.host, f.statePath, newState());
    await earlier.make(IGNORE);
    const state = JSON.parse(await readFile(f.statePath, 'utf8')) as JournalState & { format: string };
    const j = new Journal(f.host, f.statePath, state);
    await j.make(ANNOUNCE);
    await j.make(ADDR);
    f.failNext.set('-6 route add blackhole 2001:db8::10/128', 'RTNETLINK answers: Operation not permitted');
    await assert.rejects(j.make({ kind: 'route-add', route: { family: 6, type: 'blackhole', dst: '2001:db8::10/128' } }),
      (e: unknown) => e instanceof TslvsError && e.code === 'TSLVS_ERR_HOST_PERMISSION');
    assert.equal((JSON.parse(await readFile(f.statePath, 'utf8')) as JournalState).changes.length, 3);
    f.calls.length = 0;
    assert.deepEqual(await j.rollback(), []);
    assert.deepEqual(f.calls, ['addr del 203.0.113.10/32 dev lo']);
    assert.equal(await f.host.sysctl.get('net.ipv4.conf.all.arp_announce'), '0');
    assert.equal(await f.host.sysctl.get('net.ipv4.conf.all.arp_ignore'), '1', 'the earlier run\'s change stays');
    assert.deepEqual((JSON.parse(await readFile(f.statePath, 'utf8')) as JournalState).changes, [IGNORE]);
  } finally {
    await rm(f.dir, { recursive: true, force: true });
  }
});

test('undo after a crash between record and change: the old value is still there, nothing to say', async () => {
  const f = await fixture();
  try {
    // As if start had saved these and died before making them.
    const j = new Journal(f.host, f.statePath, { format: 'test', changes: [IGNORE, ADDR] });
    f.failNext.set('addr del 203.0.113.10/32 dev lo', 'Error: ipv4: Address not found.');
    assert.deepEqual(await j.undoWhere(() => true), []);
    assert.equal(await f.host.sysctl.get('net.ipv4.conf.all.arp_ignore'), '0');
    assert.deepEqual(j.state.changes, []);
  } finally {
    await rm(f.dir, { recursive: true, force: true });
  }
});

test('a value changed again by someone else is left as it is, with a note', async () => {
  const f = await fixture();
  try {
    const j = new Journal(f.host, f.statePath, newState());
    await j.make(IGNORE);
    await f.host.sysctl.set('net.ipv4.conf.all.arp_ignore', '2');
    assert.deepEqual(await j.undoWhere(() => true),
      ['left net.ipv4.conf.all.arp_ignore at 2: it was changed again after start (start set 1, it was 0 before)']);
    assert.equal(await f.host.sysctl.get('net.ipv4.conf.all.arp_ignore'), '2');
  } finally {
    await rm(f.dir, { recursive: true, force: true });
  }
});

test('a change that cannot be undone stays in the state file for the next stop, the others are undone', async () => {
  const f = await fixture();
  try {
    const j = new Journal(f.host, f.statePath, newState());
    await j.make(IGNORE);
    await j.make(ADDR);
    f.failNext.set('addr del 203.0.113.10/32 dev lo', 'RTNETLINK answers: Operation not permitted');
    await assert.rejects(j.undoWhere(() => true), (e: unknown) => {
      assert.ok(e instanceof TslvsError);
      assert.equal(e.code, 'TSLVS_ERR_HOST_COMMAND');
      assert.match(e.message, /^Could not undo 1 change\(s\): ip addr del 203\.0\.113\.10\/32 dev lo: "ip addr del 203\.0\.113\.10\/32 dev lo" failed/);
      assert.match(e.hint, /run stop again/);
      return true;
    });
    assert.equal(await f.host.sysctl.get('net.ipv4.conf.all.arp_ignore'), '0');
    assert.deepEqual((JSON.parse(await readFile(f.statePath, 'utf8')) as JournalState).changes, [ADDR]);
    // The next stop finishes the job.
    const k = new Journal(f.host, f.statePath, JSON.parse(await readFile(f.statePath, 'utf8')) as JournalState);
    assert.deepEqual(await k.undoWhere(() => true), []);
    assert.deepEqual(k.state.changes, []);
  } finally {
    await rm(f.dir, { recursive: true, force: true });
  }
});
