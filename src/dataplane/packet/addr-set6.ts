/**
 * A reference-counted set of IPv6 addresses that answers `has(w0, w1, w2, w3)` without
 * allocating: addresses live as four u32 words in a typed array, bucketed by the XOR of their
 * words (the fold IPVS hashes with), and a lookup scans one bucket. Adding and removing happen
 * on table changes only.
 */
export class AddrSet6 {
  #words = new Uint32Array(64);
  readonly #refs: number[] = [];
  readonly #free: number[] = [];
  readonly #byFold = new Map<number, number[]>();
  #n = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  #find(w0: number, w1: number, w2: number, w3: number): number {
    const list = this.#byFold.get((w0 ^ w1 ^ w2 ^ w3) >>> 0);
    if (list === undefined) return -1;
    const w = this.#words;
    for (let i = 0; i < list.length; i++) {
      const s = list[i] * 4;
      if (w[s] === w0 >>> 0 && w[s + 1] === w1 >>> 0 && w[s + 2] === w2 >>> 0 && w[s + 3] === w3 >>> 0) return list[i];
    }
    return -1;
  }

  has(w0: number, w1: number, w2: number, w3: number): boolean {
    return this.#size > 0 && this.#find(w0, w1, w2, w3) >= 0;
  }

  add(w0: number, w1: number, w2: number, w3: number): void {
    const at = this.#find(w0, w1, w2, w3);
    if (at >= 0) { this.#refs[at]++; return; }
    const s = this.#free.length > 0 ? this.#free.pop()! : this.#n++;
    if ((s + 1) * 4 > this.#words.length) {
      const g = new Uint32Array(this.#words.length * 2);
      g.set(this.#words);
      this.#words = g;
    }
    this.#words.set([w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0], s * 4);
    this.#refs[s] = 1;
    const fold = (w0 ^ w1 ^ w2 ^ w3) >>> 0;
    const list = this.#byFold.get(fold);
    if (list) list.push(s); else this.#byFold.set(fold, [s]);
    this.#size++;
  }

  delete(w0: number, w1: number, w2: number, w3: number): void {
    const at = this.#find(w0, w1, w2, w3);
    if (at < 0 || --this.#refs[at] > 0) return;
    const fold = (w0 ^ w1 ^ w2 ^ w3) >>> 0;
    const list = this.#byFold.get(fold)!;
    list.splice(list.indexOf(at), 1);
    if (list.length === 0) this.#byFold.delete(fold);
    this.#words.fill(0, at * 4, at * 4 + 4);
    this.#free.push(at);
    this.#size--;
  }
}
