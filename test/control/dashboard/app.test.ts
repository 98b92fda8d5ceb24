// The dashboard in a real browser: Debian's chromium driven by playwright-core (never a
// downloaded browser). A real `tslvs run` serves it; changes come from tslvsadm over the control
// socket and from the page itself. Screenshots go to test-artifacts/ (gitignored).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createHttpServer } from '../../../src/control/http-api.js';
import type { MetricsFacts } from '../../../src/control/metrics.js';
import type { ConnWire, TableCommand, TableSnapshot } from '../../../src/control/protocol.js';
import { request } from '../../../src/cli/control-client.js';
import { parseIpvsadmRules } from '../../../src/config/ipvsadm-rules.js';
import { Ipvs } from '../../../src/core/ipvs.js';
import { applyTableCommand, buildSnapshot } from '../../../src/daemon/wire.js';
import { REPO, removeDir, startDaemonProcess, tempDir } from '../../helpers/daemon.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(REPO, 'test-artifacts');
/** The dashboard polls every second; a change made elsewhere must show within this. */
const LIVE_MS = 2000;

function skipWithoutChromium(): string | null {
  if (existsSync(CHROMIUM)) return null;
  if (process.env.CI) throw new Error(`needs ${CHROMIUM}: apt-get install chromium (CI must install it: see .ci/run)`);
  return `needs ${CHROMIUM}: apt-get install chromium`;
}

async function browser(dir: string): Promise<BrowserContext> {
  const userData = join(dir, 'chromium-profile');
  mkdirSync(userData);
  return chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

function tslvsadm(socket: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(REPO, 'bin', 'tslvsadm.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TSLVS_SOCKET: socket } });
    let stderr = '';
    p.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    p.on('exit', (code) => resolve({ code, stderr }));
  });
}

const RULES = [
  '-A -t 192.0.2.10:80 -s wrr',
  '-a -t 192.0.2.10:80 -r 198.51.100.11:80 -m -w 3',
  '-a -t 192.0.2.10:80 -r 198.51.100.12:80 -m -w 1',
  '-A -u 192.0.2.10:53 -s rr',
  '-a -u 192.0.2.10:53 -r 198.51.100.11:53 -m -w 1',
  '-A -t [2001:db8::10]:443 -s sh -p 300',
  '-a -t [2001:db8::10]:443 -r [2001:db8:1::11]:443 -m -w 2',
].join('\n');

function row(page: Page, service: string, dest: string) {
  return page.locator(`tr.dest[data-service="${service}"][data-dest="${dest}"]`);
}

function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The 403s this test provokes on purpose are logged by the browser as failed loads.
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 403/.test(m.text())) errors.push(m.text()); });
  return errors;
}

test('dashboard: live table and charts, a change from tslvsadm within 2 s, read-only without the token, drain with it', { timeout: 120000 }, async (t) => {
  const skip = skipWithoutChromium();
  if (skip) return t.skip(skip);
  const dir = tempDir('dashboard');
  const d = await startDaemonProcess({ socket: join(dir, 'sock'), stateDir: join(dir, 'state'), args: ['--http', '127.0.0.1:0'] });
  let ctx: BrowserContext | null = null;
  try {
    const url = /HTTP on (http:\/\/\S+)/.exec(d.log())?.[1];
    assert.ok(url, d.log());
    const cmds: TableCommand[] = parseIpvsadmRules(RULES, 'rules').map((e) => e.cmd);
    const r = await request({ type: 'exec', cmds }, { socketPath: d.socket });
    assert.ok(r.type === 'exec' && r.results.every((x) => x === null));

    ctx = await browser(dir);
    const page = await ctx.newPage();
    const errors = consoleErrors(page);
    await page.goto(url);

    // Load: every service with its real servers, weights, health; the uPlot charts drew.
    const rs11 = row(page, 'TCP 192.0.2.10:80', '198.51.100.11:80');
    await rs11.locator('td.weight').filter({ hasText: /^3$/ }).waitFor({ timeout: 10000 });
    assert.equal(await page.locator('tr.svc').count(), 3);
    assert.equal(await page.locator('tr.dest').count(), 4);
    assert.equal(await row(page, 'TCP [2001:db8::10]:443', '[2001:db8:1::11]:443').locator('td.weight').textContent(), '2');
    assert.equal(await rs11.locator('td.health').textContent(), 'no check');
    await page.locator('#chart-cps canvas').waitFor();
    await page.locator('#chart-bytes canvas').waitFor();
    assert.equal(await page.locator('.u-legend .u-series').count() >= 2, true, 'uPlot legends');
    assert.match(await page.getByTestId('fact-services').textContent() ?? '', /services 3/);

    // Read-only without the token: no controls, and the API refuses a change with its message.
    assert.equal(await page.getByTestId('mode').textContent(), 'read-only');
    assert.equal(await page.locator('[data-testid=drain]').count(), 0);
    const refused = await page.evaluate(async () => {
      const res = await fetch('/api/weight', { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ svc: { af: 2, protocol: 6, addr: '192.0.2.10', port: 80, fwmark: 0 }, dest: { af: 2, addr: '198.51.100.11', port: 80 }, weight: 0 }) });
      return { status: res.status, body: await res.json() as { error: { message: string } } };
    });
    assert.equal(refused.status, 403);
    assert.match(refused.body.error.message, /needs the daemon's token/);

    // A wrong token is refused on the page with the API's message.
    await page.getByTestId('token').fill('not-the-token');
    await page.getByTestId('unlock').click();
    await page.getByTestId('message').filter({ hasText: /needs the daemon's token/ }).waitFor();
    assert.equal(await page.getByTestId('mode').textContent(), 'read-only');

    // Live update: a weight changed with tslvsadm shows within 2 s.
    const edit = await tslvsadm(d.socket, ['-e', '-t', '192.0.2.10:80', '-r', '198.51.100.11:80', '-m', '-w', '7']);
    assert.equal(edit.code, 0, edit.stderr);
    await rs11.locator('td.weight').filter({ hasText: /^7$/ }).waitFor({ timeout: LIVE_MS });
    // A real server added elsewhere appears, one deleted disappears.
    assert.equal((await tslvsadm(d.socket, ['-a', '-t', '192.0.2.10:80', '-r', '198.51.100.13:80', '-m', '-w', '4'])).code, 0);
    assert.equal((await tslvsadm(d.socket, ['-d', '-u', '192.0.2.10:53', '-r', '198.51.100.11:53'])).code, 0);
    await row(page, 'TCP 192.0.2.10:80', '198.51.100.13:80').waitFor({ timeout: LIVE_MS });
    await row(page, 'UDP 192.0.2.10:53', '198.51.100.11:53').waitFor({ state: 'detached', timeout: LIVE_MS });

    // With the token: unlock, then drain 198.51.100.11 from the page.
    const token = readFileSync(join(dir, 'state', 'http-token'), 'utf8').trim();
    await page.getByTestId('token').fill(token);
    await page.getByTestId('unlock').click();
    await page.getByTestId('mode').filter({ hasText: 'changes allowed' }).waitFor();
    await rs11.getByTestId('drain').click();
    await rs11.locator('td.weight').filter({ hasText: /^0$/ }).waitFor({ timeout: LIVE_MS });
    assert.match(await page.getByTestId('message').textContent() ?? '', /Drained/);
    assert.equal(await rs11.getAttribute('class'), 'dest drained');
    const tab = await request({ type: 'get-table' }, { socketPath: d.socket });
    assert.ok(tab.type === 'table');
    const dest = tab.table.services.find((s) => s.port === 80 && s.af === 2)?.dests.find((x) => x.addr === '198.51.100.11');
    assert.equal(dest?.weight, 0, 'the daemon\'s table has the drained weight');
    assert.equal(dest?.fwd, 0, 'and keeps the forwarding method');
    // Set a weight back through the field.
    await rs11.getByTestId('weight-input').fill('5');
    await rs11.getByTestId('set-weight').click();
    await rs11.locator('td.weight').filter({ hasText: /^5$/ }).waitFor({ timeout: LIVE_MS });
    await page.getByTestId('fact-changes').filter({ hasText: /changes [1-9]/ }).waitFor();

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    assert.ok(statSync(join(ARTIFACTS, 'dashboard.png')).size > 10000);
    assert.deepEqual(errors, []);
  } finally {
    await ctx?.close();
    await d.kill();
    removeDir(dir);
  }
});

/** A table with traffic that changes at every read, and a connection table, for the parts a `none` daemon cannot show. */
function trafficDeps(): { facts: () => MetricsFacts; conns: (limit: number) => { total: number; conns: ConnWire[] } } {
  const ipvs = new Ipvs({ random: () => 0 });
  for (const e of parseIpvsadmRules(RULES, 'rules')) applyTableCommand(ipvs.table, e.cmd);
  let n = 0;
  const conns: ConnWire[] = Array.from({ length: 120 }, (_, i) => ({
    protocol: 6, af: 2, caddr: `203.0.113.${i + 1}`, cport: 40000 + i, vaddr: '192.0.2.10', vport: 80,
    daddr: i % 3 ? '198.51.100.11' : '198.51.100.12', dport: 80, fwmark: 0, template: false,
    state: i % 4 ? 'ESTABLISHED' : 'TIME_WAIT', expiresS: 900 - i,
  }));
  return {
    facts: () => {
      n++;
      const table: TableSnapshot = buildSnapshot(ipvs, 'proxy');
      table.totals = { ...table.totals, cps: 40 + ((n * 7) % 25), inbps: 150000 + ((n * 3301) % 40000), outbps: 900000 + ((n * 7919) % 200000) };
      const s = table.services[0];
      s.stats = { ...s.stats, cps: table.totals.cps, inbps: table.totals.inbps, outbps: table.totals.outbps };
      const rs11 = s.dests.find((x) => x.addr === '198.51.100.11')!;
      const rs12 = s.dests.find((x) => x.addr === '198.51.100.12')!;
      rs11.activeConns = 80;
      rs12.activeConns = 40;
      rs11.health = { checker: 'HTTP_GET', up: true, lastResult: 'HTTP 200', latencyMs: 3.2, lastTransitionMs: null };
      rs12.health = { checker: 'HTTP_GET', up: false, lastResult: 'connection refused', latencyMs: null, lastTransitionMs: null };
      return { table, version: 'test', connCount: 120, connLimit: 4194304, dataplane: { kind: 'proxy', activeFlows: 120, drops: { 'no-dest': 2 } }, changes: 0, picks: {} };
    },
    conns: (limit) => ({ total: conns.length, conns: conns.slice(0, limit) }),
  };
}

test('dashboard: health, rates and a sample of the connection table', { timeout: 60000 }, async (t) => {
  const skip = skipWithoutChromium();
  if (skip) return t.skip(skip);
  const dir = tempDir('dashboard-traffic');
  const deps = trafficDeps();
  const server = createHttpServer({ ...deps, exec: async (c) => c.map(() => null), token: null, tokenHint: 'none' });
  const { url } = await server.listen('127.0.0.1:0');
  let ctx: BrowserContext | null = null;
  try {
    ctx = await browser(dir);
    const page = await ctx.newPage();
    const errors = consoleErrors(page);
    await page.goto(url);
    const rs12 = row(page, 'TCP 192.0.2.10:80', '198.51.100.12:80');
    await rs12.locator('td.health').filter({ hasText: 'down (connection refused)' }).waitFor();
    assert.equal(await rs12.locator('td.health').getAttribute('class'), 'health down');
    assert.equal(await row(page, 'TCP 192.0.2.10:80', '198.51.100.11:80').locator('td.health').textContent(), 'up 3.2 ms');
    await page.getByTestId('conns').locator('tbody tr').nth(49).waitFor();
    assert.equal(await page.getByTestId('conns').locator('tbody tr').count(), 50);
    assert.equal(await page.locator('#conn-count').textContent(), '(50 of 120)');
    assert.deepEqual(await page.getByTestId('conns').locator('tbody tr').first().locator('td').allTextContents(),
      ['TCP', '15:00', 'TIME_WAIT', '203.0.113.1:40000', '192.0.2.10:80', '198.51.100.12:80']);
    // The page has no write access at all: no unlock field when the daemon has no token.
    assert.equal(await page.getByTestId('token').isHidden(), true);
    // Let the charts collect a few points, then keep a picture.
    await page.waitForFunction(() => Number(document.getElementById('status')?.dataset.updated ?? 0) > 0);
    await page.waitForTimeout(4500);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-traffic.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await ctx?.close();
    await server.close();
    removeDir(dir);
  }
});
