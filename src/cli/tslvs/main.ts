/**
 * The `tslvs` command. `run` is the daemon in the foreground (it owns the table; see
 * src/daemon/lifecycle.ts); `status`, `reload` and `stop` ask a running daemon over the control
 * socket and hold no state. Exit status: 0 done, 1 failed, 2 bad usage, 3 no daemon running
 * (as LSB init scripts' status).
 */
import { parseClientOptions, parseDaemonOptions, RUN_OPTIONS } from '../../config/daemon-options.js';
import { PROTOCOL_VERSION, type Response } from '../../control/protocol.js';
import { startDaemon } from '../../daemon/lifecycle.js';
import { formatError, TslvsError } from '../../errors.js';
import { request } from '../control-client.js';
import { runDemo } from './demo.js';
import { formatFacts, formatHealth, formatTable } from './status.js';
import { runTop } from './top.js';

const EXIT_FAIL = 1;
const EXIT_USAGE = 2;
const EXIT_NOT_RUNNING = 3;

function usage(): string {
  const opts = RUN_OPTIONS.map((o) => `  ${`${o.flags.join(', ')} ${o.value}`.padEnd(32)} ${o.help}`);
  return [
    'Usage: tslvs <command> [options]',
    '',
    'Commands:',
    '  run [options]        run the director daemon in the foreground',
    '  status [--socket P]  show the daemon and its table (exit 3 if not running)',
    '  reload [--socket P]  re-read --rules and -f and apply only the difference (also: SIGHUP)',
    '  stop [--socket P]    stop the daemon and wait until it has stopped',
    '  top [--socket P] [--interval S] [--sort cps|bytes|conns|name] [--once]',
    '                       live view of services and real servers (q quits)',
    '  demo                 a guided dry run (not yet)',
    '  director start|stop|status [options]',
    '                       the seed\'s director script: host set up, daemon in the background',
    '                       ("tslvs director help" lists the options)',
    '  realserver start|stop|status --vip ADDR [options]',
    '                       the seed\'s real-server script: VIP on lo, ARP kept quiet',
    '  help, version',
    '',
    'Options of run:',
    ...opts,
    '',
    'Errors print a code; docs/errors.md says how to solve each one.',
    '',
  ].join('\n');
}

function exitCodeOf(err: unknown): number {
  if (err instanceof TslvsError) {
    if (err.code === 'TSLVS_ERR_BAD_OPTION') return EXIT_USAGE;
    if (err.code === 'TSLVS_ERR_NO_DAEMON') return EXIT_NOT_RUNNING;
  }
  return EXIT_FAIL;
}

function failIfError(res: Response): void {
  if (res.type === 'error') {
    const e = res.error;
    throw Object.assign(new Error(e.message ?? `${e.op}: ${e.errno}`), { code: e.code ?? e.errno, hint: e.hint ?? '' });
  }
}

async function runCmd(argv: readonly string[]): Promise<number> {
  const opts = parseDaemonOptions(argv, process.env);
  const daemon = await startDaemon(opts, { handleSignals: true });
  await daemon.stopped;
  return 0;
}

async function statusCmd(argv: readonly string[]): Promise<number> {
  const { socket } = parseClientOptions(argv, process.env, 'status');
  let st: Response;
  try {
    st = await request({ type: 'status' }, { socketPath: socket });
  } catch (err) {
    if (err instanceof TslvsError && err.code === 'TSLVS_ERR_NO_DAEMON') {
      process.stdout.write(`tslvs is not running (nobody listens on "${socket}")\n`);
      return EXIT_NOT_RUNNING;
    }
    throw err;
  }
  failIfError(st);
  const table = await request({ type: 'get-table' }, { socketPath: socket });
  failIfError(table);
  if (st.type !== 'status' || table.type !== 'table') throw new TslvsError('TSLVS_ERR_PROTOCOL', 'Unexpected answer to "status"', 'use a CLI of the same version as the daemon');
  process.stdout.write(formatFacts(st.status) + formatTable(table.table) + formatHealth(st.status));
  return 0;
}

async function reloadCmd(argv: readonly string[]): Promise<number> {
  const { socket } = parseClientOptions(argv, process.env, 'reload');
  const res = await request({ type: 'reload' }, { socketPath: socket });
  failIfError(res);
  process.stdout.write(`${res.type === 'ok' && res.message ? res.message : 'reloaded'}\n`);
  return 0;
}

async function stopCmd(argv: readonly string[]): Promise<number> {
  const { socket } = parseClientOptions(argv, process.env, 'stop');
  const st = await request({ type: 'status' }, { socketPath: socket });
  failIfError(st);
  const pid = st.type === 'status' ? Number(st.status.pid) : NaN;
  failIfError(await request({ type: 'shutdown' }, { socketPath: socket }));
  // Wait until the daemon is gone (its socket no longer answers), so scripts may start another.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await request({ type: 'hello', version: PROTOCOL_VERSION }, { socketPath: socket, timeoutMs: 1000 });
    } catch (err) {
      if (err instanceof TslvsError && err.code === 'TSLVS_ERR_NO_DAEMON') break;
    }
    if (Date.now() > deadline) {
      throw new TslvsError('TSLVS_ERR_PROTOCOL', `The daemon on "${socket}" (pid ${pid}) did not stop within 30 s`,
        `read its log; "kill -TERM ${pid}" asks again, "kill -KILL ${pid}" ends it without a clean stop`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  process.stdout.write(`tslvs stopped (pid ${pid})\n`);
  return 0;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'run': return await runCmd(rest);
      case 'status': return await statusCmd(rest);
      case 'reload': return await reloadCmd(rest);
      case 'stop': return await stopCmd(rest);
      case 'top': return await runTop(rest);
      case 'demo': return await runDemo(rest);
      // Loaded on demand: the daemon and the other commands never load the host helpers.
      case 'director': return await (await import('../../host/director.js')).directorMain(rest, process.env);
      case 'realserver': return await (await import('../../host/realserver.js')).realserverMain(rest, process.env);
      case 'help': case '--help': case '-h':
        process.stdout.write(usage());
        return 0;
      case 'version': case '--version': case '-V': {
        const { readFileSync } = await import('node:fs');
        const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
        process.stdout.write(`tslvs ${pkg.version}\n`);
        return 0;
      }
      case undefined:
        process.stderr.write(usage());
        return EXIT_USAGE;
      default:
        throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Unknown command "${sub}"`, 'use one of run, status, reload, stop, top, demo, director, realserver, help');
    }
  } catch (err) {
    process.stderr.write(`${formatError(err)}\n`);
    return exitCodeOf(err);
  }
}

const code = await main(process.argv.slice(2));
// A stopped daemon may leave handles of a dataplane behind; exit explicitly once stderr drained.
process.stderr.write('', () => process.exit(code));
