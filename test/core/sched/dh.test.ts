import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IP_VS_DEST_F_OVERLOAD } from '../../../src/core/dest.js';
import { hash32 } from '../../../src/core/hash.js';
import { type DhState, IP_VS_DH_TAB_SIZE } from '../../../src/core/sched/dh.js';
import { AF_INET } from '../../../src/core/addr.js';
import { addr, octet, SchedFixture } from '../../helpers/hash-sched-fixture.js';

// Observed on the reference kernel (spec ipvs.md §4.14, §11.3): a fwmark service with dests
// 192.168.1.91, .92, .93 added in that order (list 93, 92, 91), one packet to each VIP.
const vips = ['192.168.1.150', '192.168.1.151', '192.168.1.152', '192.168.1.153'];

function fixture(): SchedFixture {
  const f = new SchedFixture('dh', { fwmark: 1 });
  f.add('192.168.1.91', 1);
  f.add('192.168.1.92', 1);
  f.add('192.168.1.93', 1);
  return f;
}

function picks(f: SchedFixture): string {
  return vips.map((v) => octet(f.pick('203.0.113.1', 5000, 0, v))).join(' ');
}

test('dh picks as Linux 6.1 did: VIPs .150 to .153 go to 93 91 93 92', () => {
  const f = fixture();
  assert.equal(picks(f), '93 91 93 92');
  assert.deepEqual(vips.map((v) => hash32(0xc0a80100 + Number(v.split('.')[3]), 8)), [114, 212, 54, 151]);
});

test('dh bucket i holds the destination at position i mod n of the list, without weights', () => {
  const f = fixture();
  f.edit('192.168.1.92', 5);
  const b = (f.svc.schedData as DhState).buckets;
  assert.equal(b.length, IP_VS_DH_TAB_SIZE);
  for (let i = 0; i < IP_VS_DH_TAB_SIZE; i++) assert.equal(octet(b[i]), ['93', '92', '91'][i % 3]);
});

test('dh keys on the destination address only: source address and port do not matter', () => {
  const f = fixture();
  for (const [src, port] of [['203.0.113.9', 1], ['198.51.100.7', 65535]] as const) {
    assert.equal(octet(f.pick(src, port, 0, '192.168.1.151')), '91');
  }
});

test('dh has no fallback: weight 0 or OVERLOAD on the bucket fails the packet', () => {
  const f = fixture();
  f.edit('192.168.1.93', 0);
  assert.equal(picks(f), 'none 91 none 92');
  assert.equal(f.svc.lastSchedError, 'no destination available');
  f.edit('192.168.1.93', 1);
  const d91 = f.table.lookupDest(f.svc, AF_INET, addr('192.168.1.91'), 53);
  assert.ok(d91 !== null);
  d91.flags |= IP_VS_DEST_F_OVERLOAD;
  assert.equal(picks(f), '93 none 93 92');
  d91.flags &= ~IP_VS_DEST_F_OVERLOAD;
  assert.equal(picks(f), '93 91 93 92');
});

test('dh rebuilds on add and delete, and never returns a deleted destination', () => {
  const f = fixture();
  f.del('192.168.1.92');
  // List 93, 91: bucket parity decides.
  assert.equal(picks(f), '93 93 93 91');
  f.add('192.168.1.94', 1);
  // List 94, 93, 91: buckets 114 -> 94 (114 mod 3 = 0), 212 -> 91 (2), 54 -> 94 (0), 151 -> 93 (1).
  assert.equal(picks(f), '94 91 94 93');
  f.del('192.168.1.94');
  f.del('192.168.1.93');
  f.del('192.168.1.91');
  assert.equal(picks(f), 'none none none none');
});

test('dh re-adding a deleted destination puts it at the head of the list', () => {
  const f = fixture();
  f.del('192.168.1.93');
  f.add('192.168.1.93', 1);
  assert.equal(picks(f), '93 91 93 92');
  f.del('192.168.1.91');
  f.add('192.168.1.91', 1);
  // List 91, 93, 92.
  assert.equal(picks(f), '91 92 91 93');
});

test('dh folds IPv6 destination addresses by XOR of their words', () => {
  const f = new SchedFixture('dh', { vip: '2001:db8::1', fwmark: 7 });
  f.add('2001:db8::91', 1);
  f.add('2001:db8::92', 1);
  f.add('2001:db8::93', 1);
  const b = (f.svc.schedData as DhState).buckets;
  const d = f.pick('2001:db8::5', 5000, 0, '2001:db8::c0a8:196');
  assert.equal(d, b[hash32((0x20010db8 ^ 0xc0a80196) >>> 0, 8)]);
});
