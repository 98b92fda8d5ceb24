// tslvsadm's own behaviour beyond ipvsadm: --json, --proxy-protocol, hints after ipvsadm's line,
// connection sync refused in one clear line, a missing daemon, and -S/-R round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request, Response, TableSnapshot } from '../../../src/control/protocol.js';
import { Ipvs } from '../../../src/core/ipvs.js';
import { NoneDataplane } from '../../../src/dataplane/none/none-dataplane.js';
import { Director } from '../../../src/daemon/director.js';
import { handleRequest } from '../../../src/daemon/requests.js';
import { run } from '../../../src/cli/tslvsadm/main.js';
import { GOLDEN_ENV } from './goldens.js';

interface Result { stdout: string; stderr: string; code: number }

function daemon() {
  const director = new Director({ ipvs: new Ipvs({ random: () => 7 }), dataplane: new NoneDataplane(), store: null });
  const ctx = { director, reload: async () => '', shutdown: () => undefined, facts: () => ({}) };
  const sent: Request[] = [];
  const request = async (req: Request): Promise<Response> => {
    sent.push(JSON.parse(JSON.stringify(req)) as Request);
    return JSON.parse(JSON.stringify(await handleRequest(ctx, JSON.parse(JSON.stringify(req))))) as Response;
  };
  const adm = async (args: string[], stdin = ''): Promise<Result> => {
    let stdout = '';
    let stderr = '';
    const code = await run(args, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, readStdin: async () => stdin, request, env: GOLDEN_ENV });
    return { stdout, stderr, code };
  };
  return { adm, sent };
}

const noDaemon = async (req: Request): Promise<Response> => {
  throw Object.assign(new Error('No tslvs daemon is listening on "/tmp/none.sock" (ENOENT)'), { code: 'TSLVS_ERR_NO_DAEMON', hint: 'x', req });
};

async function admNoDaemon(args: string[]): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, readStdin: async () => '', request: noDaemon, env: GOLDEN_ENV });
  return { stdout, stderr, code };
}

test('with no daemon, a command that needs one prints one line naming the socket and "tslvs run", exit 2', async () => {
  const r = await admNoDaemon(['-A', '-t', '192.0.2.1:80']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.split('\n').length, 2);
  assert.match(r.stderr, /^tslvsadm: No tslvs daemon is listening on "\/tmp\/none\.sock" \(ENOENT\); start one with "tslvs run".*\(TSLVS_ERR_NO_DAEMON\)\n$/);
});

test('with no daemon, help, version and local usage errors still answer as ipvsadm does', async () => {
  assert.equal((await admNoDaemon(['-h'])).code, 0);
  assert.equal((await admNoDaemon(['-v'])).stdout, 'ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n');
  const r = await admNoDaemon(['-A', '-t', '192.0.2.1:80', '-w', '1']);
  assert.equal(r.stderr, "Illegal 'weight' option with the 'add-service' command\n");
  assert.equal(r.code, 2);
});

test('--start-daemon and --stop-daemon are validated as ipvsadm does, then refused in one line, never faked', async () => {
  const { adm, sent } = daemon();
  const bad = await adm(['--start-daemon', 'master', '--syncid', '300']);
  assert.deepEqual(bad, { stdout: '', stderr: 'illegal syncid specified\nhint: a sync id is a whole number from 0 to 255\n', code: 2 });
  const start = await adm(['--start-daemon', 'backup', '--mcast-interface', 'eth1']);
  assert.equal(start.code, 255);
  assert.equal(start.stderr, 'Cannot start the backup sync daemon: connection synchronisation is not supported by tslvs yet\n');
  const stop = await adm(['--stop-daemon', 'master']);
  assert.equal(stop.code, 255);
  assert.match(stop.stderr, /^Cannot stop a master sync daemon: connection synchronisation is not supported by tslvs yet\n$/);
  assert.deepEqual(sent, []);
  const list = await adm(['-L', '--daemon']);
  assert.deepEqual(list, { stdout: '', stderr: '', code: 0 });
});

test('after an error ipvsadm names no fix for, a hint line follows ipvsadm\'s own line', async () => {
  const { adm } = daemon();
  const r = await adm(['-a', '-t', '192.0.2.9:80', '-r', '198.51.100.1']);
  assert.equal(r.code, 255);
  const [first, second, end] = r.stderr.split('\n');
  assert.equal(first, 'Service not defined');
  assert.match(second, /^hint: add the virtual service first with -A/);
  assert.equal(end, '');
  const w = await adm(['-a', '-t', '192.0.2.9:80', '-r', '198.51.100.1', '-w', 'x']);
  assert.equal(w.stderr, 'illegal weight specified\nhint: a weight is a whole number from 0 to 2147483647\n');
  const need = await adm(['-A']);
  assert.equal(need.stderr, "You need to supply the 'service-address' option for the 'add-service' command\n");
});

test('-L --json prints the whole table with counters; with a service, that service; -c --json the connections', async () => {
  const { adm } = daemon();
  await adm(['-A', '-t', '192.0.2.1:80', '-s', 'rr']);
  await adm(['-a', '-t', '192.0.2.1:80', '-r', '198.51.100.1', '-m', '-w', '3']);
  const all = await adm(['-L', '--json']);
  assert.equal(all.code, 0);
  const t = JSON.parse(all.stdout) as TableSnapshot;
  assert.equal(t.version, '1.2.1');
  assert.equal(t.services.length, 1);
  assert.equal(t.services[0].sched, 'rr');
  assert.equal(t.services[0].dests[0].weight, 3);
  assert.equal(typeof t.services[0].dests[0].stats.conns, 'number');
  const one = JSON.parse((await adm(['-L', '--json', '-t', '192.0.2.1:80'])).stdout) as { addr: string };
  assert.equal(one.addr, '192.0.2.1');
  assert.deepEqual(JSON.parse((await adm(['-L', '-c', '--json'])).stdout), []);
  assert.deepEqual(JSON.parse((await adm(['-L', '--timeout', '--json'])).stdout), { tcp: 900, tcpfin: 120, udp: 300 });
  const bad = await adm(['-A', '-t', '192.0.2.2:80', '--json']);
  assert.equal(bad.stderr, "Illegal 'json' option with the 'add-service' command\n");
  const missing = await adm(['-L', '--json', '-t', '192.0.2.7:80']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^No such service\n/);
});

test('--proxy-protocol 1|2 on -a/-e reaches the daemon and -S saves it only when set', async () => {
  const { adm, sent } = daemon();
  await adm(['-A', '-t', '192.0.2.1:80', '-s', 'rr']);
  assert.equal((await adm(['-a', '-t', '192.0.2.1:80', '-r', '198.51.100.1:8080', '-m', '--proxy-protocol', '2'])).code, 0);
  const last = sent[sent.length - 1] as { type: 'exec'; cmds: { dest: { proxyProtocol?: number } }[] };
  assert.equal(last.cmds[0].dest.proxyProtocol, 2);
  await adm(['-a', '-t', '192.0.2.1:80', '-r', '198.51.100.2:8080', '-m']);
  assert.equal((await adm(['-S', '-n'])).stdout, [
    '-A -t 192.0.2.1:80 -s rr',
    '-a -t 192.0.2.1:80 -r 198.51.100.1:8080 -m -w 1 --proxy-protocol 2',
    '-a -t 192.0.2.1:80 -r 198.51.100.2:8080 -m -w 1',
    '',
  ].join('\n'));
  assert.equal((await adm(['-e', '-t', '192.0.2.1:80', '-r', '198.51.100.1:8080', '-m'])).code, 0);
  assert.doesNotMatch((await adm(['-S', '-n'])).stdout, /proxy-protocol/);
  const bad = await adm(['-a', '-t', '192.0.2.1:80', '-r', '198.51.100.3', '--proxy-protocol', '3']);
  assert.deepEqual([bad.stderr.split('\n')[0], bad.code], ['illegal proxy-protocol version specified', 2]);
  const twice = await adm(['-a', '-t', '192.0.2.1:80', '-r', '198.51.100.3', '--proxy-protocol', '1', '--proxy-protocol', '1']);
  assert.equal(twice.stderr, "multiple 'proxy-protocol' options specified\n");
  const onSvc = await adm(['-A', '-t', '192.0.2.5:80', '--proxy-protocol', '1']);
  assert.equal(onSvc.stderr, "Illegal 'proxy-protocol' option with the 'add-service' command\n");
});

test('-S -n output restores into an empty table unchanged (-R sends one batch)', async () => {
  const a = daemon();
  for (const l of [
    ['-A', '-t', '192.0.2.1:80', '-s', 'wrr', '-p', '30', '-M', '255.255.255.0'],
    ['-a', '-t', '192.0.2.1:80', '-r', '198.51.100.1:8080', '-m', '-w', '4'],
    ['-a', '-t', '192.0.2.1:80', '-r', '198.51.100.2', '-i', '--tun-type', 'gue', '--tun-port', '6080', '--tun-csum'],
    ['-A', '-f', '7', '-6', '-s', 'mh', '-b', 'mh-port'],
    ['-A', '-u', '[2001:db8::1]:53', '-s', 'rr', '-o'],
  ]) assert.equal((await a.adm(l)).code, 0, l.join(' '));
  const saved = (await a.adm(['-S', '-n'])).stdout;
  const b = daemon();
  const r = await b.adm(['-R'], saved);
  assert.deepEqual(r, { stdout: '', stderr: '', code: 0 });
  assert.equal(b.sent.filter((q) => q.type === 'exec').length, 1);
  assert.equal((await b.adm(['-S', '-n'])).stdout, saved);
  assert.equal((await b.adm(['-L', '-n'])).stdout, (await a.adm(['-L', '-n'])).stdout);
});

test('a restore prints kernel errors and popt errors in line order and exits with the last line\'s status', async () => {
  const { adm } = daemon();
  const r = await adm(['-R'], '-A -t 192.0.2.1:80\n-a -t 192.0.2.9:80 -r 198.51.100.1\n-L --bogus\n-A -t 192.0.2.1:80\n');
  assert.equal(r.code, 255);
  assert.deepEqual(r.stderr.split('\n').filter((l) => !l.startsWith('hint: ')), ['Service not defined', '--bogus: unknown option', 'Service already exists', '']);
});
