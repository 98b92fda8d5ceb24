import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AF_INET, AF_INET6, formatIPv4, IpAddr } from '../../../src/core/addr.js';
import { persistConnDport, persistTemplateKey, TemplateKey, templateDport } from '../../../src/core/conn/persistence.js';
import type { Dest } from '../../../src/core/dest.js';
import { Flow } from '../../../src/core/flow.js';
import { VirtualService } from '../../../src/core/service.js';
import { ip } from './lab.js';

function svc(port: number, o: { fwmark?: number; netmask?: number; af?: 2 | 10 } = {}): VirtualService {
  const af = o.af ?? AF_INET;
  return new VirtualService({
    af, protocol: 6, addr: af === AF_INET ? ip('192.0.2.1') : ip('2001:db8::1'), port, fwmark: o.fwmark ?? 0,
    schedName: 'rr', flags: 1, timeoutS: 300, netmask: o.netmask ?? (af === AF_INET ? 0xffffffff : 128), peName: '',
  }, 1);
}

function flow(src: string, sport: number, dst: string, dport: number, proto = 6): Flow {
  const f = new Flow();
  const s = ip(src);
  f.af = s.af;
  f.protocol = proto;
  f.setSaddr(s).setDaddr(ip(dst));
  f.sport = sport;
  f.dport = dport;
  return f;
}

function key(s: VirtualService, f: Flow): string {
  const k = new TemplateKey();
  persistTemplateKey(s, f, k);
  const c = k.af === AF_INET ? formatIPv4(k.c0) : new IpAddr(AF_INET6, k.c0, k.c1, k.c2, k.c3).toString();
  return `${k.protocol} ${c}:0 ${formatIPv4(k.v0)}:${k.vport}`;
}

test('template identity per service kind (ip_vs_sched_persist)', () => {
  assert.equal(key(svc(80), flow('198.51.100.7', 1000, '192.0.2.1', 80)), '6 198.51.100.7:0 192.0.2.1:80');
  assert.equal(key(svc(80, { netmask: 0xffffff00 }), flow('198.51.100.7', 1000, '192.0.2.1', 80)), '6 198.51.100.0:0 192.0.2.1:80');
  assert.equal(key(svc(21), flow('198.51.100.7', 1000, '192.0.2.1', 21)), '6 198.51.100.7:0 192.0.2.1:0');
  assert.equal(key(svc(21), flow('198.51.100.7', 1000, '192.0.2.1', 30000)), '6 198.51.100.7:0 192.0.2.1:0');
  assert.equal(key(svc(0), flow('198.51.100.7', 1000, '192.0.2.1', 443)), '6 198.51.100.7:0 192.0.2.1:0');
  assert.equal(key(svc(0, { fwmark: 7 }), flow('198.51.100.7', 1000, '192.0.2.9', 53, 17)), '0 198.51.100.7:0 0.0.0.7:0');
});

test('IPv6 templates key on the client prefix', () => {
  const s = svc(80, { af: AF_INET6, netmask: 64 });
  const k = new TemplateKey();
  persistTemplateKey(s, flow('2001:db8:1:2:3:4:5:6', 1, '2001:db8::1', 80), k);
  assert.equal(new IpAddr(AF_INET6, k.c0, k.c1, k.c2, k.c3).toString(), '2001:db8:1:2::');
  persistTemplateKey(svc(80, { af: AF_INET6, netmask: 36 }), flow('2001:db8:ffff:2::6', 1, '2001:db8::1', 80), k);
  assert.equal(new IpAddr(AF_INET6, k.c0, k.c1, k.c2, k.c3).toString(), '2001:db8:f000::');
});

test('destination ports of templates and of their connections', () => {
  const d8080 = { port: 8080 } as Dest;
  const d0 = { port: 0 } as Dest;
  assert.equal(templateDport(svc(80), 80, d8080), 8080);
  assert.equal(templateDport(svc(21), 21, d8080), 0);
  assert.equal(templateDport(svc(0), 443, d8080), 0);
  assert.equal(persistConnDport(svc(80), 80, d8080), 8080);
  assert.equal(persistConnDport(svc(80), 80, d0), 80);
  assert.equal(persistConnDport(svc(0, { fwmark: 7 }), 53, d8080), 53);
  assert.equal(persistConnDport(svc(21), 30000, d8080), 30000);
});
