/**
 * A command-line scanner that behaves as libpopt 1.19's poptGetNextOpt does for ipvsadm's option
 * table (no aliases, no execs, no callbacks, context flags 0):
 * - "--name" or "--name=value" must match a long name exactly (no abbreviations);
 * - "-abc" is a bundle of short options; an option that takes a value takes the rest of the
 *   bundle ("-srr", "-p60"; one leading "=" is skipped: "-p=60"), else the next word, whatever
 *   it looks like ("-s -n" gives the scheduler "-n"); an optional value ("-p") is taken from
 *   the next word only when that word does not start with "-";
 * - "=value" given to an option without a value is POPT_ERROR_UNWANTEDARG;
 * - words that are not options are collected as leftovers (poptGetArg); "--" makes every later
 *   word a leftover, and so does the first leftover when POSIXLY_CORRECT or POSIX_ME_HARDER is set;
 * - poptBadOption(NOALIAS) is the last word consumed, whole ("-Lnq", "--foo=bar", or the value
 *   "master" of an option that was consumed with it).
 * popt's "!#:+" argument expansion is not reproduced.
 */

export enum ArgKind {
  None,
  Required,
  Optional,
}

export interface OptionSpec<V> {
  long: string | null;
  short: string | null;
  kind: ArgKind;
  val: V;
}

export type PoptErrorCode = 'NOARG' | 'BADOPT' | 'UNWANTEDARG';

export type PoptEvent<V> =
  | { type: 'opt'; val: V; arg: string | null }
  | { type: 'end' }
  | { type: 'error'; code: PoptErrorCode };

/** Lookup tables of an option table, made once per table. */
const INDEX = new WeakMap<readonly OptionSpec<unknown>[], { long: Map<string, OptionSpec<unknown>>; short: Map<string, OptionSpec<unknown>> }>();

function indexOf<V>(options: readonly OptionSpec<V>[]): { long: Map<string, OptionSpec<V>>; short: Map<string, OptionSpec<V>> } {
  let ix = INDEX.get(options);
  if (!ix) {
    ix = { long: new Map(), short: new Map() };
    // popt takes the first match in table order.
    for (const o of options) {
      if (o.long !== null && !ix.long.has(o.long)) ix.long.set(o.long, o);
      if (o.short !== null && !ix.short.has(o.short)) ix.short.set(o.short, o);
    }
    INDEX.set(options, ix);
  }
  return ix as { long: Map<string, OptionSpec<V>>; short: Map<string, OptionSpec<V>> };
}

export class Popt<V> {
  readonly #argv: readonly string[];
  readonly #long: Map<string, OptionSpec<V>>;
  readonly #short: Map<string, OptionSpec<V>>;
  readonly #posixMeHarder: boolean;
  #next = 1;
  #nextCharArg: string | null = null;
  #restLeftover = false;
  readonly #leftovers: string[] = [];
  #nextLeftover = 0;

  /** argv includes argv[0], which is skipped as popt does. */
  constructor(argv: readonly string[], options: readonly OptionSpec<V>[], env: Readonly<Record<string, string | undefined>> = {}) {
    this.#argv = argv;
    const ix = indexOf(options);
    this.#long = ix.long;
    this.#short = ix.short;
    this.#posixMeHarder = env.POSIXLY_CORRECT !== undefined || env.POSIX_ME_HARDER !== undefined;
  }

  getNextOpt(): PoptEvent<V> {
    for (;;) {
      if (this.#nextCharArg === null && this.#next === this.#argv.length) return { type: 'end' };
      let opt: OptionSpec<V> | undefined;
      let longArg: string | null = null;

      if (this.#nextCharArg === null) {
        const orig = this.#argv[this.#next++];
        if (this.#restLeftover || orig[0] !== '-' || orig === '-') {
          if (this.#posixMeHarder) this.#restLeftover = true;
          this.#leftovers.push(orig);
          continue;
        }
        if (orig === '--') {
          this.#restLeftover = true;
          continue;
        }
        const isLong = orig[1] === '-';
        if (isLong) {
          const body = orig.slice(2);
          const eq = body.indexOf('=');
          const name = eq === -1 ? body : body.slice(0, eq);
          if (eq !== -1) longArg = body.slice(eq + 1);
          opt = this.#long.get(name);
          if (!opt) return { type: 'error', code: 'BADOPT' };
        } else {
          this.#nextCharArg = orig.slice(1);
        }
      }

      if (this.#nextCharArg !== null) {
        const bundle = this.#nextCharArg;
        this.#nextCharArg = null;
        opt = this.#short.get(bundle[0]);
        if (!opt) return { type: 'error', code: 'BADOPT' };
        if (bundle.length > 1) this.#nextCharArg = bundle.slice(1);
      }

      const o = opt!;
      if (o.kind === ArgKind.None) {
        if (longArg !== null || (this.#nextCharArg !== null && this.#nextCharArg[0] === '=')) {
          return { type: 'error', code: 'UNWANTEDARG' };
        }
        return this.#opt(o.val, null);
      }
      let arg: string | null;
      if (longArg !== null) {
        arg = longArg;
      } else if (this.#nextCharArg !== null) {
        arg = this.#nextCharArg[0] === '=' ? this.#nextCharArg.slice(1) : this.#nextCharArg;
        this.#nextCharArg = null;
      } else if (this.#next === this.#argv.length) {
        if (o.kind !== ArgKind.Optional) return { type: 'error', code: 'NOARG' };
        arg = null;
      } else if (o.kind === ArgKind.Optional && this.#argv[this.#next][0] === '-') {
        arg = null;
      } else {
        arg = this.#argv[this.#next++];
      }
      return this.#opt(o.val, arg);
    }
  }

  /** One event object per scanner, refilled for each option (callers read it at once). */
  readonly #ev: { type: 'opt'; val: V; arg: string | null } = { type: 'opt', val: undefined as V, arg: null };

  #opt(val: V, arg: string | null): PoptEvent<V> {
    this.#ev.val = val;
    this.#ev.arg = arg;
    return this.#ev;
  }

  /** poptGetArg: the next leftover word, or null. */
  getArg(): string | null {
    return this.#nextLeftover < this.#leftovers.length ? this.#leftovers[this.#nextLeftover++] : null;
  }

  /** poptBadOption(con, POPT_BADOPTION_NOALIAS): the last word consumed. */
  badOption(): string {
    return this.#argv[this.#next - 1];
  }
}
