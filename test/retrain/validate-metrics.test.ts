import { describe, expect, it } from 'vitest';
import { seededRng } from '../../src/routing/sampling.js';
import { auc, metrics } from '../../src/retrain/validate-metrics.js';

/** AUC by its definition: over every positive–negative pair, 1 if the positive scores higher, ½ on a tie. */
function pairwiseAuc(scores: number[], labels: number[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++)
    for (let j = 0; j < scores.length; j++)
      if (labels[i] === 1 && labels[j] === 0) {
        pairs++;
        wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }
  return wins / pairs;
}

describe('holdout metrics', () => {
  it('AUC equals the pairwise definition exactly, ties counted one half', () => {
    const rng = seededRng(3);
    for (let trial = 0; trial < 20; trial++) {
      // Few distinct scores: many ties.
      const scores = Array.from({ length: 300 }, () => Math.floor(rng() * 7) / 7);
      const labels = scores.map((s) => (rng() < 0.2 + 0.6 * s ? 1 : 0));
      expect(auc(scores, labels)).toBeCloseTo(pairwiseAuc(scores, labels), 12);
    }
    expect(auc([0.5, 0.5, 0.5], [1, 0, 1])).toBe(0.5);
    expect(auc([0.1, 0.9], [0, 1])).toBe(1);
    expect(auc([0.1, 0.9], [1, 0])).toBe(0);
  });

  it('AUC is undefined (null) with one class only', () => {
    expect(auc([0.2, 0.4], [1, 1])).toBeNull();
    expect(metrics([0.2, 0.4], [0, 0]).auc).toBeNull();
  });

  it('log loss, Brier and calibration by their formulas', () => {
    const m = metrics([0.9, 0.2, 0.65, 0.05], [1, 0, 0, 1]);
    expect(m.logLoss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.8) + Math.log(0.35) + Math.log(0.05)) / 4, 12);
    expect(m.brier).toBeCloseTo((0.01 + 0.04 + 0.4225 + 0.9025) / 4, 12);
    const bins = m.calibration.bins.filter((b) => b.rows > 0);
    expect(bins.map((b) => [b.from, b.rows, b.observedRate])).toEqual([
      [0, 1, 1],
      [0.2, 1, 0],
      [0.6, 1, 0],
      [0.9, 1, 1],
    ]);
    expect(m.calibration.ece).toBeCloseTo((0.95 + 0.2 + 0.65 + 0.1) / 4, 12);
    // A confident miss costs a large but finite log loss.
    expect(Number.isFinite(metrics([1, 0], [0, 1]).logLoss)).toBe(true);
  });
});
