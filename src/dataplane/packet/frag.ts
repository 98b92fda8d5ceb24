/**
 * Fragments follow their first fragment. The kernel reassembles before IPVS sees a datagram
 * (nf_defrag, ip_vs_gather_frags) and fragments it again on the way out; this dataplane instead
 * remembers, per datagram (addresses, IP ID, protocol), the connection its first fragment was
 * forwarded on, and sends the later fragments the same way (addresses rewritten for NAT; their
 * bytes carry no transport header, and the first fragment's transport checksum was updated for
 * the whole datagram). Later fragments that arrive before the first are dropped, as are
 * fragments of datagrams not seen within FRAG_TIMEOUT_MS (ipfrag_time, 30 s).
 * Fragments are rare, so entries are keyed by strings: this path may allocate.
 */
export const FRAG_TIMEOUT_MS = 30_000;
export const FRAG_MAX_ENTRIES = 4096;

interface Entry { conn: number; dir: 0 | 1; expiresMs: number }

export class FragTable {
  readonly #m = new Map<string, Entry>();

  get size(): number {
    return this.#m.size;
  }

  remember(key: string, conn: number, dir: 0 | 1, nowMs: number): void {
    if (this.#m.size >= FRAG_MAX_ENTRIES && !this.#m.has(key)) {
      const oldest = this.#m.keys().next().value;
      if (oldest !== undefined) this.#m.delete(oldest);
    }
    this.#m.set(key, { conn, dir, expiresMs: nowMs + FRAG_TIMEOUT_MS });
  }

  /** The connection of the datagram, or -1; `dirOut` receives its direction. */
  lookup(key: string, nowMs: number, dirOut: Int8Array): number {
    const e = this.#m.get(key);
    if (e === undefined) return -1;
    if (e.expiresMs < nowMs) {
      this.#m.delete(key);
      return -1;
    }
    dirOut[0] = e.dir;
    return e.conn;
  }

  /** Drops expired entries (called from housekeeping). */
  expire(nowMs: number): void {
    for (const [k, e] of this.#m) if (e.expiresMs < nowMs) this.#m.delete(k);
  }
}
