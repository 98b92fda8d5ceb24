/**
 * A dataplane that records what it is asked to apply and can be told to refuse (STYLE rule 9:
 * a fake that always succeeds cannot test "a failed command changes nothing"). Its kind is
 * configurable so the director treats it as a real dataplane (not the merging `none` path).
 */
import type { TableDiff } from '../../src/core/diff.js';
import type { Dataplane, DataplaneKind, DataplaneStats } from '../../src/dataplane/dataplane.js';
import { TslvsError } from '../../src/errors.js';

/** What one apply() call carried, as text, so tests can compare it. */
export interface AppliedDiff {
  addedServices: string[];
  removedServices: string[];
  changedServices: string[];
  addedDests: string[];
  removedDests: string[];
  changedDests: string[];
  timeoutsChanged: boolean;
}

export function describeDiff(d: TableDiff): AppliedDiff {
  const svc = (s: { key(): string }) => s.key();
  const dest = (x: { svc: { key(): string }; key(): string }) => `${x.svc.key()}>${x.key()}`;
  return {
    addedServices: d.addedServices.map(svc), removedServices: d.removedServices.map(svc), changedServices: d.changedServices.map(svc),
    addedDests: d.addedDests.map(dest), removedDests: d.removedDests.map(dest), changedDests: d.changedDests.map(dest),
    timeoutsChanged: d.timeoutsChanged,
  };
}

export class FailingDataplane implements Dataplane {
  readonly kind: DataplaneKind;
  /** Every successful apply, in order. */
  readonly applied: AppliedDiff[] = [];
  /** Every refused apply, in order. */
  readonly refused: AppliedDiff[] = [];
  /** Return an error to refuse this diff, or null to accept it. */
  failWhen: (d: TableDiff) => Error | null = () => null;
  /** Delay of each apply, to make overlapping commits observable. */
  delayMs = 0;
  /** Calls currently inside apply(); the director must never let this exceed 1. */
  inFlight = 0;
  maxInFlight = 0;
  closed = false;

  constructor(kind: DataplaneKind = 'proxy') {
    this.kind = kind;
  }

  /** Refuses the next `n` applies with a bind failure, then accepts again. */
  failNext(n = 1, err: () => Error = bindError): void {
    let left = n;
    this.failWhen = () => (left-- > 0 ? err() : null);
  }

  async apply(d: TableDiff): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      const err = this.failWhen(d);
      if (err) {
        this.refused.push(describeDiff(d));
        throw err;
      }
      this.applied.push(describeDiff(d));
    } finally {
      this.inFlight--;
    }
  }

  stats(): DataplaneStats {
    return { activeFlows: 0, drops: {} };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export function bindError(): Error {
  return new TslvsError('TSLVS_ERR_DATAPLANE_REFUSED', 'Cannot listen on "192.0.2.10:80": address already in use (EADDRINUSE)',
    'stop the program that holds the port, or use another virtual address', { errno: 'EADDRINUSE' });
}
