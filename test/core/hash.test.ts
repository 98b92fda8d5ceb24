import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hash32, HsiphashKey, hsiphash32, hsiphashMod, MH_HASH1, MH_HASH2 } from '../../src/core/hash.js';

// Vectors: spec ipvs.md §11.4 (they reproduce every sh/mh pick observed on the reference kernel).

test('hash_32(addr, 8) buckets 203.0.113.1..8 as the kernel does', () => {
  const got = [];
  for (let i = 1; i <= 8; i++) got.push(hash32(0xcb007100 + i, 8));
  assert.deepEqual(got, [50, 147, 245, 87, 185, 26, 124, 222]);
});

test('hash_32(port + addr, 8) buckets 203.0.113.1 with source ports 6000..6003', () => {
  const got = [];
  for (let p = 6000; p <= 6003; p++) got.push(hash32(p + 0xcb007101, 8));
  assert.deepEqual(got, [253, 95, 193, 35]);
});

test('hash_32 wraps the sum of port and address modulo 2^32 and keeps the top bits', () => {
  assert.equal(hash32(0xffffffff + 2, 8), hash32(1, 8));
  assert.equal(hash32(1, 32), 0x61c88647);
  assert.equal(hash32(1, 10), 0x61c88647 >>> 22);
});

test('hsiphash of one u32 under the mh keys matches the kernel (SipHash-1-3, low 32 bits)', () => {
  const cases: [number, number, number][] = [
    [0, 0x1d5a77c2, 0xf882433f],
    [1, 0x16ec66b2, 0x8210aad1],
    [0xcb007101, 0xb7d1a81b, 0xf4d07108],
  ];
  for (const [v, h1, h2] of cases) {
    assert.equal(hsiphash32(v, MH_HASH1), h1, `hash1 of 0x${v.toString(16)}`);
    assert.equal(hsiphash32(v, MH_HASH2), h2, `hash2 of 0x${v.toString(16)}`);
  }
});

// A second, independent SipHash-1-3 written with BigInt straight from lib/siphash.c, to cover
// inputs and keys where the split-u32 carries and rotations of hsiphash32 could go wrong.
const M64 = (1n << 64n) - 1n;
const rol = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & M64;
function refHsiphash(v: number, k0: bigint, k1: bigint): number {
  let v0 = 0x736f6d6570736575n ^ k0;
  let v1 = 0x646f72616e646f6dn ^ k1;
  let v2 = 0x6c7967656e657261n ^ k0;
  let v3 = 0x7465646279746573n ^ k1;
  const round = () => {
    v0 = (v0 + v1) & M64; v1 = rol(v1, 13n); v1 ^= v0; v0 = rol(v0, 32n);
    v2 = (v2 + v3) & M64; v3 = rol(v3, 16n); v3 ^= v2;
    v0 = (v0 + v3) & M64; v3 = rol(v3, 21n); v3 ^= v0;
    v2 = (v2 + v1) & M64; v1 = rol(v1, 17n); v1 ^= v2; v2 = rol(v2, 32n);
  };
  const b = (4n << 56n) | BigInt(v >>> 0);
  v3 ^= b; round(); v0 ^= b; v2 ^= 0xffn; round(); round(); round();
  return Number((v0 ^ v1 ^ v2 ^ v3) & 0xffffffffn);
}

test('hsiphash32 agrees with a BigInt SipHash-1-3 on many inputs and keys', () => {
  let s = 0x9e3779b9;
  const next = () => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return s >>> 0;
  };
  const keys = [MH_HASH1, MH_HASH2, new HsiphashKey(0n, 0n), new HsiphashKey(M64, M64)];
  for (let i = 0; i < 8; i++) {
    keys.push(new HsiphashKey((BigInt(next()) << 32n) | BigInt(next()), (BigInt(next()) << 32n) | BigInt(next())));
  }
  // The reference itself is pinned to the kernel by the vectors above.
  assert.equal(refHsiphash(0xcb007101, 2654435761n, 2654435761n), 0xb7d1a81b);
  for (const k of keys) {
    for (const v of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) assert.equal(hsiphash32(v, k), refHsiphash(v, k.k0, k.k1));
    for (let i = 0; i < 300; i++) {
      const v = next();
      assert.equal(hsiphash32(v, k), refHsiphash(v, k.k0, k.k1), `v=0x${v.toString(16)}`);
    }
  }
});

test('hsiphashMod equals hsiphash32 % m for every mh table size', () => {
  const sizes = [251, 509, 1021, 2039, 4093, 4092, 8191, 16381, 32749, 65521, 1, 2];
  let s = 12345;
  for (let i = 0; i < 5000; i++) {
    s = (Math.imul(s, 1103515245) + 12345) | 0;
    const v = i < 4 ? [0, -1, 0x7fffffff, 0x80000000][i] : s;
    for (const m of sizes) assert.equal(hsiphashMod(v, MH_HASH1, m), hsiphash32(v, MH_HASH1) % m);
  }
});
