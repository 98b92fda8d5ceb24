// The daemon's HTTP listener: /metrics, the JSON API with its token, the dashboard's files; then
// a real `tslvs run` scraped by Debian's node_exporter (through <state-dir>/proc) and by a real
// Prometheus server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { createHttpServer, type HttpDeps, type HttpListener, resolveHttpToken, splitHostPort } from '../../src/control/http-api.js';
import { formatMetrics, type MetricsFacts } from '../../src/control/metrics.js';
import type { CommandError, ConnWire, TableCommand, TableSnapshot } from '../../src/control/protocol.js';
import { request } from '../../src/cli/control-client.js';
import { Ipvs } from '../../src/core/ipvs.js';
import { applyTableCommand, buildSnapshot } from '../../src/daemon/wire.js';
import { parseIpvsadmRules } from '../../src/config/ipvsadm-rules.js';
import { REPO, removeDir, startDaemonProcess, tempDir } from '../helpers/daemon.js';
import {
  httpGet, missingTool, NODE_EXPORTER, nodeIpvsPart, PROMETHEUS, startNodeExporter, startPrometheus,
} from '../helpers/prom-tools.js';

const TOKEN = 'test-token-0123456789';

function smallTable(): TableSnapshot {
  const ipvs = new Ipvs({ random: () => 0 });
  const rules = '-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 198.51.100.11:80 -m -w 3 -x 50 -y 5\n-a -t 192.0.2.10:80 -r 198.51.100.12:80 -g -w 1\n';
  for (const e of parseIpvsadmRules(rules, 'rules')) applyTableCommand(ipvs.table, e.cmd);
  return buildSnapshot(ipvs, 'none');
}

function fakeDeps(over: Partial<HttpDeps> = {}): HttpDeps & { calls: TableCommand[][]; table: TableSnapshot } {
  const table = smallTable();
  const calls: TableCommand[][] = [];
  const conns: ConnWire[] = Array.from({ length: 5 }, (_, i) => ({
    protocol: 6, af: 2, caddr: '203.0.113.2', cport: 40000 + i, vaddr: '192.0.2.10', vport: 80, daddr: '198.51.100.11', dport: 80,
    fwmark: 0, template: false, state: 'ESTABLISHED', expiresS: 900,
  }));
  return {
    calls, table,
    facts: (): MetricsFacts => ({
      table, version: '9.9.9', connCount: 5, connLimit: 100, dataplane: { kind: 'none', activeFlows: 0, drops: {} }, changes: 3, picks: {},
    }),
    conns: (limit) => ({ total: conns.length, conns: conns.slice(0, limit) }),
    exec: async (cmds): Promise<(CommandError | null)[]> => {
      calls.push(cmds);
      return cmds.map(() => null);
    },
    token: TOKEN,
    tokenHint: 'it is in the test',
    ...over,
  };
}

async function withServer<T>(deps: HttpDeps, fn: (base: string, l: HttpListener) => Promise<T>): Promise<T> {
  const l = createHttpServer(deps);
  const { url } = await l.listen('127.0.0.1:0');
  try {
    return await fn(url, l);
  } finally {
    await l.close();
  }
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: { error?: { code: string; message: string; hint: string }; ok?: boolean } }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json() as never };
}

const SVC = { af: 2, protocol: 6, addr: '192.0.2.10', port: 80, fwmark: 0 };
const DEST = { af: 2, addr: '198.51.100.11', port: 80 };

test('/metrics serves the text format 0.0.4 with node_ipvs_* and tslvs_*', async () => {
  const deps = fakeDeps();
  await withServer(deps, async (base) => {
    const r = await httpGet(`${base}metrics`);
    assert.equal(r.status, 200);
    assert.equal(r.type, 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(r.body, formatMetrics(deps.facts()));
    assert.match(r.body, /^node_ipvs_backend_weight\{local_address="192\.0\.2\.10",local_mark="",local_port="80",proto="TCP",remote_address="198\.51\.100\.11",remote_port="80"\} 3$/m);
  });
});

test('changing a weight without the token is refused with 403 and a message that says what to do; nothing runs', async () => {
  const deps = fakeDeps();
  await withServer(deps, async (base) => {
    const none = await post(`${base}api/weight`, { svc: SVC, dest: DEST, weight: 0 });
    assert.equal(none.status, 403);
    assert.equal(none.json.error?.code, 'TSLVS_ERR_HTTP_FORBIDDEN');
    assert.match(none.json.error?.message ?? '', /needs the daemon's token/);
    assert.match(none.json.error?.hint ?? '', /Authorization: Bearer TOKEN/);
    const wrong = await post(`${base}api/weight`, { svc: SVC, dest: DEST, weight: 0 }, { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 403);
    assert.equal((await fetch(`${base}api/auth`, { headers: { authorization: 'Bearer nope' } })).status, 403);
    assert.equal((await fetch(`${base}api/auth`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    assert.deepEqual(deps.calls, []);
  });
});

test('with the token a weight change is one edit-dest that keeps every other field of the real server', async () => {
  const deps = fakeDeps();
  await withServer(deps, async (base) => {
    const r = await post(`${base}api/weight`, { svc: SVC, dest: DEST, weight: 0 }, { authorization: `Bearer ${TOKEN}` });
    assert.equal(r.status, 200);
    assert.equal(r.json.ok, true);
    assert.deepEqual(deps.calls, [[{
      cmd: 'edit-dest', svc: SVC,
      dest: { af: 2, addr: '198.51.100.11', port: 80, fwd: 0, weight: 0, uThreshold: 50, lThreshold: 5, tunType: 0, tunPort: 0, tunFlags: 0 },
    }]]);
  });
});

test('malformed changes are refused before anything runs: bad weight, unknown real server, not JSON, wrong method', async () => {
  const deps = fakeDeps();
  const auth = { authorization: `Bearer ${TOKEN}` };
  await withServer(deps, async (base) => {
    for (const w of [-1, 1.5, '3', 2147483648, null]) {
      const r = await post(`${base}api/weight`, { svc: SVC, dest: DEST, weight: w }, auth);
      assert.equal(r.status, 400, `weight ${String(w)}`);
      assert.match(r.json.error?.message ?? '', /Invalid weight/);
    }
    const missing = await post(`${base}api/weight`, { svc: SVC, dest: { ...DEST, port: 81 }, weight: 1 }, auth);
    assert.equal(missing.status, 404);
    assert.match(missing.json.error?.message ?? '', /No real server 198\.51\.100\.11:81 of TCP 192\.0\.2\.10:80/);
    assert.equal((await post(`${base}api/weight`, '{not json', auth)).status, 400);
    assert.equal((await fetch(`${base}api/weight`, { method: 'POST', headers: auth, body: 'x' })).status, 415);
    assert.equal((await fetch(`${base}api/weight`)).status, 405);
    assert.equal((await fetch(`${base}metrics`, { method: 'DELETE' })).status, 405);
    assert.equal((await fetch(`${base}nope`)).status, 404);
    assert.deepEqual(deps.calls, []);
  });
});

test('a refused command answers 409 with the director\'s message', async () => {
  const deps = fakeDeps({
    exec: async () => [{ op: 'edit-dest', errno: 'EIO', code: 'TSLVS_ERR_DATAPLANE_REFUSED', message: 'The dataplane could not apply the change: boom', hint: 'the change was undone' }],
  });
  await withServer(deps, async (base) => {
    const r = await post(`${base}api/weight`, { svc: SVC, dest: DEST, weight: 2 }, { authorization: `Bearer ${TOKEN}` });
    assert.equal(r.status, 409);
    assert.equal(r.json.error?.code, 'TSLVS_ERR_DATAPLANE_REFUSED');
    assert.match(r.json.error?.message ?? '', /boom/);
  });
});

test('a daemon without a token refuses every change and says changes are off', async () => {
  const deps = fakeDeps({ token: null, tokenHint: 'start tslvs with --http-token' });
  await withServer(deps, async (base) => {
    const r = await post(`${base}api/weight`, { svc: SVC, dest: DEST, weight: 2 }, { authorization: `Bearer ${TOKEN}` });
    assert.equal(r.status, 403);
    assert.match(r.json.error?.message ?? '', /switched off/);
    const t = await (await fetch(`${base}api/table`)).json() as { writable: boolean };
    assert.equal(t.writable, false);
  });
});

/** GET with an arbitrary Host header (fetch does not allow setting it). */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('on loopback only loopback host names are served (no DNS rebinding)', async () => {
  await withServer(fakeDeps(), async (base) => {
    assert.equal(await getWithHost(`${base}api/table`, 'evil.example:9180'), 403);
    assert.equal(await getWithHost(`${base}api/table`, 'localhost:9180'), 200);
    assert.equal(await getWithHost(`${base}api/table`, '127.0.0.1'), 200);
    assert.equal(await getWithHost(`${base}api/table`, '[::1]:9180'), 200);
  });
});

test('the API serves the table, a bounded sample of connections, and the dashboard with its scripts', async () => {
  await withServer(fakeDeps(), async (base) => {
    const t = await (await fetch(`${base}api/table`)).json() as { table: TableSnapshot; writable: boolean; facts: { connCount: number; version: string } };
    assert.equal(t.table.services.length, 1);
    assert.equal(t.writable, true);
    assert.equal(t.facts.version, '9.9.9');
    const c = await (await fetch(`${base}api/conns?limit=2`)).json() as { total: number; conns: ConnWire[] };
    assert.equal(c.total, 5);
    assert.equal(c.conns.length, 2);
    const page = await fetch(base);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await page.text();
    for (const src of [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1])) {
      const a = await fetch(new URL(src, base));
      assert.equal(a.status, 200, src);
      assert.ok((await a.text()).length > 100, src);
    }
    assert.match(await (await fetch(`${base}assets/uPlot.iife.min.js`)).text(), /uPlot/);
  });
});

test('--http addresses: IPv4, [IPv6] and names with a port; anything else is refused', () => {
  assert.deepEqual(splitHostPort('127.0.0.1:9180'), { host: '127.0.0.1', port: 9180 });
  assert.deepEqual(splitHostPort('[::1]:0'), { host: '::1', port: 0 });
  assert.deepEqual(splitHostPort('localhost:80'), { host: 'localhost', port: 80 });
  assert.equal(splitHostPort('::1:80'), null);
  assert.equal(splitHostPort('127.0.0.1'), null);
  assert.equal(splitHostPort('127.0.0.1:70000'), null);
});

test('the token file is made once with mode 0600 and then reused; --http-token wins; a loose mode is reported', async () => {
  const dir = tempDir('http-token');
  try {
    const a = await resolveHttpToken(dir, null);
    assert.ok(a.token.length >= 40);
    assert.equal(statSync(join(dir, 'http-token')).mode & 0o777, 0o600);
    assert.equal(a.warning, null);
    const b = await resolveHttpToken(dir, null);
    assert.equal(b.token, a.token);
    assert.equal((await resolveHttpToken(dir, 'given')).token, 'given');
    chmodSync(join(dir, 'http-token'), 0o644);
    assert.match((await resolveHttpToken(dir, null)).warning ?? '', /mode 0644: others may read it; chmod 600 it/);
    writeFileSync(join(dir, 'http-token'), '\n');
    await assert.rejects(resolveHttpToken(dir, null), { code: 'TSLVS_ERR_HTTP_TOKEN' });
  } finally {
    removeDir(dir);
  }
});

test('a second daemon asking for a taken --http address does not start; the default address only logs', async () => {
  const dir = tempDir('http-busy');
  const first = await startDaemonProcess({ socket: join(dir, 'a.sock'), stateDir: join(dir, 'a'), args: ['--http', '127.0.0.1:0'] });
  try {
    const url = /HTTP on (http:\/\/\S+)/.exec(first.log())?.[1];
    assert.ok(url, first.log());
    const addr = new URL(url).host;
    const second = await startDaemonProcess({ socket: join(dir, 'b.sock'), stateDir: join(dir, 'b'), args: ['--http', addr] });
    const exit = await second.exited;
    assert.equal(exit.code, 1);
    assert.match(second.log(), new RegExp(`Cannot listen for HTTP on "${addr.replace(/\./g, '\\.')}": the address is in use \\(EADDRINUSE\\).*\\(TSLVS_ERR_HTTP_LISTEN\\)`));
  } finally {
    await first.kill();
    removeDir(dir);
  }
});

async function exec(socket: string, cmds: TableCommand[]): Promise<void> {
  const r = await request({ type: 'exec', cmds }, { socketPath: socket });
  assert.equal(r.type, 'exec');
  if (r.type === 'exec') assert.deepEqual(r.results, cmds.map(() => null));
}

const DAEMON_RULES: TableCommand[] = parseIpvsadmRules([
  '-A -t 192.0.2.10:80 -s wrr',
  '-a -t 192.0.2.10:80 -r 198.51.100.11:80 -m -w 3',
  '-a -t 192.0.2.10:80 -r 198.51.100.12:8080 -m -w 0',
  '-A -u 192.0.2.10:53 -s rr -o',
  '-a -u 192.0.2.10:53 -r 198.51.100.11:53 -m -w 1',
  '-A -f 4097 -s lc -p 360',
  '-a -f 4097 -r 198.51.100.31:0 -m -w 5',
  '-A -t [2001:db8::10]:80 -s rr',
  '-a -t [2001:db8::10]:80 -r [2001:db8:1::11]:80 -m -w 2',
].join('\n'), 'rules').map((e) => e.cmd);

test('node_exporter --path.procfs <state-dir>/proc exports a running tslvs exactly as tslvs\'s /metrics does', { timeout: 90000 }, async (t) => {
  const skip = missingTool(NODE_EXPORTER, 'prometheus-node-exporter');
  if (skip) return t.skip(skip);
  const dir = tempDir('http-ne');
  const d = await startDaemonProcess({ socket: join(dir, 'sock'), stateDir: join(dir, 'state'), args: ['--http', '127.0.0.1:0'] });
  try {
    const url = /HTTP on (http:\/\/\S+)/.exec(d.log())?.[1];
    assert.ok(url, d.log());
    await exec(d.socket, DAEMON_RULES);
    const ne = await startNodeExporter(join(dir, 'state', 'proc'));
    try {
      // The /proc files are rewritten every second: wait until they show the table, then compare.
      let ours = '';
      let theirs = '';
      const deadline = Date.now() + 10000;
      do {
        ours = nodeIpvsPart((await httpGet(`${url}metrics`)).body);
        theirs = nodeIpvsPart((await httpGet(ne.url)).body);
        if (ours === theirs) break;
        await new Promise((r) => setTimeout(r, 200));
      } while (Date.now() < deadline);
      assert.match(ours, /node_ipvs_backend_weight\{local_address="",local_mark="00001001",local_port="0",proto="FWM",remote_address="198\.51\.100\.31",remote_port="0"\} 5/);
      assert.match(ours, /remote_address="2001:db8:1::11"/);
      assert.equal(theirs, ours);
    } finally {
      await ne.stop();
    }
    const proc = readFileSync(join(dir, 'state', 'proc', 'net', 'ip_vs'), 'utf8');
    assert.match(proc, /^FWM {2}00001001 lc persistent 90000 FFFFFFFF$/m);
  } finally {
    await d.kill();
    removeDir(dir);
  }
});

interface PromVector {
  status: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

test('a real Prometheus server scrapes tslvs and sees node_ipvs_* and tslvs_* series', { timeout: 120000 }, async (t) => {
  const skip = missingTool(PROMETHEUS, 'prometheus');
  if (skip) return t.skip(skip);
  const dir = tempDir('http-prom');
  const d = await startDaemonProcess({ socket: join(dir, 'sock'), stateDir: join(dir, 'state'), args: ['--http', '127.0.0.1:0'] });
  let prom: Awaited<ReturnType<typeof startPrometheus>> | null = null;
  try {
    const url = /HTTP on (http:\/\/\S+)/.exec(d.log())?.[1];
    assert.ok(url, d.log());
    await exec(d.socket, DAEMON_RULES);
    mkdirSync(join(dir, 'prom'));
    prom = await startPrometheus(new URL(url).host, join(dir, 'prom', 'prometheus.yml'), join(dir, 'prom', 'data'), (p, text) => writeFileSync(p, text));
    const query = async (q: string): Promise<PromVector['data']['result']> => {
      const r = await httpGet(`${prom!.url}/api/v1/query?query=${encodeURIComponent(q)}`);
      const j = JSON.parse(r.body) as PromVector;
      assert.equal(j.status, 'success');
      return j.data.result;
    };
    let weights: PromVector['data']['result'] = [];
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      weights = await query('node_ipvs_backend_weight');
      if (weights.length > 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(weights.length, 5, prom.log());
    const w = weights.find((x) => x.metric.remote_address === '198.51.100.11' && x.metric.proto === 'TCP');
    assert.ok(w);
    assert.equal(w.value[1], '3');
    assert.equal(w.metric.job, 'tslvs');
    const up = await query('up{job="tslvs"}');
    assert.equal(up[0]?.value[1], '1');
    const services = await query('tslvs_services');
    assert.equal(services[0]?.value[1], '4');
    // Prometheus ingested the page without a parse error (it would mark the target down).
    const targets = JSON.parse((await httpGet(`${prom.url}/api/v1/targets`)).body) as { data: { activeTargets: { health: string; lastError: string }[] } };
    assert.deepEqual(targets.data.activeTargets.map((x) => [x.health, x.lastError]), [['up', '']]);
  } finally {
    await prom?.stop();
    await d.kill();
    removeDir(dir);
  }
});

test('a weight set over HTTP with the token from <state-dir>/http-token reaches the table; tslvs status shows the URL', { timeout: 30000 }, async () => {
  const dir = tempDir('http-weight');
  const d = await startDaemonProcess({ socket: join(dir, 'sock'), stateDir: join(dir, 'state'), args: ['--http', '127.0.0.1:0'] });
  try {
    const url = /HTTP on (http:\/\/\S+)/.exec(d.log())?.[1];
    assert.ok(url, d.log());
    await exec(d.socket, DAEMON_RULES);
    const token = readFileSync(join(dir, 'state', 'http-token'), 'utf8').trim();
    assert.equal(statSync(join(dir, 'state', 'http-token')).mode & 0o777, 0o600);
    const refused = await post(`${url}api/weight`, { svc: SVC, dest: DEST, weight: 0 });
    assert.equal(refused.status, 403);
    const ok = await post(`${url}api/weight`, { svc: SVC, dest: DEST, weight: 0 }, { authorization: `Bearer ${token}` });
    assert.equal(ok.status, 200);
    const tab = await request({ type: 'get-table' }, { socketPath: d.socket });
    assert.equal(tab.type, 'table');
    if (tab.type === 'table') {
      const dest = tab.table.services.find((s) => s.port === 80 && s.protocol === 6 && s.af === 2)?.dests.find((x) => x.addr === '198.51.100.11');
      assert.equal(dest?.weight, 0);
      assert.equal(dest?.fwd, 0, 'the forwarding method is kept');
    }
    assert.match(d.log(), /http: weight of 198\.51\.100\.11:80 of TCP 192\.0\.2\.10:80 set to 0 \(was 3\)/);
    const st = await new Promise<string>((resolve) => {
      const p = spawn(process.execPath, [join(REPO, 'bin', 'tslvs.js'), 'status', '--socket', d.socket], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (b: Buffer) => { out += b.toString(); });
      p.on('exit', () => resolve(out));
    });
    assert.ok(st.includes(`dashboard and /metrics on ${url}; /proc files in ${join(dir, 'state', 'proc')}\n`), st);
  } finally {
    await d.kill();
    removeDir(dir);
  }
});

test('tslvs run options: HTTP on 127.0.0.1:9180 by default, --http ADDR:PORT or off, --http-token', async () => {
  const { parseDaemonOptions } = await import('../../src/config/daemon-options.js');
  const d = parseDaemonOptions([], {}, 0);
  assert.deepEqual([d.http, d.httpExplicit, d.httpToken], ['127.0.0.1:9180', false, null]);
  const e = parseDaemonOptions(['--http', '[::1]:0', '--http-token', 's3cret'], {}, 0);
  assert.deepEqual([e.http, e.httpExplicit, e.httpToken], ['[::1]:0', true, 's3cret']);
  assert.equal(parseDaemonOptions(['--http', 'off'], {}, 0).http, null);
  for (const bad of ['9180', '::1:9180', 'localhost', 'a b:1']) {
    assert.throws(() => parseDaemonOptions(['--http', bad], {}, 0), { code: 'TSLVS_ERR_BAD_OPTION', message: `Invalid value "${bad}" for --http` });
  }
  assert.throws(() => parseDaemonOptions(['--http-token', 'a b'], {}, 0), { code: 'TSLVS_ERR_BAD_OPTION' });
});
