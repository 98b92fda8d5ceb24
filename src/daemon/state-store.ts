/**
 * The daemon's saved table: services, destinations and timeouts (counters and connections are
 * not saved; they start at zero, as after a reboot of a kernel director). One JSON file in the
 * state directory, replaced atomically: write a temporary file, fsync it, rename it over the
 * old one, fsync the directory. A crash at any point leaves either the old or the new file,
 * never a partial one; leftover temporary files are removed at the next start. A lock file
 * with the owner's pid keeps a second daemon out of the directory.
 * A file that cannot be read back is never dropped: it is renamed to
 * `<name>.corrupt-<timestamp>` and the caller reports both paths.
 */
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import type { DestWire, ServiceWire, TableCommand } from '../control/protocol.js';
import { type Dest, IP_VS_CONN_F_FWD_MASK } from '../core/dest.js';
import type { ServiceTable } from '../core/service-table.js';
import { systemErrno, TslvsError } from '../errors.js';
import { destToWire, serviceToWire } from './wire.js';

export const STATE_FORMAT = 'tslvs-state';
export const STATE_VERSION = 1;
export const STATE_FILE = 'state.json';
/** Holds the pid of the daemon that owns the state directory. */
export const LOCK_FILE = 'lock';

/** Whether a process with this pid exists (EPERM: it exists but is not ours to signal). */
function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return systemErrno(err) === 'EPERM';
  }
}

export interface SavedService extends ServiceWire {
  /** In list order (newest first), as `ipvsadm -L --nosort` shows them. */
  dests: DestWire[];
}

export interface SavedState {
  format: typeof STATE_FORMAT;
  version: typeof STATE_VERSION;
  savedAt: string;
  timeouts: { tcp: number; tcpfin: number; udp: number };
  /** In table order. */
  services: SavedService[];
}

export type LoadResult =
  | { kind: 'none' }
  | { kind: 'loaded'; state: SavedState }
  | { kind: 'corrupt'; reason: string; keptAs: string };

/** The file operations the store uses; a test may wrap them to simulate a crash or a full disk. */
export interface StateFs {
  open: typeof fsp.open;
  rename: typeof fsp.rename;
  unlink: typeof fsp.unlink;
  mkdir: typeof fsp.mkdir;
  readFile: typeof fsp.readFile;
  readdir: typeof fsp.readdir;
}

const NODE_FS: StateFs = {
  open: fsp.open, rename: fsp.rename, unlink: fsp.unlink, mkdir: fsp.mkdir, readFile: fsp.readFile, readdir: fsp.readdir,
};

export class StateStore {
  readonly dir: string;
  readonly path: string;
  readonly #fs: StateFs;
  readonly #tmpPrefix: string;

  constructor(dir: string, opts: { fs?: StateFs; fileName?: string } = {}) {
    this.dir = dir;
    const name = opts.fileName ?? STATE_FILE;
    this.path = join(dir, name);
    this.#tmpPrefix = `${name}.tmp-`;
    this.#fs = opts.fs ?? NODE_FS;
  }

  /**
   * Creates the directory (0700), takes the directory's lock (one daemon per state directory)
   * and removes temporary files a crash left behind (never those of a live writer).
   */
  async init(): Promise<void> {
    try {
      await this.#fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw dirError(this.dir, err);
    }
    await this.#lock();
    try {
      for (const name of await this.#fs.readdir(this.dir)) {
        if (!name.startsWith(this.#tmpPrefix)) continue;
        const pid = Number(name.slice(this.#tmpPrefix.length));
        if (pid !== process.pid && isAlive(pid)) continue;
        await this.#fs.unlink(join(this.dir, name)).catch(() => undefined);
      }
    } catch (err) {
      throw dirError(this.dir, err);
    }
  }

  /** `<dir>/lock` holds the pid of the daemon using the directory; a dead owner's lock is taken over. */
  async #lock(): Promise<void> {
    const path = join(this.dir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await this.#fs.open(path, 'wx', 0o600);
        try {
          await fh.writeFile(`${process.pid}\n`);
        } finally {
          await fh.close();
        }
        return;
      } catch (err) {
        if (systemErrno(err) !== 'EEXIST') throw dirError(path, err);
      }
      const owner = Number((await this.#fs.readFile(path, 'utf8').catch(() => '')).trim());
      if (owner === process.pid) return;
      if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
        throw new TslvsError('TSLVS_ERR_DAEMON_RUNNING', `Another tslvs daemon (pid ${owner}) uses the state directory "${this.dir}"`,
          `stop it first, give this one its own --state-dir, or remove "${path}" if pid ${owner} is not tslvs`);
      }
      await this.#fs.unlink(path).catch(() => undefined);
    }
    throw dirError(path, new Error('the lock file keeps coming back'));
  }

  /** Gives the directory's lock back (at a clean stop). */
  async unlock(): Promise<void> {
    const path = join(this.dir, LOCK_FILE);
    const owner = Number((await this.#fs.readFile(path, 'utf8').catch(() => '')).trim());
    if (owner === process.pid) await this.#fs.unlink(path).catch(() => undefined);
  }

  /** Reads the saved table. A file that does not parse is kept aside and reported, not thrown. */
  async load(): Promise<LoadResult> {
    let text: string;
    try {
      text = await this.#fs.readFile(this.path, 'utf8');
    } catch (err) {
      if (systemErrno(err) === 'ENOENT') return { kind: 'none' };
      throw dirError(this.path, err);
    }
    try {
      return { kind: 'loaded', state: parseSavedState(text) };
    } catch (err) {
      const reason = (err as Error).message;
      return { kind: 'corrupt', reason, keptAs: await this.keepAside() };
    }
  }

  /** Renames the state file to `<name>.corrupt-<timestamp>`; returns the new path. */
  async keepAside(): Promise<string> {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    let kept = `${this.path}.corrupt-${stamp}`;
    for (let i = 1; ; i++) {
      try {
        await this.#fs.open(kept, 'r').then((fh) => fh.close());
        kept = `${this.path}.corrupt-${stamp}-${i}`;
      } catch {
        break;
      }
    }
    try {
      await this.#fs.rename(this.path, kept);
    } catch (err) {
      throw dirError(this.path, err);
    }
    return kept;
  }

  /** Atomic replace: temp file, fsync, rename, fsync of the directory. */
  save(state: SavedState): Promise<void> {
    return this.#write(serializeState(state));
  }

  /** The same for the table as it is now (what save(stateFromTable(table, savedAt)) writes). */
  saveTable(table: ServiceTable, savedAt: string): Promise<void> {
    return this.#write(serializeTable(table, savedAt));
  }

  async #write(text: string): Promise<void> {
    const tmp = join(this.dir, `${this.#tmpPrefix}${process.pid}`);
    try {
      const fh = await this.#fs.open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.#fs.rename(tmp, this.path);
    } catch (err) {
      await this.#fs.unlink(tmp).catch(() => undefined);
      const errno = systemErrno(err);
      throw new TslvsError('TSLVS_ERR_STATE_SAVE',
        `Cannot save the table to "${this.path}": ${firstLine(err)}${errno ? ` (${errno})` : ''}`,
        'free space or fix permissions in the state directory, then repeat the command', { cause: err });
    }
    // The rename is durable only once the directory entry is on disk.
    try {
      const dh = await this.#fs.open(this.dir, 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    } catch {
      // Some filesystems refuse fsync on a directory (EINVAL); the rename itself succeeded.
    }
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0];
}

function dirError(path: string, err: unknown): TslvsError {
  const errno = systemErrno(err);
  return new TslvsError('TSLVS_ERR_STATE_DIR',
    `Cannot use state directory "${path}": ${firstLine(err)}${errno ? ` (${errno})` : ''}`,
    'run as root (default /var/lib/tslvs), or choose a writable directory with --state-dir DIR or TSLVS_STATE_DIR', { cause: err });
}

/** The table as saved: no counters, no connections. */
export function stateFromTable(table: ServiceTable, savedAt: string): SavedState {
  return {
    format: STATE_FORMAT,
    version: STATE_VERSION,
    savedAt,
    timeouts: { ...table.timeouts },
    services: table.services().map((svc) => {
      const w = serviceToWire(svc) as SavedService;
      w.dests = svc.dests().map(destToWire);
      return w;
    }),
  };
}

/** One service per line, so a human can read and diff the file. */
export function serializeState(s: SavedState): string {
  const head = JSON.stringify({ format: s.format, version: s.version, savedAt: s.savedAt, timeouts: s.timeouts });
  const body = s.services.map((svc) => `\n${JSON.stringify(svc)}`).join(',');
  return `${head.slice(0, -1)},"services":[${body}\n]}\n`;
}

/**
 * serializeState(stateFromTable(table, savedAt)), byte for byte, written straight from the
 * table: a restore of 10^5 lines saves once, and the wire objects and their JSON.stringify cost
 * twice this. Each service's text is joined flat at once (10^5 concatenation trees kept to the
 * end would cost more in garbage collection than the rest). Numbers in the table are integers
 * and address texts need no JSON escaping; the state-store tests compare both ways on varied
 * tables.
 */
export function serializeTable(table: ServiceTable, savedAt: string): string {
  const q = JSON.stringify;
  const t = table.timeouts;
  const head = q({ format: STATE_FORMAT, version: STATE_VERSION, savedAt, timeouts: { tcp: t.tcp, tcpfin: t.tcpfin, udp: t.udp } });
  const lines: string[] = [];
  const dests: string[] = [];
  for (const svc of table.services()) {
    const list = svc.destinations;
    for (let n = list.next; n !== list; n = n.next) {
      const d = n as Dest;
      const pp = d.proxyProtocol ? `,"proxyProtocol":${d.proxyProtocol}` : '';
      dests.push(`{"af":${d.af},"addr":"${d.addr.toString()}","port":${d.port},"fwd":${d.connFlags & IP_VS_CONN_F_FWD_MASK},` +
        `"weight":${d.weight},"uThreshold":${d.uThreshold},"lThreshold":${d.lThreshold},"tunType":${d.tunType},` +
        `"tunPort":${d.tunPort},"tunFlags":${d.tunFlags}${pp}}`);
    }
    lines.push(`\n{"af":${svc.af},"protocol":${svc.protocol},"addr":"${svc.addr.toString()}","port":${svc.port},` +
      `"fwmark":${svc.fwmark},"sched":${q(svc.schedName)},"flags":${svc.flags},"timeoutS":${svc.timeoutS},` +
      `"netmask":${svc.netmask},"pe":${q(svc.peName)},"dests":[${dests.join(',')}]}`);
    dests.length = 0;
  }
  return `${head.slice(0, -1)},"services":[${lines.join(',')}\n]}\n`;
}

/** Shape check of a saved file; field values are checked when the table is rebuilt from it. */
export function parseSavedState(text: string): SavedState {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON: ${(err as Error).message}`);
  }
  const o = v as Partial<SavedState> | null;
  if (typeof o !== 'object' || o === null) throw new Error('not a JSON object');
  if (o.format !== STATE_FORMAT) throw new Error(`"format" is ${JSON.stringify(o.format)}, expected "${STATE_FORMAT}"`);
  if (o.version !== STATE_VERSION) throw new Error(`"version" is ${JSON.stringify(o.version)}, this tslvs reads version ${STATE_VERSION}`);
  const t = o.timeouts;
  if (typeof t !== 'object' || t === null || ![t.tcp, t.tcpfin, t.udp].every((x) => Number.isInteger(x) && x >= 0)) {
    throw new Error('"timeouts" must hold integer tcp, tcpfin and udp');
  }
  if (!Array.isArray(o.services)) throw new Error('"services" must be an array');
  o.services.forEach((s, i) => {
    if (typeof s !== 'object' || s === null || !Array.isArray(s.dests)) throw new Error(`services[${i}] must be an object with a "dests" array`);
  });
  return o as SavedState;
}

/** The commands that rebuild a saved table: timeouts, then each service and its dests oldest first. */
export function commandsFromState(s: SavedState): TableCommand[] {
  const out: TableCommand[] = [{ cmd: 'set-timeout', tcp: s.timeouts.tcp, tcpfin: s.timeouts.tcpfin, udp: s.timeouts.udp }];
  for (const svc of s.services) {
    const dests = svc.dests;
    const id = { af: svc.af, protocol: svc.protocol, addr: svc.addr, port: svc.port, fwmark: svc.fwmark };
    out.push({ cmd: 'add-service', svc: { ...id, sched: svc.sched, flags: svc.flags, timeoutS: svc.timeoutS, netmask: svc.netmask, pe: svc.pe } });
    // Saved newest first; adding oldest first rebuilds the same list order.
    for (let i = dests.length - 1; i >= 0; i--) out.push({ cmd: 'add-dest', svc: id, dest: dests[i] });
  }
  return out;
}
