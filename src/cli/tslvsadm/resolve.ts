/**
 * Text to numbers and numbers to names, with the C library semantics ipvsadm relies on:
 * glibc's strtol, atoi, inet_aton, inet_pton and inet_ntop; the services database as
 * getservbyname/getservbyport read it ("files"); host names as gethostbyname (first IPv4
 * address) and gethostbyaddr (the entry's canonical name).
 *
 * Parsing is synchronous so that ipvsadm's left-to-right, first-error-wins order is easy to
 * keep; a host name that needs a lookup throws NeedLookup, the caller resolves it
 * asynchronously, caches the answer and parses the line again (parsing has no side effects).
 */
import { readFileSync } from 'node:fs';
import { lookup, lookupService } from 'node:dns/promises';
import { formatIPv4, formatIPv6 } from '../../core/addr.js';

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_IP = 0;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_SCTP = 132;

/** An address as ipvsadm holds it: family and four host-order words (IPv4 in w[0]). */
export interface Addr {
  af: number;
  w: [number, number, number, number];
}

export const ZERO_WORDS: readonly [number, number, number, number] = [0, 0, 0, 0];

const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * strtol(s, &end, 10) on a 64-bit long: leading white space, an optional sign, decimal digits.
 * `end` is the index where parsing stopped (0 when no digits), `erange` as errno == ERANGE.
 */
export function strtol10(s: string): { value: bigint; end: number; erange: boolean } {
  let i = 0;
  while (i < s.length && isSpace(s[i])) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') {
    neg = s[i] === '-';
    i++;
  }
  const start = i;
  while (i < s.length && isDigit(s[i])) i++;
  if (i === start) return { value: 0n, end: 0, erange: false };
  let v = BigInt(s.slice(start, i));
  if (neg) v = -v;
  if (v > LONG_MAX) return { value: LONG_MAX, end: i, erange: true };
  if (v < LONG_MIN) return { value: LONG_MIN, end: i, erange: true };
  return { value: v, end: i, erange: false };
}

/** Plain decimal digits only, short enough to be exact as a double: the common case. */
const SIMPLE_DECIMAL = /^[0-9]{1,15}$/;

/** ipvsadm's string_to_number: the whole string a base-10 long within [min, max], else -1. */
export function stringToNumber(s: string, min: number, max: number): number {
  if (SIMPLE_DECIMAL.test(s)) {
    const n = Number(s);
    return n >= min && n <= max ? n : -1;
  }
  const r = strtol10(s);
  if (r.end === s.length && r.end !== 0 && !r.erange && r.value >= BigInt(min) && r.value <= BigInt(max)) {
    return Number(r.value);
  }
  return -1;
}

/** ipvsadm's parse_fwmark: a whole base-10 number 1..UINT_MAX (negative values wrap, so fail). */
export function parseFwmark(s: string): number | null {
  if (SIMPLE_DECIMAL.test(s)) {
    const n = Number(s);
    return n >= 1 && n <= 0xffffffff ? n : null;
  }
  const r = strtol10(s);
  if (r.end !== s.length || r.end === 0 || r.erange || r.value <= 0n || r.value > 0xffffffffn) return null;
  return Number(r.value);
}

/** atoi(s) stored in a u_int32_t, as ipvsadm reads an IPv6 -M prefix. */
export function atoiU32(s: string): number {
  const r = strtol10(s);
  return Number(BigInt.asUintN(32, BigInt.asIntN(32, r.value)));
}

/**
 * glibc strtoul(s, &end, 0) restricted to what inet_aton needs (s[i] is a digit). Values above
 * 2^32 are reported as Infinity: inet_aton refuses them all the same.
 */
function strtoul0(s: string, i: number): { value: number; end: number } {
  let base = 10;
  let j = i;
  if (s.charCodeAt(j) === 48 /* 0 */) {
    const x = s.charCodeAt(j + 1);
    if ((x === 120 || x === 88) && hexValue(s.charCodeAt(j + 2)) >= 0) {
      base = 16;
      j += 2;
    } else {
      base = 8;
    }
  }
  let v = 0;
  const start = j;
  for (; j < s.length; j++) {
    const d = hexValue(s.charCodeAt(j));
    if (d < 0 || d >= base) break;
    v = v * base + d;
    if (v > 0xffffffff) v = Infinity;
  }
  if (j === start) return { value: 0, end: i + 1 }; // "0" then a non-digit: only the 0 is read
  return { value: v, end: j };
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * glibc inet_aton: 1 to 4 parts (decimal, 0-octal, 0x-hex), the last filling the remaining
 * bytes, so "10.1" is 10.0.0.1 and "16909065" is 1.2.3.9. Trailing white space and anything
 * after it is ignored ("1.2.3.4 junk" is 1.2.3.4). Returns the host-order u32, or null.
 */
export function inetAton(s: string): number | null {
  let word = 0;
  let nparts = 0;
  let i = 0;
  let val = 0;
  let c = s.charCodeAt(0);
  for (;;) {
    if (!(c >= 48 && c <= 57)) return null;
    const r = strtoul0(s, i);
    if (r.value > 0xffffffff) return null;
    val = r.value;
    i = r.end;
    c = s.charCodeAt(i);
    if (c === 46 /* . */) {
      if (nparts > 2 || val > 0xff) return null;
      word |= val << (24 - 8 * nparts);
      nparts++;
      i++;
      c = s.charCodeAt(i);
    } else break;
  }
  if (i < s.length && !isSpace(s[i])) return null;
  const max = [0xffffffff, 0xffffff, 0xffff, 0xff][nparts];
  if (val > max) return null;
  return ((word >>> 0) + val) >>> 0; // the parts do not overlap: + is |
}

/** glibc inet_pton(AF_INET): exactly four decimal octets, no leading zeros. */
export function inetPton4(s: string): number | null {
  let sawDigit = false;
  let octets = 0;
  const tmp = [0, 0, 0, 0];
  let tp = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch >= '0' && ch <= '9') {
      const nw = tmp[tp] * 10 + (ch.charCodeAt(0) - 48);
      if (sawDigit && tmp[tp] === 0) return null;
      if (nw > 255) return null;
      tmp[tp] = nw;
      if (!sawDigit) {
        if (++octets > 4) return null;
        sawDigit = true;
      }
    } else if (ch === '.' && sawDigit) {
      if (octets === 4) return null;
      tmp[++tp] = 0;
      sawDigit = false;
    } else return null;
  }
  if (octets < 4) return null;
  return ((tmp[0] << 24) | (tmp[1] << 16) | (tmp[2] << 8) | tmp[3]) >>> 0;
}

/** glibc inet_pton(AF_INET6), including the dotted-quad tail. Four host-order words or null. */
export function inetPton6(s: string): [number, number, number, number] | null {
  // Cheap refusals first (a restore parses 200,000 addresses, nearly all IPv4): every IPv6 text
  // has a colon, and a dot can only be part of a dotted-quad tail after the last colon.
  const colon = s.lastIndexOf(':');
  if (colon < 0) return null;
  const dot = s.indexOf('.');
  if (dot >= 0 && dot < colon) return null;
  const out = new Uint8Array(16);
  let tp = 0;
  let colonp = -1;
  let i = 0;
  if (s.length === 0) return null;
  if (s[0] === ':') {
    i++;
    if (i === s.length || s[i] !== ':') return null;
  }
  let curtok = i;
  let xdigits = 0;
  let val = 0;
  while (i < s.length) {
    const ch = s[i++];
    if (/[0-9a-fA-F]/.test(ch)) {
      const d = parseInt(ch, 16);
      if (xdigits === 4) return null;
      val = (val << 4) | d;
      if (val > 0xffff) return null;
      xdigits++;
      continue;
    }
    if (ch === ':') {
      curtok = i;
      if (xdigits === 0) {
        if (colonp >= 0) return null;
        colonp = tp;
        continue;
      } else if (i === s.length) return null;
      if (tp + 2 > 16) return null;
      out[tp++] = (val >> 8) & 0xff;
      out[tp++] = val & 0xff;
      xdigits = 0;
      val = 0;
      continue;
    }
    if (ch === '.' && tp + 4 <= 16) {
      const v4 = inetPton4(s.slice(curtok));
      if (v4 !== null) {
        out[tp++] = v4 >>> 24;
        out[tp++] = (v4 >>> 16) & 0xff;
        out[tp++] = (v4 >>> 8) & 0xff;
        out[tp++] = v4 & 0xff;
        xdigits = 0;
        break;
      }
    }
    return null;
  }
  if (xdigits > 0) {
    if (tp + 2 > 16) return null;
    out[tp++] = (val >> 8) & 0xff;
    out[tp++] = val & 0xff;
  }
  if (colonp >= 0) {
    if (tp === 16) return null;
    const n = tp - colonp;
    out.copyWithin(16 - n, colonp, tp);
    out.fill(0, colonp, 16 - n);
    tp = 16;
  }
  if (tp !== 16) return null;
  const w = (k: number) => ((out[k] << 24) | (out[k + 1] << 16) | (out[k + 2] << 8) | out[k + 3]) >>> 0;
  return [w(0), w(4), w(8), w(12)];
}

/** inet_ntop of either family. */
export function ntop(a: Addr): string {
  return a.af === AF_INET6 ? formatIPv6(a.w) : formatIPv4(a.w[0]);
}

/** An address in the control protocol's text form, as the daemon sends it. */
export function parseWireAddr(af: number, text: string): Addr {
  if (af === AF_INET6) {
    const w = inetPton6(text);
    if (w) return { af, w };
  } else {
    const v = inetPton4(text) ?? inetAton(text);
    if (v !== null) return { af: AF_INET, w: [v, 0, 0, 0] };
  }
  throw new Error(`The daemon sent an address that is not an IPv${af === AF_INET6 ? 6 : 4} address: "${text}"`);
}

// ---------------------------------------------------------------------------------------------
// Services database (/etc/services), read the way glibc's "files" backend does.

interface ServEntry {
  name: string;
  port: number;
  proto: string;
  aliases: string[];
}

export class ServicesDb {
  readonly #byPort = new Map<string, string>();
  readonly #byName = new Map<string, number>();

  constructor(text: string) {
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '');
      const f = line.split(/[ \t]+/).filter((x) => x.length > 0);
      if (f.length < 2) continue;
      const m = /^(\d+)\/(\S+)$/.exec(f[1]);
      if (!m) continue;
      const e: ServEntry = { name: f[0], port: Number(m[1]), proto: m[2], aliases: f.slice(2) };
      if (e.port > 65535) continue;
      const pk = `${e.port}/${e.proto}`;
      if (!this.#byPort.has(pk)) this.#byPort.set(pk, e.name);
      for (const n of [e.name, ...e.aliases]) {
        const nk = `${n}/${e.proto}`;
        if (!this.#byName.has(nk)) this.#byName.set(nk, e.port);
      }
    }
  }

  /** getservbyport(htons(port), proto)->s_name, or null. */
  portToName(port: number, proto: string): string | null {
    return this.#byPort.get(`${port}/${proto}`) ?? null;
  }

  /** getservbyname(name, proto)->s_port, or null. */
  nameToPort(name: string, proto: string): number | null {
    return this.#byName.get(`${name}/${proto}`) ?? null;
  }

  static fromFile(path: string): ServicesDb {
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      // No services file: every port prints as a number and no service name parses, as with glibc.
    }
    return new ServicesDb(text);
  }
}

/** The transport protocol word getservby* use for an IPPROTO value, or null for others. */
export function protoWord(proto: number): string | null {
  return proto === IPPROTO_TCP ? 'tcp' : proto === IPPROTO_UDP ? 'udp' : proto === IPPROTO_SCTP ? 'sctp' : null;
}

// ---------------------------------------------------------------------------------------------
// Hosts: a hosts file (glibc "files"), used alone when TSLVSADM_HOSTS_FILE is set (tests), or
// the system resolver through getaddrinfo/getnameinfo (NSS: files, dns, ...) otherwise.

export class HostsFile {
  readonly #byAddr = new Map<string, string>();
  readonly #byName4 = new Map<string, number>();

  constructor(text: string) {
    for (const raw of text.split('\n')) {
      const f = raw.replace(/#.*/, '').split(/[ \t]+/).filter((x) => x.length > 0);
      if (f.length < 2) continue;
      const v4 = inetPton4(f[0]);
      const v6 = v4 === null ? inetPton6(f[0]) : null;
      if (v4 === null && v6 === null) continue;
      const key = v4 !== null ? addrKey({ af: AF_INET, w: [v4, 0, 0, 0] }) : addrKey({ af: AF_INET6, w: v6! });
      if (!this.#byAddr.has(key)) this.#byAddr.set(key, f[1]);
      if (v4 !== null) {
        for (const n of f.slice(1)) {
          const k = n.toLowerCase();
          if (!this.#byName4.has(k)) this.#byName4.set(k, v4);
        }
      }
    }
  }

  nameOf(a: Addr): string | null {
    return this.#byAddr.get(addrKey(a)) ?? null;
  }

  addrOf(name: string): number | null {
    return this.#byName4.get(name.toLowerCase()) ?? null;
  }
}

export function addrKey(a: Addr): string {
  return a.af === AF_INET6 ? `6:${a.w.join('.')}` : `4:${a.w[0]}`;
}

/** Thrown by a synchronous parse that needs a host name looked up first. */
export class NeedLookup {
  constructor(readonly name: string) {}
}

/** Name services as ipvsadm uses them, with caches so that a parse can be repeated cheaply. */
export class Resolver {
  readonly #services: () => ServicesDb;
  readonly #hosts: HostsFile | null;
  readonly #forward = new Map<string, number | null>();
  readonly #reverse = new Map<string, string | null>();

  constructor(opts: { servicesFile?: string; hostsFile?: string } = {}) {
    let db: ServicesDb | null = null;
    this.#services = () => (db ??= ServicesDb.fromFile(opts.servicesFile ?? '/etc/services'));
    this.#hosts = opts.hostsFile ? new HostsFile(readText(opts.hostsFile)) : null;
  }

  static fromEnv(env: Readonly<Record<string, string | undefined>>): Resolver {
    return new Resolver({ servicesFile: env.TSLVSADM_SERVICES_FILE, hostsFile: env.TSLVSADM_HOSTS_FILE });
  }

  portToName(port: number, proto: number): string | null {
    const w = protoWord(proto);
    return w === null ? null : this.#services().portToName(port, w);
  }

  nameToPort(name: string, proto: number): number | null {
    const w = protoWord(proto);
    return w === null ? null : this.#services().nameToPort(name, w);
  }

  /**
   * gethostbyname(name), first IPv4 address. Synchronous from the cache; throws NeedLookup
   * when the name has not been looked up yet.
   */
  hostToAddr(name: string): number | null {
    // gethostbyname answers a name made of digits and dots itself (no lookup): inet_aton
    // already failed for it, so it is not an address.
    if (name.length === 0 || /^[0-9.]+$/.test(name)) return null;
    if (this.#hosts) return this.#hosts.addrOf(name);
    if (!this.#forward.has(name)) throw new NeedLookup(name);
    return this.#forward.get(name) ?? null;
  }

  async lookupForward(name: string): Promise<void> {
    if (this.#forward.has(name)) return;
    let v: number | null = null;
    try {
      const r = await lookup(name, { family: 4 });
      v = inetPton4(r.address);
    } catch {
      v = null;
    }
    this.#forward.set(name, v);
  }

  /** gethostbyaddr(addr)->h_name from the cache, undefined when not looked up yet. */
  cachedName(a: Addr): string | null | undefined {
    if (this.#hosts) return this.#hosts.nameOf(a);
    return this.#reverse.get(addrKey(a));
  }

  /** Looks up every address not cached yet, a few at a time. */
  async lookupReverse(addrs: Iterable<Addr>): Promise<void> {
    if (this.#hosts) return;
    const todo: Addr[] = [];
    const seen = new Set<string>();
    for (const a of addrs) {
      const k = addrKey(a);
      if (this.#reverse.has(k) || seen.has(k)) continue;
      seen.add(k);
      todo.push(a);
    }
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const a = todo[next++];
        let name: string | null = null;
        try {
          // getnameinfo(NI_NAMEREQD) resolves the host through gethostbyaddr_r: the same NSS
          // answer (h_name) ipvsadm prints.
          name = (await lookupService(ntop(a), 0)).hostname;
        } catch {
          name = null;
        }
        this.#reverse.set(addrKey(a), name);
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, todo.length) }, worker));
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
