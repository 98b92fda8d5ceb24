// `tslvs top`: the frame as a pure function (sorting, widths, health, scrolling), then the real
// program in a real terminal under tmux: live updates, resize, sort keys, and a clean exit on q
// and on Ctrl-C with the terminal restored (main screen, cursor shown, cooked mode).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { compact, type FrameInput, parseTopOptions, renderFrame, sortedServices } from '../../../src/cli/tslvs/top.js';
import type { DestSnapshot, ServiceSnapshot, StatsWire, TableCommand, TableSnapshot } from '../../../src/control/protocol.js';
import { request } from '../../../src/cli/control-client.js';
import { parseIpvsadmRules } from '../../../src/config/ipvsadm-rules.js';
import { REPO, removeDir, runTslvs, startDaemonProcess, tempDir } from '../../helpers/daemon.js';

function stats(cps: number, bps = 0): StatsWire {
  return { conns: 0, inpkts: 0, outpkts: 0, inbytes: 0, outbytes: 0, cps, inpps: cps * 3, outpps: cps * 2, inbps: bps, outbps: bps * 4 };
}

function dest(addr: string, weight: number, active: number, cps: number, health?: DestSnapshot['health']): DestSnapshot {
  const d: DestSnapshot = {
    af: 2, addr, port: 80, fwd: 0, weight, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0,
    activeConns: active, inactConns: 1, persistConns: 0, overloaded: false, stats: stats(cps, cps * 100),
  };
  if (health) d.health = health;
  return d;
}

function svc(addr: string, port: number, cps: number, dests: DestSnapshot[]): ServiceSnapshot {
  return { af: 2, protocol: 6, addr, port, fwmark: 0, sched: 'wrr', flags: 0, timeoutS: 0, netmask: 0xffffffff, pe: '', dests, stats: stats(cps, cps * 100) };
}

function table(): TableSnapshot {
  return {
    version: '1.2.1', connTabSize: 4096, timeouts: { tcp: 900, tcpfin: 120, udp: 300 }, dataplane: 'none', totals: stats(70, 7000),
    services: [
      svc('192.0.2.1', 80, 10, [dest('198.51.100.1', 1, 5, 4), dest('198.51.100.2', 1, 9, 6)]),
      svc('192.0.2.2', 443, 60, [
        dest('198.51.100.3', 2, 50, 60, { checker: 'HTTP_GET', up: true, lastResult: 'HTTP 200', latencyMs: 1.5, lastTransitionMs: null }),
        dest('198.51.100.4', 0, 0, 0, { checker: 'HTTP_GET', up: false, lastResult: 'timeout', latencyMs: null, lastTransitionMs: null }),
      ]),
    ],
  };
}

function frame(over: Partial<FrameInput> = {}): string[] {
  return renderFrame({
    table: table(), status: { pid: 42, dataplane: 'none', uptimeS: 3723 }, error: null, socket: '/run/tslvs/tslvs.sock',
    sort: 'cps', scroll: 0, cols: 132, rows: 40, now: new Date(2026, 0, 1, 12, 34, 56), color: false, ...over,
  });
}

test('services and real servers are sorted by the chosen key, busiest first, then by name', () => {
  const order = (k: 'cps' | 'conns' | 'name' | 'bytes') => sortedServices(table(), k).map((x) => [x.svc.addr, ...x.dests.map((d) => d.addr)].join(' '));
  assert.deepEqual(order('cps'), ['192.0.2.2 198.51.100.3 198.51.100.4', '192.0.2.1 198.51.100.2 198.51.100.1']);
  assert.deepEqual(order('conns'), ['192.0.2.2 198.51.100.3 198.51.100.4', '192.0.2.1 198.51.100.2 198.51.100.1']);
  assert.deepEqual(order('name'), ['192.0.2.1 198.51.100.1 198.51.100.2', '192.0.2.2 198.51.100.3 198.51.100.4']);
});

test('a frame shows the header, the rates, weights, connections and health of every real server', () => {
  const f = frame();
  assert.match(f[0], /^tslvs top - \/run\/tslvs\/tslvs\.sock {2}pid 42 {2}dataplane none {2}up 1:02:03 +12:34:56$/);
  assert.equal(f[0].length, 132);
  assert.match(f[1], /^conn\/s 70 {2}in 210 pkt\/s 7000 B\/s {2}out 140 pkt\/s 28000 B\/s {2}services 2 {2}real servers 4 {2}sort: conn\/s/);
  assert.match(f[3], /^Prot LocalAddress:Port +Sched +Weight ActConn +InAct +CPS +InPPS +InBPS +OutPPS +OutBPS Health$/);
  assert.match(f[4], /^TCP {2}192\.0\.2\.2:443 +wrr +50 +2 +60 +180 +6000 +120 +24000 1\/2 up$/);
  assert.match(f[5], /^ {2}-> 198\.51\.100\.3:80 +Masq +2 +50 +1 +60 +180 +6000 +120 +24000 up 1\.5ms$/);
  assert.match(f[6], /^ {2}-> 198\.51\.100\.4:80 +Masq +0 +0 +1 +0 +0 +0 +0 +0 DOWN timeout$/);
  assert.match(f[8], /^ {2}-> 198\.51\.100\.2:80 .* -$/);
});

test('no line is wider than the terminal and no frame taller, at any size; long tables scroll', () => {
  for (const cols of [20, 40, 79, 80, 120, 200]) {
    for (const rows of [1, 3, 5, 8, 24]) {
      const f = frame({ cols, rows });
      assert.ok(f.length <= rows, `${cols}x${rows}: ${f.length} lines`);
      for (const l of f) assert.ok(l.length <= cols, `${cols}x${rows}: ${JSON.stringify(l)}`);
    }
  }
  const small = frame({ rows: 8 });
  assert.equal(small.length, 8);
  assert.match(small[7], /-- rows 1-3 of 6 \(arrows, PgUp\/PgDn scroll\) --/);
  const scrolled = frame({ rows: 8, scroll: 3 });
  assert.equal(scrolled.length, 8);
  assert.match(scrolled[4], /192\.0\.2\.1:80/);
  assert.match(scrolled[7], /-- rows 4-6 of 6 /);
  assert.match(frame({ rows: 8, scroll: 99 })[7], /-- rows 4-6 of 6 /, 'scrolling stops at the end');
  assert.equal(frame({ rows: 40, scroll: 3 }).length, 10, 'a table that fits does not scroll');
});

test('colour is plain ANSI SGR and the visible width is kept', () => {
  const f = frame({ color: true, cols: 132 });
  assert.match(f.join('\n'), /\x1b\[32mup 1\.5ms\x1b\[0m/);
  assert.match(f.join('\n'), /\x1b\[31mDOWN timeout\x1b\[0m/);
  for (const l of f) assert.ok(l.replace(/\x1b\[[0-9;]*m/g, '').length <= 132);
});

test('an unreachable daemon is shown in the frame instead of the totals', () => {
  const f = frame({ error: 'Cannot connect to "/x": ECONNREFUSED; retrying every 1 s (q quits)' });
  assert.match(f[1], /^Cannot connect/);
});

test('compact counts fit six characters', () => {
  assert.deepEqual([0, 999999, 1000000, 12345678, 999e9, 1.5e15].map(compact), ['0', '999999', '1.00M', '12.3M', '999G', '1.50P']);
});

test('options: --interval, --sort, --once, --socket; anything else is refused with the fix', () => {
  const o = parseTopOptions(['--interval', '0.5', '--sort', 'name', '--once', '--socket', '/tmp/x.sock'], {}, 1000);
  assert.deepEqual(o, { socket: '/tmp/x.sock', intervalMs: 500, once: true, sort: 'name', color: true });
  assert.equal(parseTopOptions([], { NO_COLOR: '1', TSLVS_SOCKET: '/tmp/y' }, 1000).color, false);
  assert.throws(() => parseTopOptions(['--sort', 'x'], {}, 0), /Invalid value "x" for --sort/);
  assert.throws(() => parseTopOptions(['-x'], {}, 0), /Unknown option "-x" for "tslvs top"/);
  assert.throws(() => parseTopOptions(['--interval', '0'], {}, 0), { message: 'Invalid value "0" for --interval', hint: 'give seconds from 0.2 to 3600' });
});

test('tslvs top without a daemon exits 3 with the socket it tried, before touching the screen', async () => {
  const dir = tempDir('top-none');
  try {
    const r = await runTslvs(['top', '--socket', join(dir, 'nobody.sock')]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /nobody\.sock/);
    assert.match(r.stderr, /TSLVS_ERR_NO_DAEMON/);
    assert.equal(r.stdout, '');
  } finally {
    removeDir(dir);
  }
});

// ---- under tmux ------------------------------------------------------------------------

const TMUX = '/usr/bin/tmux';

class Tmux {
  readonly sock = `tslvs-top-${process.pid}-${Date.now()}`;

  run(...args: string[]): string {
    const r = spawnSync(TMUX, ['-L', this.sock, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  capture(): string {
    return this.run('capture-pane', '-p', '-t', 'top');
  }

  flag(name: string): string {
    return this.run('display-message', '-p', '-t', 'top', `#{${name}}`).trim();
  }

  async waitFor(pred: (screen: string) => boolean, what: string, timeoutMs = 10000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    while (Date.now() < deadline) {
      screen = this.capture();
      if (pred(screen)) return screen;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}; screen:\n${screen}`);
  }

  kill(): void {
    spawnSync(TMUX, ['-L', this.sock, 'kill-server']);
  }
}

const RULES = [
  '-A -t 192.0.2.10:80 -s wrr',
  '-a -t 192.0.2.10:80 -r 198.51.100.11:80 -m -w 3',
  '-a -t 192.0.2.10:80 -r 198.51.100.12:80 -m -w 1',
  '-A -u 192.0.2.20:53 -s rr',
  '-a -u 192.0.2.20:53 -r 198.51.100.21:53 -m -w 1',
  '-A -t [2001:db8::10]:443 -s sh',
  '-a -t [2001:db8::10]:443 -r [2001:db8:1::11]:443 -m -w 2',
].join('\n');

test('under tmux: live, resizable, sortable; q and Ctrl-C quit cleanly and give the terminal back', { timeout: 90000 }, async (t) => {
  if (!existsSync(TMUX)) {
    if (process.env.CI) throw new Error(`needs ${TMUX}: apt-get install tmux`);
    return t.skip(`needs ${TMUX}: apt-get install tmux`);
  }
  const dir = tempDir('top-tmux');
  const d = await startDaemonProcess({ socket: join(dir, 'sock'), stateDir: join(dir, 'state'), args: ['--http', 'off'] });
  const tmux = new Tmux();
  try {
    const cmds: TableCommand[] = parseIpvsadmRules(RULES, 'rules').map((e) => e.cmd);
    const r = await request({ type: 'exec', cmds }, { socketPath: d.socket });
    assert.ok(r.type === 'exec' && r.results.every((x) => x === null));

    tmux.run('-f', '/dev/null', 'new-session', '-d', '-s', 'top', '-x', '120', '-y', '30', '-c', REPO, 'sh');
    tmux.run('set-option', '-g', 'status', 'off');
    const top = `${process.execPath} bin/tslvs.js top --socket ${d.socket}; echo "EXIT=$?"`;
    tmux.run('send-keys', '-t', 'top', top, 'Enter');
    let screen = await tmux.waitFor((s) => s.includes('198.51.100.11:80'), 'the first frame');
    assert.equal(tmux.flag('alternate_on'), '1', 'runs on the alternate screen');
    assert.equal(tmux.flag('cursor_flag'), '0', 'cursor hidden');
    assert.match(screen, /^tslvs top - .*dataplane none/m);
    assert.match(screen, /^ {2}-> 198\.51\.100\.11:80 +Masq +3 /m);

    // A change made with the control socket shows on the next refresh.
    const e = await request({ type: 'exec', cmds: [{ cmd: 'edit-dest', svc: { af: 2, protocol: 6, addr: '192.0.2.10', port: 80, fwmark: 0 },
      dest: { af: 2, addr: '198.51.100.11', port: 80, fwd: 0, weight: 9, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 } }] }, { socketPath: d.socket });
    assert.ok(e.type === 'exec' && e.results[0] === null);
    await tmux.waitFor((s) => /-> 198\.51\.100\.11:80 +Masq +9 /.test(s), 'the new weight', 5000);

    // Sort by name: TCP 192.0.2.10:80 before TCP [2001:db8::10]:443 before UDP.
    tmux.run('send-keys', '-t', 'top', 'n');
    screen = await tmux.waitFor((s) => s.includes('sort: name'), 'sort by name');
    const names = screen.split('\n').filter((l) => /^(TCP|UDP) /.test(l)).map((l) => l.split(/\s+/).slice(0, 2).join(' '));
    assert.deepEqual(names, ['TCP 192.0.2.10:80', 'TCP [2001:db8::10]:443', 'UDP 192.0.2.20:53']);

    // Resize: the frame follows the new size at once, nothing wraps, long tables scroll.
    tmux.run('resize-window', '-t', 'top', '-x', '60', '-y', '8');
    screen = await tmux.waitFor((s) => s.includes('-- rows 1-'), 'the scroll line after the resize');
    for (const l of screen.split('\n')) assert.ok(l.length <= 60, JSON.stringify(l));
    assert.equal(screen.split('\n').filter((l) => l.startsWith('tslvs top')).length, 1, 'one header, no leftovers');
    tmux.run('send-keys', '-t', 'top', 'End');
    await tmux.waitFor((s) => /-- rows 5-7 of 7 /.test(s), 'scrolled to the end');

    // q: back to the shell, main screen, cursor shown, cooked mode with echo.
    tmux.run('resize-window', '-t', 'top', '-x', '120', '-y', '30');
    tmux.run('send-keys', '-t', 'top', 'q');
    screen = await tmux.waitFor((s) => s.includes('EXIT=0'), 'exit status 0 after q');
    assert.equal(tmux.flag('alternate_on'), '0');
    assert.equal(tmux.flag('cursor_flag'), '1');
    assert.doesNotMatch(screen, /198\.51\.100\.11/, 'the frame was on the alternate screen only');
    tmux.run('send-keys', '-t', 'top', 'stty -a | tr " " "\\n" | grep -x -e icanon -e echo -e -icanon -e -echo | tr "\\n" " "; echo', 'Enter');
    await tmux.waitFor((s) => /^icanon echo\s*$/m.test(s), 'icanon and echo back on');

    // Ctrl-C quits the same way.
    tmux.run('send-keys', '-t', 'top', 'clear', 'Enter');
    tmux.run('send-keys', '-t', 'top', top, 'Enter');
    await tmux.waitFor((s) => s.includes('198.51.100.11:80'), 'the second run');
    tmux.run('send-keys', '-t', 'top', 'C-c');
    await tmux.waitFor((s) => s.includes('EXIT=0'), 'exit status 0 after Ctrl-C');
    assert.equal(tmux.flag('alternate_on'), '0');
    assert.equal(tmux.flag('cursor_flag'), '1');
  } finally {
    tmux.kill();
    await d.kill();
    removeDir(dir);
  }
});
