/**
 * The classic BPF program (Documentation/networking/filter.rst) the packet socket runs in the
 * kernel, so only frames this dataplane acts on are copied to userspace: ARP, IPv6 neighbour
 * discovery, IPv4/IPv6 packets to a virtual address (to a service port, ICMP, or a later
 * fragment), and packets from a NAT real server address (replies and their ICMP errors).
 * Frames arrive without out-of-band VLAN tags, so EtherType is at 12. Built here, in
 * TypeScript, so it can be tested against recorded frames with a small interpreter.
 */
import { AF_INET, type Af } from '../../core/addr.js';

// Opcodes (linux/filter.h, linux/bpf_common.h).
const BPF_LD = 0x00;
const BPF_LDX = 0x01;
const BPF_JMP = 0x05;
const BPF_RET = 0x06;
const BPF_W = 0x00;
const BPF_H = 0x08;
const BPF_B = 0x10;
const BPF_ABS = 0x20;
const BPF_IND = 0x40;
const BPF_MSH = 0xa0;
const BPF_JA = 0x00;
const BPF_JEQ = 0x10;
const BPF_JSET = 0x40;
const BPF_K = 0x00;

export const LD_W_ABS = BPF_LD | BPF_W | BPF_ABS;
export const LD_H_ABS = BPF_LD | BPF_H | BPF_ABS;
export const LD_B_ABS = BPF_LD | BPF_B | BPF_ABS;
export const LD_H_IND = BPF_LD | BPF_H | BPF_IND;
export const LDX_MSH = BPF_LDX | BPF_B | BPF_MSH;
export const JMP_JA = BPF_JMP | BPF_JA;
export const JMP_JEQ = BPF_JMP | BPF_JEQ | BPF_K;
export const JMP_JSET = BPF_JMP | BPF_JSET | BPF_K;
export const RET_K = BPF_RET | BPF_K;

/** Bytes of each accepted frame to copy: all of it (64 KiB GSO frames included). */
export const ACCEPT_LEN = 0x40000;

export interface FilterVip {
  af: Af;
  /** Four host-order words (IPv4 in w0). */
  w: readonly [number, number, number, number];
  protocol: number;
  /** 0: any port (port-0 services). */
  port: number;
}

export interface FilterNatDest {
  af: Af;
  w: readonly [number, number, number, number];
}

export interface Insn { code: number; jt: number; jf: number; k: number }

/** A tiny assembler: each test is a one-step conditional around a far `ja` to a label. */
class Asm {
  readonly out: (Insn & { label?: string })[] = [];
  readonly labels = new Map<string, number>();
  #n = 0;

  uniq(tag: string): string { return `${tag}${this.#n++}`; }
  op(code: number, k: number): void { this.out.push({ code, jt: 0, jf: 0, k: k >>> 0 }); }
  goto(label: string): void { this.out.push({ code: JMP_JA, jt: 0, jf: 0, k: 0, label }); }
  /** Jump to label when A == k. */
  jumpIfEq(k: number, label: string): void { this.out.push({ code: JMP_JEQ, jt: 0, jf: 1, k: k >>> 0 }); this.goto(label); }
  /** Jump to label when A != k. */
  jumpIfNe(k: number, label: string): void { this.out.push({ code: JMP_JEQ, jt: 1, jf: 0, k: k >>> 0 }); this.goto(label); }
  /** Jump to label when A & k != 0. */
  jumpIfSet(k: number, label: string): void { this.out.push({ code: JMP_JSET, jt: 0, jf: 1, k: k >>> 0 }); this.goto(label); }
  mark(label: string): void { this.labels.set(label, this.out.length); }

  link(): Insn[] {
    return this.out.map((ins, i) => {
      if (ins.label === undefined) return { code: ins.code, jt: ins.jt, jf: ins.jf, k: ins.k };
      const to = this.labels.get(ins.label);
      if (to === undefined || to <= i) throw new Error(`bpf: bad label ${ins.label}`);
      return { code: ins.code, jt: 0, jf: 0, k: to - i - 1 };
    });
  }
}

/**
 * Builds the program. Ports are checked for TCP/UDP/SCTP to an IPv4 VIP (and for IPv6 when no
 * extension header precedes the transport header); everything else addressed to a VIP, and
 * everything from a NAT real server address, is accepted for userspace to judge.
 */
export function buildFilter(vips: readonly FilterVip[], natDests: readonly FilterNatDest[]): Insn[] {
  const a = new Asm();
  a.op(LD_H_ABS, 12);
  a.jumpIfEq(0x0806, 'accept');
  a.jumpIfEq(0x0800, 'v4');
  a.jumpIfEq(0x86dd, 'v6');
  a.op(RET_K, 0);

  // ---- IPv4 ----
  a.mark('v4');
  for (const [, list] of groupByAddr(vips.filter((v) => v.af === AF_INET))) {
    const next = a.uniq('v4vip');
    a.op(LD_W_ABS, 30);
    a.jumpIfNe(list[0].w[0], next);
    emitPortCheckV4(a, list);
    a.mark(next);
  }
  for (const d of dedupe(natDests.filter((x) => x.af === AF_INET))) {
    a.op(LD_W_ABS, 26);
    a.jumpIfEq(d.w[0], 'accept');
  }
  a.op(RET_K, 0);

  // ---- IPv6 ----
  a.mark('v6');
  // Neighbour solicitations and advertisements (ICMPv6 straight after the fixed header).
  a.op(LD_B_ABS, 20);
  a.jumpIfNe(58, 'v6addr');
  a.op(LD_B_ABS, 54);
  a.jumpIfEq(135, 'accept');
  a.jumpIfEq(136, 'accept');
  a.mark('v6addr');
  for (const [, list] of groupByAddr(vips.filter((v) => v.af !== AF_INET))) {
    const next = a.uniq('v6vip');
    for (let i = 0; i < 4; i++) {
      a.op(LD_W_ABS, 38 + 4 * i);
      a.jumpIfNe(list[0].w[i], next);
    }
    emitPortCheckV6(a, list);
    a.mark(next);
  }
  for (const d of dedupe(natDests.filter((x) => x.af !== AF_INET))) {
    const next = a.uniq('v6nat');
    for (let i = 0; i < 4; i++) {
      a.op(LD_W_ABS, 22 + 4 * i);
      a.jumpIfNe(d.w[i], next);
    }
    a.goto('accept');
    a.mark(next);
  }
  a.op(RET_K, 0);
  a.mark('accept');
  a.op(RET_K, ACCEPT_LEN);
  return a.link();
}

/** After a VIP address matched (IPv4): accept ICMP, later fragments and the service ports. */
function emitPortCheckV4(a: Asm, list: FilterVip[]): void {
  a.op(LD_B_ABS, 23);
  a.jumpIfEq(1, 'accept');
  a.op(LD_H_ABS, 20);
  a.jumpIfSet(0x1fff, 'accept');
  if (list.some((v) => v.port === 0)) { a.goto('accept'); return; }
  a.op(LDX_MSH, 14);
  a.op(LD_H_IND, 16);
  for (const port of new Set(list.map((v) => v.port))) a.jumpIfEq(port, 'accept');
  a.op(RET_K, 0);
}

function emitPortCheckV6(a: Asm, list: FilterVip[]): void {
  if (list.some((v) => v.port === 0)) { a.goto('accept'); return; }
  const l4 = a.uniq('v6l4');
  a.op(LD_B_ABS, 20);
  // Only TCP (6), UDP (17) and SCTP (132) straight after the fixed header have ports at 56.
  a.jumpIfEq(6, l4);
  a.jumpIfEq(17, l4);
  a.jumpIfEq(132, l4);
  a.goto('accept');
  a.mark(l4);
  a.op(LD_H_ABS, 56);
  for (const port of new Set(list.map((v) => v.port))) a.jumpIfEq(port, 'accept');
  a.op(RET_K, 0);
}

function groupByAddr(vips: FilterVip[]): Map<string, FilterVip[]> {
  const m = new Map<string, FilterVip[]>();
  for (const v of vips) {
    const k = v.w.join(':');
    const l = m.get(k);
    if (l) l.push(v); else m.set(k, [v]);
  }
  return m;
}

function dedupe<T extends { w: readonly number[] }>(xs: T[]): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => { const k = x.w.join(':'); if (seen.has(k)) return false; seen.add(k); return true; });
}

/** struct sock_filter[] as the kernel takes it: u16 code, u8 jt, u8 jf, u32 k, host order. */
export function encodeFilter(prog: readonly Insn[]): Uint8Array {
  const out = new Uint8Array(prog.length * 8);
  const dv = new DataView(out.buffer);
  prog.forEach((ins, i) => {
    dv.setUint16(i * 8, ins.code, true);
    out[i * 8 + 2] = ins.jt;
    out[i * 8 + 3] = ins.jf;
    dv.setUint32(i * 8 + 4, ins.k >>> 0, true);
  });
  return out;
}
