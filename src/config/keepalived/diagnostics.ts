/**
 * Diagnostics of the keepalived.conf loader, and the verdict `keepalived -t` would give.
 *
 * keepalived classifies every configuration message (lib/parser.h config_err_t, in this order)
 * and `keepalived -t` exits with the worst class seen (the highest enum value wins, so a warning
 * outranks a missing file): 0 nothing reported, 4 file-not-found/bad-interface/fatal only,
 * 5 any other error or warning, 6 script security (keepalived/core/main.c config_test_exit).
 * A missing keyword parameter is special: keepalived stops the process at once with exit 2
 * (lib/parser.c null_strvec), so loading stops there too.
 *
 * keepalived itself keeps running with every class but the fatal ones; it only logs the message.
 * tslvs keeps the same meaning (the fixed-up configuration keepalived would run with) and reports
 * each message once, as `file:line:col: text`, where keepalived prints `(file: Line N) text`.
 */

/** lib/parser.h config_err_t, in keepalived's order (the order is the severity ranking). */
export const CONFIG_OK = 0;
export const CONFIG_FILE_NOT_FOUND = 1;
export const CONFIG_BAD_IF = 2;
export const CONFIG_FATAL = 3;
export const CONFIG_MULTIPLE_FILES = 4;
export const CONFIG_UNKNOWN_KEYWORD = 5;
export const CONFIG_UNEXPECTED_BOB = 6;
export const CONFIG_MISSING_BOB = 7;
export const CONFIG_UNEXPECTED_EOB = 8;
export const CONFIG_MISSING_EOB = 9;
export const CONFIG_UNMATCHED_QUOTE = 10;
export const CONFIG_MISSING_PARAMETER = 11;
export const CONFIG_INVALID_NUMBER = 12;
export const CONFIG_GENERAL_ERROR = 13;
export const CONFIG_WARNING = 14;
export const CONFIG_DEPRECATED = 15;
export const CONFIG_SECURITY_ERROR = 16;

export type ConfigErrClass = number;

export const CONFIG_CLASS_NAMES: readonly string[] = [
  'ok', 'file-not-found', 'bad-interface', 'fatal', 'multiple-files', 'unknown-keyword',
  'unexpected-{', 'missing-{', 'unexpected-}', 'missing-}', 'unmatched-quote', 'missing-parameter',
  'invalid-number', 'error', 'warning', 'deprecated', 'security',
];

/** Exit statuses of `keepalived -t` (lib/scheduler.h KEEPALIVED_CHK_EXIT_*, KEEPALIVED_EXIT_CONFIG). */
export type Verdict = 0 | 2 | 4 | 5 | 6;

export interface Diagnostic {
  /** File as keepalived names it: the -f path, or the include pattern as matched. */
  readonly file: string;
  /** 1-based; 0 when the message is not tied to a line. */
  readonly line: number;
  /** 1-based column of the offending word; 0 when unknown. */
  readonly col: number;
  readonly cls: ConfigErrClass;
  /** keepalived 2.2.7's own message text, without its "(file: Line N) " prefix. */
  readonly kaText: string;
  /** What tslvs prints after "file:line:col: "; usually kaText, richer for unknown keywords. */
  readonly message: string;
  /** True for messages keepalived logs without counting them (log_message, not report_config_error). */
  readonly logOnly: boolean;
}

export interface Pos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export const NO_POS: Pos = Object.freeze({ file: '', line: 0, col: 0 });

/** Thrown inside the loader when keepalived would exit at once (missing parameter). */
export class StopParsing extends Error {
  constructor(readonly exitCode: Verdict) {
    super('keepalived stops here');
  }
}

export class DiagnosticSink {
  readonly list: Diagnostic[] = [];
  #worst = CONFIG_OK;
  #fatalExit: Verdict | null = null;

  report(cls: ConfigErrClass, pos: Pos, kaText: string, message: string = kaText): void {
    // keepalived -t parses the file once per process; the same message from two passes is one.
    if (this.list.some((d) => d.cls === cls && d.line === pos.line && d.col === pos.col && d.file === pos.file && d.kaText === kaText && d.message === message)) {
      if (this.#worst === CONFIG_OK || this.#worst < cls) this.#worst = cls;
      return;
    }
    this.list.push(Object.freeze({ file: pos.file, line: pos.line, col: pos.col, cls, kaText, message, logOnly: false }));
    // lib/parser.c vreport_config_error: the highest class seen wins.
    if (this.#worst === CONFIG_OK || this.#worst < cls) this.#worst = cls;
  }

  /** A message keepalived logs but does not count towards the verdict. */
  log(pos: Pos, kaText: string, message: string = kaText): void {
    if (this.list.some((d) => d.logOnly && d.line === pos.line && d.file === pos.file && d.message === message)) return;
    this.list.push(Object.freeze({ file: pos.file, line: pos.line, col: pos.col, cls: CONFIG_OK, kaText, message, logOnly: true }));
  }

  stop(exitCode: Verdict): never {
    this.#fatalExit = exitCode;
    throw new StopParsing(exitCode);
  }

  get worst(): ConfigErrClass {
    return this.#worst;
  }

  verdict(): Verdict {
    if (this.#fatalExit !== null) return this.#fatalExit;
    return verdictOf(this.#worst);
  }
}

/** keepalived/core/main.c config_test_exit. */
export function verdictOf(worst: ConfigErrClass): Verdict {
  if (worst === CONFIG_OK) return 0;
  if (worst === CONFIG_FILE_NOT_FOUND || worst === CONFIG_BAD_IF || worst === CONFIG_FATAL) return 4;
  if (worst === CONFIG_SECURITY_ERROR) return 6;
  return 5;
}

/** `file:line:col: message`, the one-line form tslvs prints. */
export function formatDiagnostic(d: Diagnostic): string {
  if (!d.file) return d.message;
  if (!d.line) return `${d.file}: ${d.message}`;
  return `${d.file}:${d.line}:${d.col || 1}: ${d.message}`;
}
