/**
 * `tslvs top`: a live terminal view of the director, like `watch ipvsadm -L -n --rate` but
 * sorted, with connection counts, weights and health, refreshed every second. It asks the
 * daemon over the control socket (get-table, status) and holds no state of its own.
 *
 * Terminal handling, so it works over ssh on any ANSI terminal: the alternate screen
 * (CSI ?1049h), hidden cursor, raw keyboard input, one full redraw per frame with CSI K / CSI J
 * to clear leftovers, redraw on SIGWINCH (stdout 'resize'). Quitting by q, Ctrl-C (a byte in
 * raw mode), SIGINT, SIGTERM or SIGHUP always restores the terminal: cursor shown, main screen
 * back, raw mode off. Without a terminal on stdout (or with --once) it prints one plain frame.
 *
 * Keys: q quit; c b a n sort by conn/s, bytes/s, active connections, name; arrows, PgUp/PgDn,
 * Home/End scroll.
 */
import { resolve } from 'node:path';
import { defaultSocketPath, type DestSnapshot, type Response, type ServiceSnapshot, type StatsWire, type TableSnapshot } from '../../control/protocol.js';
import { TslvsError } from '../../errors.js';
import { request } from '../control-client.js';

export type SortKey = 'cps' | 'bytes' | 'conns' | 'name';
const SORT_KEYS: readonly SortKey[] = ['cps', 'bytes', 'conns', 'name'];
const SORT_LABEL: Record<SortKey, string> = { cps: 'conn/s', bytes: 'bytes/s', conns: 'active conns', name: 'name' };

export interface TopOptions {
  socket: string;
  intervalMs: number;
  once: boolean;
  sort: SortKey;
  color: boolean;
}

export interface FrameInput {
  table: TableSnapshot | null;
  status: Record<string, unknown> | null;
  /** Why the last refresh failed, or null. */
  error: string | null;
  socket: string;
  sort: SortKey;
  /** First table row shown (scrolling). */
  scroll: number;
  cols: number;
  rows: number;
  now: Date;
  color: boolean;
}

// ---- text helpers ----------------------------------------------------------------------

type Style = '' | 'bold' | 'inverse' | 'green' | 'red' | 'dim' | 'yellow';
const SGR: Record<Exclude<Style, ''>, string> = { bold: '1', inverse: '7', green: '32', red: '31', dim: '2', yellow: '33' };

/** A run of text with one style; a line is a list of them. */
interface Seg {
  text: string;
  style: Style;
}

/** The line cut to `cols` visible characters, padded with spaces when `fill` (for inverse bars). */
function renderLine(segs: readonly Seg[], cols: number, color: boolean, fill = false): string {
  let out = '';
  let left = cols;
  for (const s of segs) {
    if (left <= 0) break;
    const t = s.text.length > left ? s.text.slice(0, left) : s.text;
    left -= t.length;
    out += color && s.style && t ? `\x1b[${SGR[s.style]}m${t}\x1b[0m` : t;
  }
  if (fill && left > 0) out += color ? `\x1b[7m${' '.repeat(left)}\x1b[0m` : ' '.repeat(left);
  return out;
}

/** A count in at most 6 characters: plain below 10^6, then K, M, G, T with three significant digits. */
export function compact(n: number): string {
  if (n < 1e6) return String(Math.round(n));
  const units = ['K', 'M', 'G', 'T', 'P'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 ? Math.round(v) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}${units[i]}`;
}

function addrPort(af: number, addr: string, port: number): string {
  return af === 10 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function protoName(p: number): string {
  return p === 6 ? 'TCP' : p === 17 ? 'UDP' : p === 132 ? 'SCTP' : `IP_${p}`;
}

function svcName(s: ServiceSnapshot): string {
  return s.fwmark ? `FWM  ${s.fwmark}` : `${protoName(s.protocol).padEnd(4)} ${addrPort(s.af, s.addr, s.port)}`;
}

const FWD = ['Masq', 'Local', 'Tunnel', 'Route'];

function uptime(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  const hms = `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
  return d > 0 ? `${d}d ${hms}` : hms;
}

// ---- sorting ---------------------------------------------------------------------------

function sortValue(k: SortKey, st: StatsWire, active: number): number {
  return k === 'cps' ? st.cps : k === 'bytes' ? st.inbps + st.outbps : k === 'conns' ? active : 0;
}

function svcActive(s: ServiceSnapshot): number {
  let n = 0;
  for (const d of s.dests) n += d.activeConns;
  return n;
}

/** Services, and each one's real servers, in display order: the key descending, then by name. */
export function sortedServices(t: TableSnapshot, k: SortKey): { svc: ServiceSnapshot; dests: DestSnapshot[] }[] {
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return t.services
    .map((svc) => ({
      svc,
      dests: [...svc.dests].sort((a, b) => (sortValue(k, b.stats, b.activeConns) - sortValue(k, a.stats, a.activeConns)) ||
        byName(addrPort(a.af, a.addr, a.port), addrPort(b.af, b.addr, b.port))),
    }))
    .sort((a, b) => (sortValue(k, b.svc.stats, svcActive(b.svc)) - sortValue(k, a.svc.stats, svcActive(a.svc))) || byName(svcName(a.svc), svcName(b.svc)));
}

// ---- the frame -------------------------------------------------------------------------

const NUM_COLS: readonly [string, number][] = [
  ['Weight', 6], ['ActConn', 7], ['InAct', 6], ['CPS', 6], ['InPPS', 6], ['InBPS', 7], ['OutPPS', 6], ['OutBPS', 7],
];

function healthSeg(d: DestSnapshot): Seg {
  if (!d.health) return { text: '-', style: 'dim' };
  if (d.health.up) return { text: typeof d.health.latencyMs === 'number' ? `up ${d.health.latencyMs.toFixed(1)}ms` : 'up', style: 'green' };
  return { text: `DOWN ${d.health.lastResult}`, style: 'red' };
}

function svcHealth(s: ServiceSnapshot): Seg {
  const checked = s.dests.filter((d) => d.health);
  if (checked.length === 0) return { text: '', style: '' };
  const up = checked.filter((d) => d.health?.up).length;
  return { text: `${up}/${checked.length} up`, style: up === checked.length ? 'green' : up === 0 ? 'red' : 'yellow' };
}

/** The table lines (no header), each as segments. */
function tableLines(t: TableSnapshot, sort: SortKey, addrWidth: number): Seg[][] {
  const out: Seg[][] = [];
  const nums = (vals: (string | number)[]) => NUM_COLS.map(([, w], i) => ` ${String(vals[i]).padStart(w)}`).join('');
  for (const { svc, dests } of sortedServices(t, sort)) {
    let inact = 0;
    for (const d of svc.dests) inact += d.inactConns;
    const st = svc.stats;
    const flags = [svc.sched || 'none', svc.flags & 1 ? `p${svc.timeoutS}` : '', svc.flags & 4 ? 'ops' : ''].filter(Boolean).join(' ');
    out.push([
      { text: `${svcName(svc).padEnd(addrWidth)} ${flags.padEnd(8).slice(0, 8)}`, style: 'bold' },
      { text: nums(['', svcActive(svc), inact, compact(st.cps), compact(st.inpps), compact(st.inbps), compact(st.outpps), compact(st.outbps)]), style: '' },
      { text: ' ', style: '' },
      svcHealth(svc),
    ]);
    for (const d of dests) {
      const ds = d.stats;
      out.push([
        { text: `  -> ${addrPort(d.af, d.addr, d.port)}`.padEnd(addrWidth), style: '' },
        { text: ` ${(FWD[d.fwd & 3] ?? 'Masq').padEnd(8)}`, style: '' },
        { text: nums([d.weight, d.activeConns, d.inactConns, compact(ds.cps), compact(ds.inpps), compact(ds.inbps), compact(ds.outpps), compact(ds.outbps)]), style: d.weight === 0 ? 'dim' : '' },
        { text: ' ', style: '' },
        healthSeg(d),
      ]);
    }
  }
  return out;
}

/** Lines per frame above the table: two of facts, one blank, one of column titles. */
const HEAD_LINES = 4;

/** The most scroll offset for this table and terminal height. */
export function maxScroll(t: TableSnapshot | null, rows: number): number {
  if (!t) return 0;
  let n = 0;
  for (const s of t.services) n += 1 + s.dests.length;
  return Math.max(0, n - Math.max(1, rows - HEAD_LINES - 1));
}

/** One frame: exactly `rows` lines (or fewer), none wider than `cols` visible characters. */
export function renderFrame(f: FrameInput): string[] {
  const cols = Math.max(20, f.cols);
  const rows = Math.max(1, f.rows);
  const st = f.status ?? {};
  const clock = f.now.toTimeString().slice(0, 8);
  const title = `tslvs top - ${f.socket}` +
    (f.status ? `  pid ${String(st.pid)}  dataplane ${String(st.dataplane)}  up ${uptime(Number(st.uptimeS ?? 0))}` : '');
  const lines: string[] = [];
  const pad = Math.max(1, cols - title.length - clock.length);
  lines.push(renderLine([{ text: `${title}${' '.repeat(pad)}${clock}`, style: 'inverse' }], cols, f.color, true));
  if (f.error) {
    lines.push(renderLine([{ text: f.error, style: 'red' }], cols, f.color));
  } else if (f.table) {
    const tot = f.table.totals;
    let dests = 0;
    for (const s of f.table.services) dests += s.dests.length;
    lines.push(renderLine([{
      text: `conn/s ${compact(tot.cps)}  in ${compact(tot.inpps)} pkt/s ${compact(tot.inbps)} B/s  out ${compact(tot.outpps)} pkt/s ${compact(tot.outbps)} B/s  ` +
        `services ${f.table.services.length}  real servers ${dests}  sort: ${SORT_LABEL[f.sort]} (c b a n)  q: quit`,
      style: '',
    }], cols, f.color));
  } else {
    lines.push('connecting...');
  }
  lines.push('');
  if (!f.table) return lines.slice(0, rows);
  let addrWidth = 24;
  for (const s of f.table.services) {
    addrWidth = Math.max(addrWidth, svcName(s).length);
    for (const d of s.dests) addrWidth = Math.max(addrWidth, addrPort(d.af, d.addr, d.port).length + 5);
  }
  const head = `${'Prot LocalAddress:Port'.padEnd(addrWidth)} ${'Sched'.padEnd(8)}${NUM_COLS.map(([n, w]) => ` ${n.padStart(w)}`).join('')} Health`;
  lines.push(renderLine([{ text: head, style: 'bold' }], cols, f.color));
  const body = tableLines(f.table, f.sort, addrWidth);
  const room = rows - lines.length;
  if (body.length === 0) {
    lines.push(renderLine([{ text: 'No virtual services (tslvsadm -A adds one)', style: 'dim' }], cols, f.color));
    return lines.slice(0, rows);
  }
  if (body.length <= room) {
    for (const l of body) lines.push(renderLine(l, cols, f.color));
    return lines.slice(0, rows);
  }
  // Too long: the last line says which rows are shown.
  const visible = room - 1;
  if (visible < 1) {
    lines.push(renderLine([{ text: `-- ${body.length} rows: make the window taller --`, style: 'dim' }], cols, f.color));
    return lines.slice(0, rows);
  }
  const scroll = Math.min(Math.max(0, f.scroll), body.length - visible);
  for (const l of body.slice(scroll, scroll + visible)) lines.push(renderLine(l, cols, f.color));
  lines.push(renderLine([{ text: `-- rows ${scroll + 1}-${scroll + visible} of ${body.length} (arrows, PgUp/PgDn scroll) --`, style: 'dim' }], cols, f.color));
  return lines.slice(0, rows);
}

// ---- options ---------------------------------------------------------------------------

export function parseTopOptions(argv: readonly string[], env: NodeJS.ProcessEnv, uid = process.getuid?.() ?? 0): TopOptions {
  let socket: string | undefined;
  let intervalMs = 1000;
  let once = false;
  let sort: SortKey = 'cps';
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v === '') throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Option "${flag}" needs a value`, `give it as ${flag} VALUE; "tslvs help" explains it`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--socket') socket = value(i++, a);
    else if (a === '--interval' || a === '-d') {
      const s = Number(value(i++, a));
      if (!Number.isFinite(s) || s < 0.2 || s > 3600) throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Invalid value "${argv[i]}" for ${a}`, 'give seconds from 0.2 to 3600');
      intervalMs = Math.round(s * 1000);
    } else if (a === '--once') once = true;
    else if (a === '--sort') {
      const v = value(i++, a);
      if (!(SORT_KEYS as readonly string[]).includes(v)) throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Invalid value "${v}" for --sort`, `expected ${SORT_KEYS.join(', ')}`);
      sort = v as SortKey;
    } else {
      throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Unknown option "${a}" for "tslvs top"`, 'known options: --socket, --interval, --sort, --once');
    }
  }
  return { socket: resolve(socket ?? defaultSocketPath(env, uid)), intervalMs, once, sort, color: !env.NO_COLOR };
}

// ---- the live loop ---------------------------------------------------------------------

async function fetchState(socket: string): Promise<{ table: TableSnapshot; status: Record<string, unknown> }> {
  const [t, s]: Response[] = await Promise.all([
    request({ type: 'get-table' }, { socketPath: socket, timeoutMs: 5000 }),
    request({ type: 'status' }, { socketPath: socket, timeoutMs: 5000 }),
  ]);
  if (t.type !== 'table' || s.type !== 'status') throw new TslvsError('TSLVS_ERR_PROTOCOL', 'Unexpected answer from the daemon', 'use a tslvs CLI of the same version as the daemon');
  return { table: t.table, status: s.status };
}

const ENTER = '\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J';
const LEAVE = '\x1b[0m\x1b[?25h\x1b[?1049l';

export async function runTop(argv: readonly string[]): Promise<number> {
  const opts = parseTopOptions(argv, process.env);
  const out = process.stdout;
  const inp = process.stdin;
  // The first answer decides: no daemon is an error before the screen is touched (exit 3).
  let state = await fetchState(opts.socket);
  if (opts.once || !out.isTTY) {
    // One plain frame as wide as its widest table line, so nothing is cut and the clock sits at its end.
    const frame = (cols: number) => renderFrame({ ...state, error: null, socket: opts.socket, sort: opts.sort, scroll: 0, cols, rows: 1_000_000, now: new Date(), color: false });
    const widest = Math.max(80, ...frame(100_000).slice(1).map((l) => l.trimEnd().length));
    out.write(`${frame(widest).map((l) => l.trimEnd()).join('\n')}\n`);
    return 0;
  }

  let scroll = 0;
  let sort = opts.sort;
  let error: string | null = null;
  let restored = false;
  const draw = (): void => {
    const rows = out.rows || 24;
    const lines = renderFrame({ table: state.table, status: state.status, error, socket: opts.socket, sort, scroll, cols: out.columns || 80, rows, now: new Date(), color: opts.color });
    out.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\r\n')}\x1b[J`);
  };
  const restore = (): void => {
    if (restored) return;
    restored = true;
    if (inp.isTTY) inp.setRawMode(false);
    inp.pause();
    out.write(LEAVE);
  };

  return new Promise<number>((resolveExit) => {
    let timer: NodeJS.Timeout | null = null;
    const quit = (code: number): void => {
      if (timer) clearTimeout(timer);
      restore();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onSignal);
      process.off('exit', restore);
      out.off('resize', draw);
      inp.off('data', onKey);
      resolveExit(code);
    };
    const onSignal = (): void => quit(0);
    const onKey = (b: Buffer): void => {
      const k = b.toString('latin1');
      const page = Math.max(1, (out.rows || 24) - HEAD_LINES - 2);
      const max = maxScroll(state.table, out.rows || 24);
      if (k === 'q' || k === 'Q' || k === '\x03' || k === '\x04') return quit(0);
      if (k === 'c') sort = 'cps';
      else if (k === 'b') sort = 'bytes';
      else if (k === 'a') sort = 'conns';
      else if (k === 'n') sort = 'name';
      else if (k === '\x1b[A' || k === 'k') scroll = Math.max(0, scroll - 1);
      else if (k === '\x1b[B' || k === 'j') scroll = Math.min(max, scroll + 1);
      else if (k === '\x1b[5~') scroll = Math.max(0, scroll - page);
      else if (k === '\x1b[6~' || k === ' ') scroll = Math.min(max, scroll + page);
      else if (k === '\x1b[H' || k === '\x1b[1~' || k === 'g') scroll = 0;
      else if (k === '\x1b[F' || k === '\x1b[4~' || k === 'G') scroll = max;
      else if (k !== '\x0c') return;
      draw();
    };
    const tick = async (): Promise<void> => {
      try {
        state = await fetchState(opts.socket);
        error = null;
      } catch (err) {
        error = `${(err as Error).message}; retrying every ${opts.intervalMs / 1000} s (q quits)`;
      }
      if (restored) return;
      scroll = Math.min(scroll, maxScroll(state.table, out.rows || 24));
      draw();
      timer = setTimeout(() => void tick(), opts.intervalMs);
    };

    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
    // Last resort (an exception thrown past this code): never leave the terminal raw.
    process.on('exit', restore);
    out.on('resize', draw);
    out.write(ENTER);
    if (inp.isTTY) inp.setRawMode(true);
    inp.resume();
    inp.on('data', onKey);
    draw();
    timer = setTimeout(() => void tick(), opts.intervalMs);
  });
}
