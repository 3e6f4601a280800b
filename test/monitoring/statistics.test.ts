/** The tests behind monitoring's verdicts, against published table values. */
import { describe, expect, it } from 'vitest';
import {
  chiSquareGoodnessOfFit,
  chiSquareSurvival,
  gammaQ,
  meanBelow,
  normalCdf,
  proportionAbove,
} from '../../src/monitoring/statistics.js';

describe('normalCdf', () => {
  it('matches the standard normal table', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1.644854)).toBeCloseTo(0.05, 6);
    expect(normalCdf(-3)).toBeCloseTo(0.0013499, 6);
    expect(normalCdf(2.326348)).toBeCloseTo(0.99, 6);
  });
});

describe('chi-square', () => {
  it('Q(1, x) is exp(-x)', () => {
    for (const x of [0.1, 1, 3, 10, 30]) expect(gammaQ(1, x)).toBeCloseTo(Math.exp(-x), 12);
  });

  it('matches the critical values of the chi-square table', () => {
    // [statistic, degrees of freedom, upper-tail probability]
    const table: [number, number, number][] = [
      [3.841459, 1, 0.05],
      [10.827566, 1, 0.001],
      [5.991465, 2, 0.05],
      [13.815511, 2, 0.001],
      [7.814728, 3, 0.05],
      [16.266236, 3, 0.001],
      [124.342113, 100, 0.05],
      [0.454936, 1, 0.5],
    ];
    for (const [x, df, p] of table) expect(chiSquareSurvival(x, df)).toBeCloseTo(p, 6);
    expect(chiSquareSurvival(0, 3)).toBe(1);
  });

  it('goodness of fit: a 60/40 split where 50/50 was expected has p = 0.0455', () => {
    const r = chiSquareGoodnessOfFit([60, 40], [0.5, 0.5]);
    expect(r.statistic).toBeCloseTo(4, 10);
    expect(r.df).toBe(1);
    expect(r.pValue).toBeCloseTo(0.0455003, 6);
  });

  it('goodness of fit rescales the expected counts (sums of propensities) to the observed total', () => {
    expect(chiSquareGoodnessOfFit([500, 300, 200], [5, 3, 2]).pValue).toBeCloseTo(1, 12);
    expect(chiSquareGoodnessOfFit([520, 300, 180], [50.5, 29.7, 19.8]).pValue).toBeGreaterThan(0.05);
    expect(chiSquareGoodnessOfFit([700, 200, 100], [5, 3, 2]).pValue).toBeLessThan(0.001);
  });

  it('is no evidence without data or with one category (an arm expected never is left out)', () => {
    expect(chiSquareGoodnessOfFit([0, 0], [1, 1]).pValue).toBe(1);
    expect(chiSquareGoodnessOfFit([10, 0], [1, 0]).pValue).toBe(1);
    // Pulls of an arm that had probability 0 throughout: a mismatch whatever the rest.
    expect(chiSquareGoodnessOfFit([10, 3], [1, 0]).pValue).toBe(0);
    expect(chiSquareGoodnessOfFit([10, 0, 7], [1, 0, 1]).df).toBe(1);
  });
});

describe('one-sided tests for guardrails', () => {
  it('two proportions: equal rates are no evidence, a clear excess is', () => {
    expect(proportionAbove(50, 1000, 50, 1000)).toBeCloseTo(0.5, 7);
    // 6% against 3% errors over 1,000 requests each: pooled se 0.009271, z = 3.236, p = 0.000606
    expect(proportionAbove(60, 1000, 30, 1000)).toBeCloseTo(0.000606, 5);
    expect(proportionAbove(30, 1000, 60, 1000)).toBeGreaterThan(0.99);
    expect(proportionAbove(0, 0, 5, 100)).toBe(1);
    expect(proportionAbove(0, 100, 0, 100)).toBe(1);
  });

  it('Welch: a lower mean reward is evidence in proportion to its standard error', () => {
    const sample = (n: number, mean: number, sd: number) => ({
      n,
      sum: n * mean,
      sumSq: (n - 1) * sd * sd + n * mean * mean,
    });
    // difference 0.05, standard error sqrt(0.25/1000 * 2) = 0.02236: z = -2.236, p = 0.01267
    expect(meanBelow(sample(1000, 0.45, 0.5), sample(1000, 0.5, 0.5))).toBeCloseTo(0.01267, 4);
    expect(meanBelow(sample(1000, 0.5, 0.5), sample(1000, 0.5, 0.5))).toBeCloseTo(0.5, 7);
    expect(meanBelow(sample(1, 0, 0), sample(1000, 0.5, 0.5))).toBe(1);
  });
});
