// Same meaning, checked on the real thing: for every virtual-server file of the ok/ corpus, the
// IPVS table tslvs would set up at start (health/runner.ts initialCommands over
// config/keepalived/to-ipvs.ts) equals the table the real keepalived 2.2.7 set up in a Debian 6.1
// kernel, as `ipvsadm -S -n` and `ipvsadm -L -n --thresholds` printed it
// (test/golden/keepalived/startup-tables.txt, recorded by record-startup-tables.sh in the IPVS oracle).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DestWire, ServiceIdWire, ServiceWire, TableCommand } from '../../../src/control/protocol.js';
import { loadKeepalivedConfig } from '../../../src/config/keepalived/load.js';
import { systemHost } from '../../../src/config/keepalived/system.js';
import { initialCommands } from '../../../src/health/runner.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const fixtures = join(repo, 'test/fixtures/keepalived');
const golden = readFileSync(join(repo, 'test/golden/keepalived/startup-tables.txt'), 'utf8');
const host = { ...systemHost(), interfaces: () => ['lo', 'eth0'] };

interface Section { file: string; rules: string[]; thresholds: string[] }

function sections(): Section[] {
  const out: Section[] = [];
  let cur: Section | null = null;
  let inThr = false;
  for (const line of golden.split('\n')) {
    if (line.startsWith('== ')) {
      cur = { file: line.slice(3), rules: [], thresholds: [] };
      out.push(cur);
      inThr = false;
    } else if (line === '-- thresholds') inThr = true;
    else if (cur && line.trim() !== '' && !line.startsWith('#')) {
      if (!inThr) cur.rules.push(line);
      else if (line.startsWith('  ->')) {
        const [, addr, u, l] = /^ {2}-> (\S+)\s+(\d+)\s+(\d+)/.exec(line)!;
        cur.thresholds.push(`${addr} ${u} ${l}`);
      }
    }
  }
  return out;
}

const hostPort = (af: number, addr: string, port: number) => (af === 10 ? `[${addr}]:${port}` : `${addr}:${port}`);

/** ipvsadm -S -n's service name (print_service_entry with FMT_RULE). */
function svcName(s: ServiceIdWire): string {
  if (s.fwmark) return `-f ${s.fwmark}${s.af === 10 ? ' -6' : ''}`;
  const opt = s.protocol === 6 ? '-t' : s.protocol === 17 ? '-u' : '--sctp-service';
  return `${opt} ${hostPort(s.af, s.addr, s.port)}`;
}

function serviceRule(s: ServiceWire): string {
  let r = `-A ${svcName(s)} -s ${s.sched}`;
  if (s.flags & 1) {
    r += ` -p ${s.timeoutS}`;
    if (s.af === 2 && s.netmask >>> 0 !== 0xffffffff) r += ` -M ${[24, 16, 8, 0].map((b) => (s.netmask >>> b) & 255).join('.')}`;
    if (s.af === 10 && s.netmask !== 128) r += ` -M ${s.netmask}`;
  }
  if (s.pe) r += ` --pe ${s.pe}`;
  if (s.flags & 4) r += ' -o';
  const names: string[] = [];
  if (s.sched === 'sh' || s.sched === 'mh') {
    if (s.flags & 0x08) names.push(`${s.sched}-fallback`);
    if (s.flags & 0x10) names.push(`${s.sched}-port`);
  } else {
    if (s.flags & 0x08) names.push('flag-1');
    if (s.flags & 0x10) names.push('flag-2');
    if (s.flags & 0x20) names.push('flag-3');
  }
  if (names.length) r += ` -b ${names.join(',')}`;
  return r;
}

function destRule(s: ServiceIdWire, d: DestWire): string {
  const fwd = d.fwd === 0 ? '-m' : d.fwd === 2 ? '-i' : d.fwd === 3 ? '-g' : '-?';
  let r = `-a ${svcName(s)} -r ${hostPort(d.af, d.addr, d.port)} ${fwd} -w ${d.weight}`;
  if (d.fwd === 2) {
    const csum = ['--tun-nocsum', '--tun-csum', '--tun-remcsum'][d.tunFlags];
    if (d.tunType === 0) r += ' --tun-type ipip';
    else if (d.tunType === 1) r += ` --tun-type gue --tun-port ${d.tunPort} ${csum}`;
    else r += ` --tun-type gre ${csum}`;
  }
  return r;
}

/** Applies commands to an empty table, as IPVS would; returns -S rules and threshold lines. */
function tableOf(cmds: readonly TableCommand[]): { rules: string[]; thresholds: string[] } {
  const services = new Map<string, { svc: ServiceWire; dests: Map<string, DestWire> }>();
  for (const c of cmds) {
    if (c.cmd === 'add-service') services.set(svcName(c.svc), { svc: c.svc, dests: new Map() });
    else if (c.cmd === 'add-dest' || c.cmd === 'edit-dest') services.get(svcName(c.svc))!.dests.set(hostPort(c.dest.af, c.dest.addr, c.dest.port), c.dest);
    else if (c.cmd === 'del-dest') services.get(svcName(c.svc))!.dests.delete(hostPort(c.dest.af, c.dest.addr, c.dest.port));
  }
  const rules: string[] = [];
  const thresholds: string[] = [];
  for (const { svc, dests } of services.values()) {
    rules.push(serviceRule(svc));
    for (const d of dests.values()) {
      rules.push(destRule(svc, d));
      thresholds.push(`${hostPort(d.af, d.addr, d.port)} ${d.uThreshold} ${d.lThreshold}`);
    }
  }
  return { rules, thresholds };
}

const all = sections();

test('the startup golden covers every virtual-server file of the ok/ corpus', () => {
  assert.ok(all.length >= 40, `${all.length} files`);
});

for (const s of all) {
  test(`${s.file}: the startup table is the one keepalived set up in the kernel`, () => {
    const r = loadKeepalivedConfig(s.file, { cwd: fixtures, host, configId: 'tslvs-test' });
    assert.ok(r.config);
    // Tracked files do not exist where the golden was recorded: they read as 0 there.
    const t = tableOf(initialCommands(r.config, () => 0));
    assert.deepEqual([...t.rules].sort(), [...s.rules].sort());
    assert.deepEqual([...t.thresholds].sort(), [...s.thresholds].sort());
  });
}
