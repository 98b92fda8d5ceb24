// The meaning tslvs gives a keepalived.conf: lexical rules, defaults and their cascade, the
// fix-ups keepalived applies, the unknown-keyword message, include, and the not-active notice.
// Expected values come from the spec (keepalived.md 1.1-1.11, test vector A) and keepalived's code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decomment, splitQuotedEscaped, splitWords } from '../../../src/config/keepalived/lexer.js';
import { formatDiagnostics, inactiveNotices, loadKeepalivedConfig, parseKeepalivedText } from '../../../src/config/keepalived/load.js';
import type { HostFacts } from '../../../src/config/keepalived/system.js';

const host: HostFacts = {
  user: (n) => (n === 'root' ? { uid: 0, gid: 0 } : n === 'nobody' ? { uid: 65534, gid: 65534 } : null),
  group: (n) => (n === 'root' ? 0 : null),
  stat: () => null,
  realpath: () => null,
  interfaces: () => ['lo', 'eth0'],
  path: '/usr/bin:/bin',
};
const parse = (text: string) => parseKeepalivedText(text, 'keepalived.conf', { host });

const VECTOR_A = `! tslvs spec test vector
global_defs {
    router_id LVS_A          # identifies this director in alerts
}

virtual_server_group WEB {
    192.0.2.10 80
    192.0.2.20-22 80
}

virtual_server 192.0.2.10 80 {
    delay_loop 6
    lb_algo wrr
    lb_kind DR
    persistence_timeout 300
    persistence_granularity 255.255.255.0
    protocol TCP
    quorum 3
    hysteresis 1
    sorry_server 198.51.100.99 80
    virtualhost www.example.test

    real_server 198.51.100.11 80 {
        weight 3
        inhibit_on_failure
        HTTP_GET {
            url {
                path /healthz
                status_code 200 204
            }
            connect_timeout 3
            retry 2
            delay_before_retry 2
        }
    }
    real_server 198.51.100.12 {
        TCP_CHECK {
            connect_port 8080
        }
    }
}
`;

test('decomment drops # and ! comments outside double quotes and keeps columns', () => {
  const src = '  path "/a#b!c" # comment';
  const cols = [...src].map((_, i) => i + 1);
  const d = decomment(src, cols);
  assert.equal(d.text, 'path "/a#b!c"');
  assert.equal(d.cols[0], 3);
  assert.equal(decomment('a \\# b ! c', [...'a \\# b ! c'].map((_, i) => i + 1)).text, 'a # b');
});

test('words: a double-quoted string is one word without its quotes; a quote inside a word ends it', () => {
  assert.deepEqual(splitWords('x "a b" c"d', [...'x "a b" c"d'].map((_, i) => i + 1)).map((w) => w.text), ['x', 'a b', 'c']);
});

test('script arguments are re-split shell-style with C escapes', () => {
  assert.deepEqual(splitQuotedEscaped(`misc_path "/bin/check.sh -h 'a b' \\x41\\t"`).words, ['misc_path', "/bin/check.sh -h 'a b' A\t"]);
  assert.deepEqual(splitQuotedEscaped(`/bin/check.sh -h 'a b' x\\ y`).words, ['/bin/check.sh', '-h', 'a b', 'x y']);
});

test('test vector A (spec 1.11) parses to the meaning the spec gives', () => {
  const r = parse(VECTOR_A);
  assert.equal(r.verdict, 0);
  assert.deepEqual(formatDiagnostics(r), []);
  const c = r.config!;
  assert.equal(c.globalDefs.routerId, 'LVS_A');
  assert.deepEqual(c.virtualServerGroups[0].entries.map((e) => [e.first, e.last, e.port]), [['192.0.2.10', '192.0.2.10', 80], ['192.0.2.20', '192.0.2.22', 80]]);
  const vs = c.virtualServers[0];
  assert.deepEqual([vs.key, vs.scheduler, vs.forwarding, vs.persistenceTimeoutS, vs.persistenceGranularity, vs.delayLoopMs, vs.connectTimeoutMs, vs.quorum, vs.hysteresis, vs.alpha, vs.omega, vs.inhibitOnFailure, vs.weight, vs.virtualhost],
    ['[192.0.2.10]:tcp:80', 'wrr', 'route', 300, 0xffffff00, 6000, 5000, 3, 1, false, false, false, 1, 'www.example.test']);
  assert.deepEqual(vs.sorryServer, { af: 2, addr: '198.51.100.99', port: 80, forwarding: 'route', tunnel: null, inhibit: false, isRealServer: false });
  const [rs1, rs2] = vs.realServers;
  assert.deepEqual([rs1.addr, rs1.port, rs1.weight, rs1.forwarding, rs1.inhibitOnFailure], ['198.51.100.11', 80, 3, 'route', true]);
  const http = rs1.checkers[0];
  assert.equal(http.kind, 'HTTP_GET');
  if (http.kind !== 'HTTP_GET') return;
  assert.deepEqual([http.connect.dest, http.connect.connectTimeoutMs, http.retry, http.delayBeforeRetryMs, http.delayLoopMs, http.warmupMs],
    [{ af: 2, addr: '198.51.100.11', port: 80 }, 3000, 2, 2000, 6000, 6000]);
  assert.deepEqual([http.urls[0].path, http.urls[0].statusCodes, http.urls[0].host], ['/healthz', [200, 204], 'www.example.test']);
  // RS2 has no port: DR takes the VS port; its TCP_CHECK goes to connect_port 8080 with the built-in defaults.
  assert.deepEqual([rs2.port, rs2.weight, rs2.inhibitOnFailure], [80, 1, false]);
  const tcp = rs2.checkers[0];
  assert.deepEqual(tcp.kind === 'TCP_CHECK' && [tcp.connect.dest.port, tcp.connect.connectTimeoutMs, tcp.retry, tcp.delayBeforeRetryMs, tcp.delayLoopMs], [8080, 5000, 1, 1000, 6000]);
});

test('defaults cascade checker → real server → virtual server → built-in, with the per-checker built-ins', () => {
  const c = parse(`virtual_server 192.0.2.1 53 {
    delay_loop 20
    retry 4
    lb_algo rr
    lb_kind NAT
    protocol UDP
    real_server 198.51.100.1 53 {
        DNS_CHECK { }
        MISC_CHECK { misc_path /bin/true }
        HTTP_GET { url { path / } }
    }
    real_server 198.51.100.2 53 {
        connect_timeout 2
        DNS_CHECK { }
        MISC_CHECK { misc_path /bin/true }
        HTTP_GET { url { path / } delay_before_retry 0 }
    }
}`).config!;
  const k = (ri: number) => c.virtualServers[0].realServers[ri].checkers.map((x) => [x.kind, x.retry, x.delayBeforeRetryMs, 'connect' in x ? x.connect.connectTimeoutMs : null]);
  // MISC_CHECK scripts are missing on this fake host, so keepalived (and tslvs) drop them.
  assert.deepEqual(k(0), [['DNS_CHECK', 4, 20000, 5000], ['HTTP_GET', 4, 3000, 5000]]);
  assert.deepEqual(k(1), [['DNS_CHECK', 4, 20000, 2000], ['HTTP_GET', 4, 0, 2000]]);
});

test('the unknown-keyword message names the block and what was expected, and says keepalived only warns', () => {
  const r = parse(`virtual_server 192.0.2.10 80 {\n    delay_lop 6\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n    real_server 198.51.100.1 80 { TCP_CHECK { } }\n}\n`);
  assert.equal(r.verdict, 5);
  const [line] = formatDiagnostics(r);
  assert.match(line, /^keepalived\.conf:2:5: Unknown keyword "delay_lop" in virtual_server: expected delay_loop, lb_algo, lb_kind, \.\.\. /);
  assert.match(line, /keepalived 2\.2\.7 also only warns and ignores the line/);
  assert.equal(r.diagnostics[0].kaText, "Unknown keyword 'delay_lop'");
  // ...and the rest of the file keeps its meaning.
  assert.equal(r.config!.virtualServers[0].scheduler, 'rr');
});

test('include: globs and brace lists, relative to the including file, errors named after the included file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tslvs-ka-'));
  try {
    mkdirSync(join(dir, 'conf.d'));
    writeFileSync(join(dir, 'main.conf'), 'include conf.d/*.conf\ninclude conf.d/{x,y}.inc\n');
    writeFileSync(join(dir, 'conf.d', 'a.conf'), 'virtual_server 192.0.2.1 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 198.51.100.1 80 { TCP_CHECK { } }\n}\n');
    writeFileSync(join(dir, 'conf.d', 'b.conf'), '\n\nbogus_keyword\n');
    writeFileSync(join(dir, 'conf.d', 'x.inc'), 'virtual_server 192.0.2.2 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 198.51.100.2 80 { TCP_CHECK { } }\n}\n');
    const r = loadKeepalivedConfig(join(dir, 'main.conf'), { host });
    assert.deepEqual(r.config!.virtualServers.map((v) => v.addr), ['192.0.2.1', '192.0.2.2']);
    const msgs = r.diagnostics.filter((d) => !d.logOnly).map((d) => `${d.file}:${d.line}|${d.kaText}`);
    assert.deepEqual(msgs, ['conf.d/b.conf:3|Unknown keyword \'bogus_keyword\'', `${join(dir, 'main.conf')}:2|Some config files missing: "conf.d/{x,y}.inc".`]);
    assert.equal(r.verdict, 5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing keyword value stops loading with keepalived\'s exit status 2', () => {
  const r = parse('virtual_server 192.0.2.10 80 {\n delay_loop\n}\n');
  assert.equal(r.verdict, 2);
  assert.equal(r.config, null);
  assert.match(formatDiagnostics(r)[0], /^keepalived\.conf:2:2: \*\*\* Configuration line starting `delay_loop` is missing a parameter/);
});

test('parameter definitions are substituted; ~SEQ is refused as not supported instead of being misread', () => {
  const r = parse('$VIP=192.0.2.7\nvirtual_server $VIP 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 198.51.100.1 80 { TCP_CHECK { } }\n}\n');
  assert.equal(r.config!.virtualServers[0].addr, '192.0.2.7');
  const s = parse('~SEQ(i, 1, 3)\n');
  assert.equal(s.ok, false);
  assert.match(formatDiagnostics(s)[0], /not supported by tslvs/);
});

test('vrrp_instance and vrrp_sync_group are validated and reported once as not active', () => {
  const r = parse(`vrrp_sync_group G {\n group {\n VI_1\n VI_2\n }\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n 192.0.2.100/24\n }\n}\nvrrp_instance VI_2 {\n interface eth0\n virtual_router_id 52\n virtual_ipaddress {\n 192.0.2.101/24\n }\n}\n`);
  assert.equal(r.verdict, 0);
  assert.deepEqual(r.config!.vrrpInstances.map((v) => [v.name, v.state, v.priority, v.virtualRouterId, v.advertIntMs]), [['VI_1', 'BACKUP', 100, 51, 1000], ['VI_2', 'BACKUP', 100, 52, 1000]]);
  const notices = inactiveNotices(r.config!);
  assert.equal(notices.length, 3);
  assert.match(notices[1], /^keepalived\.conf:7:1: vrrp_instance VI_1 is parsed and valid but not active: tslvs has no director failover yet/);
  const bad = parse('vrrp_instance VI_1 {\n interface eth9\n virtual_router_id 51\n}\n');
  assert.equal(bad.verdict, 5);
  assert.deepEqual(bad.diagnostics.filter((d) => !d.logOnly).map((d) => d.kaText),
    ["WARNING - interface eth9 for vrrp_instance VI_1 doesn't exist", 'Non-existent interface specified in configuration']);
});

test('keepalived quirks are kept: an address with -range or /mask is the address, quoted values, case-insensitive protocol', () => {
  const c = parse('virtual_server 192.0.2.10-20 80 {\n lb_algo rr\n lb_kind NAT\n protocol udp\n real_server "198.51.100.1" 53 { UDP_CHECK { } }\n}\n').config!;
  assert.deepEqual([c.virtualServers[0].addr, c.virtualServers[0].protocol, c.virtualServers[0].realServers[0].addr], ['192.0.2.10', 17, '198.51.100.1']);
});

test('the result is frozen all the way down', () => {
  const c = parse(VECTOR_A).config!;
  const unfrozen: string[] = [];
  const walk = (v: unknown, path: string) => {
    if (v === null || typeof v !== 'object') return;
    if (!Object.isFrozen(v)) unfrozen.push(path);
    for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
  };
  walk(c, 'config');
  assert.deepEqual(unfrozen, []);
});
