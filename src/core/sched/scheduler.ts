/**
 * The scheduler seam: the hooks of struct ip_vs_scheduler (include/net/ip_vs.h).
 * Schedulers are stateless singletons; per-service state lives in svc.schedData, as the kernel's
 * sched_data. A scheduler runs only when a packet must create a new connection (ip_vs_schedule).
 */
import type { Dest } from '../dest.js';
import type { Flow } from '../flow.js';
import type { VirtualService } from '../service.js';

export type { Flow } from '../flow.js';

/** A uniform random unsigned 32-bit integer (prandom_u32). Injected so the core stays pure. */
export type RandomU32 = () => number;

export interface Scheduler {
  /** As `ipvsadm -s` spells it. */
  readonly name: string;
  /** init_service: bind to a service that may already have destinations. */
  initService(svc: VirtualService): void;
  /** done_service: unbind; drop svc.schedData. */
  doneService(svc: VirtualService): void;
  /** add_dest: `dest` was just linked at the head of the list. */
  addDest(svc: VirtualService, dest: Dest): void;
  /** del_dest: `dest` was just unlinked (its `next` still points at its old successor). */
  delDest(svc: VirtualService, dest: Dest): void;
  /** upd_dest: weight, method or thresholds of `dest` changed. */
  updDest(svc: VirtualService, dest: Dest): void;
  /** Pick a destination for a new connection, or null ("no destination available"). */
  schedule(svc: VirtualService, flow: Flow, nowMs: number, rand: RandomU32): Dest | null;
  /**
   * A destination's connection counters changed (bind, unbind, state change). Only schedulers
   * that index destinations by load need it; the kernel has no such hook because it rescans.
   */
  connsChanged?(svc: VirtualService, dest: Dest): void;
  /** Periodic work (lblc/lblcr garbage collection); the caller invokes it every `periodMs`. */
  readonly periodMs?: number;
  periodic?(svc: VirtualService, nowMs: number): void;
}

/** ip_vs_dest_conn_overhead (6.1.192): activeconns * 256 + totalconns. */
export function connOverhead(d: Dest): number {
  return d.activeConns * 256 + d.totalConns;
}

/** prandom_u32_max(n): a value in [0, n) from one u32, as the kernel scales it. */
export function randomBelow(rand: RandomU32, n: number): number {
  return Math.floor(((rand() >>> 0) * n) / 4294967296);
}

const EXACT = 2 ** 53;

/**
 * (s64)a * b > (s64)c * d without losing precision: weights reach 2^31 and overheads grow with
 * connections, so products can pass 2^53 where doubles stop being exact.
 */
export function mulGt(a: number, b: number, c: number, d: number): boolean {
  const l = a * b;
  const r = c * d;
  if (l < EXACT && r < EXACT && l > -EXACT && r > -EXACT) return l > r;
  return BigInt(a) * BigInt(b) > BigInt(c) * BigInt(d);
}

/** Hooks for schedulers that keep no per-service state (lc, wlc, sed, nq, fo, ovf, twos). */
export const STATELESS_HOOKS = {
  initService(): void {},
  doneService(): void {},
  addDest(): void {},
  delDest(): void {},
  updDest(): void {},
};
