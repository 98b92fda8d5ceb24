/**
 * The block engine of keepalived.conf, as lib/parser.c process_stream and alloc_value_block:
 * a tree of keywords, each with an optional handler (called with the words of its line), an
 * optional sub-block of keywords and a close handler. Owns: the keyword level, the skip state
 * a handler can ask for (skip_block), and the "{" expected after a block keyword.
 *
 * keepalived runs this once per process with some blocks inactive; tslvs runs it once with
 * every block active, which reports each message once where `keepalived -t` may print it up to
 * four times.
 */
import {
  CONFIG_GENERAL_ERROR, CONFIG_MISSING_BOB, CONFIG_MISSING_EOB, CONFIG_MISSING_PARAMETER, CONFIG_UNEXPECTED_BOB,
  CONFIG_UNKNOWN_KEYWORD, CONFIG_UNMATCHED_QUOTE, type DiagnosticSink, type Pos,
} from './diagnostics.js';
import { type Lexer, type Piece, type Word, splitQuotedEscaped, splitWords } from './lexer.js';

/** What a keyword handler receives. */
export interface Line {
  readonly words: readonly Word[];
  readonly piece: Piece;
}

export interface KeywordSpec {
  readonly name: string;
  readonly handler?: (ctx: ParseContext, line: Line) => void;
  /** Keywords of the block this keyword opens. */
  readonly sub?: readonly KeywordSpec[];
  /** Called when the block closes (install_sublevel_end_handler), unless the block was skipped. */
  readonly end?: (ctx: ParseContext) => void;
  /** Human name of the block for "in <block>" in unknown-keyword messages (default: name). */
  readonly blockName?: string;
}

export class ParseContext {
  readonly sink: DiagnosticSink;
  readonly lexer: Lexer;
  #skipSublevel = 0;
  #kwLevel = 0;
  static #seq = 0;
  /**
   * Where the block being closed ended: keepalived runs a close handler while reading the
   * closing "}", so its messages carry that line (tslvs reports them there too).
   */
  endPos: Pos = { file: '', line: 0, col: 0 };

  /**
   * Which keepalived process this pass plays: 'parent' (global_defs), 'checker' (LVS),
   * 'vrrp' or 'bfd'. Root keywords of the other processes are inactive in a pass: keepalived
   * skips their block, or, when no "{" follows, reads on at the top level.
   */
  readonly pass: string;
  readonly #active: (root: string) => boolean;

  constructor(sink: DiagnosticSink, lexer: Lexer, pass = 'all', active: (root: string) => boolean = () => true) {
    this.sink = sink;
    this.lexer = lexer;
    this.pass = pass;
    this.#active = active;
  }

  /** Position of word `i` of a line (or of the line when the word is missing). */
  pos(line: Line, i = 0): Pos {
    const w = line.words[i] ?? line.words[line.words.length - 1];
    return { file: line.piece.file, line: line.piece.line, col: w ? w.col : (line.piece.cols[0] ?? 0) };
  }

  /**
   * strvec_slot: word `i`, or keepalived's fatal "missing a parameter" (it exits with status 2
   * right there, so loading stops too).
   */
  word(line: Line, i: number): string {
    const w = line.words[i];
    if (w !== undefined) return w.text;
    const first = line.words[0]?.text ?? '***MISSING ***';
    const prev = line.words[i - 1];
    const text = i > 0 && prev
      ? `*** Configuration line starting \`${first}\` is missing a parameter after keyword \`${prev.text}\` at word position ${i + 1}`
      : `*** Configuration line starting \`${first}\` is missing a parameter at word position ${i + 1}`;
    this.sink.report(CONFIG_MISSING_PARAMETER, this.pos(line, line.words.length - 1), text,
      `${text}; add the value after "${prev?.text ?? first}"`);
    return this.sink.stop(2);
  }

  /** A number increasing in parse order (across passes), to replay keepalived's order later. */
  nextSeq(): number {
    return ++ParseContext.#seq;
  }

  /** lib/parser.c skip_block: ignore the rest of the block this keyword opens. */
  skipBlock(needBlockStart: boolean): void {
    this.#skipSublevel = needBlockStart ? -1 : 1;
  }

  /** The raw piece re-split shell-style (alloc_strvec_quoted_escaped(NULL)). */
  quotedEscaped(line: Line): string[] | null {
    const r = splitQuotedEscaped(line.piece.text);
    if (r.error) {
      if (r.error.startsWith('String')) this.sink.report(CONFIG_UNMATCHED_QUOTE, this.pos(line), r.error);
      else this.sink.log(this.pos(line), r.error);
      return null;
    }
    return r.words.length ? r.words : null;
  }

  /**
   * lib/parser.c alloc_value_block: the lines of a `{ ... }` block whose content is values, not
   * keywords (virtual_ipaddress, virtual_server_group, notification_email...).
   */
  readValueBlock(line: Line, startWord = 1, blockName: string = line.words[0].text): Line[] {
    const out: Line[] = [];
    let needBob = true;
    if (line.words.length > startWord) {
      if (line.words[startWord].text === '{') {
        needBob = false;
        let rest = line.words.slice(startWord + 1);
        let hadEob = false;
        if (rest.length && rest[rest.length - 1].text === '}') {
          rest = rest.slice(0, -1);
          hadEob = true;
        }
        if (rest.length) out.push({ words: rest, piece: line.piece });
        if (hadEob) return out;
      } else {
        this.sink.report(CONFIG_GENERAL_ERROR, this.pos(line, startWord),
          `Block ${blockName} has extra parameters ${line.words[startWord].text} ...`);
      }
    }
    for (;;) {
      const piece = this.lexer.next();
      if (!piece) break;
      this.endPos = { file: piece.file, line: piece.line, col: piece.cols[0] ?? 0 };
      let words = this.#words(piece);
      if (!words.length) continue;
      if (needBob) {
        needBob = false;
        if (words[0].text === '{') {
          if (words.length === 1) continue;
          words = words.slice(1);
        } else {
          this.sink.log({ file: piece.file, line: piece.line, col: words[0].col },
            `'{' missing from beginning of block ${blockName}`);
        }
      }
      const last = words[words.length - 1];
      if (last.text === '}') {
        if (words.length === 1) break;
        out.push({ words: words.slice(0, -1), piece });
        break;
      }
      out.push({ words, piece });
    }
    return out;
  }

  #words(piece: Piece): Word[] {
    return splitWords(piece.text, piece.cols, (col) => this.sink.report(CONFIG_UNMATCHED_QUOTE,
      { file: piece.file, line: piece.line, col }, `Unmatched quote: '${piece.text}'`));
  }

  /** Run the top level over the whole input, then report unbalanced braces. */
  run(root: readonly KeywordSpec[]): void {
    this.#stream(root, false, 'the top level');
    const depth = this.lexer.blockDepth;
    if (depth > 0) {
      this.sink.report(CONFIG_MISSING_EOB, { file: '', line: 0, col: 0 }, `There are ${depth} missing '}'s or extra '{'s`,
        `There are ${depth} missing '}'s or extra '{'s; close every block with "}"`);
    }
  }

  /** lib/parser.c process_stream. Returns true when the block was skipped. */
  #stream(keywords: readonly KeywordSpec[], needBob: boolean, blockName: string): boolean {
    for (;;) {
      const piece = this.lexer.next();
      if (!piece) return false;
      this.endPos = { file: piece.file, line: piece.line, col: piece.cols[0] ?? 0 };
      const words = this.#words(piece);
      if (!words.length) continue;
      const str = words[0].text;

      if (this.#skipSublevel === -1) {
        if (str === '{') {
          this.#skipSublevel = 1;
          needBob = false;
          continue;
        }
        this.#skipSublevel = 0;
      }
      if (this.#skipSublevel) {
        let last = str;
        for (const w of words) {
          last = w.text;
          if (w.text === '{') this.#skipSublevel++;
          else if (w.text === '}') {
            if (--this.#skipSublevel === 0) break;
          }
        }
        if (last === '}' && this.#skipSublevel === 0 && this.#kwLevel > 0) return true;
        continue;
      }

      if (needBob) {
        needBob = false;
        if (str === '{' && this.#kwLevel > 0) continue;
        this.sink.report(CONFIG_MISSING_BOB, { file: piece.file, line: piece.line, col: words[0].col },
          `Missing '{' at beginning of configuration block`,
          `Missing '{' at beginning of configuration block ${blockName}; put "{" after the keyword`);
      } else if (str === '{') {
        this.sink.report(CONFIG_UNEXPECTED_BOB, { file: piece.file, line: piece.line, col: words[0].col }, `Unexpected '{' - ignoring`);
        continue;
      }

      if (str === '}' && this.#kwLevel > 0) {
        this.endPos = { file: piece.file, line: piece.line, col: words[0].col };
        return false;
      }

      const kw = keywords.find((k) => k.name === str);
      if (!kw) {
        this.sink.report(CONFIG_UNKNOWN_KEYWORD, { file: piece.file, line: piece.line, col: words[0].col },
          `Unknown keyword '${str}'`, unknownKeywordMessage(str, keywords, blockName));
        continue;
      }

      if (this.#kwLevel === 0 && !this.#active(kw.name)) {
        // lib/parser.c: an inactive keyword is skipped with its block (its sub-keywords are not installed).
        this.#skipSublevel = words[words.length - 1].text === '{' ? 1 : -1;
        continue;
      }

      let ws = words;
      let bobNeeded = false;
      if (kw.sub) {
        if (ws[ws.length - 1].text === '{') ws = ws.slice(0, -1);
        else bobNeeded = true;
      }
      const line: Line = { words: ws, piece };
      kw.handler?.(this, line);
      if (kw.sub) {
        this.#kwLevel++;
        const skipped = this.#stream(kw.sub, bobNeeded, kw.blockName ?? kw.name);
        this.#kwLevel--;
        if (!skipped) kw.end?.(this);
      }
    }
  }
}

/** The keywords people mostly write in each block, offered after the near misses. */
const COMMON: Record<string, readonly string[]> = {
  'the top level': ['global_defs', 'virtual_server', 'virtual_server_group', 'vrrp_instance', 'vrrp_sync_group', 'include'],
  global_defs: ['router_id', 'notification_email', 'smtp_server', 'script_user', 'enable_script_security', 'lvs_sync_daemon'],
  virtual_server: ['delay_loop', 'lb_algo', 'lb_kind', 'protocol', 'persistence_timeout', 'real_server', 'quorum', 'sorry_server'],
  real_server: ['weight', 'inhibit_on_failure', 'TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'MISC_CHECK', 'notify_up', 'notify_down'],
  TCP_CHECK: ['connect_timeout', 'connect_port', 'retry', 'delay_before_retry'],
  HTTP_GET: ['url', 'connect_timeout', 'retry', 'delay_before_retry', 'virtualhost'],
  SSL_GET: ['url', 'connect_timeout', 'retry', 'delay_before_retry', 'virtualhost'],
  url: ['path', 'status_code', 'digest', 'virtualhost'],
  MISC_CHECK: ['misc_path', 'misc_timeout', 'misc_dynamic', 'retry'],
  vrrp_instance: ['state', 'interface', 'virtual_router_id', 'priority', 'advert_int', 'virtual_ipaddress', 'authentication'],
};

/** `Unknown keyword "delay_lop" in virtual_server: expected delay_loop, lb_algo, lb_kind, ...` */
export function unknownKeywordMessage(word: string, keywords: readonly KeywordSpec[], blockName: string): string {
  const names = [...new Set(keywords.map((k) => k.name))];
  const scored = names.map((n, i) => ({ n, i, d: editDistance(word.toLowerCase(), n.toLowerCase()) }));
  const close = scored.filter((s) => s.d <= Math.max(2, Math.floor(word.length / 3))).sort((a, b) => a.d - b.d || a.i - b.i);
  const picked: string[] = close.slice(0, 3).map((s) => s.n);
  for (const n of [...(COMMON[blockName] ?? []).filter((x) => names.includes(x)), ...names]) {
    if (picked.length >= 3) break;
    if (!picked.includes(n)) picked.push(n);
  }
  const more = names.length > picked.length ? ', ...' : '';
  return `Unknown keyword "${word}" in ${blockName}: expected ${picked.join(', ')}${more}` +
    ` (keepalived 2.2.7 also only warns and ignores the line)`;
}

export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  let prev = new Array<number>(n + 1);
  let cur = new Array<number>(n + 1);
  for (let j = 0; j <= n; j++) prev[j] = j;
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    [prev, cur] = [cur, prev];
  }
  return prev[n];
}
