/** Label metrics from summed counts, against the same metrics computed row by row. */
import { describe, expect, it } from 'vitest';
import {
  addLabel,
  calibrationBin,
  LABEL_COUNTS,
  labelMetrics,
  newLabelCounts,
  scoreBin,
  SCORE_BINS,
} from '../../src/monitoring/label-counts.js';
import { beta, seededRng } from '../../src/routing/sampling.js';

/** The exact AUC: the share of (positive, negative) pairs ranked right, ties counting half. */
function exactAuc(rows: { score: number; positive: boolean }[]): number {
  const pos = rows.filter((r) => r.positive).map((r) => r.score);
  const neg = rows
    .filter((r) => !r.positive)
    .map((r) => r.score)
    .sort((a, b) => a - b);
  let wins = 0;
  for (const s of pos) {
    let lo = 0;
    let hi = neg.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (neg[mid]! < s) lo = mid + 1;
      else hi = mid;
    }
    let ties = 0;
    for (let i = lo; i < neg.length && neg[i] === s; i++) ties++;
    wins += lo + ties / 2;
  }
  return wins / (pos.length * neg.length);
}

function world(seed: number, n: number, a: number, b: number, lift: number) {
  const rng = seededRng(seed);
  const rows: { score: number; positive: boolean }[] = [];
  for (let i = 0; i < n; i++) {
    const score = beta(a, b, rng);
    rows.push({ score, positive: rng() < Math.min(1, score * lift) });
  }
  return rows;
}

describe('label metrics from counts', () => {
  it('confusion counts, rates, log loss and Brier equal a row-by-row computation', () => {
    const rows = world(1, 5_000, 2, 5, 1);
    const counts = newLabelCounts();
    for (const r of rows) addLabel(counts, r.score, r.positive, 0.5);
    const m = labelMetrics(counts);
    const tp = rows.filter((r) => r.score >= 0.5 && r.positive).length;
    const fp = rows.filter((r) => r.score >= 0.5 && !r.positive).length;
    const fn = rows.filter((r) => r.score < 0.5 && r.positive).length;
    const tn = rows.length - tp - fp - fn;
    expect([m.n, m.tp, m.fp, m.tn, m.fn]).toEqual([rows.length, tp, fp, tn, fn]);
    expect(m.precision).toBeCloseTo(tp / (tp + fp), 12);
    expect(m.recall).toBeCloseTo(tp / (tp + fn), 12);
    expect(m.fpr).toBeCloseTo(fp / (fp + tn), 12);
    expect(m.predictedPositiveRate).toBeCloseTo((tp + fp) / rows.length, 12);
    expect(m.observedPositiveRate).toBeCloseTo((tp + fn) / rows.length, 12);
    const logLoss = rows.reduce((s, r) => s - Math.log(r.positive ? r.score : 1 - r.score), 0) / rows.length;
    const brier = rows.reduce((s, r) => s + ((r.positive ? 1 : 0) - r.score) ** 2, 0) / rows.length;
    expect(m.logLoss).toBeCloseTo(logLoss, 9);
    expect(m.brier).toBeCloseTo(brier, 9);
  });

  it('AUC from the score histograms is within 0.01 of the exact value, for spread and for crowded scores', () => {
    // [beta a, beta b, label lift]: a balanced model, a fraud-like one with scores near 0, one near 1,
    // and one with no skill at all.
    const cases: [number, number, number][] = [
      [2, 2, 1],
      [0.5, 60, 1],
      [40, 0.7, 1],
      [1, 200, 1],
      [2, 5, 0],
    ];
    for (const [i, [a, b, lift]] of cases.entries()) {
      let rows = world(10 + i, 20_000, a, b, lift);
      if (lift === 0) {
        const rng = seededRng(99);
        rows = rows.map((r) => ({ score: r.score, positive: rng() < 0.3 }));
      }
      const counts = newLabelCounts();
      for (const r of rows) addLabel(counts, r.score, r.positive, 0.5);
      const auc = labelMetrics(counts).auc!;
      expect(Math.abs(auc - exactAuc(rows)), `beta(${a}, ${b})`).toBeLessThan(0.01);
    }
  });

  it('calibration: ten equal-width buckets with their mean score, observed rate and n', () => {
    const counts = newLabelCounts();
    addLabel(counts, 0.05, false, 0.5);
    addLabel(counts, 0.15, true, 0.5);
    addLabel(counts, 0.12, false, 0.5);
    addLabel(counts, 1, true, 0.5);
    const c = labelMetrics(counts).calibration;
    expect(c).toHaveLength(10);
    expect(c[0]).toEqual({ meanScore: 0.05, observedRate: 0, n: 1 });
    expect(c[1]!.n).toBe(2);
    expect(c[1]!.meanScore).toBeCloseTo(0.135, 12);
    expect(c[1]!.observedRate).toBe(0.5);
    expect(c[9]).toEqual({ meanScore: 1, observedRate: 1, n: 1 });
    expect(c[5]).toEqual({ meanScore: null, observedRate: null, n: 0 });
  });

  it('is null, never NaN, where a denominator is empty', () => {
    const m = labelMetrics(newLabelCounts());
    expect(m.n).toBe(0);
    expect([m.precision, m.recall, m.fpr, m.logLoss, m.brier, m.auc]).toEqual([null, null, null, null, null, null]);
    const onlyNegatives = newLabelCounts();
    addLabel(onlyNegatives, 0.2, false, 0.5);
    expect(labelMetrics(onlyNegatives).auc).toBeNull();
    expect(labelMetrics(onlyNegatives).recall).toBeNull();
    expect(JSON.stringify(labelMetrics(onlyNegatives))).not.toContain('NaN');
  });

  it('keeps scores outside [0, 1] in the end bins and log loss finite', () => {
    const counts = newLabelCounts();
    addLabel(counts, -3, true, 0.5);
    addLabel(counts, 7, false, 0.5);
    addLabel(counts, 0, true, 0.5);
    const m = labelMetrics(counts);
    expect(Number.isFinite(m.logLoss)).toBe(true);
    expect(scoreBin(-3)).toBe(0);
    expect(scoreBin(7)).toBe(SCORE_BINS - 1);
    expect(calibrationBin(-3)).toBe(0);
    expect(calibrationBin(7)).toBe(9);
    expect(counts.length).toBe(LABEL_COUNTS);
  });

  it('sums of two windows give the metrics of their union (what a window over minutes relies on)', () => {
    const rows = world(5, 2_000, 2, 3, 1);
    const all = newLabelCounts();
    const first = newLabelCounts();
    const second = newLabelCounts();
    rows.forEach((r, i) => {
      addLabel(all, r.score, r.positive, 0.3);
      addLabel(i % 2 ? first : second, r.score, r.positive, 0.3);
    });
    const union = labelMetrics(first.map((v, i) => v + second[i]!));
    const whole = labelMetrics(all);
    expect({ ...union, logLoss: 0, brier: 0, calibration: [] }).toEqual({
      ...whole,
      logLoss: 0,
      brier: 0,
      calibration: [],
    });
    expect(union.logLoss).toBeCloseTo(whole.logLoss!, 10);
    expect(union.brier).toBeCloseTo(whole.brier!, 10);
    for (const [i, b] of union.calibration.entries())
      expect(b.meanScore ?? 0).toBeCloseTo(whole.calibration[i]!.meanScore ?? 0, 10);
  });
});
