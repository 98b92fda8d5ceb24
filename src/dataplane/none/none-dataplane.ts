/**
 * The `none` dataplane: a dry-run director. It accepts every table the core accepts and forwards
 * nothing, so the daemon, the control socket and tslvsadm can run anywhere without privileges
 * and without touching the network. Its apply() never fails, which is why the director may
 * merge consecutive commands into one journal when this dataplane is active.
 */
import type { TableDiff } from '../../core/diff.js';
import type { Dataplane, DataplaneKind, DataplaneOptions, DataplaneStats } from '../dataplane.js';

export class NoneDataplane implements Dataplane {
  readonly kind: DataplaneKind = 'none';
  #closed = false;
  /** Diffs applied so far; cheap to keep and handy for status output. */
  applied = 0;

  apply(_diff: TableDiff): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('none dataplane: apply after close'));
    this.applied++;
    return Promise.resolve();
  }

  stats(): DataplaneStats {
    return { activeFlows: 0, drops: {} };
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}

export function createDataplane(_opts: DataplaneOptions): Promise<Dataplane> {
  return Promise.resolve(new NoneDataplane());
}
