/**
 * tslvsadm: ipvsadm 1.31's command line, talking to the tslvs daemon instead of the kernel.
 * Parses and validates locally exactly as ipvsadm does (command.ts), sends table commands over
 * the control socket, maps failures to ipvsadm's words (messages.ts) and formats listings
 * locally (format.ts, save.ts). Exit status as ipvsadm: 0 success, 1 listing a missing service,
 * 2 local usage errors (and no daemon), 255 a refused operation or a popt error.
 *
 * Differences from ipvsadm, on purpose: the daemon is contacted only when a command needs it
 * (ipvsadm opens IPVS first, so even -h fails without it); -R reads all of stdin before acting;
 * after an error ipvsadm gives no fix for, a second line "hint: ..." names one.
 */
import {
  type CommandError, type CommandRow, commandToRow, type Request, type Response, type ServiceIdWire, snapshotFromRows, type TableCommand,
  type TableSnapshot,
} from '../../control/protocol.js';
import { type Action, FMT_JSON, FMT_NUMERIC, FMT_RATE, FMT_STATS, parseCommand, type Outcome } from './command.js';
import { listAll, listConns, listService, listTimeout, Namer } from './format.js';
import { badReply, cannotOpenConnFile, type Failure, ipvsHint, ipvsStrerror, noDaemon, syncNotSupported, VERSION_LINE } from './messages.js';
import { NeedLookup, Resolver } from './resolve.js';
import { quickRow } from './quick-line.js';
import { splitRestoreLines, tokensOf } from './restore.js';
import { usageText } from './usage.js';
import { request } from '../control-client.js';

export const PROGRAM = 'tslvsadm';

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  request(req: Request): Promise<Response>;
  env: Readonly<Record<string, string | undefined>>;
  resolver?: Resolver;
}

/** Ends the run with an exit status (fail(), exit()). */
class Exit {
  constructor(readonly code: number) {}
}

function failureText(f: Failure): string {
  return `${f.text}\n${f.hint ? `hint: ${f.hint}\n` : ''}`;
}

function commandErrorText(e: CommandError): string {
  if (e.message) return `${e.message}\n${e.hint ? `hint: ${e.hint}\n` : ''}`;
  const hint = e.hint ?? ipvsHint(e.op, e.errno);
  return `${ipvsStrerror(e.op, e.errno)}\n${hint ? `hint: ${hint}\n` : ''}`;
}

class Session {
  readonly #io: Io;
  readonly #resolver: Resolver;

  constructor(io: Io) {
    this.#io = io;
    this.#resolver = io.resolver ?? Resolver.fromEnv(io.env);
  }

  fail(f: Failure): never {
    this.#io.stderr(failureText(f));
    throw new Exit(f.exit);
  }

  async send(req: Request): Promise<Response> {
    try {
      return await this.#io.request(req);
    } catch (e) {
      const err = e as { code?: unknown; message?: unknown; hint?: unknown };
      if (err && err.code === 'TSLVS_ERR_NO_DAEMON') {
        this.fail(noDaemon(String(err.message), 'start one with "tslvs run", or point to it with TSLVS_SOCKET=PATH', 'TSLVS_ERR_NO_DAEMON'));
      }
      if (err && typeof err.code === 'string' && err.code.startsWith('TSLVS_ERR_')) {
        this.fail(noDaemon(String(err.message), typeof err.hint === 'string' ? err.hint : undefined, err.code));
      }
      this.fail({ exit: 2, text: `tslvsadm: cannot talk to the tslvs daemon: ${e instanceof Error ? e.message : String(e)}` });
    }
  }

  /** Parses one command line, looking host names up (then parsing again) as needed. */
  async parse(argv: readonly string[], readingStdin: boolean): Promise<Outcome> {
    for (;;) {
      try {
        return parseCommand(argv, { program: PROGRAM, resolver: this.#resolver, env: this.#io.env, readingStdin });
      } catch (e) {
        if (!(e instanceof NeedLookup)) throw e;
        await this.#resolver.lookupForward(e.name);
      }
    }
  }

  /** Formats with names; unknown names are looked up, then the text is formatted again. */
  async named(numeric: boolean, fmt: (n: Namer) => string): Promise<string> {
    let namer = new Namer(this.#resolver, numeric);
    let text = fmt(namer);
    if (namer.misses.length > 0) {
      await this.#resolver.lookupReverse(namer.misses);
      namer = new Namer(this.#resolver, numeric);
      text = fmt(namer);
    }
    return text;
  }

  /** Sends table commands as one batch; returns one error (or null) per command. */
  async exec(cmds: TableCommand[]): Promise<(CommandError | null)[]> {
    if (cmds.length === 0) return [];
    return this.#results(await this.send({ type: 'exec', cmds }), cmds.length);
  }

  /** The same with the commands as compact rows (a restore's batches). */
  async execRows(rows: CommandRow[]): Promise<(CommandError | null)[]> {
    if (rows.length === 0) return [];
    return this.#results(await this.send({ type: 'exec', rows }), rows.length);
  }

  #results(res: Response, n: number): (CommandError | null)[] {
    if (res.type === 'error') return new Array<CommandError>(n).fill(res.error);
    if (res.type !== 'exec' || !Array.isArray(res.results) || res.results.length !== n) {
      this.fail(badReply('a table change', res.type));
    }
    return res.results;
  }

  /**
   * The table (or one service) for a listing. `full`: the whole snapshot as the daemon has it
   * (--json prints it); else the compact rows, with counters only when `stats` is set.
   */
  async table(req: { svc?: ServiceIdWire; full?: boolean; stats?: boolean }): Promise<TableSnapshot | CommandError> {
    const res = await this.send(req.full
      ? { type: 'get-table', ...(req.svc ? { svc: req.svc } : {}) }
      : { type: 'get-table', ...(req.svc ? { svc: req.svc } : {}), rows: true, stats: req.stats === true });
    if (res.type === 'error') return res.error;
    if (req.full && res.type === 'table') return res.table;
    if (!req.full && res.type === 'table-rows') return snapshotFromRows(res.table);
    this.fail(badReply('a listing', res.type));
  }

  /** Carries out a listing or save action (stdout), or fails with ipvsadm's status. */
  async list(action: Action): Promise<void> {
    const io = this.#io;
    const json = 'format' in action && (action.format & FMT_JSON) !== 0;
    const numeric = 'format' in action && (action.format & FMT_NUMERIC) !== 0;
    const stats = 'format' in action && (action.format & (FMT_STATS | FMT_RATE)) !== 0;
    switch (action.type) {
      case 'list-all':
      case 'save': {
        const t = await this.table({ full: json, stats });
        if (!('services' in t)) this.fail({ exit: 1, text: ipvsStrerror('get-services', t.errno) });
        if (json) return io.stdout(`${JSON.stringify(t, null, 2)}\n`);
        io.stdout(await this.named(numeric, (n) => listAll(t, action.format, n)));
        return;
      }
      case 'list-service': {
        const t = await this.table({ svc: action.svc, full: json, stats });
        if (!('services' in t) || t.services.length === 0) {
          const op = 'services' in t ? 'get-service' : t.op;
          const errno = 'services' in t ? 'ESRCH' : t.errno;
          const e: CommandError = 'services' in t ? { op, errno } : t;
          this.fail({ exit: 1, text: e.message ?? ipvsStrerror('get-service', errno), hint: e.hint ?? ipvsHint('get-service', errno) });
        }
        const se = t.services[0];
        if (json) return io.stdout(`${JSON.stringify(se, null, 2)}\n`);
        io.stdout(await this.named(numeric, (n) => listService(se, action.format, n)));
        return;
      }
      case 'list-timeout': {
        const t = await this.table({ full: json });
        if (!('services' in t)) this.fail({ exit: 1, text: ipvsStrerror('get-timeout', t.errno) });
        io.stdout(json ? `${JSON.stringify(t.timeouts, null, 2)}\n` : listTimeout(t.timeouts));
        return;
      }
      case 'list-daemon': {
        // tslvs runs no connection sync daemons, so there is nothing to list (as ipvsadm with
        // none running); the daemon is still asked, so that a missing one is reported.
        const res = await this.send({ type: 'hello', version: 1 });
        if (res.type === 'error') this.fail({ exit: 1, text: ipvsStrerror('get-daemon', res.error.errno) });
        if (json) io.stdout('[]\n');
        return;
      }
      case 'list-conns': {
        const res = await this.send({ type: 'get-conns' });
        if (res.type === 'error') this.fail(cannotOpenConnFile(res.error.message ?? res.error.errno));
        if (res.type !== 'conns') this.fail(badReply('a connection listing', res.type));
        if (json) return io.stdout(`${JSON.stringify(res.conns, null, 2)}\n`);
        io.stdout(await this.named(numeric, (n) => listConns(res.conns, action.format, n)));
        return;
      }
      default:
        throw new Error(`not a listing: ${action.type}`);
    }
  }

  /** One command line, not from -R. Returns the exit status. */
  async single(argv: readonly string[]): Promise<number> {
    const out = await this.parse(argv, false);
    switch (out.kind) {
      case 'fail':
      case 'popt-error':
        this.fail(out.failure);
        break;
      case 'help':
        this.#io.stdout(usageText(PROGRAM));
        return 0;
      case 'version':
        this.#io.stdout(`${VERSION_LINE}\n`);
        return 0;
      case 'run':
        break;
    }
    const action = out.action;
    switch (action.type) {
      case 'exec': {
        const [err] = await this.exec([action.cmd]);
        if (err) {
          this.#io.stderr(commandErrorText(err));
          return 255;
        }
        return 0;
      }
      case 'sync':
        this.fail(syncNotSupported(action.start, action.state));
        break;
      case 'restore':
        return this.restore(argv);
      default:
        await this.list(action);
        return 0;
    }
    return 0;
  }

  /**
   * restore_table: every line is a command line of its own. Table commands are sent in
   * batches (one exec per run of consecutive table lines, applied in order by the daemon, each
   * its own operation) as compact rows; their errors print in line order. A usage error ends the
   * restore with its status after the lines before it took effect; the status is otherwise the
   * last line's. The common lines (ipvsadm-save's -A and -a) become rows directly
   * (quick-line.ts); every other line goes through the full parser.
   */
  async restore(argv: readonly string[]): Promise<number> {
    const { lines, tail } = splitRestoreLines(await this.#io.readStdin());
    const program = argv[0] ?? PROGRAM;
    /** Rows not sent yet, and the failure texts (popt errors) printed between them, in line order. */
    let pending: (CommandRow | string)[] = [];
    let rowCount = 0;
    /** Whether the last line that ran failed (its status is the restore's): a pending row's is known after its batch. */
    let lastFailed = false;

    const flush = async () => {
      if (pending.length === 0) return;
      const batch = pending;
      const rows: CommandRow[] = rowCount === batch.length ? (batch as CommandRow[]) : batch.filter((p): p is CommandRow => typeof p !== 'string');
      pending = [];
      rowCount = 0;
      const errs = await this.execRows(rows);
      const parts: string[] = [];
      let r = 0;
      for (const p of batch) {
        if (typeof p === 'string') parts.push(p);
        else {
          const err = errs[r++];
          if (err) parts.push(commandErrorText(err));
        }
      }
      if (typeof batch[batch.length - 1] !== 'string') lastFailed = errs[errs.length - 1] !== null;
      if (parts.length) this.#io.stderr(parts.join(''));
    };

    const slow = async (tokens: readonly string[]): Promise<void> => {
      const out = await this.parse([program, ...tokens], true);
      if (out.kind === 'run' && out.action.type === 'exec') {
        pending.push(commandToRow(out.action.cmd));
        rowCount++;
        lastFailed = false;
        return;
      }
      let text: string | null = null;
      if (out.kind === 'popt-error') text = failureText(out.failure);
      else if (out.kind === 'run' && out.action.type === 'sync') text = failureText(syncNotSupported(out.action.start, out.action.state));
      if (text !== null) {
        pending.push(text);
        lastFailed = true;
        return;
      }
      await flush();
      switch (out.kind) {
        case 'fail':
          this.fail(out.failure);
          break;
        case 'help':
          this.#io.stdout(usageText(PROGRAM));
          throw new Exit(0);
        case 'version':
          this.#io.stdout(`${VERSION_LINE}\n`);
          throw new Exit(0);
        case 'run':
          await this.list(out.action);
          lastFailed = false;
          break;
      }
    };

    for (const line of lines) {
      const row = quickRow(line);
      if (row !== null) {
        pending.push(row);
        rowCount++;
        lastFailed = false;
        continue;
      }
      const tokens = tokensOf(line);
      if (tokens.length > 0) await slow(tokens);
    }
    if (tail !== null && tail.length > 0) await slow(tail);
    await flush();
    return lastFailed ? 255 : 0;
  }
}

/** Runs tslvsadm with the arguments after the program name; resolves to the exit status. */
export async function run(args: readonly string[], io: Io): Promise<number> {
  const s = new Session(io);
  try {
    if (args.length === 0) {
      // ipvsadm with no arguments lists the table, names resolved.
      await s.list({ type: 'list-all', format: 0 });
      return 0;
    }
    return await s.single([PROGRAM, ...args]);
  } catch (e) {
    if (e instanceof Exit) return e.code;
    throw e;
  }
}

/** The process entry point (bin/tslvsadm.js). */
export async function main(): Promise<void> {
  for (const stream of [process.stdout, process.stderr]) {
    // A reader that goes away early (tslvsadm -L | head) is not an error of ours.
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
    });
  }
  const code = await run(process.argv.slice(2), {
    stdout: (t) => { process.stdout.write(t); },
    stderr: (t) => { process.stderr.write(t); },
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    request: (req) => request(req),
    env: process.env,
  });
  process.exitCode = code;
}
