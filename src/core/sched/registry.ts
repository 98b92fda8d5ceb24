/**
 * Schedulers by name (ip_vs_sched.c ip_vs_scheduler_get). "none" is not a scheduler: a service
 * with it binds nothing, as ip_vs_add_service does.
 */
import { dh } from './dh.js';
import { fo } from './fo.js';
import { lblc } from './lblc.js';
import { lblcr } from './lblcr.js';
import { lc } from './lc.js';
import { mh } from './mh.js';
import { nq } from './nq.js';
import { ovf } from './ovf.js';
import { rr } from './rr.js';
import type { Scheduler } from './scheduler.js';
import { sed } from './sed.js';
import { sh } from './sh.js';
import { twos } from './twos.js';
import { wlc } from './wlc.js';
import { wrr } from './wrr.js';

const ALL: readonly Scheduler[] = [rr, wrr, lc, wlc, sed, nq, lblc, lblcr, dh, sh, mh, fo, ovf, twos];
const BY_NAME = new Map<string, Scheduler>(ALL.map((s) => [s.name, s]));

export const SCHEDULER_NAMES: readonly string[] = ALL.map((s) => s.name);

export function getScheduler(name: string): Scheduler | null {
  return BY_NAME.get(name) ?? null;
}
