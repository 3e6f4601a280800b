/** A shadow arm's vector: agreement and score delta exact, p99 an upper bound within 19%, sums that add. */
import { describe, expect, it } from 'vitest';
import { addInto } from '../../src/monitoring/minute-window.js';
import { ShadowSeries, shadowSeriesKey, shadowWindow } from '../../src/monitoring/shadow-counts.js';

const series = () => new ShadowSeries(shadowSeriesKey('r', 's'), undefined, () => undefined);

describe('shadow counts', () => {
  it('agreement at the served threshold, mean |delta| and the comparisons without scores', () => {
    const s = series();
    s.compared(0.2, 0.3, 0.5, 1); // agree, 0.1
    s.compared(0.6, 0.4, 0.5, 1); // disagree, 0.2
    s.compared(0.5, 0.9, 0.5, 1); // agree at the threshold (>=), 0.4
    s.compared(Number.NaN, 0.9, 0.5, 1); // the served version has no monitor
    s.compared(0.4, 0.9, Number.NaN, 1); // no threshold
    s.shed('busy');
    s.shed('bound');
    s.failed();
    const w = shadowWindow(s.amounts);
    expect(w).toMatchObject({ comparisons: 5, withoutScores: 2, shed: 2, failed: 1 });
    expect(w.agreement).toBeCloseTo(2 / 3, 12);
    expect(w.meanAbsScoreDelta).toBeCloseTo(0.7 / 3, 12);
    expect(shadowWindow(series().amounts)).toMatchObject({ comparisons: 0, agreement: null, p99LatencyMs: null });
  });

  it('reads a p99 at most 19% above the exact one, from sums that add across replicas', () => {
    const a = series();
    const b = series();
    const latencies: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const ms = 0.2 + ((i * 7919) % 1000) * 0.05 + (i % 97 === 0 ? 400 : 0);
      latencies.push(ms);
      (i % 2 ? a : b).compared(0.1, 0.1, 0.5, ms);
    }
    const sorted = latencies.sort((x, y) => x - y);
    const exact = sorted[Math.ceil(sorted.length * 0.99) - 1]!;
    const p99 = shadowWindow(addInto(a.amounts.slice(), b.amounts)).p99LatencyMs!;
    expect(p99).toBeGreaterThanOrEqual(exact * 0.999);
    expect(p99).toBeLessThanOrEqual(exact * 1.19 + 0.001);
  });
});
