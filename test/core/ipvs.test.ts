// The Ipvs facade as dataplanes drive it: which packets create entries, states and timers,
// persistence, one-packet scheduling, reuse, deleted destinations, counters and the estimator.
// Expected values are the reference kernel's observed behaviour (spec ipvs.md §5, §7, §11.5-11.7)
// or derived from its sources where noted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IP_VS_CONN_F_NOOUTPUT, IP_VS_CONN_F_TEMPLATE, IP_VS_DEST_F_OVERLOAD } from '../../src/core/dest.js';
import {
  VERDICT_ACCEPT, VERDICT_BYPASS, VERDICT_DROP, VERDICT_FORWARD, VERDICT_NO_DEST,
  VERDICT_NOT_OURS, VERDICT_TABLE_FULL,
} from '../../src/core/ipvs.js';
import { statsView } from '../../src/core/stats/counters.js';
import { IpAddr } from '../../src/core/addr.js';
import { SCTP_CID_ABORT, SCTP_CID_COOKIE_ACK, SCTP_CID_COOKIE_ECHO, SCTP_CID_DATA, SCTP_CID_INIT } from '../../src/core/conn/sctp-state.js';
import { Lab } from './conn/lab.js';

const C = '198.51.100.1';

test('TCP DR entry walks SYN_RECV, ESTABLISHED, FIN_WAIT with the observed timers and counters (§11.5)', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.230:80');
  const d = lab.dest(s, '192.168.1.201');
  const row = (state: string, exp: string) => [`TCP ${exp}  ${state.padEnd(11)} ${C}:42000 192.168.1.230:80   192.168.1.201:80`];
  assert.equal(lab.tcp(C, 42000, '192.168.1.230', 80, 'S'), VERDICT_FORWARD);
  assert.deepEqual(lab.conns(), row('SYN_RECV', '00:59'));
  assert.equal(lab.counts(d), '1/0/0');
  lab.now += 5;
  lab.tcp(C, 42000, '192.168.1.230', 80, 'A');
  assert.deepEqual(lab.conns(), row('ESTABLISHED', '14:59'));
  lab.tcp(C, 42000, '192.168.1.230', 80, 'PA', 18);
  assert.deepEqual(lab.conns(), row('ESTABLISHED', '14:59'));
  assert.equal(lab.counts(d), '1/0/0');
  lab.tcp(C, 42000, '192.168.1.230', 80, 'FA');
  assert.deepEqual(lab.conns(), row('FIN_WAIT', '01:59'));
  assert.equal(lab.counts(d), '0/1/0');
  lab.tcp(C, 42000, '192.168.1.230', 80, 'A');
  assert.deepEqual(lab.conns(), row('FIN_WAIT', '01:59'));
  assert.equal(lab.counts(d), '0/1/0');
});

test('SYN then RST stays SYN_RECV, SYN then FIN is TIME_WAIT, a stray ACK creates nothing (§11.5)', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.230:80');
  const d = lab.dest(s, '192.168.1.201');
  lab.tcp(C, 42001, '192.168.1.230', 80, 'S');
  lab.tcp(C, 42001, '192.168.1.230', 80, 'R');
  lab.tcp(C, 42002, '192.168.1.230', 80, 'S');
  lab.tcp(C, 42002, '192.168.1.230', 80, 'F');
  assert.equal(lab.tcp(C, 42003, '192.168.1.230', 80, 'A'), VERDICT_ACCEPT);
  assert.deepEqual(lab.conns(), [
    `TCP 00:59  SYN_RECV    ${C}:42001 192.168.1.230:80   192.168.1.201:80`,
    `TCP 01:59  TIME_WAIT   ${C}:42002 192.168.1.230:80   192.168.1.201:80`,
  ]);
  assert.equal(lab.counts(d), '1/1/0');
  // An ACK to an address without a service is not ours at all.
  assert.equal(lab.tcp(C, 42003, '192.168.1.231', 80, 'A'), VERDICT_NOT_OURS);
  assert.equal(lab.tcp(C, 42003, '192.168.1.231', 80, 'S'), VERDICT_NOT_OURS);
});

test('sloppy_tcp lets a bare ACK create an ESTABLISHED entry; a RST never creates one', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.62:80');
  lab.dest(s, '192.168.1.101');
  assert.equal(lab.tcp(C, 32000, '192.168.1.62', 80, 'A'), VERDICT_ACCEPT);
  assert.deepEqual(lab.conns(), []);
  lab.ipvs.sysctl.sloppyTcp = 1;
  assert.equal(lab.tcp(C, 32000, '192.168.1.62', 80, 'A'), VERDICT_FORWARD);
  assert.equal(lab.tcp(C, 32001, '192.168.1.62', 80, 'RA'), VERDICT_ACCEPT);
  assert.deepEqual(lab.conns(), [`TCP 14:59  ESTABLISHED ${C}:32000 192.168.1.62:80    192.168.1.101:80`]);
});

test('a UDP datagram makes a UDP entry for 300 s that never counts as active', () => {
  const lab = new Lab();
  const s = lab.svc('udp', '192.168.1.230:53');
  const d = lab.dest(s, '192.168.1.100');
  lab.udp(C, 40001, '192.168.1.230', 53);
  assert.deepEqual(lab.conns(), [`UDP 04:59  UDP         ${C}:40001 192.168.1.230:53   192.168.1.100:53`]);
  assert.equal(lab.counts(d), '0/1/0');
});

test('IPv6 entries list in the bracketed form and count the full IPv6 length', () => {
  const lab = new Lab();
  const s = lab.svc('udp', '[2001:db8:1::230]:53');
  const d = lab.dest(s, '[2001:db8:1::11]:5353');
  lab.udp('2001:db8:1::100', 40000, '2001:db8:1::230', 53, 5);
  assert.deepEqual(lab.conns(), ['UDP 04:59  UDP         [2001:db8:1::100]:40000 [2001:db8:1::230]:53 [2001:db8:1::11]:5353']);
  assert.equal(d.stats.inbytes, 53);
  lab.udp('2001:db8:1::100', 40000, '2001:db8:1::230', 53, 5);
  assert.equal(lab.ipvs.connCount, 1);
  assert.equal(d.stats.inpkts, 2);
  // An IPv4 flow whose addresses equal the first words of the IPv6 ones (32.1.13.184 is
  // 0x20010db8) is another entry: the family is part of the key.
  const v4 = lab.svc('udp', '32.1.13.184:53');
  lab.dest(v4, '192.168.1.11');
  lab.udp('32.1.13.184', 40000, '32.1.13.184', 53, 5);
  assert.equal(lab.ipvs.connCount, 2);
  assert.equal(lab.ipvs.connAf(lab.ipvs.curConn), 2);
  assert.equal(d.stats.inpkts, 2);
});

test('an entry expires counted from its last packet, at the end of its timer-wheel bucket', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.230:80');
  const d = lab.dest(s, '192.168.1.201');
  lab.tcp(C, 1000, '192.168.1.230', 80, 'S');
  const c = lab.ipvs.curConn;
  lab.advance(30_000);
  lab.tcp(C, 1000, '192.168.1.230', 80, 'S'); // a retransmitted SYN re-arms the 60 s
  assert.equal(lab.ipvs.connExpiresMs(c), 90_000);
  // jiffy 7500 + 15000 = 22500 is 15000 jiffies away: wheel level 3 (512-jiffy buckets), so the
  // timer fires at jiffy (22500 >> 9 << 9) + 512 = 22528, i.e. 90.112 s (kernel/time/timer.c).
  assert.equal(lab.ipvs.connFiresAtMs(c), 90_112);
  lab.advance(60_000);
  assert.deepEqual(lab.conns(0), [`TCP 00:00  SYN_RECV    ${C}:1000  192.168.1.230:80   192.168.1.201:80`]);
  lab.advance(111);
  assert.equal(lab.ipvs.connCount, 1);
  assert.deepEqual(lab.expired, []);
  lab.advance(1);
  assert.equal(lab.ipvs.connCount, 0);
  assert.deepEqual(lab.expired, [c]);
  assert.equal(lab.counts(d), '0/0/0');
  assert.equal(d.refcnt, 0);
});

test('--set timeouts apply to ESTABLISHED, FIN_WAIT and UDP at the next transition', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.230:80');
  lab.dest(s, '192.168.1.201');
  const u = lab.svc('udp', '192.168.1.230:53');
  lab.dest(u, '192.168.1.201');
  lab.ipvs.table.setTimeouts({ tcp: 3600, tcpfin: 60, udp: 600 });
  lab.tcp(C, 1, '192.168.1.230', 80, 'S');
  lab.tcp(C, 1, '192.168.1.230', 80, 'A');
  lab.tcp(C, 2, '192.168.1.230', 80, 'S');
  lab.tcp(C, 2, '192.168.1.230', 80, 'A');
  lab.tcp(C, 2, '192.168.1.230', 80, 'F');
  lab.udp(C, 3, '192.168.1.230', 53);
  assert.deepEqual(lab.conns().map((l) => l.slice(0, 22)), ['TCP 00:59  FIN_WAIT   ', 'TCP 59:59  ESTABLISHED', 'UDP 09:59  UDP        ']);
});

test('thresholds: rr skips OVERLOAD dests and reports no destination (§4.2 oracle example)', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.63:80');
  const d101 = lab.dest(s, '192.168.1.101', { x: 3 });
  const d102 = lab.dest(s, '192.168.1.102', { x: 2, y: 1 });
  const picks: string[] = [];
  for (let i = 0; i < 8; i++) {
    const v = lab.tcp(C, 33000 + i, '192.168.1.63', 80, 'S');
    picks.push(v === VERDICT_FORWARD ? lab.picked() : v === VERDICT_NO_DEST ? 'none' : `v${v}`);
  }
  assert.deepEqual(picks, ['102', '101', '102', '101', '101', 'none', 'none', 'none']);
  assert.ok(d101.isOverloaded() && d102.isOverloaded());
  // Moving entries to TIME_WAIT does not release them: the totals stay at the thresholds.
  lab.tcp(C, 33001, '192.168.1.63', 80, 'F');
  lab.tcp(C, 33003, '192.168.1.63', 80, 'F');
  assert.equal(lab.tcp(C, 33008, '192.168.1.63', 80, 'S'), VERDICT_NO_DEST);
  assert.equal(lab.counts(d101), '1/2/0');
  // The SYN_RECV entries go at 61.44 s (60 s rounded up to the 512-jiffy wheel bucket): 102
  // (l = 1) clears when its total falls from 1 to 0, 101 (l = 3 - 3/4 = 3) as soon as its total
  // falls from 3; the TIME_WAIT ones live 120 s.
  lab.advance(61_439);
  assert.ok(d101.isOverloaded() && d102.isOverloaded());
  lab.advance(1);
  assert.ok(!d101.isOverloaded() && !d102.isOverloaded());
  assert.equal(lab.counts(d101), '0/2/0');
});

test('OVERLOAD hysteresis: set when a bind reaches u, cleared only when a release starts from l', () => {
  const lab = new Lab();
  const s = lab.svc('udp', '192.168.1.64:53');
  const d = lab.dest(s, '192.168.1.101', { x: 4 }); // l = 4 - 4/4 = 3
  for (let i = 0; i < 4; i++) {
    lab.udp(C, 100 + i, '192.168.1.64', 53);
    lab.now += 20_000;
  }
  assert.ok(d.isOverloaded());
  assert.equal(lab.udp(C, 200, '192.168.1.64', 53), VERDICT_NO_DEST);
  // 300 s UDP timers (75000 jiffies: level 4, 4096-jiffy buckets) made at 0, 20, 40 and 60 s
  // fire at jiffies 77824, 81920, 86016 and 90112 (311.296 s, 327.68 s, ...).
  lab.now = 311_296; // 4 -> 3 keeps the flag
  lab.ipvs.tick(lab.now);
  assert.equal(d.totalConns, 3);
  assert.ok(d.isOverloaded());
  assert.equal(lab.udp(C, 201, '192.168.1.64', 53), VERDICT_NO_DEST);
  lab.now = 327_680; // 3 -> 2 starts from l: cleared
  lab.ipvs.tick(lab.now);
  assert.equal(d.totalConns, 2);
  assert.ok(!d.isOverloaded());
  // Binding up to 3 again does not set it; reaching u = 4 does.
  lab.udp(C, 300, '192.168.1.64', 53);
  assert.ok(!d.isOverloaded());
  lab.udp(C, 301, '192.168.1.64', 53);
  assert.ok(d.isOverloaded());
});

test('persistence: one template per client, templates shown but not counted (§11.6)', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.170:80', { persistentS: 300 });
  const d101 = lab.dest(s, '192.168.1.101');
  const d102 = lab.dest(s, '192.168.1.102');
  const picks: string[] = [];
  for (const [src, port] of [['198.51.100.7', 1000], ['198.51.100.7', 1001], ['198.51.100.8', 1000], ['198.51.100.9', 1000]] as const) {
    lab.tcp(src, port, '192.168.1.170', 80, 'S');
    picks.push(lab.picked());
  }
  assert.deepEqual(picks, ['102', '102', '101', '102']);
  assert.deepEqual(lab.conns(), [
    'TCP 00:59  SYN_RECV    198.51.100.7:1000  192.168.1.170:80   192.168.1.102:80',
    'TCP 00:59  SYN_RECV    198.51.100.7:1001  192.168.1.170:80   192.168.1.102:80',
    'TCP 00:59  SYN_RECV    198.51.100.8:1000  192.168.1.170:80   192.168.1.101:80',
    'TCP 00:59  SYN_RECV    198.51.100.9:1000  192.168.1.170:80   192.168.1.102:80',
    'TCP 04:59  NONE        198.51.100.7:0     192.168.1.170:80   192.168.1.102:80',
    'TCP 04:59  NONE        198.51.100.8:0     192.168.1.170:80   192.168.1.101:80',
    'TCP 04:59  NONE        198.51.100.9:0     192.168.1.170:80   192.168.1.102:80',
  ]);
  assert.equal(lab.counts(d101), '1/0/1');
  assert.equal(lab.counts(d102), '3/0/2');
  lab.advance(2000);
  const v = statsView(lab.service(s).stats);
  assert.equal(v.conns, 4);
  assert.equal(v.inbytes, 160);
});

test('persistence netmask groups clients into one template (-M 255.255.255.0)', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.171:80', { persistentS: 300, netmask: 0xffffff00 });
  lab.dest(s, '192.168.1.101');
  lab.dest(s, '192.168.1.102');
  lab.tcp('198.51.100.7', 1000, '192.168.1.171', 80, 'S');
  lab.tcp('198.51.100.8', 1000, '192.168.1.171', 80, 'S');
  lab.tcp('198.51.101.8', 1000, '192.168.1.171', 80, 'S');
  assert.deepEqual(lab.conns().filter((l) => l.includes(' NONE ')), [
    'TCP 04:59  NONE        198.51.100.0:0     192.168.1.171:80   192.168.1.102:80',
    'TCP 04:59  NONE        198.51.101.0:0     192.168.1.171:80   192.168.1.101:80',
  ]);
});

test('port-0 persistent service: template with port 0, connections keep their own ports', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.172:0', { persistentS: 100 });
  lab.dest(s, '192.168.1.101');
  lab.dest(s, '192.168.1.102');
  lab.tcp('198.51.100.7', 1000, '192.168.1.172', 22, 'S');
  lab.tcp('198.51.100.7', 1001, '192.168.1.172', 443, 'S');
  lab.tcp('198.51.100.8', 1001, '192.168.1.172', 443, 'S');
  assert.deepEqual(lab.conns(), [
    'TCP 00:59  SYN_RECV    198.51.100.7:1000  192.168.1.172:22   192.168.1.102:22',
    'TCP 00:59  SYN_RECV    198.51.100.7:1001  192.168.1.172:443  192.168.1.102:443',
    'TCP 00:59  SYN_RECV    198.51.100.8:1001  192.168.1.172:443  192.168.1.101:443',
    'TCP 01:39  NONE        198.51.100.7:0     192.168.1.172:0    192.168.1.102:0',
    'TCP 01:39  NONE        198.51.100.8:0     192.168.1.172:0    192.168.1.101:0',
  ]);
});

test('a non-persistent port-0 service schedules nothing: ICMP and drop (ip_vs_schedule)', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.172:0');
  lab.dest(s, '192.168.1.101');
  assert.equal(lab.tcp(C, 1000, '192.168.1.172', 22, 'S'), VERDICT_NO_DEST);
  assert.equal(lab.ipvs.connCount, 0);
});

test('fwmark persistence keys on 0.0.0.<mark> with protocol IP; a UDP packet keeps its port', () => {
  const lab = new Lab();
  const s = lab.svc('fwm', '7', { persistentS: 60 });
  lab.dest(s, '192.168.1.101:8080', { method: 'm' });
  lab.dest(s, '192.168.1.102', { method: 'g' });
  lab.tcp('198.51.100.7', 1000, '192.168.1.180', 80, 'S', 0, 7);
  assert.equal(lab.picked(), '102');
  lab.tcp('198.51.100.8', 1000, '192.168.1.180', 80, 'S', 0, 7);
  assert.equal(lab.picked(), '101');
  lab.udp('198.51.100.8', 5353, '192.168.1.181', 53, 10, 7);
  assert.equal(lab.picked(), '101');
  assert.deepEqual(lab.conns(), [
    'IP  00:59  NONE        198.51.100.7:0     0.0.0.7:0          192.168.1.102:0',
    'IP  00:59  NONE        198.51.100.8:0     0.0.0.7:0          192.168.1.101:0',
    'TCP 00:59  SYN_RECV    198.51.100.7:1000  192.168.1.180:80   192.168.1.102:80',
    'TCP 00:59  SYN_RECV    198.51.100.8:1000  192.168.1.180:80   192.168.1.101:80',
    'UDP 04:59  UDP         198.51.100.8:5353  192.168.1.181:53   192.168.1.101:53',
  ]);
  // Without the mark the same packet has no service.
  assert.equal(lab.udp('198.51.100.8', 5354, '192.168.1.181', 53), VERDICT_NOT_OURS);
});

test('a template is re-armed by each new connection and kept 60 s more while it controls one', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.170:80', { persistentS: 10 });
  lab.dest(s, '192.168.1.101');
  lab.tcp('198.51.100.7', 1000, '192.168.1.170', 80, 'S');
  lab.tcp('198.51.100.7', 1000, '192.168.1.170', 80, 'A');
  const tpl = () => lab.conns().filter((l) => l.includes(':0 '));
  assert.deepEqual(tpl(), ['TCP 00:09  ASSURED     198.51.100.7:0     192.168.1.170:80   192.168.1.101:80']);
  lab.advance(5000);
  lab.tcp('198.51.100.7', 1001, '192.168.1.170', 80, 'S');
  assert.deepEqual(tpl().map((l) => l.slice(4, 9)), ['00:09']);
  // Re-armed at jiffy 1250 for 2500 jiffies (level 2, 64-jiffy buckets): fires at 3776 = 15.104 s,
  // still controlling two entries: 60 s more, from the handler's jiffy.
  lab.advance(10_103);
  assert.deepEqual(tpl().map((l) => l.slice(4, 9)), ['00:00']);
  lab.advance(1);
  assert.deepEqual(tpl(), ['TCP 00:59  ASSURED     198.51.100.7:0     192.168.1.170:80   192.168.1.101:80']);
  // Jiffy 3776 + 15000 from a base clock of 3777: level 3, fires at 18944 = 75.776 s, where the
  // ESTABLISHED entry still holds it.
  lab.advance(75_776 - lab.now);
  assert.deepEqual(tpl().map((l) => l.slice(4, 9)), ['00:59']);
  // Its timeout is now 60 s for good: a new connection re-arms it with 60 s, not 10 s.
  lab.tcp('198.51.100.7', 1002, '192.168.1.170', 80, 'S');
  assert.deepEqual(tpl().map((l) => l.slice(4, 9)), ['00:59']);
});

test('a template whose dest is quiescent keeps being used unless expire_quiescent_template', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.170:80', { persistentS: 300 });
  const d101 = lab.dest(s, '192.168.1.101');
  lab.dest(s, '192.168.1.102');
  lab.tcp('198.51.100.7', 1000, '192.168.1.170', 80, 'S');
  assert.equal(lab.picked(), '102');
  const d102 = lab.ipvs.curDest!;
  lab.editDest(s, d102, { weight: 0 });
  lab.tcp('198.51.100.7', 1001, '192.168.1.170', 80, 'S');
  assert.equal(lab.picked(), '102');
  lab.ipvs.sysctl.expireQuiescentTemplate = 1;
  lab.tcp('198.51.100.7', 1002, '192.168.1.170', 80, 'S');
  assert.equal(lab.picked(), '101');
  // The old template is invalidated in place: ports 65535, left to expire.
  assert.deepEqual(lab.conns().filter((l) => l.includes(':0 ')), [
    'TCP 04:59  NONE        198.51.100.7:0     192.168.1.170:65535 192.168.1.102:65535',
    'TCP 04:59  NONE        198.51.100.7:0     192.168.1.170:80   192.168.1.101:80',
  ]);
  assert.equal(lab.counts(d101), '1/0/1');
  assert.equal(lab.counts(d102), '2/0/1');
});

test('one-packet scheduling: every datagram scheduled and counted, no entry kept (§5.7)', () => {
  const lab = new Lab();
  const s = lab.svc('udp', '192.168.1.173:53', { ops: true });
  const d101 = lab.dest(s, '192.168.1.101');
  const d102 = lab.dest(s, '192.168.1.102');
  const picks: string[] = [];
  for (let i = 0; i < 4; i++) {
    assert.equal(lab.udp(C, 49000, '192.168.1.173', 53), VERDICT_FORWARD);
    picks.push(lab.picked());
    // The entry is readable until the next call, though already released.
    assert.equal(lab.ipvs.connDport(lab.ipvs.curConn), 53);
  }
  assert.deepEqual(picks, ['102', '101', '102', '101']);
  assert.deepEqual(lab.conns(), []);
  assert.equal(lab.ipvs.connCount, 0);
  assert.equal(lab.counts(d101), '0/0/0');
  assert.equal(d102.refcnt, 0);
  lab.advance(2000);
  const v = statsView(lab.service(s).stats);
  assert.equal(v.conns, 4);
  assert.equal(v.inpkts, 4);
  assert.deepEqual(lab.expired, []);
});

test('a one-packet IPv6 entry stays readable after inPacket, addresses included', () => {
  const lab = new Lab();
  const s = lab.svc('udp', '[2001:db8:2::1]:53', { ops: true });
  lab.dest(s, '[2001:db8:5::11]:5353', { method: 'm' });
  lab.dest(s, '[2001:db8:5::12]:5353', { method: 'm' });
  for (const want of ['2001:db8:5::12', '2001:db8:5::11', '2001:db8:5::12']) {
    assert.equal(lab.udp('2001:db8:c::100', 40000, '2001:db8:2::1', 53), VERDICT_FORWARD);
    const c = lab.ipvs.curConn;
    assert.ok(!lab.ipvs.connAlive(c));
    const words = [0, 1, 2, 3].map((i) => lab.ipvs.connAddrWord(c, 2, i));
    assert.equal(new IpAddr(10, words[0], words[1], words[2], words[3]).toString(), want);
    assert.equal(lab.ipvs.connCaddr(c).toString(), '2001:db8:c::100');
    assert.equal(lab.ipvs.connDport(c), 5353);
  }
  assert.equal(lab.ipvs.connCount, 0);
});

test('one-packet scheduling applies to UDP only: TCP entries of a fwmark -o service are kept', () => {
  const lab = new Lab();
  const s = lab.svc('fwm', '3', { ops: true });
  lab.dest(s, '192.168.1.101');
  lab.udp(C, 1, '192.168.1.9', 53, 10, 3);
  lab.tcp(C, 2, '192.168.1.9', 80, 'S', 0, 3);
  assert.deepEqual(lab.conns(), [`TCP 00:59  SYN_RECV    ${C}:2     192.168.1.9:80     192.168.1.101:80`]);
});

test('one-packet persistent service keeps its template and counts datagrams on it', () => {
  const lab = new Lab();
  const s = lab.svc('udp', '192.168.1.173:53', { ops: true, persistentS: 30 });
  const d = lab.dest(s, '192.168.1.101');
  for (let i = 0; i < 3; i++) lab.udp(C, 49000 + i, '192.168.1.173', 53);
  assert.deepEqual(lab.conns(), [`UDP 00:29  NONE        ${C}:0     192.168.1.173:53   192.168.1.101:53`]);
  assert.equal(lab.counts(d), '0/0/1');
  const tpl = lab.ipvs.listConns(lab.now)[0];
  assert.equal(tpl.inPkts, 3);
});

test('conn_reuse_mode 1: a SYN on a TIME_WAIT entry is rescheduled, on a DR FIN_WAIT one it is not', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.61:80');
  lab.dest(s, '192.168.1.101');
  lab.dest(s, '192.168.1.102');
  lab.tcp(C, 31000, '192.168.1.61', 80, 'S');
  assert.equal(lab.picked(), '102');
  lab.tcp(C, 31000, '192.168.1.61', 80, 'F');
  lab.tcp(C, 31000, '192.168.1.61', 80, 'S');
  assert.equal(lab.picked(), '101');
  // The old entry is expired "now" (mod_timer to the current jiffy): it goes one jiffy later.
  assert.equal(lab.ipvs.connCount, 2);
  lab.advance(4);
  assert.deepEqual(lab.conns(), [`TCP 00:59  SYN_RECV    ${C}:31000 192.168.1.61:80    192.168.1.101:80`]);
  lab.tcp(C, 31001, '192.168.1.61', 80, 'S');
  assert.equal(lab.picked(), '102');
  lab.tcp(C, 31001, '192.168.1.61', 80, 'A');
  lab.tcp(C, 31001, '192.168.1.61', 80, 'FA');
  lab.tcp(C, 31001, '192.168.1.61', 80, 'S');
  assert.equal(lab.picked(), '102');
  assert.ok(lab.conns().includes(`TCP 00:59  SYN_RECV    ${C}:31001 192.168.1.61:80    192.168.1.102:80`));
});

test('conn_reuse_mode 2 also reschedules a SYN on a FIN_WAIT entry without output; 0 never', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.61:80');
  lab.dest(s, '192.168.1.101');
  lab.dest(s, '192.168.1.102');
  lab.ipvs.sysctl.connReuseMode = 2;
  lab.tcp(C, 31001, '192.168.1.61', 80, 'S');
  lab.tcp(C, 31001, '192.168.1.61', 80, 'A');
  lab.tcp(C, 31001, '192.168.1.61', 80, 'FA');
  lab.tcp(C, 31001, '192.168.1.61', 80, 'S');
  assert.equal(lab.picked(), '101');
  lab.ipvs.sysctl.connReuseMode = 0;
  lab.tcp(C, 31002, '192.168.1.61', 80, 'S');
  assert.equal(lab.picked(), '102');
  lab.tcp(C, 31002, '192.168.1.61', 80, 'F'); // TIME_WAIT
  lab.tcp(C, 31002, '192.168.1.61', 80, 'S');
  assert.equal(lab.picked(), '102');
});

test('persistent connections are never rescheduled by conn_reuse_mode (they are controlled)', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.61:80', { persistentS: 300 });
  lab.dest(s, '192.168.1.101');
  lab.tcp(C, 31000, '192.168.1.61', 80, 'S');
  lab.tcp(C, 31000, '192.168.1.61', 80, 'F');
  const c = lab.ipvs.curConn;
  lab.tcp(C, 31000, '192.168.1.61', 80, 'S');
  assert.equal(lab.ipvs.curConn, c);
  assert.equal(lab.ipvs.connStateName(c), 'SYN_RECV');
});

test('packets of a deleted dest are dropped and not counted; re-adding revives the dest (§1.2)', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.168.1.60:80');
  lab.dest(s, '192.168.1.101');
  const d102 = lab.dest(s, '192.168.1.102');
  for (let i = 0; i < 4; i++) lab.tcp(C, 30000 + i, '192.168.1.60', 80, 'S');
  lab.delDest(s, d102);
  const before = d102.stats.inpkts;
  assert.equal(lab.tcp(C, 30000, '192.168.1.60', 80, 'A'), VERDICT_DROP);
  assert.equal(d102.stats.inpkts, before);
  assert.equal(lab.ipvs.connCount, 4);
  assert.equal(d102.refcnt, 2);
  const again = lab.dest(s, '192.168.1.102');
  assert.equal(again, d102);
  assert.equal(again.activeConns, 2);
  assert.equal(lab.tcp(C, 30000, '192.168.1.60', 80, 'A'), VERDICT_FORWARD);
  assert.equal(d102.stats.inpkts, before + 1);
});

test('expire_nodest_conn: deleting a dest flushes its entries at the next tick; a packet reschedules', () => {
  const lab = new Lab();
  lab.ipvs.sysctl.expireNodestConn = 1;
  const s = lab.svc('tcp', '192.168.1.60:80');
  const d101 = lab.dest(s, '192.168.1.101');
  const d102 = lab.dest(s, '192.168.1.102');
  for (let i = 0; i < 4; i++) lab.tcp(C, 30000 + i, '192.168.1.60', 80, 'S');
  lab.delDest(s, d101);
  // A SYN for an entry of the deleted dest: expired now, scheduled again to 102.
  lab.tcp(C, 30001, '192.168.1.60', 80, 'S');
  assert.equal(lab.picked(), '102');
  lab.advance(10);
  // 30003 (on 101) and the old 30001 entry are gone; the new 30001 entry and 102's stay.
  assert.equal(d101.refcnt, 0);
  assert.deepEqual(lab.conns(), [
    `TCP 00:59  SYN_RECV    ${C}:30000 192.168.1.60:80    192.168.1.102:80`,
    `TCP 00:59  SYN_RECV    ${C}:30001 192.168.1.60:80    192.168.1.102:80`,
    `TCP 00:59  SYN_RECV    ${C}:30002 192.168.1.60:80    192.168.1.102:80`,
  ]);
  assert.equal(lab.counts(d102), '3/0/0');
});

test('expire_nodest_conn flushes a deleted dest with its templates; a weight-0 dest gets SYNs rescheduled', () => {
  const lab = new Lab();
  lab.ipvs.sysctl.expireNodestConn = 1;
  const s = lab.svc('tcp', '192.168.1.60:80', { persistentS: 300 });
  const d101 = lab.dest(s, '192.168.1.101');
  lab.tcp(C, 1, '192.168.1.60', 80, 'S');
  lab.tcp(C, 1, '192.168.1.60', 80, 'A'); // the template is ASSURED: the flush takes it anyway
  lab.delDest(s, d101);
  lab.advance(1);
  assert.equal(lab.ipvs.connCount, 0);
  assert.equal(lab.expired.length, 2);

  const u = lab.svc('tcp', '192.168.1.61:80');
  const a = lab.dest(u, '192.168.1.101');
  lab.dest(u, '192.168.1.102');
  lab.tcp(C, 2, '192.168.1.61', 80, 'S');
  assert.equal(lab.picked(), '102');
  lab.editDest(u, lab.ipvs.curDest!, { weight: 0 });
  lab.tcp(C, 2, '192.168.1.61', 80, 'S');
  assert.equal(lab.ipvs.curDest, a);
});

test('counters: conns per scheduled entry, bytes as skb->len, nothing for templates (§7.1)', () => {
  const lab = new Lab();
  const s = lab.svc('udp', '192.168.1.176:53');
  const d = lab.dest(s, '192.168.1.101');
  lab.udp(C, 1, '192.168.1.176', 53, 10);
  lab.udp(C, 1, '192.168.1.176', 53, 100);
  assert.deepEqual([d.stats.conns, d.stats.inpkts, d.stats.inbytes], [1, 2, 38 + 128]);
  const svc = lab.service(s);
  assert.deepEqual([svc.stats.conns, svc.stats.inpkts, svc.stats.inbytes], [1, 2, 166]);
  const tot = lab.ipvs.table.totStats;
  assert.deepEqual([tot.conns, tot.inpkts, tot.inbytes], [1, 2, 166]);
  // Listings show the snapshot: nothing until the estimator ran.
  assert.equal(statsView(svc.stats).conns, 0);
  lab.advance(2000);
  assert.equal(statsView(svc.stats).conns, 1);
});

test('estimator: 1000 connections in one 2 s window give the observed rate decay (§7.2, §11.7)', () => {
  const lab = new Lab();
  const s = lab.svc('udp', '192.168.1.176:53');
  lab.dest(s, '192.168.1.101');
  lab.now = 100;
  for (let i = 0; i < 1000; i++) lab.udp(C, 10000 + i, '192.168.1.176', 53, 100);
  const cps: number[] = [];
  const inbps: number[] = [];
  for (let k = 1; k <= 13; k++) {
    lab.now = k * 2000;
    lab.ipvs.tick(lab.now);
    const v = statsView(lab.service(s).stats);
    cps.push(v.cps);
    assert.equal(v.inpps, v.cps);
    inbps.push(v.inbps);
  }
  assert.deepEqual(cps, [125, 94, 70, 53, 40, 30, 22, 17, 13, 9, 7, 5, 4]);
  assert.deepEqual(inbps, [16000, 12000, 9000, 6750, 5062, 3797, 2848, 2136, 1602, 1201, 901, 676, 507]);
});

test('NAT: replies run the OUTPUT rows, clear nothing for DR, count out, and SNAT via the entry', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.0.2.10:80');
  const d = lab.dest(s, '203.0.113.5:8080', { method: 'm' });
  const state = () => lab.ipvs.connStateName(lab.ipvs.curConn);
  lab.tcp(C, 5000, '192.0.2.10', 80, 'S');
  const c = lab.ipvs.curConn;
  assert.equal(lab.ipvs.connFlags(c) & IP_VS_CONN_F_NOOUTPUT, 0);
  assert.equal(lab.tcpOut('203.0.113.5', 8080, C, 5000, 'SA'), VERDICT_FORWARD);
  assert.equal(lab.ipvs.curConn, c);
  assert.equal(lab.ipvs.connVaddr(c).toString(), '192.0.2.10');
  assert.equal(lab.ipvs.connVport(c), 80);
  assert.equal(state(), 'SYN_RECV');
  lab.tcp(C, 5000, '192.0.2.10', 80, 'A');
  assert.equal(state(), 'ESTABLISHED');
  lab.tcpOut('203.0.113.5', 8080, C, 5000, 'FA');
  assert.equal(state(), 'FIN_WAIT');
  lab.tcp(C, 5000, '192.0.2.10', 80, 'A');
  assert.equal(state(), 'FIN_WAIT');
  lab.tcp(C, 5000, '192.0.2.10', 80, 'FA');
  assert.equal(state(), 'TIME_WAIT');
  assert.deepEqual([d.stats.outpkts, d.stats.outbytes, d.stats.inpkts], [2, 80, 4]);
  // A reply that matches no entry is not ours; with nat_icmp_send it gets a port unreachable.
  assert.equal(lab.tcpOut('203.0.113.5', 8080, C, 5001, 'A'), VERDICT_NOT_OURS);
  lab.ipvs.sysctl.natIcmpSend = 1;
  assert.equal(lab.tcpOut('203.0.113.5', 8080, C, 5001, 'A'), VERDICT_NO_DEST);
  assert.equal(lab.tcpOut('203.0.113.5', 8080, C, 5001, 'R'), VERDICT_NOT_OURS);
});

test('NAT OUTPUT rows: server FIN first, then CLOSE_WAIT/LAST_ACK paths as ip_vs_proto_tcp.c', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.0.2.10:80');
  lab.dest(s, '203.0.113.5', { method: 'm' });
  const seq: [dir: 'in' | 'out', flags: string, state: string][] = [
    ['in', 'S', 'SYN_RECV'], ['out', 'SA', 'SYN_RECV'], ['in', 'A', 'ESTABLISHED'],
    ['in', 'FA', 'CLOSE_WAIT'], ['out', 'A', 'CLOSE_WAIT'], ['out', 'FA', 'TIME_WAIT'],
    ['in', 'A', 'TIME_WAIT'], ['out', 'R', 'TIME_WAIT'], ['in', 'R', 'CLOSE'],
  ];
  const got: string[] = [];
  for (const [dir, fl] of seq) {
    if (dir === 'in') lab.tcp(C, 6000, '192.0.2.10', 80, fl);
    else lab.tcpOut('203.0.113.5', 80, C, 6000, fl);
    got.push(`${dir} ${fl} ${lab.ipvs.connStateName(lab.ipvs.curConn)}`);
  }
  assert.deepEqual(got, seq.map(([d, f, w]) => `${d} ${f} ${w}`));
  // A segment with none of RST/SYN/FIN/ACK moves to CLOSE.
  lab.tcp(C, 6001, '192.0.2.10', 80, 'S');
  lab.tcp(C, 6001, '192.0.2.10', 80, 'P');
  assert.equal(lab.ipvs.connStateName(lab.ipvs.curConn), 'CLOSE');
});

test('secure_tcp: a NAT entry needs the server ACK, a DR SYN sits in SYNACK for 120 s (§5.3)', () => {
  const lab = new Lab();
  lab.ipvs.sysctl.secureTcp = 3;
  lab.ipvs.defenseTick(0);
  const n = lab.svc('tcp', '192.0.2.10:80');
  lab.dest(n, '203.0.113.5', { method: 'm' });
  const st = () => lab.ipvs.connStateName(lab.ipvs.curConn);
  lab.tcp(C, 7000, '192.0.2.10', 80, 'S');
  assert.equal(st(), 'SYN_RECV');
  lab.tcp(C, 7000, '192.0.2.10', 80, 'A');
  assert.equal(st(), 'SYN_RECV');
  lab.tcpOut('203.0.113.5', 80, C, 7000, 'SA');
  assert.equal(st(), 'SYNACK');
  lab.tcpOut('203.0.113.5', 80, C, 7000, 'A');
  assert.equal(st(), 'ESTABLISHED');
  const g = lab.svc('tcp', '192.0.2.11:80');
  lab.dest(g, '203.0.113.6');
  lab.tcp(C, 7001, '192.0.2.11', 80, 'S');
  assert.equal(st(), 'SYNACK');
  assert.ok(lab.conns().includes(`TCP 01:59  SYNACK      ${C}:7001  192.0.2.11:80      203.0.113.6:80`));
  lab.tcp(C, 7001, '192.0.2.11', 80, 'A');
  assert.equal(st(), 'ESTABLISHED');
});

test('a UDP reply marks the template ASSURED; drop_entry spares assured templates', () => {
  const lab = new Lab();
  const s = lab.svc('udp', '192.0.2.10:53', { persistentS: 300 });
  lab.dest(s, '203.0.113.5', { method: 'm' });
  lab.udp(C, 1, '192.0.2.10', 53);
  lab.udp('198.51.100.2', 1, '192.0.2.10', 53);
  lab.udpOut('203.0.113.5', 53, C, 1);
  const states = () => lab.ipvs.listConns(lab.now).filter((c) => c.template).map((c) => `${c.caddr} ${c.state}`).sort();
  assert.deepEqual(states(), ['198.51.100.1 ASSURED', '198.51.100.2 NONE']);
  // drop_entry always on: scan every bucket (a counting "random" source walks them in order).
  lab.ipvs.sysctl.dropEntry = 3;
  let k = 0;
  const walk = () => k++;
  // UDP entries qualify only after 60 s idle with 1..8 packets in: nothing yet but the
  // non-assured template, which cannot go while it controls its entry.
  for (let i = 0; i < 64; i++) lab.ipvs.defenseTick(lab.now, Infinity, walk);
  assert.deepEqual(states(), ['198.51.100.1 ASSURED', '198.51.100.2 NONE']);
  lab.now += 60_000;
  for (let i = 0; i < 64; i++) lab.ipvs.defenseTick(lab.now, Infinity, walk);
  // Both UDP entries (1 packet each) were dropped; the non-assured template went with its
  // entry (deleted entries take a non-assured template along), the assured one stays.
  assert.deepEqual(states(), ['198.51.100.1 ASSURED']);
  assert.equal(lab.ipvs.connCount, 1);
});

test('drop_entry drops SYN_RECV entries at once and idle ESTABLISHED ones by packet count', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.0.2.10:80');
  const d = lab.dest(s, '203.0.113.5');
  for (let i = 0; i < 10; i++) lab.tcp(C, 100 + i, '192.0.2.10', 80, 'S');
  for (let i = 0; i < 4; i++) {
    lab.tcp(C, 200 + i, '192.0.2.10', 80, 'S');
    lab.tcp(C, 200 + i, '192.0.2.10', 80, 'A'); // 2 packets in, ESTABLISHED
  }
  lab.ipvs.sysctl.dropEntry = 1;
  let k = 0;
  const walk = () => k++;
  // Each call scans 1/32 of the buckets: 32 calls with a counting source visit each once.
  for (let i = 0; i < 32; i++) lab.ipvs.defenseTick(lab.now, 2000, walk); // plenty of memory: off
  assert.equal(lab.ipvs.connCount, 14);
  for (let i = 0; i < 32; i++) lab.ipvs.defenseTick(lab.now, 100, walk); // short: on, mode becomes 2
  assert.equal(lab.ipvs.sysctl.dropEntry, 2);
  assert.equal(lab.ipvs.connCount, 4);
  assert.equal(d.activeConns, 4);
  lab.now += 59_999;
  for (let i = 0; i < 32; i++) lab.ipvs.defenseTick(lab.now, 100, walk);
  assert.equal(lab.ipvs.connCount, 4);
  lab.now += 1;
  for (let i = 0; i < 32; i++) lab.ipvs.defenseTick(lab.now, 100, walk);
  // Idle 60 s: among candidates with 2 packets in, the 1st, 3rd, ... are dropped.
  assert.equal(lab.ipvs.connCount, 2);
  lab.ipvs.defenseTick(lab.now, 5000, walk);
  assert.equal(lab.ipvs.sysctl.dropEntry, 1);
});

test('drop_packet mode 3 drops one of every am_droprate new-connection packets', () => {
  const lab = new Lab();
  const s = lab.svc('udp', '192.0.2.10:53');
  lab.dest(s, '203.0.113.5');
  lab.ipvs.sysctl.dropPacket = 3;
  lab.ipvs.defenseTick(0);
  const v: number[] = [];
  for (let i = 0; i < 21; i++) v.push(lab.udp(C, 1000 + i, '192.0.2.10', 53));
  const drops = v.map((x, i) => (x === VERDICT_DROP ? i : -1)).filter((i) => i >= 0);
  assert.deepEqual(drops, [0, 10, 20]);
  // Packets of existing entries are never dropped by it.
  for (let i = 0; i < 12; i++) assert.equal(lab.udp(C, 1001, '192.0.2.10', 53), VERDICT_FORWARD);
});

test('maxConns: a full table refuses new entries with VERDICT_TABLE_FULL until entries expire', () => {
  const lab = new Lab({ maxConns: 3 });
  const s = lab.svc('udp', '192.0.2.10:53');
  const p = lab.svc('udp', '192.0.2.11:53', { persistentS: 60 });
  lab.dest(s, '203.0.113.5');
  lab.dest(p, '203.0.113.5');
  lab.udp(C, 1, '192.0.2.10', 53);
  lab.udp(C, 2, '192.0.2.10', 53);
  lab.udp(C, 3, '192.0.2.11', 53); // needs a template and an entry: only the template fits
  assert.equal(lab.udp(C, 3, '192.0.2.11', 53), VERDICT_TABLE_FULL);
  assert.equal(lab.udp(C, 4, '192.0.2.10', 53), VERDICT_TABLE_FULL);
  assert.equal(lab.udp(C, 1, '192.0.2.10', 53), VERDICT_FORWARD);
  lab.advance(300_000);
  assert.equal(lab.udp(C, 4, '192.0.2.10', 53), VERDICT_FORWARD);
});

test('grows from a small table to many entries and finds every one', () => {
  const lab = new Lab({ initialConns: 16, maxConns: 100_000 });
  const s = lab.svc('udp', '192.0.2.10:53');
  lab.dest(s, '203.0.113.5');
  for (let i = 0; i < 5000; i++) lab.udp(`198.51.${100 + (i >> 8)}.${i & 255}`, 1024 + i, '192.0.2.10', 53);
  assert.equal(lab.ipvs.connCount, 5000);
  for (let i = 0; i < 5000; i += 7) {
    lab.udp(`198.51.${100 + (i >> 8)}.${i & 255}`, 1024 + i, '192.0.2.10', 53);
    assert.equal(lab.ipvs.connInPkts(lab.ipvs.curConn), 2);
  }
  assert.equal(lab.ipvs.connCount, 5000);
});

test('FTP rules: client port 20 is never scheduled; data ports of a port-21 service pass', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.0.2.10:21');
  lab.dest(s, '203.0.113.5');
  assert.equal(lab.tcp(C, 20, '192.0.2.10', 21, 'S'), VERDICT_ACCEPT);
  assert.equal(lab.tcp(C, 4000, '192.0.2.10', 30000, 'S'), VERDICT_ACCEPT);
  assert.equal(lab.tcp(C, 4000, '192.0.2.10', 21, 'S'), VERDICT_FORWARD);
  assert.equal(lab.ipvs.connCount, 1);
});

test('no destination: ICMP + drop, nothing created or counted (§4.3)', () => {
  const lab = new Lab();
  const s = lab.svc('udp', '192.168.1.174:53');
  lab.dest(s, '192.168.1.101', { weight: 0 });
  const t = lab.svc('tcp', '192.168.1.175:80', { sched: 'wlc' });
  assert.equal(lab.udp(C, 49100, '192.168.1.174', 53), VERDICT_NO_DEST);
  assert.equal(lab.tcp(C, 49101, '192.168.1.175', 80, 'S'), VERDICT_NO_DEST);
  assert.equal(lab.service(t).lastSchedError, 'no destination available');
  assert.equal(lab.ipvs.connCount, 0);
  assert.equal(lab.ipvs.table.totStats.inpkts, 0);
});

test('cache_bypass: a fwmark service without dests makes a bypass entry to the original address', () => {
  const lab = new Lab();
  lab.svc('fwm', '9');
  lab.ipvs.sysctl.cacheBypass = 1;
  assert.equal(lab.tcp(C, 5000, '203.0.113.80', 80, 'S', 0, 9), VERDICT_BYPASS);
  assert.equal(lab.ipvs.curDest, null);
  assert.deepEqual(lab.conns(), [`TCP 00:59  SYN_RECV    ${C}:5000  203.0.113.80:80    0.0.0.0:0`]);
  assert.equal(lab.tcp(C, 5000, '203.0.113.80', 80, 'A', 0, 9), VERDICT_BYPASS);
  assert.equal(lab.ipvs.table.totStats.inpkts, 0);
});

test('SCTP: INIT creates INIT1, only ESTABLISHED is active, ABORT never creates', () => {
  const lab = new Lab();
  const s = lab.svc('sctp', '192.168.1.64:3868');
  const d = lab.dest(s, '192.168.1.101');
  assert.equal(lab.sctp(C, 5000, '192.168.1.64', 3868, SCTP_CID_DATA), VERDICT_ACCEPT);
  assert.equal(lab.sctp(C, 5000, '192.168.1.64', 3868, SCTP_CID_INIT), VERDICT_FORWARD);
  assert.equal(lab.ipvs.connStateName(lab.ipvs.curConn), 'INIT1');
  assert.equal(lab.counts(d), '0/1/0');
  lab.sctp(C, 5000, '192.168.1.64', 3868, SCTP_CID_COOKIE_ECHO); // DR: INPUT_ONLY c_e
  assert.equal(lab.ipvs.connStateName(lab.ipvs.curConn), 'ESTABLISHED');
  assert.equal(lab.counts(d), '1/0/0');
  assert.deepEqual(lab.conns(), [`SCTP 14:59  ESTABLISHED ${C}:5000  192.168.1.64:3868  192.168.1.101:3868`]);
  lab.sctp(C, 5000, '192.168.1.64', 3868, SCTP_CID_ABORT);
  assert.equal(lab.ipvs.connStateName(lab.ipvs.curConn), 'CLOSED');
  assert.equal(lab.counts(d), '0/1/0');
  assert.equal(lab.sctp(C, 5001, '192.168.1.64', 3868, SCTP_CID_ABORT), VERDICT_ACCEPT);
  lab.ipvs.sysctl.sloppySctp = 1;
  assert.equal(lab.sctp(C, 5002, '192.168.1.64', 3868, SCTP_CID_COOKIE_ACK), VERDICT_FORWARD);
  // An INIT on a CLOSED entry is rescheduled (conn_reuse_mode != 0).
  const old = lab.ipvs.listConns(lab.now).find((c) => c.cport === 5000)!.conn;
  lab.sctp(C, 5000, '192.168.1.64', 3868, SCTP_CID_INIT);
  assert.notEqual(lab.ipvs.curConn, old);
});

test('packetOnConn drives a known entry without lookup: state, counters and timer', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.0.2.10:80');
  const d = lab.dest(s, '203.0.113.5', { method: 'm' });
  lab.tcp(C, 9000, '192.0.2.10', 80, 'S');
  const c = lab.ipvs.curConn;
  lab.now = 1000;
  lab.ipvs.packetOnConn(c, 1, 0x12, 40, lab.now);
  lab.ipvs.packetOnConn(c, 0, 0x10, 540, lab.now);
  assert.equal(lab.ipvs.connStateName(c), 'ESTABLISHED');
  assert.deepEqual([d.stats.inpkts, d.stats.inbytes, d.stats.outpkts, d.stats.outbytes], [2, 580, 1, 40]);
  assert.equal(lab.ipvs.connExpiresMs(c), 1000 + 900_000);
  lab.ipvs.packetOnConn(c, 0, 0x11, 40, lab.now);
  lab.ipvs.packetOnConn(c, 1, 0x11, 40, lab.now);
  assert.equal(lab.ipvs.connStateName(c), 'TIME_WAIT');
  assert.equal(lab.counts(d), '0/1/0');
});

test('onExpire sees the entry before it is freed, in expiry order', () => {
  const lab = new Lab();
  const s = lab.svc('tcp', '192.0.2.10:80', { persistentS: 5 });
  lab.dest(s, '203.0.113.5');
  const seen: string[] = [];
  lab.ipvs.onExpire((c) => seen.push(`${lab.ipvs.connStateName(c)}:${lab.ipvs.connCport(c)}:${(lab.ipvs.connFlags(c) & IP_VS_CONN_F_TEMPLATE) ? 'T' : 'C'}`));
  lab.tcp(C, 9000, '192.0.2.10', 80, 'S');
  lab.now = 2000;
  lab.tcp(C, 9001, '192.0.2.10', 80, 'S');
  lab.tcp(C, 9001, '192.0.2.10', 80, 'F');
  lab.advance(300_000);
  // 9000 goes after 60 s, 9001 after 122 s; the template fires after 7 s and again 60 s later
  // while in control, and goes at its third firing: one late tick gives the kernel's order.
  assert.deepEqual(seen, ['SYN_RECV:9000:C', 'TIME_WAIT:9001:C', 'NONE:0:T']);
  assert.equal(lab.ipvs.connCount, 0);
});

test('the service lookup follows adds, deletes, flushes and rolled-back transactions', () => {
  const lab = new Lab();
  assert.equal(lab.udp(C, 1, '192.0.2.10', 53), VERDICT_NOT_OURS);
  const s = lab.svc('udp', '192.0.2.10:53');
  assert.equal(lab.udp(C, 2, '192.0.2.10', 53), VERDICT_NO_DEST);
  lab.dest(s, '203.0.113.5');
  assert.equal(lab.udp(C, 3, '192.0.2.10', 53), VERDICT_FORWARD);
  lab.ipvs.table.delService(s);
  assert.equal(lab.udp(C, 4, '192.0.2.10', 53), VERDICT_NOT_OURS);
  const j = lab.ipvs.table.transaction(() => { lab.svc('udp', '192.0.2.10:53'); });
  assert.equal(lab.udp(C, 5, '192.0.2.10', 53), VERDICT_NO_DEST);
  j.rollback();
  assert.equal(lab.udp(C, 6, '192.0.2.10', 53), VERDICT_NOT_OURS);
  lab.svc('udp', '192.0.2.10:53');
  lab.ipvs.table.flush();
  assert.equal(lab.udp(C, 7, '192.0.2.10', 53), VERDICT_NOT_OURS);
  // A port-0 service catches other ports once it exists.
  const any = lab.svc('udp', '192.0.2.10:0', { persistentS: 60 });
  lab.dest(any, '203.0.113.5');
  assert.equal(lab.udp(C, 8, '192.0.2.10', 5353), VERDICT_FORWARD);
});
