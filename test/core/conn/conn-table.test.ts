import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AF_INET } from '../../../src/core/addr.js';
import { ConnTable } from '../../../src/core/conn/conn-table.js';
import { IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_MASQ, IP_VS_CONN_F_TEMPLATE } from '../../../src/core/dest.js';
import { Flow } from '../../../src/core/flow.js';
import { ip } from './lab.js';

function put(t: ConnTable, c: string, cport: number, v: string, vport: number, d: string, dport: number, flags = IP_VS_CONN_F_MASQ, proto = 6): number {
  const i = t.alloc();
  const ca = ip(c), va = ip(v), da = ip(d);
  t.setAddrs(i, ca.af, da.af, ca.w0, ca.w1, ca.w2, ca.w3, va.w0, va.w1, va.w2, va.w3, da.w0, da.w1, da.w2, da.w3);
  t.setProto(i, proto);
  t.setPorts(i, cport, vport);
  t.setDport(i, dport);
  t.setFlags(i, flags);
  t.hash(i);
  return i;
}

function pkt(src: string, sport: number, dst: string, dport: number, proto = 6): Flow {
  const f = new Flow();
  const s = ip(src);
  f.af = s.af;
  f.protocol = proto;
  f.setSaddr(s).setDaddr(ip(dst));
  f.sport = sport;
  f.dport = dport;
  return f;
}

test('in, out (NAT and DR) and template lookups', () => {
  const t = new ConnTable({ maxConns: 100, seed: 1 });
  const nat = put(t, '198.51.100.1', 5000, '192.0.2.1', 80, '203.0.113.5', 8080);
  const dr = put(t, '198.51.100.1', 5001, '192.0.2.1', 80, '203.0.113.6', 80, IP_VS_CONN_F_DROUTE);
  const tpl = put(t, '198.51.100.0', 0, '192.0.2.1', 80, '203.0.113.5', 8080, IP_VS_CONN_F_TEMPLATE);
  assert.equal(t.findIn(pkt('198.51.100.1', 5000, '192.0.2.1', 80)), nat);
  assert.equal(t.findIn(pkt('198.51.100.1', 5000, '192.0.2.1', 80, 17)), -1);
  assert.equal(t.findIn(pkt('198.51.100.1', 5000, '192.0.2.2', 80)), -1);
  assert.equal(t.findOut(pkt('203.0.113.5', 8080, '198.51.100.1', 5000)), nat);
  assert.equal(t.findOut(pkt('203.0.113.5', 80, '198.51.100.1', 5000)), -1);
  // A non-NAT entry matches replies coming from the virtual address.
  assert.equal(t.findOut(pkt('192.0.2.1', 80, '198.51.100.1', 5001)), dr);
  assert.equal(t.findOut(pkt('203.0.113.6', 80, '198.51.100.1', 5001)), -1);
  const v = ip('192.0.2.1');
  assert.equal(t.findTemplate(AF_INET, 6, ip('198.51.100.0').w0, 0, 0, 0, v.w0, 0, 0, 0, 80), tpl);
  assert.equal(t.findTemplate(AF_INET, 6, ip('198.51.100.0').w0, 0, 0, 0, v.w0, 0, 0, 0, 81), -1);
  // A template is not a connection: a packet with client port 0 does not match it.
  assert.equal(t.findIn(pkt('198.51.100.0', 0, '192.0.2.1', 80)), -1);
});

test('the newest entry of a key is found first, before and after the table grows', () => {
  const t = new ConnTable({ maxConns: 10_000, initialCapacity: 16, seed: 7 });
  const old = put(t, '198.51.100.1', 5000, '192.0.2.1', 80, '203.0.113.5', 80);
  const young = put(t, '198.51.100.1', 5000, '192.0.2.1', 80, '203.0.113.6', 80);
  assert.equal(t.findIn(pkt('198.51.100.1', 5000, '192.0.2.1', 80)), young);
  for (let i = 0; i < 3000; i++) put(t, '198.51.100.2', i, '192.0.2.1', 80, '203.0.113.5', 80);
  assert.ok(t.bucketCount >= 4096);
  assert.equal(t.findIn(pkt('198.51.100.1', 5000, '192.0.2.1', 80)), young);
  t.unhash(young);
  assert.equal(t.findIn(pkt('198.51.100.1', 5000, '192.0.2.1', 80)), old);
  for (let i = 1; i < 3000; i += 101) assert.ok(t.findIn(pkt('198.51.100.2', i, '192.0.2.1', 80)) >= 0);
  // ip_vs_conn_in_get's NO_CPORT rule: a packet with client port 0 matches no ordinary entry.
  assert.equal(t.findIn(pkt('198.51.100.2', 0, '192.0.2.1', 80)), -1);
});

test('IPv6 entries compare all words; their side records are reused after free', () => {
  const t = new ConnTable({ maxConns: 100, seed: 3 });
  const a = put(t, '2001:db8::1', 1, '2001:db8::100', 80, '2001:db8::200', 80);
  const b = put(t, '2001:db8:0:1::1', 1, '2001:db8::100', 80, '2001:db8::201', 80);
  assert.equal(t.findIn(pkt('2001:db8::1', 1, '2001:db8::100', 80)), a);
  assert.equal(t.findIn(pkt('2001:db8:0:1::1', 1, '2001:db8::100', 80)), b);
  assert.equal(t.findIn(pkt('2001:db8::1', 1, '2001:db8:0:1::100', 80)), -1);
  assert.equal(t.findOut(pkt('2001:db8::201', 80, '2001:db8:0:1::1', 1)), b);
  assert.equal(t.addrWord(b, 2, 3), 0x201);
  const bytes = t.bytes;
  t.unhash(a);
  t.free(a);
  const c = put(t, '2001:db8::9', 1, '2001:db8::100', 80, '2001:db8::200', 80);
  assert.equal(c, a);
  assert.equal(t.bytes, bytes);
  assert.equal(t.findIn(pkt('2001:db8::9', 1, '2001:db8::100', 80)), c);
  // A mixed entry (IPv4 client, IPv6 tunnel destination) keeps the destination's words.
  const m = put(t, '198.51.100.1', 9, '192.0.2.1', 80, '2001:db8::300', 80);
  assert.equal(t.addrWord(m, 2, 3), 0x300);
  assert.equal(t.findIn(pkt('198.51.100.1', 9, '192.0.2.1', 80)), m);
  // Freeing and reusing several IPv6 records keeps them apart.
  const more = [1, 2, 3].map((k) => put(t, `2001:db8::${k}:1`, k, '2001:db8::100', 80, `2001:db8::${k}:2`, 80));
  for (const x of more) { t.unhash(x); t.free(x); }
  const again = [4, 5, 6].map((k) => put(t, `2001:db8::${k}:1`, k, '2001:db8::100', 80, `2001:db8::${k}:2`, 80));
  again.forEach((x, i) => assert.equal(t.findIn(pkt(`2001:db8::${i + 4}:1`, i + 4, '2001:db8::100', 80)), x));
  assert.equal(t.addrWord(again[2], 2, 3), 0x60002);
});

test('alloc stops at maxConns and slots come back after free', () => {
  const t = new ConnTable({ maxConns: 3, seed: 1 });
  const s = [t.alloc(), t.alloc(), t.alloc()];
  assert.deepEqual(s, [0, 1, 2]);
  assert.equal(t.alloc(), -1);
  t.free(1);
  assert.equal(t.size, 2);
  assert.equal(t.alloc(), 1);
  assert.ok(t.inUse(1) && !t.inUse(3));
});
