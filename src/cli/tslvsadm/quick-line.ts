/**
 * The two line shapes that make up nearly all of an `ipvsadm -R` file, as ipvsadm-save writes
 * them, turned straight into protocol rows (protocol.ts CommandRow) without the general
 * parser's option scanner and entries:
 *   -A -t|-u ADDR:PORT [-s SCHED] [-p [TIMEOUT]]
 *   -a -t|-u ADDR:PORT -r ADDR:PORT [-g|-m|-i] [-w WEIGHT]
 * with options after the first in any order, each at most once, addresses as canonical IPv4
 * dotted quads and numbers in plain decimal. Such a line means exactly one thing to ipvsadm's
 * parse_options/process_options, and the row is what command.ts would build for it (the
 * tslvsadm tests compare both on every golden and on generated near misses). Anything else,
 * including every line ipvsadm would refuse, gives null, and command.ts parses it (and reports
 * the error in ipvsadm's words).
 */
import type { CommandRow } from '../../control/protocol.js';

const MAX_TOKENS = 12;
/** Token start and end offsets of the current line (a scratch buffer: no allocation per line). */
const bounds = new Int32Array(2 * MAX_TOKENS);

/** ipvsadm's MAX_TIMEOUT (31 days) and the -p default IPVS_SVC_PERSISTENT_TIMEOUT. */
const MAX_TIMEOUT = 86400 * 31;
const PERSISTENT_TIMEOUT_DEFAULT = 360;
const INT_MAX = 2147483647;
const IP_VS_SCHEDNAME_MAXLEN = 16;
const IP_VS_SVC_F_PERSISTENT = 0x0001;
const FWD_MASQ = 0;
const FWD_TUNNEL = 2;
const FWD_DROUTE = 3;

const isBlank = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0d;

/** Splits on blanks into `bounds`; the token count, or -1 when there are too many. */
function scan(line: string): number {
  let n = 0;
  let i = 0;
  const len = line.length;
  while (i < len) {
    while (i < len && isBlank(line.charCodeAt(i))) i++;
    if (i >= len) break;
    if (n === MAX_TOKENS) return -1;
    const start = i;
    while (i < len && !isBlank(line.charCodeAt(i))) i++;
    bounds[2 * n] = start;
    bounds[2 * n + 1] = i;
    n++;
  }
  return n;
}

/** Token k is the two-character option "-X" (X given as a char code)? */
function isShort(line: string, k: number, x: number): boolean {
  const s = bounds[2 * k];
  return bounds[2 * k + 1] - s === 2 && line.charCodeAt(s) === 0x2d && line.charCodeAt(s + 1) === x;
}

/** Plain decimal digits in [s, e), at most `maxDigits` of them; the value, or -1. */
function decimal(line: string, s: number, e: number, maxDigits: number): number {
  if (e <= s || e - s > maxDigits) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = line.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

/**
 * A canonical dotted quad in [s, e) (four decimal octets 0..255 without leading zeros, which
 * inet_aton and inet_ntop agree on, so the text is also what ntop prints). True or false.
 */
function isCanonicalQuad(line: string, s: number, e: number): boolean {
  let parts = 0;
  let i = s;
  for (;;) {
    const start = i;
    let v = 0;
    while (i < e) {
      const c = line.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
      i++;
    }
    const digits = i - start;
    if (digits === 0 || digits > 3 || v > 255 || (digits > 1 && line.charCodeAt(start) === 48)) return false;
    parts++;
    if (parts === 4) return i === e;
    if (i >= e || line.charCodeAt(i) !== 46) return false;
    i++;
  }
}

/** "ADDR:PORT" in token k with a canonical IPv4 address; sets `ap` (address text, port) or returns false. */
const ap = { addr: '', port: 0 };
function addrPort(line: string, k: number): boolean {
  const s = bounds[2 * k];
  const e = bounds[2 * k + 1];
  const colon = line.lastIndexOf(':', e - 1);
  if (colon <= s) return false;
  if (!isCanonicalQuad(line, s, colon)) return false;
  const port = decimal(line, colon + 1, e, 5);
  if (port < 0 || port > 65535) return false;
  ap.addr = line.slice(s, colon);
  ap.port = port;
  return true;
}

/** The row for an -A or -a line of the shapes above, or null (then command.ts decides). */
export function quickRow(line: string): CommandRow | null {
  const n = scan(line);
  if (n < 3) return null;
  const add = isShort(line, 0, 0x41 /* A */);
  if (!add && !isShort(line, 0, 0x61 /* a */)) return null;

  let protocol = 0;
  let addr = '';
  let port = 0;
  // -A
  let sched: string | null = null;
  let persistent = false;
  let timeoutS = 0;
  // -a
  let daddr: string | null = null;
  let dport = 0;
  let fwd = -1;
  let weight = -1;

  for (let k = 1; k < n; k++) {
    const s = bounds[2 * k];
    if (bounds[2 * k + 1] - s !== 2 || line.charCodeAt(s) !== 0x2d) return null;
    const o = line.charCodeAt(s + 1);
    const hasValue = k + 1 < n;
    switch (o) {
      case 0x74: /* t */
      case 0x75: /* u */
        if (protocol !== 0 || !hasValue || !addrPort(line, ++k)) return null;
        protocol = o === 0x74 ? 6 : 17;
        addr = ap.addr;
        port = ap.port;
        break;
      case 0x73: /* s */ {
        if (!add || sched !== null || !hasValue) return null;
        k++;
        const vs = bounds[2 * k];
        const ve = bounds[2 * k + 1];
        // The -R splitter drops every word "ipvsadm" (and cuts words of more than 4096 characters).
        if (ve - vs > 64 || (ve - vs === 7 && line.startsWith('ipvsadm', vs))) return null;
        sched = line.slice(vs, Math.min(ve, vs + IP_VS_SCHEDNAME_MAXLEN - 1));
        break;
      }
      case 0x70: /* p */
        if (!add || persistent) return null;
        persistent = true;
        // An optional value: the next word, unless it starts with "-" (popt).
        if (hasValue && line.charCodeAt(bounds[2 * k + 2]) !== 0x2d) {
          k++;
          timeoutS = decimal(line, bounds[2 * k], bounds[2 * k + 1], 7);
          if (timeoutS < 1 || timeoutS > MAX_TIMEOUT) return null;
        } else {
          timeoutS = PERSISTENT_TIMEOUT_DEFAULT;
        }
        break;
      case 0x72: /* r */
        if (add || daddr !== null || !hasValue || !addrPort(line, ++k)) return null;
        daddr = ap.addr;
        dport = ap.port;
        break;
      case 0x67: /* g */
      case 0x6d: /* m */
      case 0x69: /* i */
        if (add || fwd !== -1) return null;
        fwd = o === 0x67 ? FWD_DROUTE : o === 0x6d ? FWD_MASQ : FWD_TUNNEL;
        break;
      case 0x77: /* w */
        if (add || weight !== -1 || !hasValue) return null;
        k++;
        weight = decimal(line, bounds[2 * k], bounds[2 * k + 1], 10);
        if (weight < 0 || weight > INT_MAX) return null;
        break;
      default:
        return null;
    }
  }
  if (protocol === 0) return null;
  if (add) {
    // Port 0 needs -p (process_options); leave that case to command.ts.
    if (port === 0) return null;
    return ['A', 2, protocol, addr, port, 0, sched ?? 'wlc', persistent ? IP_VS_SVC_F_PERSISTENT : 0, timeoutS, 0xffffffff, ''];
  }
  if (daddr === null) return null;
  if (fwd === -1) fwd = FWD_DROUTE;
  // With -g or -i the real server port is the service port (process_options).
  if (fwd !== FWD_MASQ) dport = port;
  return ['a', 2, protocol, addr, port, 0, 2, daddr, dport, fwd, weight === -1 ? 1 : weight, 0, 0, 0, 0, 0, 0];
}
