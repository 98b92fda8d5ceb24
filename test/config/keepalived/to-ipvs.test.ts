// From keepalived.conf to the control protocol's ServiceWire/DestWire records, and the table
// keepalived sets up at start (before any check), checked against keepalived's ipvswrapper.c rules
// and test vectors A and B of the spec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKeepalivedText } from '../../../src/config/keepalived/load.js';
import { destOf, expandRange, servicesOf } from '../../../src/config/keepalived/to-ipvs.js';
import type { KeepalivedConfig } from '../../../src/config/keepalived/types.js';
import { initialCommands } from '../../../src/health/runner.js';

const host = { user: () => ({ uid: 0, gid: 0 }), group: () => 0, stat: () => null, realpath: () => null, interfaces: () => null, path: '' };
const cfg = (t: string): KeepalivedConfig => parseKeepalivedText(t, 'k.conf', { host }).config!;

test('an address virtual server: scheduler, persistence, granularity, flags; NAT/DR/TUN destinations', () => {
  const c = cfg(`virtual_server 192.0.2.10 80 {
  lb_algo sh
  sh-port
  lb_kind DR
  protocol TCP
  persistence_timeout 300
  persistence_granularity 255.255.255.0
  real_server 198.51.100.1 80 { weight 3
    uthreshold 100
    lthreshold 50
    TCP_CHECK { } }
  real_server 198.51.100.2 8080 { lvs_method NAT
    TCP_CHECK { } }
  real_server 198.51.100.3 80 { lvs_method TUN type gue port 6080 csum
    TCP_CHECK { } }
}`);
  const vs = c.virtualServers[0];
  const [s] = servicesOf(c, vs);
  // flags: IP_VS_SVC_F_PERSISTENT (1) | IP_VS_SVC_F_SCHED_SH_PORT (= SCHED2, 0x10)
  assert.deepEqual(s.svc, { af: 2, protocol: 6, addr: '192.0.2.10', port: 80, fwmark: 0, sched: 'sh', flags: 0x11, timeoutS: 300, netmask: 0xffffff00, pe: '' });
  assert.deepEqual(destOf(s, vs.realServers[0], 3), { af: 2, addr: '198.51.100.1', port: 80, fwd: 3, weight: 3, uThreshold: 100, lThreshold: 50, tunType: 0, tunPort: 0, tunFlags: 0 });
  assert.deepEqual(destOf(s, vs.realServers[1], 1), { af: 2, addr: '198.51.100.2', port: 8080, fwd: 0, weight: 1, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 });
  assert.deepEqual(destOf(s, vs.realServers[2], 1), { af: 2, addr: '198.51.100.3', port: 80, fwd: 2, weight: 1, uThreshold: 0, lThreshold: 0, tunType: 1, tunPort: 6080, tunFlags: 1 });
});

test('a fwmark virtual server has no protocol, address or port; routed destinations get port 0', () => {
  const c = cfg(`virtual_server fwmark 7 {\n lb_algo rr\n lb_kind DR\n real_server 198.51.100.1 { TCP_CHECK { connect_port 80 } }\n}`);
  const [s] = servicesOf(c, c.virtualServers[0]);
  assert.deepEqual([s.svc.fwmark, s.svc.port, s.svc.addr, s.svc.flags], [7, 0, '0.0.0.0', 0]);
  assert.equal(destOf(s, c.virtualServers[0].realServers[0], 1).port, 0);
});

test('virtual_server group: one service per address of each range and per fwmark, sharing the real servers', () => {
  const c = cfg(`virtual_server_group G {\n 192.0.2.20-22 443\n 192.0.2.30/31 443\n fwmark 9\n}\nvirtual_server group G {\n lb_algo wlc\n lb_kind DR\n protocol TCP\n persistence_timeout 60\n persistence_granularity 255.255.255.0\n real_server 198.51.100.1 443 { TCP_CHECK { } }\n}`);
  const ss = servicesOf(c, c.virtualServers[0]);
  assert.deepEqual(ss.map((s) => `${s.svc.fwmark ? `fwm${s.svc.fwmark}` : `${s.svc.addr}:${s.svc.port}`}/${s.svc.netmask >>> 0}`),
    // ipvs_group_range_cmd resets the netmask of range services; the fwmark service keeps the granularity.
    ['192.0.2.20:443/4294967295', '192.0.2.21:443/4294967295', '192.0.2.22:443/4294967295', '192.0.2.30:443/4294967295', '192.0.2.31:443/4294967295', 'fwm9/4294967040']);
  assert.deepEqual(expandRange({ kind: 'range', af: 10, first: '2001:db8::fffe', last: '2001:db8::1:1', port: 0, fwmark: 0 }).length, 2);
});

test('startup table of test vector A: both real servers at their weights, no sorry server (quorum reached)', () => {
  const c = cfg(`virtual_server 192.0.2.10 80 {\n lb_algo wrr\n lb_kind DR\n protocol TCP\n quorum 3\n hysteresis 1\n sorry_server 198.51.100.99 80\n real_server 198.51.100.11 80 { weight 3\n inhibit_on_failure\n HTTP_GET { url { path / } } }\n real_server 198.51.100.12 { TCP_CHECK { connect_port 8080 } }\n}`);
  const cmds = initialCommands(c);
  assert.deepEqual(cmds.map((x) => x.cmd === 'add-dest' ? `add-dest ${x.dest.addr}:${x.dest.port} w${x.dest.weight}` : x.cmd), ['add-service', 'add-dest 198.51.100.11:80 w3', 'add-dest 198.51.100.12:80 w1']);
});

test('startup table of test vector B: alpha leaves the real servers out (inhibited one at weight 0), the sorry server serves', () => {
  const c = cfg(`virtual_server 192.0.2.30 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n alpha\n sorry_server 198.51.100.99 8080\n sorry_server_inhibit\n real_server 198.51.100.11 80 { inhibit_on_failure\n TCP_CHECK { } }\n real_server 198.51.100.12 80 { TCP_CHECK { } }\n}`);
  const cmds = initialCommands(c);
  assert.deepEqual(cmds.map((x) => x.cmd === 'add-dest' ? `add-dest ${x.dest.addr}:${x.dest.port} w${x.dest.weight} fwd${x.dest.fwd}` : x.cmd),
    ['add-service', 'add-dest 198.51.100.11:80 w0 fwd0', 'add-dest 198.51.100.99:8080 w1 fwd0']);
});
