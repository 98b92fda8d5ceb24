/**
 * The two hash functions the hashing schedulers depend on, bit for bit:
 * - hash_32 (include/linux/hash.h): multiply by GOLDEN_RATIO_32, keep the top `bits` bits.
 *   dh, sh, lblc and lblcr bucket with it.
 * - hsiphash of one u32 (lib/siphash.c): on 64-bit kernels (the reference is x86-64) the
 *   "half" SipHash is really SipHash-1-3 with a 128-bit key, and only the low 32 bits of the
 *   64-bit result are returned (the function's return type is u32). mh builds its permutations
 *   and looks clients up with it, under the fixed keys of ip_vs_mh.c generate_hash_secret.
 * SipHash works on u64 words; JavaScript has no fast u64, so each word is kept as two 32-bit
 * halves in local variables: no BigInt and no allocation per call.
 */

/** GOLDEN_RATIO_32 of include/linux/hash.h. */
export const GOLDEN_RATIO_32 = 0x61c88647;

/** hash_32(val, bits): (val * GOLDEN_RATIO_32 mod 2^32) >> (32 - bits), for 1 <= bits <= 32. */
export function hash32(val: number, bits: number): number {
  return Math.imul(val, GOLDEN_RATIO_32) >>> (32 - bits);
}

/**
 * An hsiphash_key_t, kept as the SipHash state right after the key was mixed into the
 * constants (PREAMBLE): the same for every call, so it is computed once.
 */
export class HsiphashKey {
  /** v0..v3 as [hi, lo] int32 pairs: v0h v0l v1h v1l v2h v2l v3h v3l. */
  readonly init: Int32Array;

  readonly k0: bigint;
  readonly k1: bigint;

  /** key[0] and key[1] are u64 (unsigned long on 64-bit). */
  constructor(k0: bigint, k1: bigint) {
    this.k0 = k0;
    this.k1 = k1;
    const w = (x: bigint, shift: bigint) => Number((x >> shift) & 0xffffffffn);
    const k0h = w(k0, 32n), k0l = w(k0, 0n), k1h = w(k1, 32n), k1l = w(k1, 0n);
    // SIPHASH_CONST_0..3 ("somepseudorandomlygeneratedbytes"); v0 ^= k0, v1 ^= k1, v2 ^= k0, v3 ^= k1.
    this.init = Int32Array.of(
      0x736f6d65 ^ k0h, 0x70736575 ^ k0l,
      0x646f7261 ^ k1h, 0x6e646f6d ^ k1l,
      0x6c796765 ^ k0h, 0x6e657261 ^ k0l,
      0x74656462 ^ k1h, 0x79746573 ^ k1l,
    );
  }
}

/** ip_vs_mh.c generate_hash_secret: hash1 = {2654435761, 2654435761}. */
export const MH_HASH1 = new HsiphashKey(2654435761n, 2654435761n);
/** ip_vs_mh.c generate_hash_secret: hash2 = {2654446892, 2654446892}. */
export const MH_HASH2 = new HsiphashKey(2654446892n, 2654446892n);

/**
 * hsiphash(&v, sizeof(u32), key) on a 64-bit little-endian kernel: SipHash-1-3 over the four
 * bytes of `v`, truncated to u32. The message is shorter than one block, so the only block is
 * the final one, b = (4 << 56) | v.
 * Each u64 is a (hi, lo) pair of int32 locals. An addition carries out of lo exactly when
 * the sign bit of (a & b) | ((a | b) & ~sum) is set; rotations by 32 swap the halves. The four
 * rounds are written out: V8 runs this about a quarter faster than a loop (bench/core).
 */
export function hsiphash32(v: number, key: HsiphashKey): number {
  return hsiphashI32(v, key) >>> 0;
}

/**
 * hsiphash32(v, key) % m, for 1 <= m <= 2^16 + 1 (mh's table sizes). The hash stays an int32
 * and the remainder is taken in two 16-bit steps, so V8 never turns a u32 above 2^31 into a
 * double and never does a floating-point modulo on the per-packet path.
 */
export function hsiphashMod(v: number, key: HsiphashKey, m: number): number {
  const h = hsiphashI32(v, key);
  return (((h >>> 16) % m) * 65536 + (h & 0xffff)) % m;
}

/** The 32-bit result as a signed int32 (same bits as hsiphash32). */
function hsiphashI32(v: number, key: HsiphashKey): number {
  const k = key.init;
  let v0h = k[0], v0l = k[1], v1h = k[2], v1l = k[3];
  let v2h = k[4], v2l = k[5], v3h = k[6], v3l = k[7];
  const bl = v | 0;
  let t = 0, u = 0;
  // HPOSTAMBLE: v3 ^= b; SIPROUND; v0 ^= b; v2 ^= 0xff; SIPROUND x 3; return v0 ^ v1 ^ v2 ^ v3.
  v3h ^= 0x04000000; v3l ^= bl;
  // SIPROUND 1 (compression)
  t = (v0l + v1l) | 0; v0h = (v0h + v1h + (((v0l & v1l) | ((v0l | v1l) & ~t)) >>> 31)) | 0; v0l = t;
  t = (v1h << 13) | (v1l >>> 19); u = (v1l << 13) | (v1h >>> 19); v1h = t ^ v0h; v1l = u ^ v0l;
  t = v0h; v0h = v0l; v0l = t;
  t = (v2l + v3l) | 0; v2h = (v2h + v3h + (((v2l & v3l) | ((v2l | v3l) & ~t)) >>> 31)) | 0; v2l = t;
  t = (v3h << 16) | (v3l >>> 16); u = (v3l << 16) | (v3h >>> 16); v3h = t ^ v2h; v3l = u ^ v2l;
  t = (v0l + v3l) | 0; v0h = (v0h + v3h + (((v0l & v3l) | ((v0l | v3l) & ~t)) >>> 31)) | 0; v0l = t;
  t = (v3h << 21) | (v3l >>> 11); u = (v3l << 21) | (v3h >>> 11); v3h = t ^ v0h; v3l = u ^ v0l;
  t = (v2l + v1l) | 0; v2h = (v2h + v1h + (((v2l & v1l) | ((v2l | v1l) & ~t)) >>> 31)) | 0; v2l = t;
  t = (v1h << 17) | (v1l >>> 15); u = (v1l << 17) | (v1h >>> 15); v1h = t ^ v2h; v1l = u ^ v2l;
  t = v2h; v2h = v2l; v2l = t;
  v0h ^= 0x04000000; v0l ^= bl;
  v2l ^= 0xff;
  // SIPROUND 2 (finalisation)
  t = (v0l + v1l) | 0; v0h = (v0h + v1h + (((v0l & v1l) | ((v0l | v1l) & ~t)) >>> 31)) | 0; v0l = t;
  t = (v1h << 13) | (v1l >>> 19); u = (v1l << 13) | (v1h >>> 19); v1h = t ^ v0h; v1l = u ^ v0l;
  t = v0h; v0h = v0l; v0l = t;
  t = (v2l + v3l) | 0; v2h = (v2h + v3h + (((v2l & v3l) | ((v2l | v3l) & ~t)) >>> 31)) | 0; v2l = t;
  t = (v3h << 16) | (v3l >>> 16); u = (v3l << 16) | (v3h >>> 16); v3h = t ^ v2h; v3l = u ^ v2l;
  t = (v0l + v3l) | 0; v0h = (v0h + v3h + (((v0l & v3l) | ((v0l | v3l) & ~t)) >>> 31)) | 0; v0l = t;
  t = (v3h << 21) | (v3l >>> 11); u = (v3l << 21) | (v3h >>> 11); v3h = t ^ v0h; v3l = u ^ v0l;
  t = (v2l + v1l) | 0; v2h = (v2h + v1h + (((v2l & v1l) | ((v2l | v1l) & ~t)) >>> 31)) | 0; v2l = t;
  t = (v1h << 17) | (v1l >>> 15); u = (v1l << 17) | (v1h >>> 15); v1h = t ^ v2h; v1l = u ^ v2l;
  t = v2h; v2h = v2l; v2l = t;
  // SIPROUND 3
  t = (v0l + v1l) | 0; v0h = (v0h + v1h + (((v0l & v1l) | ((v0l | v1l) & ~t)) >>> 31)) | 0; v0l = t;
  t = (v1h << 13) | (v1l >>> 19); u = (v1l << 13) | (v1h >>> 19); v1h = t ^ v0h; v1l = u ^ v0l;
  t = v0h; v0h = v0l; v0l = t;
  t = (v2l + v3l) | 0; v2h = (v2h + v3h + (((v2l & v3l) | ((v2l | v3l) & ~t)) >>> 31)) | 0; v2l = t;
  t = (v3h << 16) | (v3l >>> 16); u = (v3l << 16) | (v3h >>> 16); v3h = t ^ v2h; v3l = u ^ v2l;
  t = (v0l + v3l) | 0; v0h = (v0h + v3h + (((v0l & v3l) | ((v0l | v3l) & ~t)) >>> 31)) | 0; v0l = t;
  t = (v3h << 21) | (v3l >>> 11); u = (v3l << 21) | (v3h >>> 11); v3h = t ^ v0h; v3l = u ^ v0l;
  t = (v2l + v1l) | 0; v2h = (v2h + v1h + (((v2l & v1l) | ((v2l | v1l) & ~t)) >>> 31)) | 0; v2l = t;
  t = (v1h << 17) | (v1l >>> 15); u = (v1l << 17) | (v1h >>> 15); v1h = t ^ v2h; v1l = u ^ v2l;
  t = v2h; v2h = v2l; v2l = t;
  // SIPROUND 4
  t = (v0l + v1l) | 0; v0h = (v0h + v1h + (((v0l & v1l) | ((v0l | v1l) & ~t)) >>> 31)) | 0; v0l = t;
  t = (v1h << 13) | (v1l >>> 19); u = (v1l << 13) | (v1h >>> 19); v1h = t ^ v0h; v1l = u ^ v0l;
  t = v0h; v0h = v0l; v0l = t;
  t = (v2l + v3l) | 0; v2h = (v2h + v3h + (((v2l & v3l) | ((v2l | v3l) & ~t)) >>> 31)) | 0; v2l = t;
  t = (v3h << 16) | (v3l >>> 16); u = (v3l << 16) | (v3h >>> 16); v3h = t ^ v2h; v3l = u ^ v2l;
  t = (v0l + v3l) | 0; v0h = (v0h + v3h + (((v0l & v3l) | ((v0l | v3l) & ~t)) >>> 31)) | 0; v0l = t;
  t = (v3h << 21) | (v3l >>> 11); u = (v3l << 21) | (v3h >>> 11); v3h = t ^ v0h; v3l = u ^ v0l;
  t = (v2l + v1l) | 0; v2h = (v2h + v1h + (((v2l & v1l) | ((v2l | v1l) & ~t)) >>> 31)) | 0; v2l = t;
  t = (v1h << 17) | (v1l >>> 15); u = (v1l << 17) | (v1h >>> 15); v1h = t ^ v2h; v1l = u ^ v2l;
  t = v2h; v2h = v2l; v2l = t;
  return v0l ^ v1l ^ v2l ^ v3l;
}
