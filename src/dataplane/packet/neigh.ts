/**
 * The dataplane's own neighbour table (IPv4 ARP, RFC 826): the link-layer addresses of the real
 * servers (or of the gateway in front of them) it forwards to. The kernel's ARP cache cannot be
 * used from an AF_PACKET socket, and the director's stack does not even know these addresses
 * as next hops, so the dataplane asks itself: a request when an address is first wanted, again
 * every RETRY_MS while unanswered, and a refresh every REFRESH_MS; any ARP frame whose sender
 * address is wanted updates the entry (RFC 826's "merge" step). Entries are typed-array slots;
 * lookups allocate nothing.
 */

export const NUD_NONE = 0;
export const NUD_INCOMPLETE = 1;
export const NUD_REACHABLE = 2;
/** Answered once, but not for REFRESH_MS + STALE_AFTER_MS: still used, still asked. */
export const NUD_STALE = 3;

export const RETRY_MS = 1000;
export const REFRESH_MS = 30_000;
export const STALE_AFTER_MS = 3 * RETRY_MS;

export class NeighTable {
  readonly #slot = new Map<number, number>();
  #cap: number;
  macs: Uint8Array;
  ip4: Uint32Array;
  state: Uint8Array;
  /** Users of the entry (destinations resolving through it). */
  refs: Uint32Array;
  lastReqMs: Float64Array;
  confirmedMs: Float64Array;
  readonly #free: number[] = [];
  #used = 0;

  constructor(cap = 64) {
    this.#cap = cap;
    this.macs = new Uint8Array(cap * 6);
    this.ip4 = new Uint32Array(cap);
    this.state = new Uint8Array(cap);
    this.refs = new Uint32Array(cap);
    this.lastReqMs = new Float64Array(cap);
    this.confirmedMs = new Float64Array(cap);
  }

  get size(): number {
    return this.#slot.size;
  }

  /** Slot of ip when its MAC is known (REACHABLE or STALE), else -1. */
  lookup(ip: number): number {
    const s = this.#slot.get(ip);
    if (s === undefined) return -1;
    const st = this.state[s];
    return st === NUD_REACHABLE || st === NUD_STALE ? s : -1;
  }

  has(ip: number): boolean {
    return this.#slot.has(ip);
  }

  /** Starts (or shares) resolution of ip; returns its slot. */
  want(ip: number): number {
    const key = ip >>> 0;
    let s = this.#slot.get(key);
    if (s !== undefined) {
      this.refs[s]++;
      return s;
    }
    s = this.#free.length > 0 ? this.#free.pop()! : this.#used++;
    if (s >= this.#cap) this.#grow();
    this.#slot.set(key, s);
    this.ip4[s] = key;
    this.state[s] = NUD_INCOMPLETE;
    this.refs[s] = 1;
    this.lastReqMs[s] = -Infinity;
    this.confirmedMs[s] = 0;
    return s;
  }

  /** Drops one user of ip; the entry goes when the last one does. */
  release(ip: number): void {
    const key = ip >>> 0;
    const s = this.#slot.get(key);
    if (s === undefined) return;
    if (--this.refs[s] > 0) return;
    this.#slot.delete(key);
    this.state[s] = NUD_NONE;
    this.#free.push(s);
  }

  /** An ARP frame said ip is at mac: update a wanted entry. Returns true if it was wanted. */
  learn(ip: number, mac: Uint8Array, macOff: number, nowMs: number): boolean {
    const s = this.#slot.get(ip >>> 0);
    if (s === undefined) return false;
    const o = s * 6;
    for (let i = 0; i < 6; i++) this.macs[o + i] = mac[macOff + i];
    this.state[s] = NUD_REACHABLE;
    this.confirmedMs[s] = nowMs;
    return true;
  }

  /**
   * Addresses to ask for now (written into `out`, at most out.length); marks them asked.
   * Unanswered entries are asked every RETRY_MS; answered ones every REFRESH_MS, and turn
   * STALE (still used) when a refresh goes unanswered.
   */
  due(nowMs: number, out: Uint32Array): number {
    let n = 0;
    for (const [ip, s] of this.#slot) {
      if (n === out.length) break;
      const st = this.state[s];
      const since = nowMs - this.lastReqMs[s];
      let ask = false;
      if (st === NUD_INCOMPLETE) ask = since >= RETRY_MS;
      else {
        if (st === NUD_REACHABLE && nowMs - this.confirmedMs[s] > REFRESH_MS + STALE_AFTER_MS) this.state[s] = NUD_STALE;
        ask = nowMs - this.confirmedMs[s] >= REFRESH_MS && since >= RETRY_MS;
      }
      if (ask) {
        this.lastReqMs[s] = nowMs;
        out[n++] = ip;
      }
    }
    return n;
  }

  #grow(): void {
    const cap = this.#cap * 2;
    const macs = new Uint8Array(cap * 6); macs.set(this.macs); this.macs = macs;
    const ip4 = new Uint32Array(cap); ip4.set(this.ip4); this.ip4 = ip4;
    const state = new Uint8Array(cap); state.set(this.state); this.state = state;
    const refs = new Uint32Array(cap); refs.set(this.refs); this.refs = refs;
    const lr = new Float64Array(cap); lr.set(this.lastReqMs); this.lastReqMs = lr;
    const cm = new Float64Array(cap); cm.set(this.confirmedMs); this.confirmedMs = cm;
    this.#cap = cap;
  }
}
