/**
 * The connection table (ip_vs_conn_tab and struct ip_vs_conn, net/netfilter/ipvs/ip_vs_conn.c)
 * as typed-array columns indexed by slot: no object per entry. Slots chain into hash buckets
 * through `hnext` (index-linked chains, new entries at the head as hlist_add_head_rcu), and free
 * slots chain through the same column.
 *
 * Like the kernel, one hash serves all three lookups: it keys on (af, protocol, client address,
 * client port), which is what both directions of a flow and a persistence template share
 * (ip_vs_conn_hashkey_param: the "inverse" key of an output lookup is the client side too).
 * Why chain order matters: after a reschedule (conn_reuse_mode) the old entry stays hashed until
 * its timer runs, so the newer entry must be found first; growth rehashes chain by chain and
 * keeps the order.
 *
 * IPv4 addresses live in the u32 columns; an entry with any IPv6 address (af or daf) also owns
 * a record of 9 words in a side store (words 1..3 of caddr, vaddr, daddr), so IPv4 pays 4 bytes
 * for IPv6 support. Columns grow by doubling up to `maxConns`: a small director stays small.
 */
import { AF_INET6, type Af } from '../addr.js';
import { IP_VS_CONN_F_FWD_MASK, IP_VS_CONN_F_MASQ, IP_VS_CONN_F_NO_CPORT, IP_VS_CONN_F_TEMPLATE } from '../dest.js';
import type { Flow } from '../flow.js';

/** afs column bits. */
export const AFS_V6 = 0x01;
export const AFS_DAF_V6 = 0x02;
export const AFS_IN_USE = 0x80;

const MIN_BUCKETS = 256;

function nextPow2(n: number): number {
  let p = MIN_BUCKETS;
  while (p < n) p *= 2;
  return p;
}

export interface ConnTableOptions {
  /** Hard limit of live entries; alloc() fails beyond it. */
  maxConns: number;
  /** Slots allocated up front (grows by doubling). */
  initialCapacity?: number;
  /** Hash seed (the kernel's ip_vs_conn_rnd). */
  seed: number;
  /** Called after the columns grew, so that parallel columns (the timer wheel) follow. */
  onGrow?: (capacity: number) => void;
}

export class ConnTable {
  readonly maxConns: number;
  #seed: number;
  #onGrow: ((capacity: number) => void) | null;

  // Key and address columns.
  caddr: Uint32Array;
  vaddr: Uint32Array;
  daddr: Uint32Array;
  /** cport << 16 | vport. */
  ports: Uint32Array;
  dport: Uint16Array;
  proto: Uint8Array;
  /** AFS_* bits. */
  afs: Uint8Array;
  /** Side record of IPv6 words, or -1. */
  v6: Int32Array;
  // Entry state.
  state: Uint8Array;
  flags: Uint32Array;
  /** Destination registry id + 1 (0: none, e.g. a bypass entry). */
  dest: Uint32Array;
  /** Controlling entry (template), or -1. */
  control: Int32Array;
  nControl: Uint32Array;
  timeoutS: Uint32Array;
  inPkts: Uint32Array;
  fwmark: Uint32Array;
  /** Next slot in the hash chain, or in the free list. */
  hnext: Int32Array;

  #buckets: Int32Array;
  #mask: number;
  #capacity: number;
  /** Slots ever handed out (slots >= this were never used). */
  #hiWater = 0;
  #freeHead = -1;
  #size = 0;

  #v6words: Uint32Array;
  #v6free = -1;
  #v6hi = 0;

  constructor(o: ConnTableOptions) {
    this.maxConns = Math.max(1, Math.floor(o.maxConns));
    this.#seed = o.seed >>> 0;
    this.#onGrow = o.onGrow ?? null;
    const cap = Math.min(this.maxConns, Math.max(16, o.initialCapacity ?? 1024));
    this.#capacity = cap;
    this.caddr = new Uint32Array(cap);
    this.vaddr = new Uint32Array(cap);
    this.daddr = new Uint32Array(cap);
    this.ports = new Uint32Array(cap);
    this.dport = new Uint16Array(cap);
    this.proto = new Uint8Array(cap);
    this.afs = new Uint8Array(cap);
    this.v6 = new Int32Array(cap).fill(-1);
    this.state = new Uint8Array(cap);
    this.flags = new Uint32Array(cap);
    this.dest = new Uint32Array(cap);
    this.control = new Int32Array(cap).fill(-1);
    this.nControl = new Uint32Array(cap);
    this.timeoutS = new Uint32Array(cap);
    this.inPkts = new Uint32Array(cap);
    this.fwmark = new Uint32Array(cap);
    this.hnext = new Int32Array(cap).fill(-1);
    const nb = nextPow2(cap);
    this.#buckets = new Int32Array(nb).fill(-1);
    this.#mask = nb - 1;
    this.#v6words = new Uint32Array(0);
  }

  get size(): number {
    return this.#size;
  }

  get capacity(): number {
    return this.#capacity;
  }

  get bucketCount(): number {
    return this.#buckets.length;
  }

  /** Bytes held by every typed array of the table (the memory budget counts these). */
  get bytes(): number {
    return this.caddr.byteLength + this.vaddr.byteLength + this.daddr.byteLength + this.ports.byteLength +
      this.dport.byteLength + this.proto.byteLength + this.afs.byteLength + this.v6.byteLength +
      this.state.byteLength + this.flags.byteLength + this.dest.byteLength + this.control.byteLength +
      this.nControl.byteLength + this.timeoutS.byteLength + this.inPkts.byteLength + this.fwmark.byteLength +
      this.hnext.byteLength + this.#buckets.byteLength + this.#v6words.byteLength;
  }

  inUse(c: number): boolean {
    return c >= 0 && c < this.#hiWater && (this.afs[c] & AFS_IN_USE) !== 0;
  }

  /** Slots to scan for a full walk: every live entry has an index below this. */
  get hiWater(): number {
    return this.#hiWater;
  }

  /** A free slot, marked in use and not hashed, or -1 when the table holds maxConns entries. */
  alloc(): number {
    if (this.#size >= this.maxConns) return -1;
    let c = this.#freeHead;
    if (c >= 0) {
      this.#freeHead = this.hnext[c];
    } else {
      if (this.#hiWater >= this.#capacity) this.#grow();
      c = this.#hiWater++;
    }
    this.#size++;
    this.afs[c] = AFS_IN_USE;
    this.v6[c] = -1;
    this.hnext[c] = -1;
    return c;
  }

  /**
   * Return a slot (already unhashed). Its columns keep their values until the slot is reused,
   * so a caller may still read an entry freed during the current packet (one-packet entries).
   */
  free(c: number): void {
    this.afs[c] &= ~AFS_IN_USE;
    const r = this.v6[c];
    if (r >= 0) {
      this.#v6words[r * 9] = this.#v6free;
      this.#v6free = r;
      this.v6[c] = -1;
    }
    this.hnext[c] = this.#freeHead;
    this.#freeHead = c;
    this.#size--;
  }

  #grow(): void {
    const cap = Math.min(this.maxConns, this.#capacity * 2);
    const g8 = (a: Uint8Array) => { const b = new Uint8Array(cap); b.set(a); return b; };
    const g16 = (a: Uint16Array) => { const b = new Uint16Array(cap); b.set(a); return b; };
    const g32 = (a: Uint32Array) => { const b = new Uint32Array(cap); b.set(a); return b; };
    const gi = (a: Int32Array, fill: number) => { const b = new Int32Array(cap).fill(fill, a.length); b.set(a); return b; };
    this.caddr = g32(this.caddr);
    this.vaddr = g32(this.vaddr);
    this.daddr = g32(this.daddr);
    this.ports = g32(this.ports);
    this.dport = g16(this.dport);
    this.proto = g8(this.proto);
    this.afs = g8(this.afs);
    this.v6 = gi(this.v6, -1);
    this.state = g8(this.state);
    this.flags = g32(this.flags);
    this.dest = g32(this.dest);
    this.control = gi(this.control, -1);
    this.nControl = g32(this.nControl);
    this.timeoutS = g32(this.timeoutS);
    this.inPkts = g32(this.inPkts);
    this.fwmark = g32(this.fwmark);
    this.hnext = gi(this.hnext, -1);
    this.#capacity = cap;
    const nb = nextPow2(cap);
    if (nb > this.#buckets.length) this.#rehash(nb);
    this.#onGrow?.(cap);
  }

  /** Spread every chain over a larger bucket array, keeping the order within each chain. */
  #rehash(nb: number): void {
    const old = this.#buckets;
    const heads = new Int32Array(nb).fill(-1);
    const tails = new Int32Array(nb).fill(-1);
    const mask = nb - 1;
    for (let b = 0; b < old.length; b++) {
      for (let c = old[b]; c >= 0;) {
        const next = this.hnext[c];
        const h = this.#hashOfEntry(c) & mask;
        this.hnext[c] = -1;
        if (tails[h] >= 0) this.hnext[tails[h]] = c;
        else heads[h] = c;
        tails[h] = c;
        c = next;
      }
    }
    this.#buckets = heads;
    this.#mask = mask;
  }

  // ---- addresses ----

  /** Store the three addresses of slot `c`; words 1..3 matter only for IPv6. */
  setAddrs(
    c: number, af: Af, daf: Af,
    c0: number, c1: number, c2: number, c3: number,
    v0: number, v1: number, v2: number, v3: number,
    d0: number, d1: number, d2: number, d3: number,
  ): void {
    this.caddr[c] = c0;
    this.vaddr[c] = v0;
    this.daddr[c] = d0;
    let a = this.afs[c] & ~(AFS_V6 | AFS_DAF_V6);
    if (af === AF_INET6) a |= AFS_V6;
    if (daf === AF_INET6) a |= AFS_DAF_V6;
    this.afs[c] = a;
    if (a & (AFS_V6 | AFS_DAF_V6)) {
      let r = this.v6[c];
      if (r < 0) r = this.v6[c] = this.#v6alloc();
      const w = this.#v6words;
      const o = r * 9;
      w[o] = c1; w[o + 1] = c2; w[o + 2] = c3;
      w[o + 3] = v1; w[o + 4] = v2; w[o + 5] = v3;
      w[o + 6] = d1; w[o + 7] = d2; w[o + 8] = d3;
    }
  }

  #v6alloc(): number {
    if (this.#v6free >= 0) {
      const r = this.#v6free;
      this.#v6free = this.#v6words[r * 9] | 0; // the link is stored as u32: -1 reads back as 2^32-1
      return r;
    }
    if ((this.#v6hi + 1) * 9 > this.#v6words.length) {
      const w = new Uint32Array(Math.max(9 * 64, this.#v6words.length * 2));
      w.set(this.#v6words);
      this.#v6words = w;
    }
    return this.#v6hi++;
  }

  /** Word `i` (0..3) of address `which` (0 caddr, 1 vaddr, 2 daddr) of slot `c`. */
  addrWord(c: number, which: 0 | 1 | 2, i: number): number {
    if (i === 0) return which === 0 ? this.caddr[c] : which === 1 ? this.vaddr[c] : this.daddr[c];
    const r = this.v6[c];
    return r < 0 ? 0 : this.#v6words[r * 9 + which * 3 + i - 1];
  }

  // ---- hashing ----

  #hashKey(v6: boolean, proto: number, a0: number, a1: number, a2: number, a3: number, port: number): number {
    let h = Math.imul(a0 ^ this.#seed, 0x9e3779b1);
    if (v6) {
      h = Math.imul(h ^ a1, 0x85ebca6b);
      h = Math.imul(h ^ a2, 0xc2b2ae35);
      h = Math.imul(h ^ a3, 0x27d4eb2f);
      h ^= 0x5bd1e995;
    }
    h ^= (port << 8) | proto;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
  }

  #hashOfEntry(c: number): number {
    const v6 = (this.afs[c] & AFS_V6) !== 0;
    const r = this.v6[c];
    const w = this.#v6words;
    return this.#hashKey(v6, this.proto[c], this.caddr[c], v6 ? w[r * 9] : 0, v6 ? w[r * 9 + 1] : 0,
      v6 ? w[r * 9 + 2] : 0, this.ports[c] >>> 16);
  }

  /** ip_vs_conn_hash: put slot `c` at the head of its chain. */
  hash(c: number): void {
    const b = this.#hashOfEntry(c) & this.#mask;
    this.hnext[c] = this.#buckets[b];
    this.#buckets[b] = c;
  }

  /** ip_vs_conn_unhash: take slot `c` out of its chain (it must be hashed). */
  unhash(c: number): void {
    const b = this.#hashOfEntry(c) & this.#mask;
    let p = -1;
    for (let i = this.#buckets[b]; i >= 0; i = this.hnext[i]) {
      if (i === c) {
        if (p < 0) this.#buckets[b] = this.hnext[c];
        else this.hnext[p] = this.hnext[c];
        this.hnext[c] = -1;
        return;
      }
      p = i;
    }
  }

  /** First slot of bucket `b` (for ordered walks), or -1. */
  bucketHead(b: number): number {
    return this.#buckets[b];
  }

  #sameV6(r: number, off: number, w1: number, w2: number, w3: number): boolean {
    const w = this.#v6words;
    const o = r * 9 + off;
    return w[o] === w1 && w[o + 1] === w2 && w[o + 2] === w3;
  }

  // ---- lookups ----

  /**
   * __ip_vs_conn_in_get for a client→virtual packet: protocol, client address and port,
   * virtual address and port, with the NO_CPORT rule. Allocates nothing.
   */
  findIn(f: Flow): number {
    const v6 = f.af === AF_INET6;
    const proto = f.protocol;
    const s0 = f.s0, cport = f.sport, vport = f.dport, d0 = f.d0;
    const key = ((cport << 16) | vport) >>> 0;
    const noCport = cport === 0;
    const wantAfs = v6 ? AFS_V6 : 0;
    let c = this.#buckets[this.#hashKey(v6, proto, s0, f.s1, f.s2, f.s3, cport) & this.#mask];
    for (; c >= 0; c = this.hnext[c]) {
      if (this.ports[c] !== key || this.caddr[c] !== s0 || this.vaddr[c] !== d0 || this.proto[c] !== proto) continue;
      if ((this.afs[c] & AFS_V6) !== wantAfs) continue;
      if (noCport === ((this.flags[c] & IP_VS_CONN_F_NO_CPORT) === 0)) continue;
      if (v6) {
        const r = this.v6[c];
        if (!this.#sameV6(r, 0, f.s1, f.s2, f.s3) || !this.#sameV6(r, 3, f.d1, f.d2, f.d3)) continue;
      }
      return c;
    }
    return -1;
  }

  /**
   * ip_vs_conn_out_get for a real server→client packet (f.s* = server, f.d* = client): the
   * entry whose client is the packet's destination and whose destination (NAT) or virtual
   * address (other methods) is the packet's source.
   */
  findOut(f: Flow): number {
    const v6 = f.af === AF_INET6;
    const proto = f.protocol;
    const c0 = f.d0, cport = f.dport, s0 = f.s0, sport = f.sport;
    const wantAfs = v6 ? AFS_V6 : 0;
    let c = this.#buckets[this.#hashKey(v6, proto, c0, f.d1, f.d2, f.d3, cport) & this.#mask];
    for (; c >= 0; c = this.hnext[c]) {
      const ports = this.ports[c];
      if (ports >>> 16 !== cport || this.caddr[c] !== c0 || this.proto[c] !== proto) continue;
      if ((this.afs[c] & AFS_V6) !== wantAfs) continue;
      const masq = (this.flags[c] & IP_VS_CONN_F_FWD_MASK) === IP_VS_CONN_F_MASQ;
      if (masq) {
        if (this.dport[c] !== sport || this.daddr[c] !== s0) continue;
      } else if ((ports & 0xffff) !== sport || this.vaddr[c] !== s0) {
        continue;
      }
      if (v6) {
        const r = this.v6[c];
        if (!this.#sameV6(r, 0, f.d1, f.d2, f.d3) || !this.#sameV6(r, masq ? 6 : 3, f.s1, f.s2, f.s3)) continue;
      }
      return c;
    }
    return -1;
  }

  /**
   * ip_vs_ct_in_get: a persistence template (client network, cport 0). For protocol 0 (fwmark
   * templates) the virtual "address" is the mark and only its first word is compared, as
   * ip_vs_addr_equal(AF_UNSPEC, ...) does.
   */
  findTemplate(
    af: Af, proto: number, c0: number, c1: number, c2: number, c3: number,
    v0: number, v1: number, v2: number, v3: number, vport: number,
  ): number {
    const v6 = af === AF_INET6;
    const wantAfs = v6 ? AFS_V6 : 0;
    const key = vport & 0xffff;
    let c = this.#buckets[this.#hashKey(v6, proto, c0, c1, c2, c3, 0) & this.#mask];
    for (; c >= 0; c = this.hnext[c]) {
      if (this.ports[c] !== key || this.caddr[c] !== c0 || this.vaddr[c] !== v0 || this.proto[c] !== proto) continue;
      if (!(this.flags[c] & IP_VS_CONN_F_TEMPLATE) || (this.afs[c] & AFS_V6) !== wantAfs) continue;
      if (v6) {
        const r = this.v6[c];
        if (!this.#sameV6(r, 0, c1, c2, c3)) continue;
        if (proto !== 0 && !this.#sameV6(r, 3, v1, v2, v3)) continue;
      }
      return c;
    }
    return -1;
  }
}
