/**
 * glob(3) as keepalived calls it for `include` (lib/parser.c open_and_check_glob): GLOB_MARK
 * (directories end in "/"), GLOB_BRACE (csh-style {a,b}, each alternative globbed and the
 * results appended), `*`, `?`, `[...]`, names starting with "." only matched by a literal ".".
 * It also counts what keepalived's gl_opendir/gl_lstat hooks count, because the include
 * variants (includem, includeb, includew) decide on them: `missing` is true when a literal
 * path or a directory on the way did not exist, `wildcards` when a directory had to be read.
 */
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

export interface GlobResult {
  /** Absolute paths, each alternative's matches sorted, in alternative order; dirs end in "/". */
  readonly matches: string[];
  readonly missing: boolean;
  readonly wildcards: boolean;
  readonly hasBrace: boolean;
}

export function globInclude(pattern: string, baseDir: string): GlobResult {
  const abs = isAbsolute(pattern) ? pattern : join(baseDir, pattern);
  const alts = expandBraces(abs);
  const st = { missing: false, wildcards: false };
  const matches: string[] = [];
  for (const a of alts) {
    const found = globOne(a, st);
    found.sort(byteCompare);
    matches.push(...found);
  }
  return { matches, missing: st.missing, wildcards: st.wildcards, hasBrace: hasBrace(pattern) };
}

function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function hasBrace(p: string): boolean {
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '\\') i++;
    else if (p[i] === '{') return true;
  }
  return false;
}

/** csh-style brace expansion: a{b,c}d -> abd acd; nested braces allowed; unbalanced left as is. */
export function expandBraces(p: string): string[] {
  let depth = 0;
  let open = -1;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') { i++; continue; }
    if (c === '{') {
      if (depth === 0) open = i;
      depth++;
    } else if (c === '}' && depth > 0) {
      depth--;
      if (depth === 0) {
        const inner = p.slice(open + 1, i);
        const parts = splitTop(inner);
        const pre = p.slice(0, open);
        const post = p.slice(i + 1);
        if (parts.length === 1) {
          // glibc keeps a brace pair with no comma literally.
          return expandBraces(pre + '\u0000' + inner + '\u0001' + post).map((s) => s.replace('\u0000', '{').replace('\u0001', '}'));
        }
        const out: string[] = [];
        for (const part of parts) out.push(...expandBraces(pre + part + post));
        return out;
      }
    }
  }
  return [p];
}

function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') { i++; continue; }
    if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === ',' && depth === 0) {
      out.push(s.slice(last, i));
      last = i + 1;
    }
  }
  out.push(s.slice(last));
  return out;
}

const MAGIC = /[*?[]/;

function globOne(pattern: string, st: { missing: boolean; wildcards: boolean }): string[] {
  const parts = pattern.split('/');
  let bases: string[] = [parts[0] === '' ? '/' : parts[0]];
  for (let k = 1; k < parts.length; k++) {
    const seg = parts[k];
    if (seg === '') continue;
    const next: string[] = [];
    for (const base of bases) {
      if (!MAGIC.test(seg)) {
        next.push(join(base, unescape(seg)));
        continue;
      }
      st.wildcards = true;
      let names: string[];
      try {
        names = readdirSync(base);
      } catch {
        st.missing = true;
        continue;
      }
      const re = segmentRegExp(seg);
      for (const n of names) if (re.test(n)) next.push(join(base, n));
    }
    bases = next;
  }
  const out: string[] = [];
  for (const b of bases) {
    try {
      lstatSync(b);
    } catch {
      st.missing = true;
      continue;
    }
    let dir = false;
    try {
      dir = statSync(b).isDirectory();
    } catch {
      dir = false;
    }
    out.push(dir ? b + '/' : b);
  }
  return out;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

function segmentRegExp(seg: string): RegExp {
  let re = '^';
  if (seg[0] !== '.') re += '(?!\\.)';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '\\' && i + 1 < seg.length) { re += escapeRe(seg[++i]); continue; }
    if (c === '*') { re += '.*'; continue; }
    if (c === '?') { re += '.'; continue; }
    if (c === '[') {
      const close = seg.indexOf(']', i + 2);
      if (close > 0) {
        let body = seg.slice(i + 1, close);
        if (body[0] === '!') body = '^' + body.slice(1);
        re += '[' + body.replace(/\\/g, '\\\\') + ']';
        i = close;
        continue;
      }
    }
    re += escapeRe(c);
  }
  return new RegExp(re + '$', 's');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
