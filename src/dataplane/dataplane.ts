/**
 * THE dataplane interface. A dataplane makes forwarding match the service table: it receives
 * only diffs (what changed), never configuration files or CLI state. It reads the live
 * VirtualService/Dest objects the diff references and calls the core (Ipvs) per new flow.
 * It prints nothing and reads no files; errors are thrown as TslvsError with a fix.
 */
import type { TableDiff } from '../core/diff.js';
import type { Ipvs } from '../core/ipvs.js';

export type DataplaneKind = 'none' | 'proxy' | 'packet' | 'kernel';

export interface DataplaneStats {
  /** Flows currently relayed or tracked by the dataplane itself. */
  activeFlows: number;
  /** Drops by reason (no destination, table full, malformed, ...). */
  drops: Record<string, number>;
}

export interface Dataplane {
  readonly kind: DataplaneKind;
  /** Make forwarding match the table. All or nothing: on error, undo what this call did, then throw. */
  apply(diff: TableDiff): Promise<void>;
  stats(): DataplaneStats;
  close(): Promise<void>;
}

export interface DataplaneOptions {
  ipvs: Ipvs;
  /** The clock the core is driven with (ms, monotonic). */
  now: () => number;
  /** Dataplane-specific settings (interface name, worker count, retries, ...). */
  settings: Readonly<Record<string, unknown>>;
}
