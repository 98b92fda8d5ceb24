/**
 * The rate estimator of net/netfilter/ipvs/ip_vs_est.c (6.1): every 2 s each stats set takes a
 * snapshot of its counters (kstats) and folds the deltas into exponentially weighted averages
 * with weight 1/4, in fixed point (cps/pps scaled by 2^10, bps by 2^5).
 * The caller (daemon timer) calls estimatorTick on every registered Stats every 2 s.
 */
import type { Stats } from './counters.js';

export const IP_VS_EST_PERIOD_MS = 2000;

/** (x >> 2) on a signed 64-bit value: floor division by 4. */
function asr2(x: number): number {
  return Math.floor(x / 4);
}

export function estimatorTick(s: Stats): void {
  // Nothing counted since the last tick and every rate already 0: the full tick would change
  // nothing (the snapshot always equals last, here the counters too, and each average moves by
  // (0 - 0) >> 2). A big table is mostly idle, so this keeps the 2 s tick short.
  if (s.conns === s.lastConns && s.inpkts === s.lastInpkts && s.outpkts === s.lastOutpkts
    && s.inbytes === s.lastInbytes && s.outbytes === s.lastOutbytes
    && s.cpsEst === 0 && s.inppsEst === 0 && s.outppsEst === 0 && s.inbpsEst === 0 && s.outbpsEst === 0) return;
  s.snapConns = s.conns;
  s.snapInpkts = s.inpkts;
  s.snapOutpkts = s.outpkts;
  s.snapInbytes = s.inbytes;
  s.snapOutbytes = s.outbytes;

  let rate = (s.snapConns - s.lastConns) * 512;
  s.lastConns = s.snapConns;
  s.cpsEst += asr2(rate - s.cpsEst);

  rate = (s.snapInpkts - s.lastInpkts) * 512;
  s.lastInpkts = s.snapInpkts;
  s.inppsEst += asr2(rate - s.inppsEst);

  rate = (s.snapOutpkts - s.lastOutpkts) * 512;
  s.lastOutpkts = s.snapOutpkts;
  s.outppsEst += asr2(rate - s.outppsEst);

  rate = (s.snapInbytes - s.lastInbytes) * 16;
  s.lastInbytes = s.snapInbytes;
  s.inbpsEst += asr2(rate - s.inbpsEst);

  rate = (s.snapOutbytes - s.lastOutbytes) * 16;
  s.lastOutbytes = s.snapOutbytes;
  s.outbpsEst += asr2(rate - s.outbpsEst);
}

/** ip_vs_zero_stats: the current snapshot becomes the zero point and the rates restart. */
export function zeroStats(s: Stats): void {
  s.zeroConns = s.snapConns;
  s.zeroInpkts = s.snapInpkts;
  s.zeroOutpkts = s.snapOutpkts;
  s.zeroInbytes = s.snapInbytes;
  s.zeroOutbytes = s.snapOutbytes;
  s.lastConns = s.snapConns;
  s.lastInpkts = s.snapInpkts;
  s.lastOutpkts = s.snapOutpkts;
  s.lastInbytes = s.snapInbytes;
  s.lastOutbytes = s.snapOutbytes;
  s.cpsEst = 0;
  s.inppsEst = 0;
  s.outppsEst = 0;
  s.inbpsEst = 0;
  s.outbpsEst = 0;
}
