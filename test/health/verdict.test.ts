// Pure step tests of the health verdict: check results in, IPVS actions and keepalived's log
// lines out. Expected values come from keepalived's code paths (cited) and the observed runs in
// docs/spec (test vectors A and B, Debian's quorum sample).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKeepalivedText } from '../../src/config/keepalived/load.js';
import type { KeepalivedConfig } from '../../src/config/keepalived/types.js';
import { carryOf, verdictSpecOf } from '../../src/health/runner.js';
import { type Action, HealthVerdict } from '../../src/health/verdict.js';

function configOf(text: string): KeepalivedConfig {
  const r = parseKeepalivedText(text, 'test.conf', { host: { user: () => ({ uid: 0, gid: 0 }), group: () => 0, stat: (p: string) => ({ uid: 0, gid: 0, mode: p === '/bin/true' ? 0o100755 : 0o40755, isFile: p === '/bin/true', isDir: p !== '/bin/true' }), realpath: (p: string) => p, interfaces: () => null, path: '' } });
  assert.ok(r.config, JSON.stringify(r.diagnostics));
  return r.config;
}

function vsText(body: string, head = 'virtual_server 192.0.2.10 80'): string {
  return `${head} {\n delay_loop 10\n lb_algo rr\n lb_kind DR\n protocol TCP\n${body}\n}\n`;
}

const logs = (a: readonly Action[]) => a.filter((x) => x.type === 'log').map((x) => (x as { text: string }).text);
const ipvs = (a: readonly Action[]) => a.filter((x) => x.type !== 'log' && x.type !== 'notify').map((x) => {
  if (x.type === 'add-service' || x.type === 'del-service') return `${x.type} ${x.vs}`;
  const s = (x as { server: { kind: string; rs?: number } }).server;
  const who = s.kind === 'rs' ? `rs${s.rs}` : 'sorry';
  return x.type === 'del-dest' ? `del ${who}` : `${x.type === 'add-dest' ? 'add' : 'edit'} ${who} w${(x as { weight: number }).weight}`;
});
const notifies = (a: readonly Action[]) => a.filter((x) => x.type === 'notify').map((x) => {
  const n = x as Extract<Action, { type: 'notify' }>;
  return `${n.script}${n.rs === null ? '' : ` rs${n.rs}`}`;
});
const ok = { ok: true };
const fail = { ok: false };

test('startup adds every real server that has no alpha, with its weight, then evaluates the quorum', () => {
  const v = new HealthVerdict(verdictSpecOf(configOf(vsText(` real_server 198.51.100.1 80 { weight 3\n TCP_CHECK { } }\n real_server 198.51.100.2 80 { TCP_CHECK { } }`))));
  const a = v.start(0);
  assert.deepEqual(ipvs(a), ['add-service 0', 'add rs0 w3', 'add rs1 w1']);
  assert.deepEqual(logs(a), ['Gained quorum 1+0=1 <= 4 for VS [192.0.2.10]:tcp:80']);
  assert.deepEqual(notifies(a), ['quorum_up']);
});

test('TCP_CHECK: a single failure before the first check has run takes the server down (retry_it starts at retry)', () => {
  const v = new HealthVerdict(verdictSpecOf(configOf(vsText(` real_server 198.51.100.1 80 { TCP_CHECK { retry 3 } }\n real_server 198.51.100.2 80 { TCP_CHECK { } }`))));
  v.start(0);
  const s = v.probeDone(0, 0, 0, fail, 1000);
  assert.deepEqual(ipvs(s.actions), ['del rs0']);
  assert.deepEqual(logs(s.actions), ['Removing service [198.51.100.1]:tcp:80 from VS [192.0.2.10]:tcp:80']);
  assert.equal(s.nextDelayMs, 10_000);
});

test('TCP_CHECK: an up server goes down after retry + 1 consecutive failures, retrying every delay_before_retry', () => {
  const v = new HealthVerdict(verdictSpecOf(configOf(vsText(` real_server 198.51.100.1 80 { TCP_CHECK { retry 2\n delay_before_retry 0.5 } }\n real_server 198.51.100.2 80 { TCP_CHECK { } }`))));
  v.start(0);
  assert.equal(v.probeDone(0, 0, 0, ok, 1000).nextDelayMs, 10_000);
  const f1 = v.probeDone(0, 0, 0, fail, 11_000);
  assert.deepEqual([ipvs(f1.actions), f1.nextDelayMs], [[], 500]);
  const f2 = v.probeDone(0, 0, 0, fail, 11_500);
  assert.deepEqual([ipvs(f2.actions), f2.nextDelayMs], [[], 500]);
  const f3 = v.probeDone(0, 0, 0, fail, 12_000);
  assert.deepEqual([ipvs(f3.actions), f3.nextDelayMs], [['del rs0'], 10_000]);
  const back = v.probeDone(0, 0, 0, ok, 22_000);
  assert.deepEqual(ipvs(back.actions), ['add rs0 w1']);
  assert.equal(v.status(0, 0).alive, true);
});

test('a success between failures resets the retry count', () => {
  const v = new HealthVerdict(verdictSpecOf(configOf(vsText(` real_server 198.51.100.1 80 { TCP_CHECK { retry 1 } }\n real_server 198.51.100.2 80 { TCP_CHECK { } }`))));
  v.start(0);
  v.probeDone(0, 0, 0, ok, 1);
  v.probeDone(0, 0, 0, fail, 2);
  v.probeDone(0, 0, 0, ok, 3);
  assert.deepEqual(ipvs(v.probeDone(0, 0, 0, fail, 4).actions), []);
  assert.deepEqual(ipvs(v.probeDone(0, 0, 0, fail, 5).actions), ['del rs0']);
});

test('inhibit_on_failure sets weight 0 instead of removing, and the weight back on recovery', () => {
  const v = new HealthVerdict(verdictSpecOf(configOf(vsText(` real_server 198.51.100.1 80 { weight 5\n inhibit_on_failure\n TCP_CHECK { } }\n real_server 198.51.100.2 80 { TCP_CHECK { } }`))));
  v.start(0);
  assert.deepEqual(ipvs(v.probeDone(0, 0, 0, fail, 1).actions), ['edit rs0 w0']);
  const up = v.probeDone(0, 0, 0, ok, 2);
  assert.deepEqual(ipvs(up.actions), ['edit rs0 w5']);
  assert.deepEqual(logs(up.actions), ['Enabling service [198.51.100.1]:tcp:80 of VS [192.0.2.10]:tcp:80']);
});

test('alpha: nothing is added at start; the first success adds the server; inhibited servers start at weight 0', () => {
  const v = new HealthVerdict(verdictSpecOf(configOf(vsText(` alpha\n real_server 198.51.100.1 80 { weight 4\n TCP_CHECK { } }\n real_server 198.51.100.2 80 { weight 2\n inhibit_on_failure\n TCP_CHECK { } }`))));
  const a = v.start(0);
  assert.deepEqual(ipvs(a), ['add-service 0', 'add rs1 w0']);
  assert.deepEqual(ipvs(v.probeDone(0, 0, 0, ok, 1).actions), ['add rs0 w4']);
  assert.deepEqual(ipvs(v.probeDone(0, 1, 0, ok, 1).actions), ['edit rs1 w2']);
  // A first failure under alpha changes nothing in IPVS but still runs notify_down.
  const v2 = new HealthVerdict(verdictSpecOf(configOf(vsText(` alpha\n real_server 198.51.100.1 80 { TCP_CHECK { } }\n real_server 198.51.100.2 80 { TCP_CHECK { } }`))));
  v2.start(0);
  const f = v2.probeDone(0, 0, 0, fail, 1);
  assert.deepEqual([ipvs(f.actions), notifies(f.actions)], [[], ['notify_down rs0']]);
});

test('quorum with hysteresis, Debian quorum sample: 10 servers, quorum 7, hysteresis 2 (up at 9, down below 5)', () => {
  const rs = Array.from({ length: 10 }, (_, i) => ` real_server 198.51.100.${i + 1} 80 { TCP_CHECK { } }`).join('\n');
  const v = new HealthVerdict(verdictSpecOf(configOf(vsText(` quorum 7\n hysteresis 2\n${rs}`))));
  v.start(0);
  assert.equal(v.quorumUp(0), true);
  for (let i = 0; i < 5; i++) v.probeDone(0, i, 0, fail, 1 + i);
  assert.equal(v.quorumUp(0), true, '5 alive: 5 >= 7-2');
  const lost = v.probeDone(0, 5, 0, fail, 10);
  assert.equal(v.quorumUp(0), false, '4 alive < 5');
  assert.deepEqual(logs(lost.actions).slice(-1), ['Lost quorum 7-2=5 > 4 for VS [192.0.2.10]:tcp:80']);
  assert.deepEqual(notifies(lost.actions), ['notify_down rs5', 'quorum_down']);
  for (let i = 0; i < 4; i++) v.probeDone(0, i, 0, ok, 20 + i);
  assert.equal(v.quorumUp(0), false, '8 alive < 9');
  const gained = v.probeDone(0, 4, 0, ok, 30);
  assert.equal(v.quorumUp(0), true);
  assert.deepEqual(logs(gained.actions).slice(-1), ['Gained quorum 7+2=9 <= 9 for VS [192.0.2.10]:tcp:80']);
});

test('sorry_server: on lost quorum alive servers leave the pool and the sorry server comes in; back on gain', () => {
  const v = new HealthVerdict(verdictSpecOf(configOf(vsText(` quorum 2\n sorry_server 198.51.100.99 80\n real_server 198.51.100.1 80 { TCP_CHECK { } }\n real_server 198.51.100.2 80 { TCP_CHECK { } }`))));
  v.start(0);
  const lost = v.probeDone(0, 0, 0, fail, 1);
  assert.deepEqual(ipvs(lost.actions), ['del rs0', 'del rs1', 'add sorry w1']);
  // While the sorry server serves, real server changes are recorded but not pushed to IPVS.
  assert.deepEqual(ipvs(v.probeDone(0, 1, 0, fail, 2).actions), []);
  assert.deepEqual(ipvs(v.probeDone(0, 1, 0, ok, 3).actions), []);
  const gained = v.probeDone(0, 0, 0, ok, 4);
  assert.deepEqual(ipvs(gained.actions), ['del sorry', 'add rs0 w1', 'add rs1 w1']);
});

test('test vector B (spec 1.12): alpha, inhibit and sorry_server_inhibit give keepalived\'s logged sequence and table', () => {
  const cfg = configOf(`virtual_server 192.0.2.30 80 {
    delay_loop 3
    lb_algo rr
    lb_kind NAT
    protocol TCP
    alpha
    sorry_server 198.51.100.99 8080
    sorry_server_inhibit
    real_server 198.51.100.11 80 {
        inhibit_on_failure
        TCP_CHECK { connect_timeout 2 }
    }
    real_server 198.51.100.12 80 {
        TCP_CHECK { connect_timeout 2 }
    }
}`);
  const v = new HealthVerdict(verdictSpecOf(cfg));
  const all: Action[] = [...v.start(0), ...v.probeDone(0, 1, 0, fail, 1000).actions, ...v.probeDone(0, 0, 0, ok, 1001).actions];
  const observed = [
    'Enabling sorry server [198.51.100.99]:tcp:8080 to VS [192.0.2.30]:tcp:80',
    'Removing alive servers from the pool for VS [192.0.2.30]:tcp:80',
    'Enabling service [198.51.100.11]:tcp:80 of VS [192.0.2.30]:tcp:80',
    'Gained quorum 1+0=1 <= 1 for VS [192.0.2.30]:tcp:80',
    'Disabling sorry server [198.51.100.99]:tcp:8080 from VS [192.0.2.30]:tcp:80',
    'Adding alive servers to the pool for VS [192.0.2.30]:tcp:80',
  ];
  const got = logs(all);
  let i = 0;
  for (const line of got) if (line === observed[i]) i++;
  assert.equal(i, observed.length, `observed lines not in order in ${JSON.stringify(got)}`);
  // Final table: RS1 weight 1, sorry server kept at weight 0, RS2 never added.
  assert.deepEqual(ipvs(all), ['add-service 0', 'add rs0 w0', 'add sorry w1', 'edit sorry w0', 'edit rs0 w1']);
  assert.deepEqual(v.status(0, 1).inTable, false);
});

test('test vector A (spec 1.11): quorum gained at start, the failing TCP server removed, quorum kept', () => {
  const cfg = configOf(`virtual_server 192.0.2.10 80 {
    delay_loop 6
    lb_algo wrr
    lb_kind DR
    protocol TCP
    quorum 3
    hysteresis 1
    sorry_server 198.51.100.99 80
    real_server 198.51.100.11 80 {
        weight 3
        inhibit_on_failure
        HTTP_GET { url { path /healthz } }
    }
    real_server 198.51.100.12 {
        TCP_CHECK { connect_port 8080 }
    }
}`);
  const v = new HealthVerdict(verdictSpecOf(cfg));
  const start = v.start(0);
  assert.deepEqual(logs(start), ['Gained quorum 3+1=4 <= 4 for VS [192.0.2.10]:tcp:80']);
  const tcp = v.probeDone(0, 1, 0, fail, 1000);
  assert.deepEqual(logs(tcp.actions), ['Removing service [198.51.100.12]:tcp:80 from VS [192.0.2.10]:tcp:80']);
  const http = v.probeDone(0, 0, 0, ok, 1100);
  assert.deepEqual(ipvs(http.actions), []);
  assert.equal(v.quorumUp(0), true);
  assert.deepEqual([v.status(0, 0).inTable, v.status(0, 0).weight, v.status(0, 1).inTable], [true, 3, false]);
});

test('MISC_CHECK misc_dynamic: exit status 2..255 sets the weight to status - 2, 0 restores it, 1 takes the server down', () => {
  const v = new HealthVerdict(verdictSpecOf(configOf(vsText(` real_server 198.51.100.1 80 { weight 5\n MISC_CHECK { misc_path /bin/true\n misc_dynamic } }\n real_server 198.51.100.2 80 { TCP_CHECK { } }`))));
  v.start(0);
  const s10 = v.probeDone(0, 0, 0, { ok: true, exitStatus: 10 }, 1);
  assert.deepEqual(ipvs(s10.actions), ['edit rs0 w8']);
  assert.deepEqual(logs(s10.actions)[0], 'Changing weight from 5 to 8 for active service [198.51.100.1]:tcp:80 of VS [192.0.2.10]:tcp:80');
  assert.deepEqual(ipvs(v.probeDone(0, 0, 0, { ok: true, exitStatus: 255 }, 2).actions), ['edit rs0 w253']);
  assert.deepEqual(ipvs(v.probeDone(0, 0, 0, { ok: true, exitStatus: 0 }, 3).actions), ['edit rs0 w5']);
  assert.deepEqual(ipvs(v.probeDone(0, 0, 0, { ok: false, exitStatus: 1 }, 4).actions), ['del rs0']);
  // Without misc_dynamic, exit status 2 is a failure (MISC_CHECK's retry defaults to 0).
  const v2 = new HealthVerdict(verdictSpecOf(configOf(vsText(` real_server 198.51.100.1 80 { MISC_CHECK { misc_path /bin/true } }\n real_server 198.51.100.2 80 { TCP_CHECK { } }`))));
  v2.start(0);
  v2.probeDone(0, 0, 0, { ok: true, exitStatus: 0 }, 1);
  assert.deepEqual(ipvs(v2.probeDone(0, 0, 0, { ok: false, exitStatus: 2 }, 2).actions), ['del rs0']);
});

test('MISC_CHECK counts its next run from when the script started: the step delay is delay_loop or delay_before_retry', () => {
  const v = new HealthVerdict(verdictSpecOf(configOf(vsText(` real_server 198.51.100.1 80 { MISC_CHECK { misc_path /bin/true\n retry 1\n delay_before_retry 2 } }\n real_server 198.51.100.2 80 { TCP_CHECK { } }`))));
  v.start(0);
  assert.equal(v.probeDone(0, 0, 0, { ok: true, exitStatus: 0 }, 1).nextDelayMs, 10_000);
  assert.equal(v.probeDone(0, 0, 0, { ok: false, exitStatus: 1 }, 2).nextDelayMs, 2_000);
  const down = v.probeDone(0, 0, 0, { ok: false, exitStatus: null }, 3);
  assert.deepEqual([ipvs(down.actions), down.nextDelayMs], [['del rs0'], 10_000]);
});

test('HTTP_GET walks its URLs one per delay_loop, retries a failing URL every delay_before_retry, needs all URLs to come back', () => {
  const v = new HealthVerdict(verdictSpecOf(configOf(vsText(` real_server 198.51.100.1 80 { HTTP_GET { url { path /a }\n url { path /b }\n retry 1\n delay_before_retry 2 } }\n real_server 198.51.100.2 80 { TCP_CHECK { } }`))));
  v.start(0);
  let s = v.probeDone(0, 0, 0, ok, 1);
  assert.deepEqual([s.nextUrl, s.nextDelayMs], [1, 10_000]);
  s = v.probeDone(0, 0, 0, ok, 2);
  assert.deepEqual([s.nextUrl, s.nextDelayMs], [0, 10_000]);
  s = v.probeDone(0, 0, 0, ok, 3);
  assert.equal(s.nextUrl, 1);
  s = v.probeDone(0, 0, 0, fail, 4);
  assert.deepEqual([s.nextUrl, s.nextDelayMs, ipvs(s.actions)], [1, 2_000, []]);
  s = v.probeDone(0, 0, 0, fail, 5);
  assert.deepEqual([s.nextUrl, s.nextDelayMs, ipvs(s.actions)], [1, 10_000, ['del rs0']]);
  // down: the failed URL is retried every max(delay_before_retry, delay_loop); once it passes, all URLs again
  s = v.probeDone(0, 0, 0, fail, 6);
  assert.deepEqual([s.nextUrl, s.nextDelayMs], [1, 10_000]);
  s = v.probeDone(0, 0, 0, ok, 7);
  assert.deepEqual([s.nextUrl, ipvs(s.actions)], [0, []]);
  s = v.probeDone(0, 0, 0, ok, 8);
  assert.deepEqual([s.nextUrl, ipvs(s.actions)], [1, []]);
  s = v.probeDone(0, 0, 0, ok, 9);
  assert.deepEqual(ipvs(s.actions), ['add rs0 w1']);
});

test('DNS_CHECK defaults: 3 retries and delay_before_retry = delay_loop', () => {
  const v = new HealthVerdict(verdictSpecOf(configOf(vsText(` real_server 198.51.100.1 53 { DNS_CHECK { } }\n real_server 198.51.100.2 53 { TCP_CHECK { } }`, 'virtual_server 192.0.2.53 53'))));
  v.start(0);
  v.probeDone(0, 0, 0, ok, 1);
  for (let i = 0; i < 3; i++) {
    const s = v.probeDone(0, 0, 0, fail, 2 + i);
    assert.deepEqual([ipvs(s.actions), s.nextDelayMs], [[], 10_000]);
  }
  assert.deepEqual(ipvs(v.probeDone(0, 0, 0, fail, 9).actions), ['del rs0']);
});

test('several checkers: the first failing one takes the server down, it comes back when the last recovers', () => {
  const v = new HealthVerdict(verdictSpecOf(configOf(vsText(` real_server 198.51.100.1 80 { TCP_CHECK { }\n TCP_CHECK { connect_port 81 } }\n real_server 198.51.100.2 80 { TCP_CHECK { } }`))));
  v.start(0);
  assert.deepEqual(ipvs(v.probeDone(0, 0, 0, fail, 1).actions), ['del rs0']);
  assert.deepEqual(ipvs(v.probeDone(0, 0, 1, fail, 2).actions), []);
  assert.deepEqual(ipvs(v.probeDone(0, 0, 0, ok, 3).actions), []);
  assert.deepEqual(ipvs(v.probeDone(0, 0, 1, ok, 4).actions), ['add rs0 w1']);
});

test('FILE_CHECK: weight 0 means any non-zero value is a failure; a weight scales the value into the server weight', () => {
  const cfg = configOf(`track_file maint {\n file /nonexistent/m\n weight 0\n}\ntrack_file load {\n file /nonexistent/l\n weight -10\n}\n` +
    vsText(` real_server 198.51.100.1 80 { weight 100\n FILE_CHECK { track_file maint }\n FILE_CHECK { track_file load } }\n real_server 198.51.100.2 80 { TCP_CHECK { } }`));
  const v = new HealthVerdict(verdictSpecOf(cfg));
  assert.deepEqual(ipvs(v.start(0, (_vs, _rs, ck) => (ck === 1 ? 3 : 0))), ['add-service 0', 'add rs0 w70', 'add rs1 w1']);
  assert.deepEqual(ipvs(v.fileChanged(0, 0, 1, 5, 1)), ['edit rs0 w50']);
  assert.deepEqual(ipvs(v.fileChanged(0, 0, 0, 1, 2)), ['del rs0']);
  assert.deepEqual(ipvs(v.fileChanged(0, 0, 0, 0, 3)), ['add rs0 w50']);
});

test('stop: everything is removed; notify_down and quorum_down scripts run only with omega', () => {
  for (const omega of [false, true]) {
    const v = new HealthVerdict(verdictSpecOf(configOf(vsText(`${omega ? ' omega\n' : ''} real_server 198.51.100.1 80 { TCP_CHECK { } }`))));
    v.start(0);
    const a = v.stop(5);
    assert.deepEqual(ipvs(a), ['del rs0', 'del-service 0']);
    assert.deepEqual(notifies(a), omega ? ['notify_down rs0', 'quorum_down'] : []);
  }
});

// ------------------------------------------------------------ reload (startFrom)

/** Old verdict stepped by `steps`, then the new configuration started from it. */
function reloaded(oldText: string, newText: string, steps: (v: HealthVerdict) => void = () => undefined): { v: HealthVerdict; a: readonly Action[] } {
  const oldC = configOf(oldText);
  const newC = configOf(newText);
  const old = new HealthVerdict(verdictSpecOf(oldC));
  old.start(0);
  steps(old);
  const v = new HealthVerdict(verdictSpecOf(newC));
  return { v, a: v.startFrom(old, carryOf(oldC, newC), 50_000) };
}

const two = (w1 = 1, w2 = 1, extra = '') => vsText(` real_server 198.51.100.1 80 { weight ${w1}\n TCP_CHECK { retry 2 } }\n real_server 198.51.100.2 80 { weight ${w2}\n${extra} TCP_CHECK { retry 2 } }`);

test('reload of the same file changes nothing and keeps each server\'s health, transition time and retries', () => {
  const { v, a } = reloaded(two(), two(), (o) => {
    o.probeDone(0, 0, 0, ok, 1000);
    o.probeDone(0, 1, 0, fail, 1000); // before its first run one failure is enough
    o.probeDone(0, 0, 0, fail, 2000); // retry 1 of 2
  });
  assert.deepEqual(ipvs(a), []);
  assert.deepEqual(notifies(a), []);
  const s0 = v.status(0, 0);
  const s1 = v.status(0, 1);
  assert.deepEqual([s0.alive, s0.inTable, s0.checkers[0].retries], [true, true, 1]);
  assert.deepEqual([s1.alive, s1.inTable, s1.checkers[0].up, s1.checkers[0].lastChangeMs], [false, false, false, 1000]);
  // The kept retry count: two more failures (not three) take server 1 down.
  assert.deepEqual(ipvs(v.probeDone(0, 0, 0, fail, 51_000).actions), []);
  assert.deepEqual(ipvs(v.probeDone(0, 0, 0, fail, 52_000).actions), ['del rs0']);
  // Server 2 comes back on its first success after the reload.
  assert.deepEqual(ipvs(v.probeDone(0, 1, 0, ok, 53_000).actions), ['add rs1 w1']);
});

test('reload: a new weight is one edit of the alive server; a new real server is added; a down server stays out', () => {
  const newText = vsText(` real_server 198.51.100.1 80 { weight 5\n TCP_CHECK { retry 2 } }\n real_server 198.51.100.2 80 { weight 7\n TCP_CHECK { retry 2 } }\n real_server 198.51.100.3 80 { TCP_CHECK { } }`);
  const { v, a } = reloaded(two(), newText, (o) => o.probeDone(0, 1, 0, fail, 1000));
  assert.deepEqual(ipvs(a), ['edit rs0 w5', 'add rs2 w1']);
  assert.deepEqual(logs(a), ['Changing weight from 1 to 5 for active service [198.51.100.1]:tcp:80 of VS [192.0.2.10]:tcp:80']);
  assert.equal(v.status(0, 1).alive, false);
  // Its new weight is used when it comes back.
  assert.deepEqual(ipvs(v.probeDone(0, 1, 0, ok, 51_000).actions), ['add rs1 w7']);
});

test('reload: inhibit_on_failure switched on for a down server puts it in at weight 0, switched off takes it out', () => {
  const on = reloaded(two(), two(1, 1, ' inhibit_on_failure\n'), (o) => o.probeDone(0, 1, 0, fail, 1000));
  assert.deepEqual(ipvs(on.a), ['add rs1 w0']);
  const off = reloaded(two(1, 1, ' inhibit_on_failure\n'), two(), (o) => o.probeDone(0, 1, 0, fail, 1000));
  assert.deepEqual(ipvs(off.a), ['del rs1']);
});

test('reload: a checker whose target changed starts afresh; an alpha checker added to a failed server starts down', () => {
  const moved = vsText(` real_server 198.51.100.1 80 { TCP_CHECK { retry 2 } }\n real_server 198.51.100.2 80 { TCP_CHECK { retry 2\n connect_port 8080 } }`);
  const r1 = reloaded(two(), moved, (o) => o.probeDone(0, 1, 0, fail, 1000));
  // No checker of server 2 failed any more (the new one has not run): it is back in the table.
  assert.deepEqual(ipvs(r1.a), ['add rs1 w1']);
  assert.deepEqual(r1.v.status(0, 1).checkers.map((c) => [c.up, c.hasRun]), [[true, false]]);
  const extra = vsText(` real_server 198.51.100.1 80 { TCP_CHECK { retry 2 } }\n real_server 198.51.100.2 80 { TCP_CHECK { retry 2 }\n TCP_CHECK { connect_port 8080\n alpha } }`);
  const r2 = reloaded(two(), extra, (o) => o.probeDone(0, 1, 0, fail, 1000));
  assert.deepEqual(ipvs(r2.a), []);
  assert.deepEqual(r2.v.status(0, 1).checkers.map((c) => c.up), [false, false]);
  // The kept failed checker recovering is not enough: the new alpha one must succeed too.
  assert.deepEqual(ipvs(r2.v.probeDone(0, 1, 0, ok, 51_000).actions), []);
  assert.deepEqual(ipvs(r2.v.probeDone(0, 1, 1, ok, 51_100).actions), ['add rs1 w1']);
});

test('reload: quorum state is kept; a sorry server added while quorum is lost replaces the pool', () => {
  const q = (sorry: string) => vsText(` quorum 2\n${sorry} real_server 198.51.100.1 80 { TCP_CHECK { } }\n real_server 198.51.100.2 80 { TCP_CHECK { } }`);
  const { v, a } = reloaded(q(''), q(' sorry_server 198.51.100.9 80\n'), (o) => o.probeDone(0, 1, 0, fail, 1000));
  assert.equal(v.quorumUp(0), false);
  assert.deepEqual(ipvs(a), ['del rs0', 'add sorry w1']);
  assert.equal(v.sorryInPool(0), true);
  // Quorum regained (perform_svr_state leaves the pool to perform_quorum_state): the sorry server
  // leaves, then every alive server comes back.
  const back = v.probeDone(0, 1, 0, ok, 51_000);
  assert.deepEqual(ipvs(back.actions), ['del sorry', 'add rs0 w1', 'add rs1 w1']);
  // The other way: a sorry server in the pool, removed from the file, gives the pool back.
  const gone = reloaded(q(' sorry_server 198.51.100.9 80\n'), q(''), (o) => o.probeDone(0, 1, 0, fail, 1000));
  assert.deepEqual(ipvs(gone.a), ['add rs0 w1']);
});

test('reload: after any probe history and any reload, the table the actions build matches each server\'s in-table state', () => {
  // Random histories over a virtual server with quorum, a sorry server and inhibited servers;
  // the actions applied to a mirror table must agree with status() (inTable, and weight 0 when
  // an inhibited server is down or out of the pool).
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
  const variant = (k: number) => vsText(` quorum ${1 + (k % 3)}\n${k % 2 ? ' sorry_server 198.51.100.9 80\n' : ''}` +
    [1, 2, 3].map((i) => ` real_server 198.51.100.${i} 80 { weight ${1 + ((k + i) % 3)}\n${(k + i) % 2 ? ' inhibit_on_failure\n' : ''} TCP_CHECK { retry 1 } }`).join('\n'));
  for (let run = 0; run < 200; run++) {
    let k = Math.floor(rand() * 6);
    let c = configOf(variant(k));
    let v = new HealthVerdict(verdictSpecOf(c));
    const mirror = new Map<string, number>();
    const apply = (acts: readonly Action[]) => {
      for (const x of acts) {
        if (x.type === 'add-dest' || x.type === 'edit-dest') mirror.set(x.server.kind === 'rs' ? `rs${x.server.rs}` : 'sorry', x.weight);
        else if (x.type === 'del-dest') mirror.delete(x.server.kind === 'rs' ? `rs${x.server.rs}` : 'sorry');
      }
    };
    apply(v.start(0));
    let t = 0;
    for (let step = 0; step < 30; step++) {
      t += 1000;
      if (rand() < 0.15) {
        const k2 = Math.floor(rand() * 6);
        const c2 = configOf(variant(k2));
        const v2 = new HealthVerdict(verdictSpecOf(c2));
        // The mirror keeps what was carried (same servers), as the runner's intended table does.
        if ((k2 % 2) !== (k % 2)) mirror.delete('sorry');
        apply(v2.startFrom(v, carryOf(c, c2), t));
        [k, c, v] = [k2, c2, v2];
      } else {
        const ri = Math.floor(rand() * 3);
        apply(v.probeDone(0, ri, 0, rand() < 0.5 ? ok : fail, t).actions);
      }
      for (let ri = 0; ri < 3; ri++) {
        const st = v.status(0, ri);
        assert.equal(mirror.has(`rs${ri}`), st.inTable, `run ${run} step ${step} rs${ri}: ${JSON.stringify([...mirror])}`);
      }
      assert.equal(mirror.has('sorry'), v.sorryInPool(0) || (c.virtualServers[0].sorryServer?.inhibit ?? false), `run ${run} step ${step} sorry`);
    }
  }
});
