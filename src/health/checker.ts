/**
 * The checker seam: one probe of one real server, the equivalent of one keepalived checker
 * thread run (connect, exchange, verdict) without its epilog. What the result means over time
 * (retry, delay_before_retry, alpha, quorum...) is health/verdict.ts's business, not the probe's.
 *
 * A probe enforces its own timeout (keepalived's connect_timeout, or misc_timeout), never
 * throws, and reports a one-line detail in keepalived's words where keepalived has them.
 */
import type { CheckerConfig } from '../config/keepalived/types.js';

export interface ProbeResult {
  readonly ok: boolean;
  /** One line: what happened ("connected", "HTTP status code 503", "timeout after 3000 ms"...). */
  readonly detail: string;
  /** MISC_CHECK: exit status, or null when the script was killed or timed out. */
  readonly exitStatus?: number | null;
  /** req.now() when the probe settled (the runner's clock), so queued callbacks do not count as probe time. */
  readonly finishedMs?: number;
}

export interface ProbeRequest {
  /** HTTP_GET/SSL_GET: which URL of the checker (index into urls). */
  readonly url: number;
  /** Aborted when the runner stops; the probe then settles quickly with ok: false. */
  readonly signal: AbortSignal;
  /** The runner's clock, read by the probe at the moment it settles. */
  readonly now?: () => number;
}

/** The result stamped with the time the probe settled. */
export function stamp(req: ProbeRequest, r: ProbeResult): ProbeResult {
  return req.now ? { ...r, finishedMs: req.now() } : r;
}

export interface Probe {
  readonly kind: CheckerConfig['kind'];
  /** "198.51.100.11:80", "/usr/lib/check.sh", "/run/maint" ... for status reports. */
  readonly target: string;
  /** True when this probe holds a socket or a process while it runs (bounded by the runner). */
  readonly usesSocket: boolean;
  run(req: ProbeRequest): Promise<ProbeResult>;
}

/** Builds the probe of one configured checker. The runner takes one of these for tests. */
export type ProbeFactory = (checker: CheckerConfig, ctx: ProbeContext) => Probe | null;

export interface ProbeContext {
  /** The virtual server's delay_loop, the MISC_CHECK default timeout. */
  readonly vsDelayLoopMs: number;
  /** Random bytes (UDP_CHECK payload, DNS query id); injected so tests can fix them. */
  readonly randomBytes: (n: number) => Uint8Array;
}

/** "addr:port", "[v6]:port". */
export function endpoint(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}
