/**
 * IP addresses as IPVS keeps them: an address family and 128 bits as four host-order u32 words.
 * IPv4 uses w0 only (w1..w3 = 0), so `fold()` is the kernel's ip_vs_addr_fold/ipv6 xor fold for
 * both families (include/net/ip_vs.h, ip_vs_sh.c ip_vs_sh_hashkey).
 * Text forms follow glibc's inet_ntop (what ipvsadm prints) and inet_aton (what ipvsadm accepts).
 */

export const AF_INET = 2;
export const AF_INET6 = 10;
export type Af = typeof AF_INET | typeof AF_INET6;

export class IpAddr {
  readonly af: Af;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;

  constructor(af: Af, w0: number, w1 = 0, w2 = 0, w3 = 0) {
    this.af = af;
    this.w0 = w0 >>> 0;
    this.w1 = w1 >>> 0;
    this.w2 = w2 >>> 0;
    this.w3 = w3 >>> 0;
  }

  static v4(u32: number): IpAddr {
    return new IpAddr(AF_INET, u32);
  }

  /** XOR of the four words; for IPv4 the address itself. */
  fold(): number {
    return (this.w0 ^ this.w1 ^ this.w2 ^ this.w3) >>> 0;
  }

  equals(o: IpAddr): boolean {
    return this.af === o.af && this.w0 === o.w0 && this.w1 === o.w1 && this.w2 === o.w2 && this.w3 === o.w3;
  }

  /** A string usable as a Map key; distinct for distinct (af, address). */
  key(): string {
    return this.af === AF_INET ? String(this.w0) : `${this.w0}.${this.w1}.${this.w2}.${this.w3}`;
  }

  isV4(): boolean {
    return this.af === AF_INET;
  }

  /** inet_ntop text: dotted quad or RFC 5952 IPv6 as glibc prints it. */
  toString(): string {
    return this.af === AF_INET ? formatIPv4(this.w0) : formatIPv6(this.words());
  }

  words(): [number, number, number, number] {
    return [this.w0, this.w1, this.w2, this.w3];
  }

  /** The IPVS persistence mask: IPv4 `addr & mask`, IPv6 a prefix of `plen` bits. */
  masked(mask: number): IpAddr {
    if (this.af === AF_INET) return new IpAddr(AF_INET, (this.w0 & mask) >>> 0);
    const m = prefixWords(mask);
    return new IpAddr(AF_INET6, this.w0 & m[0], this.w1 & m[1], this.w2 & m[2], this.w3 & m[3]);
  }
}

function prefixWords(plen: number): [number, number, number, number] {
  const out: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, plen - i * 32));
    out[i] = bits === 0 ? 0 : bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
  }
  return out;
}

export const ANY4 = new IpAddr(AF_INET, 0);

export function formatIPv4(u32: number): string {
  return `${u32 >>> 24}.${(u32 >>> 16) & 255}.${(u32 >>> 8) & 255}.${u32 & 255}`;
}

/** glibc inet_ntop6: longest run (>= 2) of zero groups becomes "::"; ::a.b.c.d and ::ffff:a.b.c.d forms. */
export function formatIPv6(w: readonly number[]): string {
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(w[i] >>> 16, w[i] & 0xffff);
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (g[i] === 0) {
      if (curBase === -1) { curBase = i; curLen = 1; } else curLen++;
    } else if (curBase !== -1) {
      if (bestBase === -1 || curLen > bestLen) { bestBase = curBase; bestLen = curLen; }
      curBase = -1;
    }
  }
  if (curBase !== -1 && (bestBase === -1 || curLen > bestLen)) { bestBase = curBase; bestLen = curLen; }
  if (bestBase !== -1 && bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && g[5] === 0xffff))) {
      out += formatIPv4(w[3]);
      break;
    }
    out += g[i].toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** Full zero-padded form used by /proc/net/ip_vs (%pI6). */
export function formatIPv6Full(w: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < 4; i++) {
    parts.push((w[i] >>> 16).toString(16).padStart(4, '0'), (w[i] & 0xffff).toString(16).padStart(4, '0'));
  }
  return parts.join(':');
}

/**
 * Strict dotted quad (a.b.c.d, each part 1 to 3 decimal digits, 0..255), or null. A loop rather
 * than a regex and its match array: big tables (a 110,000-line restore, the /proc files) parse
 * one address per line.
 */
export function parseIPv4(s: string): number | null {
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return null;
      v = v * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return null;
    } else {
      return null;
    }
  }
  if (digits === 0 || dots !== 3) return null;
  return v * 256 + part;
}

/**
 * glibc inet_aton: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x); the last part fills
 * the remaining bytes. So "10.1" is 10.0.0.1 and "16909065" is 1.2.3.9, as ipvsadm accepts them.
 */
export function inetAton(s: string): number | null {
  if (s.length === 0) return null;
  const parts = s.split('.');
  if (parts.length > 4) return null;
  const vals: number[] = [];
  for (const p of parts) {
    let v: number;
    if (/^0[xX][0-9a-fA-F]*$/.test(p)) v = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]*$/.test(p)) v = p.length === 1 ? 0 : parseInt(p.slice(1), 8);
    else if (/^[1-9][0-9]*$/.test(p)) v = Number(p);
    else return null;
    if (!Number.isFinite(v) || v > 0xffffffff) return null;
    vals.push(v);
  }
  const n = vals.length;
  for (let i = 0; i < n - 1; i++) if (vals[i] > 255) return null;
  const last = vals[n - 1];
  const lastMax = [0xffffffff, 0xffffff, 0xffff, 0xff][n - 1];
  if (last > lastMax) return null;
  let v = 0;
  for (let i = 0; i < n - 1; i++) v = v * 256 + vals[i];
  v = v * 2 ** (8 * (4 - (n - 1))) + last;
  return v >>> 0;
}

/** inet_pton(AF_INET6): returns 4 host-order words, or null. */
export function parseIPv6(s: string): [number, number, number, number] | null {
  if (s.length === 0 || s.length > 45) return null;
  let head = s;
  let v4tail: number | null = null;
  const lastColon = s.lastIndexOf(':');
  if (lastColon === -1) return null;
  if (s.indexOf('.', lastColon) !== -1) {
    v4tail = parseIPv4(s.slice(lastColon + 1));
    if (v4tail === null) return null;
    head = s.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = head.indexOf('::');
  if (dbl !== -1 && head.indexOf('::', dbl + 1) !== -1) return null;
  const groups: number[] = [];
  const parseGroups = (t: string): number[] | null => {
    if (t === '') return [];
    const out: number[] = [];
    for (const p of t.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
      out.push(parseInt(p, 16));
    }
    return out;
  };
  if (dbl !== -1) {
    const a = parseGroups(head.slice(0, dbl));
    const b = parseGroups(head.slice(dbl + 2));
    if (!a || !b || a.length + b.length > 7) return null;
    groups.push(...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b);
  } else {
    const a = parseGroups(head);
    if (!a || a.length !== 8) return null;
    groups.push(...a);
  }
  if (v4tail !== null) {
    groups[6] = v4tail >>> 16;
    groups[7] = v4tail & 0xffff;
  }
  return [
    ((groups[0] << 16) | groups[1]) >>> 0,
    ((groups[2] << 16) | groups[3]) >>> 0,
    ((groups[4] << 16) | groups[5]) >>> 0,
    ((groups[6] << 16) | groups[7]) >>> 0,
  ];
}

/** Parses a plain numeric address of either family (no host names, no inet_aton forms). */
export function parseAddr(s: string): IpAddr | null {
  const v4 = parseIPv4(s);
  if (v4 !== null) return IpAddr.v4(v4);
  const v6 = parseIPv6(s);
  if (v6 !== null) return new IpAddr(AF_INET6, v6[0], v6[1], v6[2], v6[3]);
  return null;
}

/** Node reports IPv4 clients of a dual-stack socket as ::ffff:a.b.c.d; IPVS would see IPv4. */
export function parseSocketAddr(s: string): IpAddr | null {
  if (s.startsWith('::ffff:') && s.indexOf('.') !== -1) {
    const v4 = parseIPv4(s.slice(7));
    if (v4 !== null) return IpAddr.v4(v4);
  }
  return parseAddr(s);
}

/** IPv4 netmask u32 → prefix length, or -1 when the mask is not contiguous. */
export function maskToPrefix(mask: number): number {
  const m = mask >>> 0;
  const inv = (~m) >>> 0;
  if ((inv & (inv + 1)) !== 0) return -1;
  let n = 0;
  for (let b = 31; b >= 0 && ((m >>> b) & 1) === 1; b--) n++;
  return n;
}

/**
 * Signed difference as ipvsadm's comparators compute it: (int)(a - b) on u32 host-order values.
 * Overflow flips the sign for addresses 2^31 apart; ipvsadm's sort order depends on that quirk.
 */
export function cmpU32Signed(a: number, b: number): number {
  return ((a - b) | 0);
}
