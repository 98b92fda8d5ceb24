/**
 * Entry point: read a keepalived.conf (and its includes) and return its meaning, every message
 * keepalived 2.2.7 would give about it, and the verdict `keepalived -t` would exit with.
 *
 * On "all or nothing": keepalived keeps running with a file that has errors (it logs them and
 * uses its fixed-up meaning). tslvs returns that same meaning so nothing is misread, and says
 * `ok: false` whenever `keepalived -t` would not exit 0; the daemon refuses such a file
 * unless told to behave like keepalived (see docs/keepalived.md).
 */
import { dirname, resolve } from 'node:path';
import {
  type Diagnostic, DiagnosticSink, formatDiagnostic, StopParsing, type Verdict,
} from './diagnostics.js';
import { CheckState, checkRootKeywords } from './check-keywords.js';
import { globalRootKeywords } from './global-keywords.js';
import { Lexer } from './lexer.js';
import { newDraft } from './model.js';
import { type KeywordSpec, ParseContext } from './parser.js';
import { ScriptUsers } from './scripts.js';
import { type HostFacts, systemHost } from './system.js';
import type { KeepalivedConfig } from './types.js';
import { validate } from './validate.js';
import { vrrpRootKeywords } from './vrrp-keywords.js';

export interface LoadOptions {
  /** keepalived -i: the config id for `@id` lines (default: the short host name). */
  readonly configId?: string;
  /** Facts about this host: users, script files, interfaces (default: the real host). */
  readonly host?: HostFacts;
  /** Directory a relative main path is resolved against (default: process.cwd()). */
  readonly cwd?: string;
}

export interface LoadResult {
  /** The meaning keepalived would run with; null only when the main file could not be read. */
  readonly config: KeepalivedConfig | null;
  readonly diagnostics: readonly Diagnostic[];
  /** The exit status `keepalived -t` would give (0, 2, 4, 5, 6). */
  readonly verdict: Verdict;
  /** verdict === 0 and nothing tslvs refuses. */
  readonly ok: boolean;
}

/** Load from a file on disk. */
export function loadKeepalivedConfig(path: string, opts: LoadOptions = {}): LoadResult {
  return run(opts, (lexer) => lexer.openMain(path));
}

/** Load from text in memory; `name` is used in messages, includes resolve against `dir`. */
export function parseKeepalivedText(text: string, name = 'keepalived.conf', opts: LoadOptions & { dir?: string } = {}): LoadResult {
  return run(opts, (lexer) => {
    lexer.openText(name, text, opts.dir ?? resolve(opts.cwd ?? process.cwd(), dirname(name)));
    return true;
  });
}

/**
 * keepalived -t reads the file four times, once per process, each time with only its own root
 * keywords active: the parent (global_defs), the checker (LVS, BFD names, track_file), VRRP
 * (vrrp_*, BFD names, track_file) and BFD. Usually that only repeats messages; with a missing
 * "{" the inactive passes read the block's lines at the top level and report them, so tslvs
 * runs the same four passes and keeps each message once.
 */
const PASSES: ReadonlyArray<{ pass: string; roots: (r: Roots) => ReadonlySet<string> }> = [
  { pass: 'parent', roots: (r) => r.global },
  { pass: 'checker', roots: (r) => new Set([...r.check, ...r.track, 'bfd_instance']) },
  { pass: 'vrrp', roots: (r) => new Set([...r.vrrp, ...r.track, 'bfd_instance']) },
  { pass: 'bfd', roots: () => new Set(['bfd_instance']) },
];

interface Roots {
  global: ReadonlySet<string>;
  vrrp: ReadonlySet<string>;
  check: ReadonlySet<string>;
  track: ReadonlySet<string>;
}

function run(opts: LoadOptions, open: (lexer: Lexer) => boolean): LoadResult {
  const sink = new DiagnosticSink();
  const host = opts.host ?? systemHost();
  const draft = newDraft(host.interfaces());
  const users = new ScriptUsers(host, sink);
  const globalKw = globalRootKeywords(draft, users);
  const vrrpKw = vrrpRootKeywords(draft);
  const checkKw = checkRootKeywords(new CheckState(draft));
  const root: KeywordSpec[] = [...globalKw, ...vrrpKw, ...checkKw];
  const track = new Set(['track_file', 'vrrp_track_file']);
  const roots: Roots = {
    global: new Set(globalKw.map((k) => k.name)),
    vrrp: new Set(vrrpKw.map((k) => k.name).filter((n) => n !== 'bfd_instance')),
    check: new Set(checkKw.map((k) => k.name).filter((n) => !track.has(n))),
    track,
  };
  let files: readonly string[] = [];
  try {
    for (const p of PASSES) {
      const lexer = new Lexer(sink, { configId: opts.configId, cwd: opts.cwd, countLikeParent: p.pass === 'parent' });
      if (!open(lexer)) return finish(sink, null);
      const active = p.roots(roots);
      new ParseContext(sink, lexer, p.pass, (name) => active.has(name)).run(root);
      if (p.pass === 'parent') {
        files = lexer.filesRead;
        if (lexer.fileError) {
          // keepalived/core/main.c: a required include was missing, so it stops before the other passes (exit 6).
          return Object.freeze({ config: null, diagnostics: Object.freeze([...sink.list]), verdict: 6, ok: false });
        }
      }
    }
    return finish(sink, validate(draft, sink, host, users, files));
  } catch (e) {
    if (!(e instanceof StopParsing)) throw e;
    return finish(sink, null);
  }
}

function finish(sink: DiagnosticSink, config: KeepalivedConfig | null): LoadResult {
  const verdict = sink.verdict();
  const tslvsOnly = sink.list.some((d) => !d.logOnly && d.kaText === '');
  return Object.freeze({ config, diagnostics: Object.freeze([...sink.list]), verdict, ok: verdict === 0 && !tslvsOnly && config !== null });
}

/** The diagnostics a user should see (not the log-only ones), one line each. */
export function formatDiagnostics(r: LoadResult, opts: { includeLog?: boolean } = {}): string[] {
  return r.diagnostics.filter((d) => opts.includeLog || !d.logOnly).map(formatDiagnostic);
}

/** The one-time "not active" notice for VRRP/BFD/static blocks (the daemon prints it at start). */
export function inactiveNotices(config: KeepalivedConfig): string[] {
  return config.inactive.map((b) =>
    `${b.at.file}:${b.at.line}:${b.at.col}: ${b.keyword}${b.name ? ` ${b.name}` : ''} is parsed and valid but not active: tslvs has no director failover yet (only the LVS part of keepalived.conf is applied)`);
}
