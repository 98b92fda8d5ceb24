/**
 * One set of IPVS counters (struct ip_vs_stats): per destination, per service and the global
 * totals. Live counters are plain numbers (exact to 2^53); `snapshot` is what listings show,
 * refreshed only by the estimator tick, as the kernel's kstats are (ip_vs_est.c).
 */
export class Stats {
  conns = 0;
  inpkts = 0;
  outpkts = 0;
  inbytes = 0;
  outbytes = 0;

  /** ip_vs_est.c fixed-point averages (cps/pps scaled by 2^10, bps by 2^5). */
  cpsEst = 0;
  inppsEst = 0;
  outppsEst = 0;
  inbpsEst = 0;
  outbpsEst = 0;

  /** Counter values at the previous estimator tick. */
  lastConns = 0;
  lastInpkts = 0;
  lastOutpkts = 0;
  lastInbytes = 0;
  lastOutbytes = 0;

  /** Values at the last zeroing (`ipvsadm -Z`); listings show snapshot minus these. */
  zeroConns = 0;
  zeroInpkts = 0;
  zeroOutpkts = 0;
  zeroInbytes = 0;
  zeroOutbytes = 0;

  /** The kstats snapshot taken at the last estimator tick. */
  snapConns = 0;
  snapInpkts = 0;
  snapOutpkts = 0;
  snapInbytes = 0;
  snapOutbytes = 0;
}

export interface StatsView {
  conns: number;
  inpkts: number;
  outpkts: number;
  inbytes: number;
  outbytes: number;
  cps: number;
  inpps: number;
  outpps: number;
  inbps: number;
  outbps: number;
}

/** What `ipvsadm -L --stats/--rate` shows: snapshot minus zero point, and the rounded rates. */
export function statsView(s: Stats): StatsView {
  return {
    conns: s.snapConns - s.zeroConns,
    inpkts: s.snapInpkts - s.zeroInpkts,
    outpkts: s.snapOutpkts - s.zeroOutpkts,
    inbytes: s.snapInbytes - s.zeroInbytes,
    outbytes: s.snapOutbytes - s.zeroOutbytes,
    cps: Math.floor((s.cpsEst + 511) / 1024),
    inpps: Math.floor((s.inppsEst + 511) / 1024),
    outpps: Math.floor((s.outppsEst + 511) / 1024),
    inbps: Math.floor((s.inbpsEst + 15) / 32),
    outbps: Math.floor((s.outbpsEst + 15) / 32),
  };
}
