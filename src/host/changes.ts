/**
 * Host changes as data: each step start takes (a kernel parameter set, an address or route
 * added or removed) is a Change that records what was there before, so it can be undone
 * exactly. A Journal keeps them in the state file and is saved BEFORE each change is made: a
 * crash between the save and the change leaves a record of something that did not happen,
 * which undo recognises (the value is still the old one, the address is not there) and skips;
 * the other order could lose the only record of a value to restore.
 *
 * Undo is careful about others: a kernel parameter that somebody changed again since start is
 * left as it is now (and said so), not overwritten with the value from before start.
 */
import { type AddrInfo, addrText, type Ip, type RouteSpec, routeText } from './ip.js';
import type { Sysctl } from './sysctl.js';
import { TslvsError } from '../errors.js';
import { writeStateFile } from './state-file.js';

export type Change =
  /** A kernel parameter set from `prev` to `value`. */
  | { kind: 'sysctl'; key: string; prev: string; value: string; vip?: string }
  /** An address that start added. */
  | { kind: 'addr-add'; addr: AddrInfo; vip?: string }
  /** A route that start added. */
  | { kind: 'route-add'; route: RouteSpec; vip?: string }
  /** A route that start removed (to put another in its place). */
  | { kind: 'route-del'; route: RouteSpec; vip?: string };

/** What changes are made through. */
export interface Host {
  ip: Ip;
  sysctl: Sysctl;
}

/** The command an administrator would type for a change. */
export function describe(c: Change): string {
  switch (c.kind) {
    case 'sysctl': return `sysctl -w ${c.key}=${c.value}`;
    case 'addr-add': return addrText('add', c.addr);
    case 'route-add': return routeText('add', c.route);
    case 'route-del': return routeText('del', c.route);
  }
}

/** The command that undoes a change. */
export function describeUndo(c: Change): string {
  switch (c.kind) {
    case 'sysctl': return `sysctl -w ${c.key}=${c.prev}`;
    case 'addr-add': return addrText('del', c.addr);
    case 'route-add': return routeText('del', c.route);
    case 'route-del': return routeText('add', c.route);
  }
}

export async function applyChange(h: Host, c: Change): Promise<void> {
  switch (c.kind) {
    case 'sysctl': await h.sysctl.set(c.key, c.value); return;
    case 'addr-add': await h.ip.addrAdd(c.addr); return;
    case 'route-add': await h.ip.routeAdd(c.route); return;
    case 'route-del': await h.ip.routeDel(c.route); return;
  }
}

/** Undoes one change; returns a note when it was left alone (and why), or null when undone. */
export async function undoChange(h: Host, c: Change): Promise<string | null> {
  try {
    switch (c.kind) {
      case 'sysctl': {
        const now = await h.sysctl.getIfExists(c.key);
        if (now === null) return null; // the interface is gone, and its parameters with it
        if (now === c.prev) return null;
        if (now !== c.value) return `left ${c.key} at ${now}: it was changed again after start (start set ${c.value}, it was ${c.prev} before)`;
        await h.sysctl.set(c.key, c.prev);
        return null;
      }
      case 'addr-add': await h.ip.addrDel(c.addr); return null;
      case 'route-add': await h.ip.routeDel(c.route); return null;
      case 'route-del': await h.ip.routeAdd(c.route); return null;
    }
  } catch (err) {
    // Already undone by someone else: nothing left to do.
    if (err instanceof TslvsError) {
      if (c.kind === 'addr-add' && (err.errno === 'EADDRNOTAVAIL' || err.errno === 'ENODEV')) return null;
      if (c.kind === 'route-add' && (err.errno === 'ESRCH' || err.errno === 'ENODEV')) return null;
      if (c.kind === 'route-del' && err.errno === 'EEXIST') return null;
    }
    throw err;
  }
}

/** The part of a state file a Journal maintains. */
export interface JournalState {
  changes: Change[];
}

/** Changes made so far, saved in the state file before each new one is made. */
export class Journal<S extends JournalState> {
  readonly state: S;
  readonly path: string;
  readonly #host: Host;
  /** Index of the first change made by this run (for rollback). */
  readonly mark: number;

  constructor(host: Host, path: string, state: S) {
    this.#host = host;
    this.path = path;
    this.state = state;
    this.mark = state.changes.length;
  }

  save(): Promise<void> {
    return writeStateFile(this.path, this.state);
  }

  /** Records the change, saves, then makes it; a change the host refuses is taken back out. */
  async make(c: Change): Promise<void> {
    this.state.changes.push(c);
    await this.save();
    try {
      await applyChange(this.#host, c);
    } catch (err) {
      this.state.changes.pop();
      await this.save().catch(() => undefined);
      throw err;
    }
  }

  /** Undoes the changes this run made (newest first) and saves; returns notes. */
  async rollback(): Promise<string[]> {
    return this.undoWhere((_, i) => i >= this.mark);
  }

  /** Undoes the matching changes, newest first; keeps the rest; saves. Returns notes. */
  async undoWhere(pick: (c: Change, index: number) => boolean): Promise<string[]> {
    const notes: string[] = [];
    const keep: Change[] = [];
    const failures: string[] = [];
    for (let i = this.state.changes.length - 1; i >= 0; i--) {
      const c = this.state.changes[i];
      if (!pick(c, i)) {
        keep.unshift(c);
        continue;
      }
      try {
        const note = await undoChange(this.#host, c);
        if (note) notes.push(note);
      } catch (err) {
        // Keep it in the file so a later stop can retry, and go on with the others.
        keep.unshift(c);
        failures.push(`${describeUndo(c)}: ${(err as Error).message}`);
      }
    }
    this.state.changes = keep;
    await this.save();
    if (failures.length > 0) {
      throw new TslvsError('TSLVS_ERR_HOST_COMMAND', `Could not undo ${failures.length} change(s): ${failures.join('; ')}`,
        `fix the cause and run stop again (the state file "${this.path}" keeps what is left to undo)`);
    }
    return notes;
  }
}
