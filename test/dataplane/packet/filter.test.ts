import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AF_INET, AF_INET6 } from '../../../src/core/addr.js';
import {
  ACCEPT_LEN, buildFilter, encodeFilter, type Insn, JMP_JA, JMP_JEQ, JMP_JSET, LD_B_ABS, LD_H_ABS, LD_H_IND, LD_W_ABS,
  LDX_MSH, RET_K,
} from '../../../src/dataplane/packet/filter.js';
import { loadFrame } from './fixtures.js';

/** A classic BPF interpreter for the opcodes the builder emits (net/core/filter.c semantics: a load past the end returns 0). */
function run(prog: Insn[], b: Uint8Array): number {
  let A = 0;
  let X = 0;
  for (let pc = 0, steps = 0; pc < prog.length && steps < 10000; pc++, steps++) {
    const { code, jt, jf, k } = prog[pc];
    const need = (o: number, n: number): boolean => o >= 0 && o + n <= b.length;
    switch (code) {
      case LD_W_ABS: if (!need(k, 4)) return 0; A = ((b[k] << 24) | (b[k + 1] << 16) | (b[k + 2] << 8) | b[k + 3]) >>> 0; break;
      case LD_H_ABS: if (!need(k, 2)) return 0; A = (b[k] << 8) | b[k + 1]; break;
      case LD_B_ABS: if (!need(k, 1)) return 0; A = b[k]; break;
      case LD_H_IND: if (!need(X + k, 2)) return 0; A = (b[X + k] << 8) | b[X + k + 1]; break;
      case LDX_MSH: if (!need(k, 1)) return 0; X = (b[k] & 15) * 4; break;
      case JMP_JA: pc += k; break;
      case JMP_JEQ: pc += A === k ? jt : jf; break;
      case JMP_JSET: pc += (A & k) !== 0 ? jt : jf; break;
      case RET_K: return k;
      default: throw new Error(`opcode ${code}`);
    }
  }
  throw new Error('fell off the program');
}

// The recorded frames go from 192.0.2.1 to 192.0.2.2 (port 80 for the v4 SYN, 81 for v6, UDP 53).
const B4: [number, number, number, number] = [0xc0000202, 0, 0, 0];
const A4: [number, number, number, number] = [0xc0000201, 0, 0, 0];
const B6: [number, number, number, number] = [0x20010db8, 0, 0, 2];

test('with no services only ARP and neighbour discovery pass', () => {
  const prog = buildFilter([], []);
  assert.equal(run(prog, loadFrame('arp-request').bytes), ACCEPT_LEN);
  assert.equal(run(prog, loadFrame('icmpv6-ns').bytes), ACCEPT_LEN);
  for (const n of ['tcp-syn-v4', 'udp-v4', 'tcp-syn-v6', 'icmp-echo-v4', 'icmpv6-echo']) assert.equal(run(prog, loadFrame(n).bytes), 0, n);
});

test('an IPv4 VIP lets its service port, ICMP and later fragments through, not other ports', () => {
  const prog = buildFilter([{ af: AF_INET, w: B4, protocol: 6, port: 80 }], []);
  assert.equal(run(prog, loadFrame('tcp-syn-v4').bytes), ACCEPT_LEN);
  assert.equal(run(prog, loadFrame('tcp-psh-v4').bytes), ACCEPT_LEN);
  assert.equal(run(prog, loadFrame('icmp-echo-v4').bytes), ACCEPT_LEN);
  assert.equal(run(prog, loadFrame('ipv4-frag-later').bytes), ACCEPT_LEN);
  assert.equal(run(prog, loadFrame('ipv4-options').bytes), ACCEPT_LEN); // ICMP with options
  assert.equal(run(prog, loadFrame('udp-v4').bytes), 0, 'UDP 53 is no service here');
  const udp = buildFilter([{ af: AF_INET, w: B4, protocol: 6, port: 80 }, { af: AF_INET, w: B4, protocol: 17, port: 53 }], []);
  assert.equal(run(udp, loadFrame('udp-v4').bytes), ACCEPT_LEN);
  const other = buildFilter([{ af: AF_INET, w: [0xcb00710a, 0, 0, 0], protocol: 6, port: 80 }], []);
  assert.equal(run(other, loadFrame('tcp-syn-v4').bytes), 0);
});

test('a port-0 service takes every port of its VIP', () => {
  const prog = buildFilter([{ af: AF_INET, w: B4, protocol: 6, port: 0 }], []);
  assert.equal(run(prog, loadFrame('udp-v4').bytes), ACCEPT_LEN);
});

test('NAT replies are recognised by the real server source address', () => {
  const prog = buildFilter([], [{ af: AF_INET, w: A4 }]);
  assert.equal(run(prog, loadFrame('tcp-syn-v4').bytes), ACCEPT_LEN);
  assert.equal(run(buildFilter([], [{ af: AF_INET, w: B4 }]), loadFrame('tcp-syn-v4').bytes), 0);
});

test('IPv6 VIPs match all four words and the port', () => {
  const prog = buildFilter([{ af: AF_INET6, w: B6, protocol: 6, port: 81 }], []);
  assert.equal(run(prog, loadFrame('tcp-syn-v6').bytes), ACCEPT_LEN);
  assert.equal(run(prog, loadFrame('udp-v6').bytes), 0);
  assert.equal(run(prog, loadFrame('icmpv6-echo').bytes), ACCEPT_LEN);
  assert.equal(run(buildFilter([{ af: AF_INET6, w: [0x20010db8, 0, 0, 3], protocol: 6, port: 81 }], []), loadFrame('tcp-syn-v6').bytes), 0);
});

test('short frames are refused by the program, not read past', () => {
  const prog = buildFilter([{ af: AF_INET, w: B4, protocol: 6, port: 80 }], []);
  const syn = loadFrame('tcp-syn-v4').bytes;
  for (let len = 0; len < 34; len++) assert.equal(run(prog, syn.subarray(0, len)), 0, `cut to ${len}`);
});

test('the encoding is struct sock_filter: u16 code, u8 jt, u8 jf, u32 k', () => {
  const bytes = encodeFilter([{ code: RET_K, jt: 1, jf: 2, k: 0x40000 }]);
  assert.deepEqual([...bytes], [6, 0, 1, 2, 0, 0, 4, 0]);
});
