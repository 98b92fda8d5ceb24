import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddrSet6 } from '../../../src/dataplane/packet/addr-set6.js';

test('IPv6 address sets count references and tell apart addresses with the same fold', () => {
  const s = new AddrSet6();
  s.add(0x20010db8, 0, 0, 1);
  s.add(0x20010db8, 0, 0, 1);
  s.add(0x20010db8, 1, 1, 1); // same XOR fold as the first
  assert.equal(s.size, 2);
  assert.ok(s.has(0x20010db8, 0, 0, 1));
  assert.ok(s.has(0x20010db8, 1, 1, 1));
  assert.equal(s.has(0x20010db8, 0, 0, 2), false);
  s.delete(0x20010db8, 0, 0, 1);
  assert.ok(s.has(0x20010db8, 0, 0, 1), 'one reference left');
  s.delete(0x20010db8, 0, 0, 1);
  assert.equal(s.has(0x20010db8, 0, 0, 1), false);
  assert.ok(s.has(0x20010db8, 1, 1, 1));
  for (let i = 0; i < 100; i++) s.add(0xfd000000, 0, 0, i);
  assert.equal(s.size, 101);
  assert.ok(s.has(0xfd000000, 0, 0, 99));
});
