/**
 * The connection table (ip_vs_conn_tab and struct ip_vs_conn, net/netfilter/ipvs/ip_vs_conn.c)
 * in typed arrays indexed by slot: no object per entry. Each entry is one 64-byte record (16
 * u32 words, one cache line) in a single Uint32Array: a packet for an established flow touches
 * its bucket and its record, not a dozen columns spread over memory. Slots chain into hash
 * buckets through the record's `hnext` word (index-linked chains, new entries at the head as
 * hlist_add_head_rcu); free slots chain through the same word.
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

/** Words per record and the word of each field. */
export const REC_WORDS = 16;
const R_CADDR = 0;
const R_VADDR = 1;
/** cport << 16 | vport. */
const R_PORTS = 2;
/** Next slot in the hash chain or the free list (signed). */
const R_HNEXT = 3;
/** protocol (bits 0-7) | AFS_* (bits 8-15) | state (bits 16-23). */
const R_META = 4;
const R_FLAGS = 5;
/** Destination registry id + 1 (0: none, e.g. a bypass entry). */
const R_DEST = 6;
const R_TIMEOUT = 7;
const R_INPKTS = 8;
/** Controlling entry (template), or -1 (signed). */
const R_CONTROL = 9;
const R_NCONTROL = 10;
const R_DADDR = 11;
const R_DPORT = 12;
const R_FWMARK = 13;
/** Side record of IPv6 words, or -1 (signed). */
const R_V6 = 14;

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

  /** The records, REC_WORDS words per slot. */
  #rec: Uint32Array;
  #buckets: Int32Array;
  #mask: number;
  #capacity: number;
  /** Slots ever handed out (slots >= this were never used). */
  #hiWater = 0;
  #freeHead = -1;
  #size = 0;

  #v6words: Uint32Array;
  /** Free-list links of the IPv6 records. */
  #v6next = new Int32Array(0);
  #v6free = -1;
  #v6hi = 0;

  constructor(o: ConnTableOptions) {
    this.maxConns = Math.max(1, Math.floor(o.maxConns));
    this.#seed = o.seed >>> 0;
    this.#onGrow = o.onGrow ?? null;
    const cap = Math.min(this.maxConns, Math.max(16, o.initialCapacity ?? 1024));
    this.#capacity = cap;
    this.#rec = new Uint32Array(cap * REC_WORDS);
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
    return this.#rec.byteLength + this.#buckets.byteLength + this.#v6words.byteLength + this.#v6next.byteLength;
  }

  inUse(c: number): boolean {
    return c >= 0 && c < this.#hiWater && ((this.#rec[c * REC_WORDS + R_META] >>> 8) & AFS_IN_USE) !== 0;
  }

  /** Slots to scan for a full walk: every live entry has an index below this. */
  get hiWater(): number {
    return this.#hiWater;
  }

  /** A free slot, marked in use, zeroed (control/v6 -1) and not hashed; -1 when the table holds maxConns entries. */
  alloc(): number {
    if (this.#size >= this.maxConns) return -1;
    let c = this.#freeHead;
    if (c >= 0) {
      this.#freeHead = this.#rec[c * REC_WORDS + R_HNEXT] | 0;
    } else {
      if (this.#hiWater >= this.#capacity) this.#grow();
      c = this.#hiWater++;
    }
    this.#size++;
    const o = c * REC_WORDS;
    const r = this.#rec;
    r.fill(0, o, o + REC_WORDS);
    r[o + R_META] = AFS_IN_USE << 8;
    r[o + R_HNEXT] = -1;
    r[o + R_CONTROL] = -1;
    r[o + R_V6] = -1;
    return c;
  }

  /**
   * Return a slot (already unhashed). Its fields keep their values until the slot is reused,
   * so a caller may still read an entry freed during the current packet (one-packet entries).
   */
  free(c: number): void {
    const o = c * REC_WORDS;
    const r = this.#rec;
    r[o + R_META] &= ~(AFS_IN_USE << 8);
    // The IPv6 record goes back to its free list but stays readable (and referenced by the
    // freed record) until it is allocated again, like the rest of the entry.
    const v = r[o + R_V6] | 0;
    if (v >= 0) {
      this.#v6next[v] = this.#v6free;
      this.#v6free = v;
    }
    r[o + R_HNEXT] = this.#freeHead;
    this.#freeHead = c;
    this.#size--;
  }

  #grow(): void {
    const cap = Math.min(this.maxConns, this.#capacity * 2);
    const rec = new Uint32Array(cap * REC_WORDS);
    rec.set(this.#rec);
    this.#rec = rec;
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
    const r = this.#rec;
    for (let b = 0; b < old.length; b++) {
      for (let c = old[b]; c >= 0;) {
        const next = r[c * REC_WORDS + R_HNEXT] | 0;
        const h = this.#hashOfEntry(c) & mask;
        r[c * REC_WORDS + R_HNEXT] = -1;
        if (tails[h] >= 0) r[tails[h] * REC_WORDS + R_HNEXT] = c;
        else heads[h] = c;
        tails[h] = c;
        c = next;
      }
    }
    this.#buckets = heads;
    this.#mask = mask;
  }

  // ---- fields ----

  proto(c: number): number { return this.#rec[c * REC_WORDS + R_META] & 0xff; }
  setProto(c: number, p: number): void {
    const o = c * REC_WORDS + R_META;
    this.#rec[o] = (this.#rec[o] & ~0xff) | (p & 0xff);
  }
  /** AFS_* bits. */
  afs(c: number): number { return (this.#rec[c * REC_WORDS + R_META] >>> 8) & 0xff; }
  state(c: number): number { return (this.#rec[c * REC_WORDS + R_META] >>> 16) & 0xff; }
  setState(c: number, st: number): void {
    const o = c * REC_WORDS + R_META;
    this.#rec[o] = (this.#rec[o] & ~0xff0000) | ((st & 0xff) << 16);
  }
  flags(c: number): number { return this.#rec[c * REC_WORDS + R_FLAGS]; }
  setFlags(c: number, v: number): void { this.#rec[c * REC_WORDS + R_FLAGS] = v; }
  /** Destination registry id + 1, 0 for none. */
  dest(c: number): number { return this.#rec[c * REC_WORDS + R_DEST]; }
  setDest(c: number, v: number): void { this.#rec[c * REC_WORDS + R_DEST] = v; }
  timeoutS(c: number): number { return this.#rec[c * REC_WORDS + R_TIMEOUT]; }
  setTimeoutS(c: number, v: number): void { this.#rec[c * REC_WORDS + R_TIMEOUT] = v; }
  inPkts(c: number): number { return this.#rec[c * REC_WORDS + R_INPKTS]; }
  incInPkts(c: number): void { this.#rec[c * REC_WORDS + R_INPKTS]++; }
  control(c: number): number { return this.#rec[c * REC_WORDS + R_CONTROL] | 0; }
  setControl(c: number, v: number): void { this.#rec[c * REC_WORDS + R_CONTROL] = v; }
  nControl(c: number): number { return this.#rec[c * REC_WORDS + R_NCONTROL]; }
  setNControl(c: number, v: number): void { this.#rec[c * REC_WORDS + R_NCONTROL] = v; }
  /** cport << 16 | vport. */
  ports(c: number): number { return this.#rec[c * REC_WORDS + R_PORTS]; }
  setPorts(c: number, cport: number, vport: number): void { this.#rec[c * REC_WORDS + R_PORTS] = ((cport << 16) | (vport & 0xffff)) >>> 0; }
  cport(c: number): number { return this.#rec[c * REC_WORDS + R_PORTS] >>> 16; }
  vport(c: number): number { return this.#rec[c * REC_WORDS + R_PORTS] & 0xffff; }
  dport(c: number): number { return this.#rec[c * REC_WORDS + R_DPORT]; }
  setDport(c: number, v: number): void { this.#rec[c * REC_WORDS + R_DPORT] = v & 0xffff; }
  fwmark(c: number): number { return this.#rec[c * REC_WORDS + R_FWMARK]; }
  setFwmark(c: number, v: number): void { this.#rec[c * REC_WORDS + R_FWMARK] = v; }
  /** Next slot of the hash chain, or -1. */
  hnext(c: number): number { return this.#rec[c * REC_WORDS + R_HNEXT] | 0; }

  // ---- addresses ----

  /** Store the three addresses of slot `c`; words 1..3 matter only for IPv6. */
  setAddrs(
    c: number, af: Af, daf: Af,
    c0: number, c1: number, c2: number, c3: number,
    v0: number, v1: number, v2: number, v3: number,
    d0: number, d1: number, d2: number, d3: number,
  ): void {
    const o = c * REC_WORDS;
    const rec = this.#rec;
    rec[o + R_CADDR] = c0;
    rec[o + R_VADDR] = v0;
    rec[o + R_DADDR] = d0;
    let a = ((rec[o + R_META] >>> 8) & 0xff) & ~(AFS_V6 | AFS_DAF_V6);
    if (af === AF_INET6) a |= AFS_V6;
    if (daf === AF_INET6) a |= AFS_DAF_V6;
    rec[o + R_META] = (rec[o + R_META] & ~0xff00) | (a << 8);
    if (a & (AFS_V6 | AFS_DAF_V6)) {
      let r = rec[o + R_V6] | 0;
      if (r < 0) {
        r = this.#v6alloc();
        rec[o + R_V6] = r;
      }
      const w = this.#v6words;
      const x = r * 9;
      w[x] = c1; w[x + 1] = c2; w[x + 2] = c3;
      w[x + 3] = v1; w[x + 4] = v2; w[x + 5] = v3;
      w[x + 6] = d1; w[x + 7] = d2; w[x + 8] = d3;
    }
  }

  #v6alloc(): number {
    if (this.#v6free >= 0) {
      const r = this.#v6free;
      this.#v6free = this.#v6next[r];
      return r;
    }
    if ((this.#v6hi + 1) * 9 > this.#v6words.length) {
      const n = Math.max(64, this.#v6next.length * 2);
      const w = new Uint32Array(n * 9);
      w.set(this.#v6words);
      this.#v6words = w;
      const l = new Int32Array(n);
      l.set(this.#v6next);
      this.#v6next = l;
    }
    return this.#v6hi++;
  }

  /** Word `i` (0..3) of address `which` (0 caddr, 1 vaddr, 2 daddr) of slot `c`. */
  addrWord(c: number, which: 0 | 1 | 2, i: number): number {
    const o = c * REC_WORDS;
    if (i === 0) return this.#rec[o + (which === 0 ? R_CADDR : which === 1 ? R_VADDR : R_DADDR)];
    const r = this.#rec[o + R_V6] | 0;
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
    const o = c * REC_WORDS;
    const rec = this.#rec;
    const meta = rec[o + R_META];
    const v6 = ((meta >>> 8) & AFS_V6) !== 0;
    const r = rec[o + R_V6] | 0;
    const w = this.#v6words;
    return this.#hashKey(v6, meta & 0xff, rec[o + R_CADDR], v6 ? w[r * 9] : 0, v6 ? w[r * 9 + 1] : 0,
      v6 ? w[r * 9 + 2] : 0, rec[o + R_PORTS] >>> 16);
  }

  /** ip_vs_conn_hash: put slot `c` at the head of its chain. */
  hash(c: number): void {
    const b = this.#hashOfEntry(c) & this.#mask;
    this.#rec[c * REC_WORDS + R_HNEXT] = this.#buckets[b];
    this.#buckets[b] = c;
  }

  /** ip_vs_conn_unhash: take slot `c` out of its chain (it must be hashed). */
  unhash(c: number): void {
    const b = this.#hashOfEntry(c) & this.#mask;
    const rec = this.#rec;
    let p = -1;
    for (let i = this.#buckets[b]; i >= 0; i = rec[i * REC_WORDS + R_HNEXT] | 0) {
      if (i === c) {
        const next = rec[c * REC_WORDS + R_HNEXT];
        if (p < 0) this.#buckets[b] = next | 0;
        else rec[p * REC_WORDS + R_HNEXT] = next;
        rec[c * REC_WORDS + R_HNEXT] = -1;
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
    const wantMeta = proto | (v6 ? AFS_V6 << 8 : 0);
    const rec = this.#rec;
    let c = this.#buckets[this.#hashKey(v6, proto, s0, f.s1, f.s2, f.s3, cport) & this.#mask];
    while (c >= 0) {
      const o = c * REC_WORDS;
      if (rec[o + R_PORTS] === key && rec[o + R_CADDR] === s0 && rec[o + R_VADDR] === d0 &&
        (rec[o + R_META] & (0xff | (AFS_V6 << 8))) === wantMeta &&
        noCport !== ((rec[o + R_FLAGS] & IP_VS_CONN_F_NO_CPORT) === 0)) {
        if (!v6) return c;
        const r = rec[o + R_V6] | 0;
        if (this.#sameV6(r, 0, f.s1, f.s2, f.s3) && this.#sameV6(r, 3, f.d1, f.d2, f.d3)) return c;
      }
      c = rec[o + R_HNEXT] | 0;
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
    const wantMeta = proto | (v6 ? AFS_V6 << 8 : 0);
    const rec = this.#rec;
    let c = this.#buckets[this.#hashKey(v6, proto, c0, f.d1, f.d2, f.d3, cport) & this.#mask];
    for (; c >= 0; c = rec[c * REC_WORDS + R_HNEXT] | 0) {
      const o = c * REC_WORDS;
      const ports = rec[o + R_PORTS];
      if (ports >>> 16 !== cport || rec[o + R_CADDR] !== c0) continue;
      if ((rec[o + R_META] & (0xff | (AFS_V6 << 8))) !== wantMeta) continue;
      const masq = (rec[o + R_FLAGS] & IP_VS_CONN_F_FWD_MASK) === IP_VS_CONN_F_MASQ;
      if (masq) {
        if (rec[o + R_DPORT] !== sport || rec[o + R_DADDR] !== s0) continue;
      } else if ((ports & 0xffff) !== sport || rec[o + R_VADDR] !== s0) {
        continue;
      }
      if (v6) {
        const r = rec[o + R_V6] | 0;
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
    const wantMeta = proto | (v6 ? AFS_V6 << 8 : 0);
    const key = vport & 0xffff;
    const rec = this.#rec;
    let c = this.#buckets[this.#hashKey(v6, proto, c0, c1, c2, c3, 0) & this.#mask];
    for (; c >= 0; c = rec[c * REC_WORDS + R_HNEXT] | 0) {
      const o = c * REC_WORDS;
      if (rec[o + R_PORTS] !== key || rec[o + R_CADDR] !== c0 || rec[o + R_VADDR] !== v0) continue;
      if (!(rec[o + R_FLAGS] & IP_VS_CONN_F_TEMPLATE) || (rec[o + R_META] & (0xff | (AFS_V6 << 8))) !== wantMeta) continue;
      if (v6) {
        const r = rec[o + R_V6] | 0;
        if (!this.#sameV6(r, 0, c1, c2, c3)) continue;
        if (proto !== 0 && !this.#sameV6(r, 3, v1, v2, v3)) continue;
      }
      return c;
    }
    return -1;
  }
}
