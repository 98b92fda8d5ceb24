import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, defaultStateDir, parseClientOptions, parseDaemonOptions } from '../../src/config/daemon-options.js';
import { TslvsError } from '../../src/errors.js';

const badOption = (re: RegExp) => (e: unknown) => e instanceof TslvsError && e.code === 'TSLVS_ERR_BAD_OPTION' && re.test(`${e.message}; ${e.hint}`);

test('defaults: proxy dataplane, root paths for root, per-user paths otherwise', () => {
  const root = parseDaemonOptions([], {}, 0);
  assert.equal(root.dataplane, 'proxy');
  assert.equal(root.socket, '/run/tslvs/tslvs.sock');
  assert.equal(root.stateDir, '/var/lib/tslvs');
  assert.equal(root.rules, null);
  assert.equal(root.tickMs, DEFAULTS.tickMs);
  assert.ok(Object.isFrozen(root));
  const user = parseDaemonOptions([], { XDG_RUNTIME_DIR: '/run/user/1000', XDG_STATE_HOME: '/home/u/.st', HOME: '/home/u' }, 1000);
  assert.equal(user.socket, '/run/user/1000/tslvs/tslvs.sock');
  assert.equal(user.stateDir, '/home/u/.st/tslvs');
  assert.equal(defaultStateDir({ HOME: '/home/u' }, 1000), '/home/u/.local/state/tslvs');
});

test('environment, then argv: TSLVS_SOCKET and TSLVS_STATE_DIR, overridden by flags; paths made absolute', () => {
  const env = { TSLVS_SOCKET: '/e/s.sock', TSLVS_STATE_DIR: '/e/state' };
  const a = parseDaemonOptions([], env, 0);
  assert.deepEqual([a.socket, a.stateDir], ['/e/s.sock', '/e/state']);
  const b = parseDaemonOptions(['--socket', '/f/s.sock', '--state-dir=/f/st', '--dataplane', 'none', '--rules', 'r.txt'], env, 0);
  assert.deepEqual([b.socket, b.stateDir, b.dataplane, b.rules], ['/f/s.sock', '/f/st', 'none', `${process.cwd()}/r.txt`]);
});

test('an unknown flag, a missing value, a bad value or a repeated flag is one TSLVS_ERR_BAD_OPTION naming the fix', () => {
  assert.throws(() => parseDaemonOptions(['--state-dri', '/x'], {}, 0), badOption(/Unknown option "--state-dri" for "tslvs run"; did you mean "--state-dir"\?/));
  assert.throws(() => parseDaemonOptions(['--verbose'], {}, 0), badOption(/Unknown option "--verbose".*known options: --dataplane, --socket/));
  assert.throws(() => parseDaemonOptions(['extra'], {}, 0), badOption(/Unexpected argument "extra"/));
  assert.throws(() => parseDaemonOptions(['--socket'], {}, 0), badOption(/Option "--socket" needs a value; give it as --socket PATH/));
  assert.throws(() => parseDaemonOptions(['--dataplane', 'kernel'], {}, 0), badOption(/Invalid value "kernel" for --dataplane; expected proxy, packet, none/));
  assert.throws(() => parseDaemonOptions(['--rules', 'a', '--rules', 'b'], {}, 0), badOption(/given twice/));
  assert.throws(() => parseDaemonOptions(['--socket='], {}, 0), badOption(/empty value/));
});

test('client subcommands take --socket only', () => {
  assert.deepEqual(parseClientOptions(['--socket', '/c.sock'], {}, 'status', 0), { socket: '/c.sock' });
  assert.deepEqual(parseClientOptions([], { TSLVS_SOCKET: '/t.sock' }, 'stop', 0), { socket: '/t.sock' });
  assert.throws(() => parseClientOptions(['--dataplane', 'none'], {}, 'reload', 0), badOption(/Unknown option "--dataplane" for "tslvs reload"/));
});

test('--interface and repeatable --dataplane-opt KEY=VALUE become the dataplane settings (numbers and booleans parsed), frozen', () => {
  const o = parseDaemonOptions(['--dataplane', 'packet', '--interface', 'eth1', '--dataplane-opt', 'netns=dir', '--dataplane-opt=answerArp=false',
    '--dataplane-opt', 'slots=64', '--dataplane-opt', 'localAddr=198.51.100.1/24'], {}, 0);
  assert.deepEqual(o.dataplaneSettings, { netns: 'dir', answerArp: false, slots: 64, localAddr: '198.51.100.1/24', interface: 'eth1' });
  assert.ok(Object.isFrozen(o.dataplaneSettings));
  const p = parseDaemonOptions(['--dataplane-opt', 'connectTimeoutMs=500', '--dataplane-opt', 'retries=0'], {}, 0);
  assert.deepEqual([p.dataplane, p.dataplaneSettings], ['proxy', { connectTimeoutMs: 500, retries: 0 }]);
  assert.deepEqual(parseDaemonOptions([], {}, 0).dataplaneSettings, {});
  assert.equal(parseDaemonOptions(['-f', 'k.conf'], {}, 0).keepalivedConf, `${process.cwd()}/k.conf`);
});

test('bad dataplane settings are refused with the fix: no "=", a key twice, the interface twice, settings for the none dataplane', () => {
  assert.throws(() => parseDaemonOptions(['--dataplane-opt', 'retries'], {}, 0), badOption(/Invalid value "retries" for --dataplane-opt; give it as KEY=VALUE/));
  assert.throws(() => parseDaemonOptions(['--dataplane-opt', '=3'], {}, 0), badOption(/Invalid value "=3"/));
  assert.throws(() => parseDaemonOptions(['--dataplane-opt', 'retries=1', '--dataplane-opt', 'retries=2'], {}, 0), badOption(/Dataplane setting "retries" given twice/));
  assert.throws(() => parseDaemonOptions(['--interface', 'a', '--interface', 'b'], {}, 0), badOption(/Option "--interface" given twice/));
  assert.throws(() => parseDaemonOptions(['--interface', 'a', '--dataplane-opt', 'interface=b'], {}, 0), badOption(/interface is given twice/));
  assert.throws(() => parseDaemonOptions(['--dataplane', 'none', '--dataplane-opt', 'retries=1'], {}, 0), badOption(/The none dataplane takes no settings \(got retries\)/));
});

test('--max-conns and --sysctl NAME=VALUE (kernel names, defense modes 0..3) reach the options; bad ones are refused with the fix', () => {
  const d = parseDaemonOptions([], {}, 0);
  assert.equal(d.maxConns, DEFAULTS.maxConns);
  assert.deepEqual(d.sysctls, {});
  const o = parseDaemonOptions(['--max-conns', '1024', '--sysctl', 'drop_entry=3', '--sysctl=amemthresh=200000', '--sysctl', 'expire_nodest_conn=1'], {}, 0);
  assert.equal(o.maxConns, 1024);
  assert.deepEqual(o.sysctls, { dropEntry: 3, amemthresh: 200000, expireNodestConn: 1 });
  assert.ok(Object.isFrozen(o.sysctls));
  assert.throws(() => parseDaemonOptions(['--max-conns', '0'], {}, 0), badOption(/Invalid value "0" for --max-conns; give a whole number/));
  assert.throws(() => parseDaemonOptions(['--max-conns', '1e6'], {}, 0), badOption(/Invalid value "1e6" for --max-conns/));
  assert.throws(() => parseDaemonOptions(['--sysctl', 'drop_entry=4'], {}, 0), badOption(/Invalid value "4" for --sysctl drop_entry; give an integer from 0 to 3/));
  assert.throws(() => parseDaemonOptions(['--sysctl', 'drop_entries=1'], {}, 0), badOption(/Unknown IPVS sysctl "drop_entries".*drop_entry/));
  assert.throws(() => parseDaemonOptions(['--sysctl', 'amemthresh=-1'], {}, 0), badOption(/Invalid value "-1" for --sysctl amemthresh/));
  assert.throws(() => parseDaemonOptions(['--sysctl', 'drop_entry=1', '--sysctl', 'drop_entry=2'], {}, 0), badOption(/"drop_entry" given twice/));
});
