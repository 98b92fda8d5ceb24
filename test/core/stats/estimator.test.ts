// The estimator's idle shortcut must leave every field exactly as ip_vs_est.c's full tick would:
// replayed against the kernel's formula written out here, over traffic with long idle stretches
// (where rates decay to 0 and the shortcut starts to apply) and a zeroing in the middle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stats } from '../../../src/core/stats/counters.js';
import { estimatorTick, zeroStats } from '../../../src/core/stats/estimator.js';
import { xorshift32 } from '../../../src/core/random.js';

const COUNTERS = ['Conns', 'Inpkts', 'Outpkts', 'Inbytes', 'Outbytes'] as const;
const EST = ['cpsEst', 'inppsEst', 'outppsEst', 'inbpsEst', 'outbpsEst'] as const;
const SCALE = [512, 512, 512, 16, 16];

/** estimation_timer's body for one stats set, with no shortcut. */
function kernelTick(s: Stats): void {
  const r = s as unknown as Record<string, number>;
  COUNTERS.forEach((c, i) => {
    const live = r[c.toLowerCase()];
    r[`snap${c}`] = live;
    const rate = (live - r[`last${c}`]) * SCALE[i];
    r[`last${c}`] = live;
    r[EST[i]] += Math.floor((rate - r[EST[i]]) / 4);
  });
}

test('estimatorTick equals the kernel tick through bursts, idle decay to 0 and a zeroing', () => {
  const rand = xorshift32(0xe57);
  const mine = new Stats();
  const ref = new Stats();
  let skippedIdle = 0;
  for (let tick = 0; tick < 3000; tick++) {
    const phase = Math.floor(tick / 150) % 3; // busy, idle long enough to decay, trickle
    if (phase !== 1 && (phase === 0 || rand() % 7 === 0)) {
      const conns = rand() % 50;
      const pk = conns * 3 + (rand() % 20);
      for (const s of [mine, ref]) {
        s.conns += conns; s.inpkts += pk; s.outpkts += pk - (pk >> 2);
        s.inbytes += pk * 60; s.outbytes += pk * 1400;
      }
    }
    if (tick === 1700) { zeroStats(mine); zeroStats(ref); }
    const idle = mine.cpsEst === 0 && mine.inbpsEst === 0 && mine.conns === mine.lastConns && mine.outbytes === mine.lastOutbytes;
    if (idle) skippedIdle++;
    estimatorTick(mine);
    kernelTick(ref);
    assert.deepEqual({ ...mine }, { ...ref }, `tick ${tick}`);
  }
  assert.ok(skippedIdle > 100, `the idle shortcut was exercised (${skippedIdle} ticks)`);
});
