// Random and mutated frames (seeded from the recorded fixtures) through the parser and every
// rewriter. Each case runs twice with the frame embedded between different poison bytes: the
// results must not differ (so nothing outside the frame was read) and the poison must stay
// untouched (nothing outside was written). Nothing may throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arpAnswerInPlace, arpIsEthIpv4 } from '../../../../src/dataplane/packet/frame/arp.js';
import { completePartial } from '../../../../src/dataplane/packet/frame/checksum.js';
import { icmpBuildErrorV4, icmpBuildErrorV6, mayAnswerWithError } from '../../../../src/dataplane/packet/frame/icmp.js';
import { ipv4DecTtl } from '../../../../src/dataplane/packet/frame/ipv4.js';
import { ndAnswerInPlace, ndLinkAddr, ndValid } from '../../../../src/dataplane/packet/frame/nd.js';
import { ipv6DecHop } from '../../../../src/dataplane/packet/frame/ipv6.js';
import { PARSE_OK, Parsed, parseFrame, parseQuoted } from '../../../../src/dataplane/packet/frame/parse.js';
import {
  rewriteDaddrV4, rewriteDaddrV6, rewriteDport, rewriteSaddrV4, rewriteSport,
} from '../../../../src/dataplane/packet/frame/rewrite.js';
import { allFrames, rng } from '../fixtures.js';

const PAD = 64;
const MAC = Uint8Array.from([2, 0, 0, 0, 0, 7]);
const SCRATCH = 1600;

function exercise(b: Uint8Array, off: number, len: number, p: Parsed, q: Parsed, r: number, scratch: number): string {
  const st = parseFrame(b, off, len, p);
  let out = `${st}`;
  if (st === PARSE_OK && ndValid(b, p)) out += ` nd${ndLinkAddr(b, p)}:${ndAnswerInPlace(b, p, MAC)}`;
  if (st === PARSE_OK && p.l3 >= 0) {
    if (p.af === 2) {
      ipv4DecTtl(b, p.l3);
      rewriteDaddrV4(b, p, 0xc6336411, (r & 1) === 1);
      rewriteSaddrV4(b, p, 0xcb00710a, (r & 2) === 2);
    } else if (p.af === 10) {
      ipv6DecHop(b, p.l3);
      rewriteDaddrV6(b, p, 0x20010db8, 1, 2, 3, (r & 1) === 1);
    }
    rewriteDport(b, p, r & 0xffff, (r & 4) === 4);
    rewriteSport(b, p, (r >>> 16) & 0xffff, false);
    if (p.l4 >= 0) {
      completePartial(b, p.l4, (r >>> 3) & 31, p.ipEnd, (r & 8) === 8);
      const qst = parseQuoted(b, p.l4 + 8, p.ipEnd, p.af, q);
      out += ` q${qst}:${q.sport}:${q.dport}:${q.l4}:${q.ipEnd}`;
    }
    if (mayAnswerWithError(p)) {
      const n = p.af === 2
        ? icmpBuildErrorV4(b, scratch, SCRATCH, p.l3, p.ipEnd, 3, 3, 0, 1, 2, 3)
        : icmpBuildErrorV6(b, scratch, SCRATCH, p.l3, p.ipEnd, 1, 4, 0, p.l3 + 24, p.l3 + 8);
      out += ` e${n}`;
    }
  } else if (p.ethType === 0x0806 && arpIsEthIpv4(b, p.l3, p.end)) {
    arpAnswerInPlace(b, off, p.l3, b, off);
    out += ' arp';
  }
  return `${out} ${p.af} ${p.proto} ${p.l3} ${p.l4} ${p.ipEnd} ${p.sport} ${p.dport} ${p.tcpFlags} ${p.frag} ${p.icmpType}`;
}

function mutate(src: Uint8Array, next: () => number): Uint8Array {
  const kind = next() % 7;
  let b = src.slice();
  if (kind === 0) { // random bytes
    b = new Uint8Array(next() % 200);
    for (let i = 0; i < b.length; i++) b[i] = next() & 0xff;
    if (b.length > 14 && next() % 2) { b[12] = next() % 2 ? 0x08 : 0x86; b[13] = b[12] === 0x08 ? 0 : 0xdd; }
    return b;
  }
  if (kind === 1) return b.slice(0, next() % (b.length + 1)); // truncation
  const flips = 1 + (next() % 8);
  for (let i = 0; i < flips && b.length; i++) {
    const at = kind === 2 ? 14 + (next() % 40) : next() % b.length; // header bytes are the interesting ones
    if (at < b.length) b[at] = next() & 0xff;
  }
  if (kind === 3 && b.length > 20) b[14] = (b[14] & 0xf0) | (next() & 15); // IHL
  if (kind === 4 && b.length > 18) { b[16] = next() & 0xff; b[17] = next() & 0xff; } // total length
  if (kind === 5 && b.length > 60) b[14 + 20 + 12] = next() & 0xff; // TCP data offset
  if (kind === 6 && b.length > 34) { // cut anywhere and make the IP length agree
    b = b.slice(0, 14 + (next() % (b.length - 13)));
    const l = b.length - 14;
    if (b[12] === 0x08 && l >= 4) { b[16] = l >> 8; b[17] = l & 255; }
    if (b[12] === 0x86 && l >= 6) { b[18] = (l - 40) >> 8; b[19] = (l - 40) & 255; }
  }
  // Most header mutations would stop at the IPv4 header checksum; fix it up half the time so
  // the deeper parsers and the rewriters see them.
  if (next() % 2 && b.length >= 34 && b[12] === 0x08 && b[13] === 0) {
    const ihl = (b[14] & 15) * 4;
    if (ihl >= 20 && 14 + ihl <= b.length) {
      b[24] = 0; b[25] = 0;
      let sum = 0;
      for (let i = 14; i < 14 + ihl; i += 2) sum += (b[i] << 8) | b[i + 1];
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      b[24] = (~sum >> 8) & 255; b[25] = ~sum & 255;
    }
  }
  return b;
}

test('random and mutated frames never throw, never read or write outside the frame', () => {
  const seeds = allFrames().map((f) => f.bytes);
  const next = rng(0x7515);
  const p = new Parsed();
  const q = new Parsed();
  let ok = 0;
  const cases = 8000;
  for (let i = 0; i < cases; i++) {
    const frame = mutate(seeds[next() % seeds.length], next);
    const r = next();
    const results: string[] = [];
    const bodies: number[][] = [];
    for (const poison of [0x00, 0xff]) {
      const total = PAD + frame.length + PAD + SCRATCH;
      const b = new Uint8Array(total).fill(poison);
      b.set(frame, PAD);
      const scratch = PAD + frame.length + PAD;
      results.push(exercise(b, PAD, frame.length, p, q, r, scratch));
      for (let j = 0; j < PAD; j++) assert.equal(b[j], poison, `case ${i}: wrote before the frame`);
      for (let j = PAD + frame.length; j < scratch; j++) assert.equal(b[j], poison, `case ${i}: wrote after the frame`);
      bodies.push([...b.subarray(PAD, scratch + SCRATCH)].map((x, k) => (k >= frame.length && k < frame.length + PAD ? 0 : x)));
    }
    assert.equal(results[0], results[1], `case ${i}: result depends on bytes outside the frame`);
    assert.deepEqual(bodies[0].slice(0, frame.length), bodies[1].slice(0, frame.length), `case ${i}: frame bytes depend on outside`);
    if (results[0].startsWith('0')) ok++;
  }
  // The mutations keep a fair share parseable, so the rewriters run too.
  assert.ok(ok > cases / 10, `only ${ok} parseable cases`);
});
