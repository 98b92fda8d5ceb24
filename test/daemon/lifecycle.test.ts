// Real daemons: `tslvs run` processes on temporary sockets and state directories, driven over
// the control socket as tslvsadm drives them, killed and restarted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { request } from '../../src/cli/control-client.js';
import { parseDaemonOptions } from '../../src/config/daemon-options.js';
import type { Response, TableCommand, TableSnapshot } from '../../src/control/protocol.js';
import { startDaemon } from '../../src/daemon/lifecycle.js';
import { removeDir, runTslvs, startDaemonProcess, tempDir, TSLVS_BIN } from '../helpers/daemon.js';
import { FailingDataplane } from '../helpers/failing-dataplane.js';

const svc = (addr: string) => ({ af: 2 as const, protocol: 6 as const, addr, port: 80, fwmark: 0 });
const add = (addr: string, sched = 'wlc'): TableCommand => ({ cmd: 'add-service', svc: { ...svc(addr), sched, flags: 0, timeoutS: 0, netmask: 0xffffffff, pe: '' } });
const addDest = (v: string, r: string, weight = 1): TableCommand =>
  ({ cmd: 'add-dest', svc: svc(v), dest: { af: 2, addr: r, port: 80, fwd: 3, weight, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 } });

function table(res: Response): TableSnapshot {
  assert.equal(res.type, 'table', JSON.stringify(res));
  return (res as Extract<Response, { type: 'table' }>).table;
}

/** Services and dests without counters. */
function shape(t: TableSnapshot): unknown {
  return { timeouts: t.timeouts, services: t.services.map((s) => [s.addr, s.sched, s.flags, s.dests.map((d) => [d.addr, d.weight, d.fwd])]) };
}

test('tslvs run answers commands over its socket, and the table survives a SIGKILL and a restart', async () => {
  const dir = tempDir('lc-restart');
  const socket = join(dir, 's.sock');
  const stateDir = join(dir, 'state');
  const a = await startDaemonProcess({ socket, stateDir });
  try {
    assert.equal((await fsp.stat(socket)).mode & 0o777, 0o600);
    const hello = await request({ type: 'hello', version: 1 }, { socketPath: socket });
    assert.deepEqual(hello, { type: 'hello', version: 1, pid: a.proc.pid, dataplane: 'none' });
    const r = await request({ type: 'exec', cmds: [add('192.0.2.1', 'rr'), addDest('192.0.2.1', '198.51.100.1', 2), addDest('192.0.2.1', '198.51.100.2', 3),
      add('192.0.2.2'), add('192.0.2.2'), { cmd: 'set-timeout', tcp: 100, tcpfin: 20, udp: 30 }] }, { socketPath: socket });
    assert.deepEqual(r, { type: 'exec', results: [null, null, null, null, { op: 'add-service', errno: 'EEXIST' }, null] });
    const before = table(await request({ type: 'get-table' }, { socketPath: socket }));
    assert.equal(before.services.length, 2);
    assert.deepEqual(await a.kill('SIGKILL'), { code: null, signal: 'SIGKILL' });
    assert.ok(existsSync(socket), 'a killed daemon leaves its socket file behind');

    const b = await startDaemonProcess({ socket, stateDir });
    try {
      assert.match(b.log(), /replaced a stale control socket/);
      assert.match(b.log(), /restored 2 services from ".*state\.json"/);
      const after = table(await request({ type: 'get-table' }, { socketPath: socket }));
      assert.deepEqual(shape(after), shape(before));
      assert.deepEqual(after.timeouts, { tcp: 100, tcpfin: 20, udp: 30 });
      const one = await request({ type: 'get-table', svc: svc('192.0.2.2') }, { socketPath: socket });
      assert.deepEqual(table(one).services.map((s) => s.addr), ['192.0.2.2']);
      assert.deepEqual(await request({ type: 'get-table', svc: svc('192.0.2.9') }, { socketPath: socket }),
        { type: 'error', error: { op: 'get-service', errno: 'ESRCH' } });
      assert.deepEqual(await request({ type: 'get-conns' }, { socketPath: socket }), { type: 'conns', conns: [] });
    } finally {
      await b.kill();
    }
  } finally {
    await a.kill('SIGKILL');
    removeDir(dir);
  }
});

test('SIGTERM stops the daemon cleanly: exit 0, socket removed, state kept', async () => {
  const dir = tempDir('lc-term');
  const socket = join(dir, 's.sock');
  const d = await startDaemonProcess({ socket, stateDir: join(dir, 'st') });
  try {
    await request({ type: 'exec', cmds: [add('192.0.2.1')] }, { socketPath: socket });
    assert.deepEqual(await d.kill('SIGTERM'), { code: 0, signal: null });
    assert.equal(existsSync(socket), false);
    assert.match(d.log(), /stopping \(SIGTERM\)[\s\S]*stopped/);
    assert.ok(existsSync(join(dir, 'st', 'state.json')));
    assert.equal(existsSync(join(dir, 'st', 'lock')), false, 'a clean stop gives the state directory back');
  } finally {
    await d.kill('SIGKILL');
    removeDir(dir);
  }
});

test('a corrupt state file is reported with its path, kept aside, and the daemon starts empty', async () => {
  const dir = tempDir('lc-corrupt');
  const socket = join(dir, 's.sock');
  const stateDir = join(dir, 'st');
  await fsp.mkdir(stateDir);
  await fsp.writeFile(join(stateDir, 'state.json'), '{"format":"tslvs-state","version":1,"serv');
  const d = await startDaemonProcess({ socket, stateDir });
  try {
    const kept = (await fsp.readdir(stateDir)).filter((n) => n.startsWith('state.json.corrupt-'));
    assert.equal(kept.length, 1);
    assert.equal(await fsp.readFile(join(stateDir, kept[0]), 'utf8'), '{"format":"tslvs-state","version":1,"serv');
    const log = d.log();
    assert.ok(log.includes(`Saved state "${join(stateDir, 'state.json')}" is corrupt`), log);
    assert.ok(log.includes(`kept it as "${join(stateDir, kept[0])}"`), log);
    assert.match(log, /started with an empty table/);
    assert.match(log, /TSLVS_ERR_STATE_CORRUPT/);
    assert.equal(table(await request({ type: 'get-table' }, { socketPath: socket })).services.length, 0);
    const st = await request({ type: 'status' }, { socketPath: socket });
    assert.equal(st.type === 'status' && (st.status.restored as { kind: string }).kind, 'corrupt');
  } finally {
    await d.kill();
    removeDir(dir);
  }
});

test('a saved table the core refuses is also kept aside, not half applied', async () => {
  const dir = tempDir('lc-refused');
  const socket = join(dir, 's.sock');
  const stateDir = join(dir, 'st');
  await fsp.mkdir(stateDir);
  const s = { af: 2, protocol: 6, addr: '192.0.2.1', port: 80, fwmark: 0, sched: 'rr', flags: 0, timeoutS: 0, netmask: 4294967295, pe: '', dests: [] };
  await fsp.writeFile(join(stateDir, 'state.json'), JSON.stringify({ format: 'tslvs-state', version: 1, savedAt: 'x',
    timeouts: { tcp: 900, tcpfin: 120, udp: 300 }, services: [s, { ...s, addr: '192.0.2.2', sched: 'nosuch' }] }));
  const d = await startDaemonProcess({ socket, stateDir });
  try {
    assert.match(d.log(), /is corrupt \(Saved state .* refused at entry 3: add-service: ENOENT/);
    assert.equal(table(await request({ type: 'get-table' }, { socketPath: socket })).services.length, 0);
    assert.equal((await fsp.readdir(stateDir)).filter((n) => n.startsWith('state.json.corrupt-')).length, 1);
  } finally {
    await d.kill();
    removeDir(dir);
  }
});

const RULES_1 = `# web and dns
-A -t 192.0.2.1:80 -s rr
-a -t 192.0.2.1:80 -r 198.51.100.1:80 -m -w 1
-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m -w 1
-A -t 192.0.2.2:80 -s wlc
-a -t 192.0.2.2:80 -r 198.51.100.3:80 -g -w 1
-A -u 192.0.2.3:53 -s rr
`;
// Reordered lines, one weight changed, one dest added, 192.0.2.2 removed, 192.0.2.4 added.
const RULES_2 = `-A -u 192.0.2.3:53 -s rr
-A -t 192.0.2.1:80 -s rr
-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m -w 3
-a -t 192.0.2.1:80 -r 198.51.100.1:80 -m -w 1
-a -t 192.0.2.1:80 -r 198.51.100.4:80 -m -w 1
-A -t 192.0.2.4:80 -s sh -b sh-port
`;

test('SIGHUP re-reads --rules and applies only the difference; unchanged services keep their place', async () => {
  const dir = tempDir('lc-hup');
  const socket = join(dir, 's.sock');
  const rules = join(dir, 'rules');
  await fsp.writeFile(rules, RULES_1);
  const d = await startDaemonProcess({ socket, stateDir: join(dir, 'st'), args: ['--rules', rules] });
  try {
    assert.match(d.log(), /3 services added/);
    const t1 = table(await request({ type: 'get-table' }, { socketPath: socket }));
    assert.deepEqual(t1.services.map((s) => s.addr), ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
    await fsp.writeFile(rules, RULES_2);
    d.proc.kill('SIGHUP');
    assert.ok(await d.waitLog(/SIGHUP: Reloaded/), d.log());
    assert.match(d.log(), /1 services added, 1 removed, 1 changed, 1 unchanged/);
    const t2 = table(await request({ type: 'get-table' }, { socketPath: socket }));
    // A full re-apply would list 192.0.2.3 first (file order) and 198.51.100.4, .1, .2 in the
    // dest list; applying only the difference keeps the old places.
    assert.deepEqual(t2.services.map((s) => s.addr), ['192.0.2.1', '192.0.2.3', '192.0.2.4']);
    assert.deepEqual(t2.services[0].dests.map((x) => [x.addr, x.weight]), [['198.51.100.4', 1], ['198.51.100.2', 3], ['198.51.100.1', 1]]);

    // A rules file with a bad line changes nothing, and says where the problem is.
    await fsp.writeFile(rules, `${RULES_2}-a -t 192.0.2.4:80 -r 198.51.100.9:80 -w 70000\n`);
    d.proc.kill('SIGHUP');
    assert.ok(await d.waitLog(/SIGHUP: reload refused/), d.log());
    assert.ok(d.log().includes(`${rules}:7: Invalid weight "70000"`), d.log());
    const cli = await runTslvs(['reload', '--socket', socket]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /^tslvs: .*rules:7: Invalid weight "70000".*\(TSLVS_ERR_RULES_SYNTAX\)\n$/);
    assert.deepEqual(shape(table(await request({ type: 'get-table' }, { socketPath: socket }))), shape(t2));

    await fsp.writeFile(rules, RULES_1);
    const ok = await runTslvs(['reload', '--socket', socket]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^Reloaded ".*rules": 1 services added, 1 removed, 1 changed, 1 unchanged\n$/);
  } finally {
    await d.kill();
    removeDir(dir);
  }
});

test('a second daemon on another socket but the same state directory refuses to start', async () => {
  const dir = tempDir('lc-samestate');
  const a = await startDaemonProcess({ socket: join(dir, 'a.sock'), stateDir: join(dir, 'st') });
  try {
    const b = await startDaemonProcess({ socket: join(dir, 'b.sock'), stateDir: join(dir, 'st') });
    assert.equal((await b.exited).code, 1);
    assert.ok(b.log().includes(`Another tslvs daemon (pid ${a.proc.pid}) uses the state directory "${join(dir, 'st')}"`), b.log());
    assert.equal(existsSync(join(dir, 'b.sock')), false);
  } finally {
    await a.kill();
    removeDir(dir);
  }
});

test('a second daemon on the same socket refuses to start and the first keeps running', async () => {
  const dir = tempDir('lc-second');
  const socket = join(dir, 's.sock');
  const a = await startDaemonProcess({ socket, stateDir: join(dir, 'a') });
  try {
    const b = await startDaemonProcess({ socket, stateDir: join(dir, 'b') });
    const exit = await b.exited;
    assert.equal(exit.code, 1);
    assert.match(b.log(), /^tslvs: Another tslvs daemon is already listening on ".*s\.sock"; .*\(TSLVS_ERR_DAEMON_RUNNING\)\n$/);
    assert.equal(existsSync(join(dir, 'b', 'state.json')), false);
    const hello = await request({ type: 'hello', version: 1 }, { socketPath: socket });
    assert.equal(hello.type === 'hello' && hello.pid, a.proc.pid);
  } finally {
    await a.kill();
    removeDir(dir);
  }
});

test('tslvs status prints the daemon and its table (exit 0), and exits 3 when no daemon runs', async () => {
  const dir = tempDir('lc-status');
  const socket = join(dir, 's.sock');
  const d = await startDaemonProcess({ socket, stateDir: join(dir, 'st') });
  try {
    await request({ type: 'exec', cmds: [
      { cmd: 'add-service', svc: { ...svc('192.0.2.1'), sched: 'wlc', flags: 1, timeoutS: 300, netmask: 0xffffff00, pe: '' } },
      { cmd: 'add-dest', svc: svc('192.0.2.1'), dest: { af: 2, addr: '198.51.100.50', port: 8080, fwd: 0, weight: 5, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 } },
      { cmd: 'add-dest', svc: svc('192.0.2.1'), dest: { af: 2, addr: '198.51.100.51', port: 80, fwd: 2, weight: 0, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 } },
    ] }, { socketPath: socket });
    const r = await runTslvs(['status', '--socket', socket]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^tslvs \\S+ is running: pid ${d.proc.pid}, dataplane none, up \\d+:\\d\\d:\\d\\d\n`));
    // The table lines as ipvsadm -L -n prints them (spec §3.1 and §11.2 examples), dests sorted.
    assert.ok(r.stdout.endsWith([
      'IP Virtual Server version 1.2.1 (size=4096)',
      'Prot LocalAddress:Port Scheduler Flags',
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
      'TCP  192.0.2.1:80 wlc persistent 300 mask 255.255.255.0',
      '  -> 198.51.100.50:8080           Masq    5      0          0         ',
      '  -> 198.51.100.51:80             Tunnel  0      0          0         ',
      '',
    ].join('\n')), r.stdout);
    const stop = await runTslvs(['stop', '--socket', socket]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(stop.stdout, `tslvs stopped (pid ${d.proc.pid})\n`);
    assert.deepEqual(await d.exited, { code: 0, signal: null });
    const gone = await runTslvs(['status', '--socket', socket]);
    assert.equal(gone.code, 3);
    assert.equal(gone.stdout, `tslvs is not running (nobody listens on "${socket}")\n`);
    const stop2 = await runTslvs(['stop', '--socket', socket]);
    assert.equal(stop2.code, 3);
    assert.match(stop2.stderr, /TSLVS_ERR_NO_DAEMON/);
  } finally {
    await d.kill();
    removeDir(dir);
  }
});

test('tslvs refuses an unknown flag with one line naming the fix (exit 2), and a keepalived.conf it cannot read with its own code', async () => {
  const r = await runTslvs(['run', '--dataplan', 'none']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^tslvs: Unknown option "--dataplan" for "tslvs run"; did you mean "--dataplane"\?.*\(TSLVS_ERR_BAD_OPTION\)\n$/);
  const bad = await runTslvs(['run', '--dataplane', 'kernelx']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Invalid value "kernelx" for --dataplane; expected proxy, packet, none/);
  const dir = tempDir('lc-kaconf');
  try {
    const h = await runTslvs(['run', '--dataplane', 'none', '--socket', join(dir, 's'), '--state-dir', dir, '-f', join(dir, 'keepalived.conf')]);
    assert.equal(h.code, 1);
    assert.match(h.stderr, /keepalived\.conf ".*keepalived\.conf" refused: .*\(TSLVS_ERR_KEEPALIVED_CONFIG\)/);
    assert.equal(existsSync(join(dir, 's')), false);
  } finally {
    removeDir(dir);
  }
  const u = await runTslvs(['frobnicate']);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /Unknown command "frobnicate"/);
});

test('in-process daemon: a command the dataplane refuses over the socket changes nothing', async () => {
  const dir = tempDir('lc-fail');
  const dp = new FailingDataplane();
  const lines: string[] = [];
  const opts = parseDaemonOptions(['--socket', join(dir, 's.sock'), '--state-dir', join(dir, 'st'), '--dataplane', 'none'], {});
  const d = await startDaemon(opts, { dataplane: dp, log: (l) => lines.push(l) });
  try {
    const socketPath = opts.socket;
    await request({ type: 'exec', cmds: [add('192.0.2.1', 'rr'), addDest('192.0.2.1', '198.51.100.1')] }, { socketPath });
    const before = table(await request({ type: 'get-table' }, { socketPath }));
    const saved = await fsp.readFile(join(dir, 'st', 'state.json'), 'utf8');
    dp.failNext(1);
    const r = await request({ type: 'exec', cmds: [{ cmd: 'del-service', svc: svc('192.0.2.1') }] }, { socketPath });
    assert.equal(r.type, 'exec');
    const [res] = (r as Extract<Response, { type: 'exec' }>).results;
    assert.deepEqual([res?.op, res?.errno, res?.code], ['del-service', 'EADDRINUSE', 'TSLVS_ERR_DATAPLANE_REFUSED']);
    assert.ok(res?.message && res.hint);
    assert.deepEqual(table(await request({ type: 'get-table' }, { socketPath })), before);
    assert.equal(await fsp.readFile(join(dir, 'st', 'state.json'), 'utf8'), saved, 'nothing was saved either');
    assert.deepEqual(await request({ type: 'reload' }, { socketPath }),
      { type: 'ok', message: 'Nothing to reload: the daemon was started without --rules FILE or -f FILE' });
    assert.deepEqual(await request({ type: 'shutdown' }, { socketPath }), { type: 'ok' });
    await d.stopped;
    assert.equal(dp.closed, true);
  } finally {
    await d.stop('test end');
    removeDir(dir);
  }
});

/** Runs `tslvs ARGS` as the unprivileged user nobody (uid 65534). */
function runAsNobody(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [TSLVS_BIN, ...args], { uid: 65534, gid: 65534, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    p.on('exit', (code) => res({ code, stderr }));
  });
}

const isRoot = process.getuid?.() === 0;

test('permission problems say which path and what to do: socket dir, state dir, connecting (needs root to switch users)',
  { skip: isRoot ? false : 'needs root to run commands as the user nobody' }, async () => {
    const dir = tempDir('lc-perm');
    try {
      const open = join(dir, 'open');
      await fsp.mkdir(open);
      await fsp.chmod(dir, 0o755);
      await fsp.chown(open, 65534, 65534);
      const closed = join(dir, 'closed');
      await fsp.mkdir(closed, { mode: 0o700 });

      const sock = await runAsNobody(['run', '--dataplane', 'none', '--http', 'off', '--state-dir', join(open, 'st'), '--socket', join(closed, 'x', 's.sock')]);
      assert.equal(sock.code, 1);
      assert.match(sock.stderr, new RegExp(`^tslvs: Cannot create the control socket "${closed}/x": permission denied \\(EACCES\\); run as root, or choose a socket in a directory you own with --socket PATH or TSLVS_SOCKET \\(TSLVS_ERR_SOCKET_ACCESS\\)\\n$`));

      const state = await runAsNobody(['run', '--dataplane', 'none', '--http', 'off', '--state-dir', join(closed, 'st'), '--socket', join(open, 's.sock')]);
      assert.equal(state.code, 1);
      assert.match(state.stderr, new RegExp(`^tslvs: Cannot use state directory "${closed}/st": .*\\(EACCES\\); .*--state-dir DIR.*\\(TSLVS_ERR_STATE_DIR\\)\\n$`));
      assert.equal(existsSync(join(open, 's.sock')), false, 'nothing was left behind');

      const d = await startDaemonProcess({ socket: join(open, 'root.sock'), stateDir: join(dir, 'rootstate') });
      try {
        const st = await runAsNobody(['status', '--socket', join(open, 'root.sock')]);
        assert.equal(st.code, 1);
        assert.match(st.stderr, /^tslvs: Permission denied connecting to ".*root\.sock" \(EACCES\); run as the daemon's user.*\(TSLVS_ERR_SOCKET_ACCESS\)\n$/);
      } finally {
        await d.kill();
      }
    } finally {
      removeDir(dir);
    }
  });
