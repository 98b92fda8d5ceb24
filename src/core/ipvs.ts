/**
 * The IPVS instance of one director (struct netns_ipvs): the service table, the connection
 * table, the sysctls and the global counters. Dataplanes call it per new flow and per packet
 * (or per relay event); the daemon drives its timers with tick(nowMs). Pure: time and
 * randomness are arguments.
 */
import type { RandomU32 } from './sched/scheduler.js';
import { ServiceTable } from './service-table.js';

/** /proc/sys/net/ipv4/vs/* that change behaviour (Documentation/networking/ipvs-sysctl.rst). */
export interface IpvsSysctls {
  expireNodestConn: number;
  expireQuiescentTemplate: number;
  connReuseMode: number;
  sloppyTcp: number;
  sloppySctp: number;
  secureTcp: number;
  dropEntry: number;
  natIcmpSend: number;
  schedule_icmp: number;
  cacheBypass: number;
  lblcExpirationS: number;
  lblcrExpirationS: number;
}

export const DEFAULT_SYSCTLS: Readonly<IpvsSysctls> = Object.freeze({
  expireNodestConn: 0,
  expireQuiescentTemplate: 0,
  connReuseMode: 1,
  sloppyTcp: 0,
  sloppySctp: 0,
  secureTcp: 0,
  dropEntry: 0,
  natIcmpSend: 0,
  schedule_icmp: 0,
  cacheBypass: 0,
  lblcExpirationS: 86400,
  lblcrExpirationS: 86400,
});

export interface IpvsOptions {
  random: RandomU32;
  /** log2 of the connection hash size shown as (size=N); 12 as the reference kernel. */
  connTabBits?: number;
  /** Upper bound of live connection entries (table memory is sized from it). */
  maxConns?: number;
}

export class Ipvs {
  readonly table = new ServiceTable();
  readonly sysctl: IpvsSysctls = { ...DEFAULT_SYSCTLS };
  readonly random: RandomU32;
  readonly connTabBits: number;

  constructor(opts: IpvsOptions) {
    this.random = opts.random;
    this.connTabBits = opts.connTabBits ?? 12;
  }
}
