/**
 * The keepalived.conf reader, as lib/parser.c read_line, decomment, alloc_strvec_r,
 * alloc_strvec_quoted_escaped and check_include do it. Owns: the include stack, the pending
 * rest of a line split at a brace, parameter definitions, and the brace depth count.
 *
 * Why pieces and not lines: keepalived splits a line at its first `{` or `}` outside double
 * quotes and hands the parts over one at a time, so `TCP_CHECK { connect_timeout 3 }` is read as
 * `TCP_CHECK`, `{`, `connect_timeout 3`, `}`, exactly like the same text on four lines.
 * Every character keeps the column it had in the file, so errors can say file:line:col.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { hostname } from 'node:os';
import {
  CONFIG_FATAL, CONFIG_FILE_NOT_FOUND, CONFIG_GENERAL_ERROR, CONFIG_OK, CONFIG_UNEXPECTED_EOB, type DiagnosticSink, type Pos,
} from './diagnostics.js';
import { globInclude } from './glob.js';

export interface Word {
  readonly text: string;
  /** 1-based column in the source line. */
  readonly col: number;
}

/** One piece of a line as process_stream sees it. */
export interface Piece {
  readonly file: string;
  readonly line: number;
  /** The decommented text of this piece (what keepalived keeps in buf / buf_extern). */
  readonly text: string;
  readonly cols: readonly number[];
}

/** include types of lib/parser.c check_include (INCLUDE_R/M/W/B bits). */
export const INCLUDE_R = 1;
export const INCLUDE_M = 2;
export const INCLUDE_W = 4;
export const INCLUDE_B = 8;

/** Characters keepalived treats as blanks when splitting words (lib/parser.c WHITE_SPACE). */
const WHITE = ' \t\f\v\r\n';

interface OpenFile {
  readonly name: string;       // as keepalived prints it
  readonly dir: string;        // absolute directory for relative includes
  readonly lines: string[];
  /** The file's last line has no newline. */
  readonly unterminated: boolean;
  index: number;
  lineNo: number;
}

interface Definition {
  value: string;
  readonly std: boolean;
}

export interface LexerOptions {
  /** keepalived -i: lines starting @ID are kept only for this id (default: the host name). */
  readonly configId?: string;
  /**
   * keepalived's parent process reads the files with fgets and counts a line only when it ends
   * in a newline, so messages about a last line without one carry the previous line number
   * (its children read a copy that has the newline). True for the parent pass.
   */
  readonly countLikeParent?: boolean;
  /** Current directory used to resolve a relative main file (keepalived does not chdir for it). */
  readonly cwd?: string;
}

export class Lexer {
  readonly #sink: DiagnosticSink;
  readonly #files: OpenFile[] = [];
  readonly #defs = new Map<string, Definition>();
  readonly #configId: string;
  #residue: { text: string; cols: number[]; file: string; line: number } | null = null;
  #blockDepth = 0;
  /** Set when an include the user asked to be strict about was missing (keepalived exits 6). */
  fileError = false;
  /** Every file read, absolute paths, in order. */
  readonly filesRead: string[] = [];
  readonly #cwd: string;
  readonly #parentCount: boolean;

  constructor(sink: DiagnosticSink, opts: LexerOptions = {}) {
    this.#sink = sink;
    this.#parentCount = opts.countLikeParent ?? false;
    this.#configId = opts.configId ?? hostname().split('.')[0];
    this.#cwd = opts.cwd ?? process.cwd();
    // lib/parser.c set_std_definitions (_RANDOM is refused below: tslvs reads no randomness here).
    this.#defs.set('_PWD', { value: '', std: true });
    this.#defs.set('_INSTANCE', { value: this.#configId, std: true });
    this.#defs.set('_HASH', { value: '#', std: true });
    this.#defs.set('_BANG', { value: '!', std: true });
  }

  /** Start with the main file; returns false (and reports like keepalived) when it is missing. */
  openMain(path: string): boolean {
    const abs = isAbsolute(path) ? path : join(this.#cwd, path);
    const g = globInclude(abs, this.#cwd);
    if (g.matches.length === 0) {
      // lib/parser.c check_conf_file: plain include semantics, so exit status stays 0.
      this.#sink.report(CONFIG_OK, { file: '', line: 0, col: 0 }, `Config files missing '${path}'.`);
      return false;
    }
    for (let i = g.matches.length - 1; i >= 0; i--) {
      const m = g.matches[i];
      this.#pushFile(m === abs ? path : m, m);
    }
    return this.#files.length > 0;
  }

  /** Start from text in memory (tests, `tslvs check -`). Includes resolve against `dir`. */
  openText(name: string, text: string, dir: string): void {
    this.#files.push({ name, dir, lines: splitLines(text), unterminated: text !== '' && !text.endsWith('\n'), index: 0, lineNo: 0 });
  }

  get blockDepth(): number {
    return this.#blockDepth;
  }

  #pushFile(name: string, abs: string): boolean {
    let text: string;
    try {
      const st = statSync(abs);
      if (!st.isFile() || (st.mode & 0o111) !== 0) {
        // lib/parser.c check_glob_file
        this.#sink.report(CONFIG_OK, this.#here(), `Configuration file '${name}' is not a regular non-executable file - skipping`);
        return false;
      }
      text = readFileSync(abs, 'utf8');
    } catch (e) {
      this.#sink.report(CONFIG_OK, this.#here(), `Configuration file '${name}' open problem (${(e as Error).message}) - skipping`);
      return false;
    }
    this.filesRead.push(abs);
    this.#files.push({ name, dir: dirname(abs), lines: splitLines(text), unterminated: text !== '' && !text.endsWith('\n'), index: 0, lineNo: 0 });
    return true;
  }

  #here(col = 0): Pos {
    const f = this.#files[this.#files.length - 1];
    return f ? { file: f.name, line: f.lineNo, col } : { file: '', line: 0, col };
  }

  /** The next piece, or null at the end of all input. */
  next(): Piece | null {
    for (;;) {
      let text: string;
      let cols: number[];
      let file: string;
      let line: number;
      if (this.#residue) {
        ({ text, cols, file, line } = this.#residue);
        this.#residue = null;
      } else {
        const raw = this.#rawLine();
        if (raw === null) return null;
        ({ text, cols, file, line } = raw);
        if (this.#include(text, cols, file, line)) continue;
      }
      const piece = this.#splitBrace(text, cols, file, line);
      if (piece.text === '') continue;
      if (piece.text === '{') this.#blockDepth++;
      else if (piece.text === '}') {
        if (this.#blockDepth-- < 1) {
          this.#sink.report(CONFIG_UNEXPECTED_EOB, { file, line, col: piece.cols[0] ?? 0 }, `Extra '}' found`);
          this.#blockDepth = 0;
        }
      }
      return piece;
    }
  }

  /** Next non-empty decommented line with @conditions and $definitions applied. */
  #rawLine(): { text: string; cols: number[]; file: string; line: number } | null {
    for (;;) {
      const f = this.#files[this.#files.length - 1];
      if (!f) return null;
      if (f.index >= f.lines.length) {
        this.#files.pop();
        continue;
      }
      const src = f.lines[f.index++];
      if (!(this.#parentCount && f.unterminated && f.index === f.lines.length)) f.lineNo++;
      if (src === '') continue;
      const file = f.name;
      const line = f.lineNo;
      let cols: number[] = [];
      for (let i = 0; i < src.length; i++) cols.push(i + 1);
      let d = decomment(src, cols);
      if (d.unterminated) this.#sink.report(CONFIG_GENERAL_ERROR, { file, line, col: d.unterminated }, `Unterminated quote '${d.text}'`);
      let text = d.text;
      cols = d.cols;
      if (text === '') continue;

      // Conditional configuration and parameters (lib/parser.c read_line), checked again after a
      // substitution exactly as keepalived's recheck loop does.
      let keep = true;
      for (let guard = 0; guard < 32; guard++) {
        let recheck = false;
        if (text[0] === '@') {
          const rev = text[1] === '^';
          const ofs = rev ? 2 : 1;
          const sp = text.slice(ofs).search(/[ \t]/);
          if (sp < 0) { keep = false; break; }
          const id = text.slice(ofs, ofs + sp);
          if ((id !== this.#configId) !== rev) { keep = false; break; }
          let start = ofs + sp;
          while (text[start] === ' ' || text[start] === '\t') start++;
          text = text.slice(start);
          cols = cols.slice(start);
        }
        if (text[0] === '$' && this.#definition(text, file, line, cols)) { keep = false; break; }
        if (text.startsWith('~SEQ') || text.startsWith('~LST')) {
          this.#unsupported({ file, line, col: cols[0] }, `"${text.slice(0, 4)}" line sequences are not supported by tslvs: write the lines out`);
          keep = false;
          break;
        }
        if (text[0] === '~') break;
        if (text.includes('$')) {
          const r = this.#substitute(text, cols, { file, line, col: cols[0] });
          if (!r) break;
          d = decomment(r.text, r.cols);
          text = d.text;
          cols = d.cols;
          if (text[0] === '@' || text.includes('$')) recheck = true;
        }
        if (!recheck) break;
      }
      if (!keep || text === '') continue;
      return { text, cols, file, line };
    }
  }

  #unsupported(pos: Pos, message: string): void {
    // Not a keepalived message: kaText stays empty so golden comparisons can tell.
    this.#sink.report(CONFIG_FATAL, pos, '', message);
  }

  /** `$NAME=value` (lib/parser.c check_definition). Returns true when the line was a definition. */
  #definition(text: string, file: string, line: number, cols: number[]): boolean {
    const m = /^\$([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*)$/.exec(text);
    if (!m) return false;
    let value = m[2];
    if (value.endsWith('\\')) {
      this.#unsupported({ file, line, col: cols[0] }, `Multi-line definition "$${m[1]}" is not supported by tslvs: put the value on one line`);
      return true;
    }
    value = value.replace(/[ \t]+$/, '');
    this.#defs.set(m[1], { value, std: false });
    return true;
  }

  /** Replace $NAME and ${NAME} (lib/parser.c replace_param). Null when nothing was replaced. */
  #substitute(text: string, cols: number[], pos: Pos): { text: string; cols: number[] } | null {
    let out = '';
    const outCols: number[] = [];
    let found = false;
    let i = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === '$' && i + 1 < text.length) {
        const braces = text[i + 1] === '{';
        const start = i + (braces ? 2 : 1);
        let j = start;
        if (/[A-Za-z_]/.test(text[j] ?? '')) {
          j++;
          while (j < text.length && /[A-Za-z0-9_]/.test(text[j])) j++;
          const name = text.slice(start, j);
          const endOk = braces ? text[j] === '}' : (j >= text.length || ' \t,)'.includes(text[j]));
          const def = this.#defs.get(name);
          if (endOk && def) {
            if (name === '_RANDOM') {
              this.#unsupported(pos, `"$_RANDOM" is not supported by tslvs: use a fixed value`);
            }
            const value = name === '_PWD' ? this.#cwd : def.value;
            for (let k = 0; k < value.length; k++) outCols.push(cols[i]);
            out += value;
            i = braces ? j + 1 : j;
            found = true;
            continue;
          }
          if (braces && /^ [0-9 ]*\}/.test(text.slice(j)) && name === '_RANDOM') {
            this.#unsupported(pos, `"$_RANDOM" is not supported by tslvs: use a fixed value`);
          }
        }
      }
      out += c;
      outCols.push(cols[i]);
      i++;
    }
    return found ? { text: out, cols: outCols } : null;
  }

  /** include, includer, includem, includew, includeb, includea (lib/parser.c check_include). */
  #include(text: string, cols: number[], file: string, line: number): boolean {
    if (!text.startsWith('include') || text.length <= 7) return false;
    let type: number;
    let p: number;
    if (/\s/.test(text[7])) {
      type = 0;
      p = 8;
    } else if (text.length > 8 && /\s/.test(text[8]) && 'rmwba'.includes(text[7])) {
      p = 9;
      const t = text[7];
      type = t === 'r' ? INCLUDE_R : t === 'a' ? INCLUDE_R | INCLUDE_M | INCLUDE_B | INCLUDE_W
        : t === 'w' ? INCLUDE_R | INCLUDE_M | INCLUDE_W : t === 'm' ? INCLUDE_R | INCLUDE_M : INCLUDE_R | INCLUDE_B;
    } else return false;
    while (text[p] === ' ' || text[p] === '\t') p++;
    const pattern = text.slice(p);
    const pos: Pos = { file, line, col: cols[p] ?? 0 };
    const cur = this.#files[this.#files.length - 1];
    const baseDir = cur ? cur.dir : this.#cwd;
    const g = globInclude(pattern, baseDir);
    const cls = (bit: number) => ((type & bit) !== 0 ? CONFIG_FILE_NOT_FOUND : CONFIG_OK);
    const fileErr = (bit: number, msg: string) => {
      this.#sink.report(cls(bit), pos, msg);
      if (type & bit) this.fileError = true;
    };
    if (g.matches.length === 0) {
      if (g.missing) fileErr(g.hasBrace ? INCLUDE_B : INCLUDE_M, `Config files missing '${pattern}'.`);
      else if (g.wildcards && (type & INCLUDE_W)) fileErr(INCLUDE_W, `No config files matched '${pattern}'.`);
      return true;
    }
    if (g.missing) {
      fileErr(INCLUDE_B, `Some config files missing: "${pattern}".`);
      if (type & INCLUDE_B) return true;
    }
    // Push in reverse so the first match is read first.
    const opened: Array<[string, string]> = [];
    for (const m of g.matches) {
      if (m.endsWith('/')) {
        fileErr(INCLUDE_R, `Configuration file '${m}' is a directory - skipping`);
        continue;
      }
      opened.push([isAbsolute(pattern) ? m : relativeName(m, baseDir), m]);
    }
    for (let i = opened.length - 1; i >= 0; i--) this.#pushFile(opened[i][0], opened[i][1]);
    return true;
  }

  /** Split at the first brace outside double quotes (the tail of lib/parser.c read_line). */
  #splitBrace(text: string, cols: number[], file: string, line: number): Piece {
    let p = -1;
    if (text[0] === '{' || text[0] === '}') p = 0;
    else {
      let i = 0;
      while (i < text.length) {
        const c = text[i];
        if (c === '"') {
          const close = text.indexOf('"', i + 1);
          if (close < 0) { i = text.length; break; }
          i = close + 1;
          continue;
        }
        if (c === '{' || c === '}') { p = i; break; }
        i++;
      }
    }
    if (p >= 0) {
      let skip = 0;
      if (p === 0) {
        skip = 1;
        while (text[skip] === ' ' || text[skip] === '\t') skip++;
      }
      if (p + skip < text.length) {
        let rest = text.slice(p + skip);
        let restCols = cols.slice(p + skip);
        const trimmed = rest.replace(/[ \t]+$/, '');
        restCols = restCols.slice(0, trimmed.length);
        rest = trimmed;
        this.#residue = { text: rest, cols: restCols, file, line };
        text = text.slice(0, p + skip);
        cols = cols.slice(0, p + skip);
      }
    }
    const trimmed = text.replace(/[ \t]+$/, '');
    return { file, line, text: trimmed, cols: cols.slice(0, trimmed.length) };
  }
}

function relativeName(abs: string, baseDir: string): string {
  const prefix = baseDir.endsWith('/') ? baseDir : baseDir + '/';
  return abs.startsWith(prefix) ? abs.slice(prefix.length) : abs;
}

export function splitLines(text: string): string[] {
  // fgets semantics: a final line without a newline still counts; trailing CR/LF dropped.
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => l.replace(/[\r\n]+$/, ''));
}

/**
 * lib/parser.c decomment: drop leading blanks, comments (`#` or `!` outside double quotes),
 * the backslash of `\#` and `\!` outside quotes, and trailing blanks. Columns follow the kept
 * characters. `unterminated` is the column of an unclosed quote (keepalived reports it).
 */
export function decomment(src: string, cols: readonly number[]): { text: string; cols: number[]; unterminated: number } {
  let start = 0;
  while (src[start] === ' ' || src[start] === '\t') start++;
  const chars: string[] = [];
  const outCols: number[] = [];
  let quote = false;
  let quoteCol = 0;
  let cont = false;
  let i = start;
  let skipping = false;
  for (; i < src.length; i++) {
    const c = src[i];
    if (skipping) {
      // keepalived keeps scanning after a comment start only to track quotes for the "\" rule;
      // nothing after the comment start is kept.
      continue;
    }
    if (c === '"') {
      quote = !quote;
      if (quote) quoteCol = cols[i];
      chars.push(c);
      outCols.push(cols[i]);
      continue;
    }
    if (c === '\\') {
      if (i + 1 < src.length) {
        const n = src[i + 1];
        if (!quote && (n === '#' || n === '!')) {
          chars.push(n);
          outCols.push(cols[i + 1]);
          i++;
          continue;
        }
        chars.push(c, n);
        outCols.push(cols[i], cols[i + 1]);
        i++;
        continue;
      }
      cont = true;
      break;
    }
    if (!quote && (c === '!' || c === '#')) {
      skipping = true;
      continue;
    }
    chars.push(c);
    outCols.push(cols[i]);
  }
  let text = chars.join('');
  let n = text.length;
  while (n > 0 && (text[n - 1] === ' ' || text[n - 1] === '\t')) n--;
  text = text.slice(0, n);
  const c2 = outCols.slice(0, n);
  if (cont) {
    text += '\\';
    c2.push(cols[src.length - 1]);
  }
  return { text, cols: c2, unterminated: quote ? quoteCol : 0 };
}

/**
 * lib/parser.c alloc_strvec_r: words split on blanks; a word starting with `"` runs to the
 * next `"` (quotes dropped, no escapes); a `"` inside a word ends that word.
 */
export function splitWords(text: string, cols: readonly number[], onUnmatched?: (col: number) => void): Word[] {
  const out: Word[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && WHITE.includes(text[i])) i++;
    if (i >= text.length) break;
    if (text[i] === '"') {
      const close = text.indexOf('"', i + 1);
      if (close < 0) {
        onUnmatched?.(cols[i]);
        break;
      }
      out.push({ text: text.slice(i + 1, close), col: cols[i] });
      i = close + 1;
    } else {
      let j = i;
      while (j < text.length && !WHITE.includes(text[j]) && text[j] !== '"') j++;
      out.push({ text: text.slice(i, j), col: cols[i] });
      i = j;
    }
  }
  return out;
}

/**
 * lib/parser.c alloc_strvec_quoted_escaped: shell-like words, `"` and `'` quotes, C escapes
 * (\n \t \xHH \NNN \cX ...). Used for script and regex arguments. Null on an unterminated
 * quote (keepalived reports it) or a backslash at the very end.
 */
export function splitQuotedEscaped(src: string): { words: string[]; error: string | null } {
  const words: string[] = [];
  let i = 0;
  let quote = '';
  while (i < src.length) {
    while (i < src.length && WHITE.includes(src[i])) i++;
    if (i >= src.length) break;
    let w = '';
    while (i < src.length) {
      const c = src[i];
      if (c === '\\') {
        i++;
        if (i >= src.length) return { words, error: `Missing escape char at end: '${src}'` };
        const e = src[i];
        if (e === 'x' && /[0-9a-fA-F]/.test(src[i + 1] ?? '')) {
          i++;
          let v = 0;
          while (i < src.length && /[0-9a-fA-F]/.test(src[i])) { v = ((v << 4) | parseInt(src[i], 16)) & 0xff; i++; }
          w += String.fromCharCode(v);
        } else if (e === 'c' && i + 1 < src.length) {
          w += String.fromCharCode(src.charCodeAt(i + 1) & 0x1f);
          i += 2;
        } else if (e >= '0' && e <= '7') {
          let v = e.charCodeAt(0) - 48;
          i++;
          for (let k = 0; k < 2 && src[i] >= '0' && src[i] <= '7'; k++) { v = ((v << 3) + src.charCodeAt(i) - 48) & 0xff; i++; }
          w += String.fromCharCode(v);
        } else {
          const map: Record<string, string> = { a: '\x07', b: '\b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
          w += map[e] ?? e;
          i++;
        }
        continue;
      }
      if (quote) {
        if (c === quote) { quote = ''; i++; continue; }
        w += c;
        i++;
        continue;
      }
      if (c === '"' || c === "'") { quote = c; i++; continue; }
      if (WHITE.includes(c)) break;
      w += c;
      i++;
    }
    if (quote) return { words, error: `String '${src}': missing terminating ${quote}` };
    words.push(w);
  }
  return { words, error: null };
}
