// keepalived.conf in the daemon, in process: which messages refuse a file, the startup table as a
// difference from a restored state, health decisions adapted to what an operator changed by hand,
// and dataplane settings reaching (and refused by) the dataplane.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '../../src/cli/control-client.js';
import { parseKeepalivedText } from '../../src/config/keepalived/load.js';
import { parseDaemonOptions } from '../../src/config/daemon-options.js';
import type { TableCommand } from '../../src/control/protocol.js';
import { startDaemon } from '../../src/daemon/lifecycle.js';
import { acceptConfig, KeepalivedConfigError } from '../../src/daemon/keepalived.js';
import { TslvsError } from '../../src/errors.js';
import { removeDir, tempDir } from '../helpers/daemon.js';
import { freePort } from '../health/servers.js';
import { destOn, sleep, table, until } from './health-lab.js';

const host = { user: () => ({ uid: 0, gid: 0 }), group: () => 0, stat: () => null, realpath: (p: string) => p, interfaces: () => null, path: '' };
const vs = (body: string) => `virtual_server 192.0.2.10 80 {\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n${body}\n}\n`;

test('acceptConfig: errors keepalived reports refuse the file with every file:line:col; deprecations and log-only lines are warnings', () => {
  const ok = acceptConfig('k.conf', parseKeepalivedText(`vrrp_track_file t {\n file /tmp/x\n}\n${vs(' real_server 198.51.100.1 80 { TCP_CHECK { } }')}`, 'k.conf', { host }));
  assert.deepEqual(ok.warnings, ['k.conf:1:1: "vrrp_track_file" is deprecated, please use "track_file"']);
  const bad = parseKeepalivedText(vs(' delay_lop 3\n real_server 198.51.100.1 80 { weight x\n TCP_CHECK { } }'), 'k.conf', { host });
  assert.throws(() => acceptConfig('/etc/k.conf', bad), (e: unknown) => {
    assert.ok(e instanceof KeepalivedConfigError);
    assert.equal(e.code, 'TSLVS_ERR_KEEPALIVED_CONFIG');
    assert.match(e.lines[0], /^k\.conf:6:2: Unknown keyword "delay_lop" in virtual_server/);
    assert.ok(e.lines.some((l) => /^k\.conf:7:\d+: invalid number 'x'/.test(l)), e.lines.join('\n'));
    assert.match(e.message, /^keepalived\.conf "\/etc\/k\.conf" refused: k\.conf:6:2: Unknown keyword "delay_lop".* \(and \d+ more\)$/);
    return true;
  });
});

function listen(port: number): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer((c) => c.destroy());
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

test('the startup table is a difference from the restored state; decisions adapt to a destination removed or added by hand', { timeout: 30_000 }, async () => {
  const dir = tempDir('ka-adapt');
  const [p1, p2] = [await freePort(), await freePort()];
  const s1 = await listen(p1);
  let s2: Server | null = await listen(p2);
  const conf = join(dir, 'keepalived.conf');
  writeFileSync(conf, vs(` delay_loop 0.1\n real_server 127.0.0.1 ${p1} { TCP_CHECK { connect_timeout 0.2\n retry 0 } }\n real_server 127.0.0.1 ${p2} { TCP_CHECK { connect_timeout 0.2\n retry 0 } }`));
  const argv = ['--dataplane', 'none', '--http', 'off', '--socket', join(dir, 's.sock'), '--state-dir', join(dir, 'st'), '-f', conf];
  const svc = { af: 2 as const, protocol: 6 as const, addr: '192.0.2.10', port: 80, fwmark: 0 };
  const dest = (port: number, weight = 1) => ({ af: 2 as const, addr: '127.0.0.1', port, fwd: 0, weight, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 });
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  try {
    const a = await startDaemon(parseDaemonOptions(argv, {}), { log, healthRunner: { bootstrapDelayMs: 0, random: () => 0 } });
    const socket = a.socketPath;
    assert.ok(lines.some((l) => /1 virtual servers, 2 real servers; 3 table changes/.test(l)), lines.join('\n'));
    await a.stop('test');

    // A restart restores the table from state.json: the same startup table is no change at all.
    lines.length = 0;
    const b = await startDaemon(parseDaemonOptions(argv, {}), { log, healthRunner: { bootstrapDelayMs: 0, random: () => 0 } });
    try {
      assert.ok(lines.some((l) => /restored 1 services/.test(l)), lines.join('\n'));
      assert.ok(lines.some((l) => /1 virtual servers, 2 real servers; 0 table changes;/.test(l)), lines.join('\n'));
      // An operator removes p2 by hand; then p2 dies: the runner's delete finds nothing to do, quietly.
      const exec = (cmds: TableCommand[]) => request({ type: 'exec', cmds }, { socketPath: socket });
      assert.deepEqual(await exec([{ cmd: 'del-dest', svc, dest: { af: 2, addr: '127.0.0.1', port: p2 } }]), { type: 'exec', results: [null] });
      await new Promise<void>((r) => s2!.close(() => r()));
      s2 = null;
      for (let i = 0; i < 200 && !lines.some((l) => l.includes(`Removing service [127.0.0.1]:tcp:${p2}`)); i++) await sleep(10);
      assert.ok(lines.some((l) => l.includes(`Removing service [127.0.0.1]:tcp:${p2}`)), lines.join('\n'));
      // An operator puts it back by hand at weight 5 while it is down; when it recovers the runner's add is an edit.
      assert.deepEqual(await exec([{ cmd: 'add-dest', svc, dest: dest(p2, 5) }]), { type: 'exec', results: [null] });
      s2 = await listen(p2);
      await until(socket, (t) => destOn(t, 80, p2)?.weight === 1, 'p2 back at its configured weight');
      assert.deepEqual(lines.filter((l) => /refused/.test(l)), []);
      assert.deepEqual((await table(socket)).services[0].dests.map((d) => d.port).sort(), [p1, p2].sort());
    } finally {
      await b.stop('test');
    }
  } finally {
    s1.close();
    s2?.close();
    removeDir(dir);
  }
});

test('dataplane settings reach the dataplane, which refuses an unknown key (TSLVS_ERR_BAD_OPTION) before the daemon starts', async () => {
  const dir = tempDir('ka-settings');
  try {
    const opts = parseDaemonOptions(['--dataplane', 'proxy', '--http', 'off', '--socket', join(dir, 's.sock'), '--state-dir', join(dir, 'st'),
      '--dataplane-opt', 'connectTimeoutMs=250', '--dataplane-opt', 'bogus=1'], {});
    await assert.rejects(startDaemon(opts, { log: () => undefined }), (e: unknown) =>
      e instanceof TslvsError && e.code === 'TSLVS_ERR_BAD_OPTION' && /Unknown proxy dataplane setting "bogus"/.test(e.message));
    const good = parseDaemonOptions(['--dataplane', 'proxy', '--http', 'off', '--socket', join(dir, 's.sock'), '--state-dir', join(dir, 'st'),
      '--dataplane-opt', 'connectTimeoutMs=250'], {});
    const d = await startDaemon(good, { log: () => undefined });
    try {
      assert.equal((d.director.dataplane as unknown as { ctx: { settings: { connectTimeoutMs: number } } }).ctx.settings.connectTimeoutMs, 250);
    } finally {
      await d.stop('test');
    }
  } finally {
    removeDir(dir);
  }
});
