/**
 * Value readers with keepalived's exact acceptance rules and messages: lib/parser.c
 * read_unsigned_func, read_int_func, read_decimal_unsigned_long_func (timers, 1 µs
 * resolution), check_true_false, read_hex_str; lib/utils.c inet_stosockaddr, inet_stor.
 * They behave as under `keepalived -t` (a value with an error is not used).
 */
import { CONFIG_INVALID_NUMBER, type DiagnosticSink, type Pos } from './diagnostics.js';

export const UINT_MAX = 4294967295;
export const INT_MAX = 2147483647;
export const INT_MIN = -2147483648;
/** lib/parser.h TIMER_MAXIMUM = ULONG_MAX - 1, in microseconds. */
export const TIMER_MAXIMUM = 18446744073709551614n;
/** lib/timer.h TIMER_HZ: keepalived keeps time in microseconds. */
export const TIMER_HZ = 1_000_000;

const C_SPACE = ' \t\n\v\f\r';
const ULONG_MAX = 18446744073709551615n;

/** C strtoul/strtol prefix parse: returns the value (BigInt) and where the digits ended. */
function cParse(s: string, base: 10 | 16): { neg: boolean; val: bigint; end: number; overflow: boolean } {
  let i = 0;
  while (i < s.length && C_SPACE.includes(s[i])) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') { neg = s[i] === '-'; i++; }
  if (base === 16 && s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && /[0-9a-fA-F]/.test(s[i + 2] ?? '')) i += 2;
  const start = i;
  let val = 0n;
  const re = base === 10 ? /[0-9]/ : /[0-9a-fA-F]/;
  while (i < s.length && re.test(s[i])) {
    val = val * BigInt(base) + BigInt(parseInt(s[i], base));
    i++;
  }
  if (i === start) return { neg: false, val: 0n, end: 0, overflow: false };
  return { neg, val, end: i, overflow: val > ULONG_MAX };
}

/** read_unsigned_func: the value, or null after reporting. */
export function readUnsigned(sink: DiagnosticSink, pos: Pos, str: string, min: number, max: number): number | null {
  let off = 0;
  while (off < str.length && C_SPACE.includes(str[off])) off++;
  const p = cParse(str.slice(off), 10);
  const end = off + p.end;
  if (str[off] === '-') sink.report(CONFIG_INVALID_NUMBER, pos, `negative number '${str}'`);
  else if (end < str.length && p.end !== 0) sink.report(CONFIG_INVALID_NUMBER, pos, `invalid number '${str}'`);
  else if (p.end === 0 && off < str.length) sink.report(CONFIG_INVALID_NUMBER, pos, `invalid number '${str}'`);
  else if (p.overflow || p.val > BigInt(UINT_MAX)) sink.report(CONFIG_INVALID_NUMBER, pos, `number '${str}' outside unsigned integer range`);
  else if (p.val < BigInt(min) || p.val > BigInt(max)) sink.report(CONFIG_INVALID_NUMBER, pos, `number '${str}' outside range [${min}, ${max}]`);
  else return Number(p.val);
  return null;
}

/** read_int_func. */
export function readInt(sink: DiagnosticSink, pos: Pos, str: string, min: number, max: number): number | null {
  const p = cParse(str, 10);
  const v = p.neg ? -p.val : p.val;
  if (p.end === 0 ? str.length > 0 : p.end < str.length) sink.report(CONFIG_INVALID_NUMBER, pos, `invalid number '${str}'`);
  else if (v < BigInt(INT_MIN) || v > BigInt(INT_MAX)) sink.report(CONFIG_INVALID_NUMBER, pos, `number '${str}' outside integer range`);
  else if (v < BigInt(min) || v > BigInt(max)) sink.report(CONFIG_INVALID_NUMBER, pos, `number '${str}' outside range [${min}, ${max}]`);
  else return Number(v);
  return null;
}

function fmtMicro(v: bigint): string {
  return `${v / 1000000n}.${(v % 1000000n).toString().padStart(6, '0')}`;
}

/**
 * read_timer / read_decimal_unsigned_long_func with 6 decimal places: microseconds, or null.
 * `maxUs` 0 means TIMER_MAXIMUM. Quirk kept from keepalived: with ignoreError (what every timer
 * keyword passes) an invalid number still yields the value of its leading digits when that is in
 * range, even under -t ("1e3" is 1 µs, "abc" is 0), after the "invalid number" message.
 */
export function readTimer(sink: DiagnosticSink, pos: Pos, str: string, minUs: number, maxUs: number | bigint = 0, ignoreError = true): number | null {
  const max = maxUs === 0 || maxUs === 0n ? TIMER_MAXIMUM : BigInt(maxUs);
  const min = BigInt(minUs);
  if (str[0] === '-') {
    sink.report(CONFIG_INVALID_NUMBER, pos, `negative number '${str}'`);
    return null;
  }
  const dp = str.indexOf('.');
  let numDp = dp >= 0 ? str.length - dp - 1 : 0;
  let roundUp = false;
  if (numDp > 6) {
    sink.report(CONFIG_INVALID_NUMBER, pos, `number '${str}' has too many decimal places`);
    roundUp = str[dp + 7] >= '5';
    numDp = 6;
  }
  let digits = dp >= 0 ? str.slice(0, dp) + str.slice(dp + 1, dp + 1 + numDp) : str;
  digits += '0'.repeat(6 - numDp);
  const p = cParse(digits, 10);
  let val = p.neg ? -p.val : p.val;
  if (roundUp) val++;
  const valid = p.end > 0 && p.end === digits.length;
  if (!valid) sink.report(CONFIG_INVALID_NUMBER, pos, `invalid number '${str}'`);
  else if (p.overflow) {
    sink.report(CONFIG_INVALID_NUMBER, pos, `number '${str}' outside unsigned decimal range`);
    return null;
  } else if (val < min || val > max) {
    sink.report(CONFIG_INVALID_NUMBER, pos, `number '${str}' outside range [${fmtMicro(min)}, ${fmtMicro(max)}]`);
  } else return Number(val);
  return ignoreError && val >= min && val <= max ? Number(val) : null;
}

/** check_true_false: 1, 0, or -1 for anything else (exact lower case). */
export function checkTrueFalse(s: string): 1 | 0 | -1 {
  if (s === 'true' || s === 'on' || s === 'yes') return 1;
  if (s === 'false' || s === 'off' || s === 'no') return 0;
  return -1;
}

/** glibc inet_pton(AF_INET): exactly four decimal parts 0..255, no leading zeros. */
export function inetPton4(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v >>> 0;
}

/** glibc inet_pton(AF_INET6) as 16 bytes, or null. */
export function inetPton6(s: string): Uint8Array | null {
  if (s.length === 0) return null;
  let head = s;
  let tail4: number | null = null;
  const lastColon = s.lastIndexOf(':');
  if (lastColon < 0) return null;
  if (s.indexOf('.', lastColon) >= 0) {
    tail4 = inetPton4(s.slice(lastColon + 1));
    if (tail4 === null) return null;
    head = s.slice(0, lastColon + 1) + '0:0';
    if (head.endsWith(':::0:0')) return null;
  }
  const dbl = head.indexOf('::');
  if (dbl >= 0 && head.indexOf('::', dbl + 1) >= 0) return null;
  const groups = (t: string): number[] | null => {
    if (t === '') return [];
    const out: number[] = [];
    for (const g of t.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let all: number[];
  if (dbl >= 0) {
    const a = groups(head.slice(0, dbl));
    const b = groups(head.slice(dbl + 2));
    if (!a || !b || a.length + b.length > 7) return null;
    all = [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
  } else {
    const a = groups(head);
    if (!a || a.length !== 8) return null;
    all = a;
  }
  if (tail4 !== null) {
    all[6] = tail4 >>> 16;
    all[7] = tail4 & 0xffff;
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  return out;
}

export type Family = 2 | 10;

/** A parsed address in canonical text form (inet_ntop), with its family. */
export interface SockAddr {
  readonly af: Family;
  readonly addr: string;
  /** 0 when no port was given. */
  readonly port: number;
  readonly bytes: Uint8Array;
}

export function ntop6(b: Uint8Array): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[2 * i] << 8) | b[2 * i + 1]);
  // IPv4-mapped and compatible forms as glibc prints them.
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && (w[5] === 0xffff || (w[5] === 0 && w[6] !== 0))) {
    const v4 = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
    if (w[5] === 0xffff) return `::ffff:${v4}`;
    return `::${v4}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      parts.push(i === 0 ? ':' : '');
      i += bestLen - 1;
      if (i === 7) parts.push('');
      continue;
    }
    parts.push(w[i].toString(16));
  }
  return parts.join(':');
}

export function ntop4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/**
 * lib/utils.c inet_stosockaddr: family from the presence of ':', anything after '-' or '/'
 * ignored (a keepalived quirk: `192.0.2.10-20` and `192.0.2.10/24` both mean 192.0.2.10),
 * port read with read_unsigned(1..65535). Null on error (messages already reported for ports).
 */
export function stoSockaddr(sink: DiagnosticSink, pos: Pos, ip: string, port: string | null): SockAddr | null {
  const af: Family = ip.includes(':') ? 10 : 2;
  let portNum = 0;
  if (port !== null) {
    const p = readUnsigned(sink, pos, port, 1, 65535);
    if (p === null) return null;
    portNum = p;
  }
  const cut = ip.search(/[-/]/);
  const host = cut >= 0 ? ip.slice(0, ip.indexOf('-') >= 0 ? ip.indexOf('-') : ip.indexOf('/')) : ip;
  if (af === 2) {
    const v = inetPton4(host);
    if (v === null) return null;
    const bytes = new Uint8Array([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);
    return { af, addr: ntop4(v), port: portNum, bytes };
  }
  const b = inetPton6(host);
  if (!b) return null;
  return { af, addr: ntop6(b), port: portNum, bytes: b };
}

/** keepalived passes no port when it is all zeros ("0", "00"), see alloc_vs / alloc_rs. */
export function portOrNull(port: string | undefined): string | null {
  if (port === undefined) return null;
  return /^0*$/.test(port) ? null : port;
}

/** lib/parser.c read_hex_str: bytes (and a wildcard mask when allowed), or null when invalid. */
export function readHexStr(str: string, allowWildcard: boolean): { data: Uint8Array; mask: Uint8Array | null } | null {
  const data: number[] = [];
  const mask: number[] = [];
  let usingMask = false;
  let i = 0;
  const hv = (c: string | undefined): number => {
    if (c === undefined) return 0xff;
    if (c >= '0' && c <= '9') return c.charCodeAt(0) - 48;
    const u = c.toUpperCase();
    if (u >= 'A' && u <= 'F') return u.charCodeAt(0) - 55;
    if (allowWildcard && u === 'X') return 0xfe;
    return 0xff;
  };
  let val = 0;
  for (;;) {
    while (str[i] === ' ' || str[i] === '\t') i++;
    if (i >= str.length) break;
    val = hv(str[i++]);
    if (val === 0xff) break;
    let m = 0;
    if (val === 0xfe) { m = 0x0f; val = 0; usingMask = true; }
    if (i < str.length && str[i] !== ' ') {
      const hi = val << 4;
      m <<= 4;
      val = hv(str[i++]);
      if (val === 0xff) break;
      if (val === 0xfe) { m |= 0x0f; val = 0; usingMask = true; }
      val |= hi;
    }
    data.push(val);
    mask.push(m);
  }
  if (val === 0xff || data.length === 0) return null;
  return { data: Uint8Array.from(data), mask: usingMask ? Uint8Array.from(mask) : null };
}
