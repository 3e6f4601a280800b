/** DR's reward model: the ridge solve by hand, and the cross-fitting that keeps each prediction blind. */
import { describe, expect, it } from 'vitest';
import { crossFittedArmMeans, crossFittedRidge } from '../../../src/routing/ope/reward-model.js';
import { choleskySolve, RidgeRegression } from '../../../src/routing/ope/ridge.js';

describe('ridge regression', () => {
  it('solves (λI + XᵀX) θ = Xᵀr with the intercept', () => {
    // x = [1, 2], r = [1, 3], λ = 1: A = [[1+2, 3], [3, 1+5]] = [[3, 3], [3, 6]], b = [4, 7];
    // det 9, θ = [[6, −3], [−3, 3]]·[4, 7]/9 = [1/3, 1]; at x = 3: 1/3 + 3.
    const m = new RidgeRegression(1, 1);
    m.add(Float64Array.of(1), 1);
    m.add(Float64Array.of(2), 3);
    const t = m.coefficients();
    expect(t[0]).toBeCloseTo(1 / 3, 12);
    expect(t[1]).toBeCloseTo(1, 12);
    expect(m.predict(Float64Array.of(3))).toBeCloseTo(10 / 3, 12);
  });

  it('solves a 3×3 system by Cholesky', () => {
    // A = [[4, 2, 0], [2, 5, 1], [0, 1, 3]], x = [1, −1, 2] → b = A x = [2, −1, 5].
    const x = choleskySolve(Float64Array.of(4, 2, 0, 2, 5, 1, 0, 1, 3), Float64Array.of(2, -1, 5), 3);
    expect([...x].map((v) => Number(v.toFixed(12)))).toEqual([1, -1, 2]);
  });

  it('refuses a matrix poisoned by NaN instead of returning NaN coefficients', () => {
    const m = new RidgeRegression(1, 1);
    m.add(Float64Array.of(Number.NaN), 1);
    expect(() => m.coefficients()).toThrow(/positive definite/);
  });
});

describe('cross-fitting', () => {
  // Even positions form fold 0, odd positions fold 1.
  const log = [
    { arm: 0, propensity: 0.5, reward: 1 },
    { arm: 0, propensity: 0.5, reward: 0 },
    { arm: 1, propensity: 0.5, reward: 1 },
    { arm: 0, propensity: 0.5, reward: 0 },
    { arm: 0, propensity: 0.5, reward: 0 },
  ];

  it('predicts each decision from the other fold’s per-arm means', () => {
    // fold 0: arm0 mean (1 + 0)/2 = 0.5, arm1 1. fold 1: arm0 0, arm1 unseen → fold 1's mean, 0.
    const p = crossFittedArmMeans(log, 2);
    expect([p(0, 0), p(0, 1), p(2, 0), p(4, 1)]).toEqual([0, 0, 0, 0]);
    expect([p(1, 0), p(1, 1), p(3, 0), p(3, 1)]).toEqual([0.5, 1, 0.5, 1]);
  });

  it('fits a ridge per arm and fold on the other fold only', () => {
    // Arm 0, fold 1 holds x = 1, 2 with r = 1, 3: decision 0 (fold 0) is predicted by θ = [1/3, 1].
    const ctx = (v: number) => Float64Array.of(v);
    const p = crossFittedRidge(
      [
        { arm: 0, propensity: 0.5, reward: 5, context: ctx(3) },
        { arm: 0, propensity: 0.5, reward: 1, context: ctx(1) },
        { arm: 1, propensity: 0.5, reward: 9, context: ctx(0) },
        { arm: 0, propensity: 0.5, reward: 3, context: ctx(2) },
      ],
      2,
      1,
      1,
    );
    expect(p(0, 0)).toBeCloseTo(10 / 3, 12);
    // Its own reward (5) did not pull the prediction: decision 0 is in no model that predicts it.
    expect(p(2, 0)).toBeCloseTo(1 / 3, 12);
  });

  it('names a decision whose context has the wrong number of features', () => {
    expect(() =>
      crossFittedRidge([{ arm: 0, propensity: 0.5, reward: 1, context: Float64Array.of(1, 2) }], 1, 1, 1),
    ).toThrow(/decision 0: context has 2 features, expected 1/);
  });
});
