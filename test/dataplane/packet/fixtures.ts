// Loads the frames of test/fixtures/frames (recorded from the kernel by record-frames.ts) and
// gives an independent, deliberately naive checksum reference for the tests to judge by.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { xorshift32 } from '../../../src/core/random.js';

export const FIXTURE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../test/fixtures/frames');

export interface FrameFixture {
  name: string;
  bytes: Uint8Array;
  flags: number;
  csumStart: number;
  csumOffset: number;
}

export function loadFrame(name: string): FrameFixture {
  const text = readFileSync(join(FIXTURE_DIR, `${name}.hex`), 'utf8');
  const meta = /# meta flags=(\d+) csumStart=(\d+) csumOffset=(\d+)/.exec(text);
  const hex = text.split('\n').filter((l) => !l.startsWith('#')).join('').replace(/\s+/g, '');
  return {
    name,
    bytes: Uint8Array.from(Buffer.from(hex, 'hex')),
    flags: meta ? Number(meta[1]) : 0,
    csumStart: meta ? Number(meta[2]) : 0,
    csumOffset: meta ? Number(meta[3]) : 0,
  };
}

export function allFrames(): FrameFixture[] {
  return readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.hex')).sort().map((f) => loadFrame(f.slice(0, -4)));
}

/** Ones'-complement sum of 16-bit words, the textbook way (RFC 1071 §4.1). */
export function refSum(bytes: number[]): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i] << 8) + (i + 1 < bytes.length ? bytes[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

/** True when the IPv4 header at l3 sums to 0xffff. */
export function ipv4HeaderOk(b: Uint8Array, l3: number): boolean {
  const ihl = (b[l3] & 15) * 4;
  return refSum([...b.subarray(l3, l3 + ihl)]) === 0xffff;
}

/**
 * True when the transport checksum of an unfragmented IPv4/IPv6 packet (no extension headers)
 * verifies: the pseudo header plus the segment sums to 0xffff.
 */
export function l4ChecksumOk(b: Uint8Array, off: number): boolean {
  const et = (b[off + 12] << 8) | b[off + 13];
  let pseudo: number[];
  let seg: number[];
  if (et === 0x0800) {
    const l3 = off + 14;
    const ihl = (b[l3] & 15) * 4;
    const tot = (b[l3 + 2] << 8) | b[l3 + 3];
    const proto = b[l3 + 9];
    seg = [...b.subarray(l3 + ihl, l3 + tot)];
    if (proto === 1) return refSum(seg) === 0xffff;
    if (proto === 17 && seg[6] === 0 && seg[7] === 0) return true;
    const len = tot - ihl;
    pseudo = [...b.subarray(l3 + 12, l3 + 20), 0, proto, len >> 8, len & 255];
  } else {
    const l3 = off + 14;
    const plen = (b[l3 + 4] << 8) | b[l3 + 5];
    seg = [...b.subarray(l3 + 40, l3 + 40 + plen)];
    pseudo = [...b.subarray(l3 + 8, l3 + 40), 0, 0, plen >> 8, plen & 255, 0, 0, 0, b[l3 + 6]];
  }
  return refSum([...pseudo, ...seg]) === 0xffff;
}

/** xorshift32: a seeded generator, so a failing fuzz case can be replayed. */
export const rng = xorshift32;
