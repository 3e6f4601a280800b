/** The estimators against cases small enough to compute by hand (the arithmetic is in the comments). */
import { describe, expect, it } from 'vitest';
import { dr, ips, snips } from '../../../src/routing/ope/estimators.js';
import { evaluate } from '../../../src/routing/ope/evaluate.js';
import { fixedPolicy, type LoggedDecision, perDecisionPolicy, uniformPolicy } from '../../../src/routing/ope/types.js';

// Two arms; the logging policy's propensity of the logged arm varies per decision.
const log: LoggedDecision[] = [
  { arm: 0, propensity: 0.5, reward: 1 },
  { arm: 1, propensity: 0.25, reward: 0 },
  { arm: 0, propensity: 0.5, reward: 0 },
  { arm: 1, propensity: 0.5, reward: 1 },
];
const arm0 = fixedPolicy([1, 0]);
const uniform = uniformPolicy(2);
const Z = 1.959963984540054;

describe('ips', () => {
  it('averages w·r with a normal interval from the terms', () => {
    // w = [2, 0, 2, 0]; terms w·r = [2, 0, 0, 0]; mean 0.5.
    // deviations [1.5, -0.5, -0.5, -0.5], ss = 3, s² = 3/3 = 1, se = √(1/4) = 0.5.
    // ESS = (Σw)²/Σw² = 16/8 = 2.
    const e = ips(log, arm0);
    expect(e.value).toBeCloseTo(0.5, 12);
    expect(e.ci95![0]).toBeCloseTo(0.5 - Z * 0.5, 12);
    expect(e.ci95![1]).toBeCloseTo(0.5 + Z * 0.5, 12);
    expect(e.n).toBe(4);
    expect(e.effectiveSampleSize).toBeCloseTo(2, 12);
  });

  it('weighs each decision by π/μ of its own logged propensity', () => {
    // uniform: w = [1, 2, 1, 1]; terms [1, 0, 0, 1]; mean 0.5; ESS = 25/7.
    const e = ips(log, uniform);
    expect(e.value).toBeCloseTo(0.5, 12);
    expect(e.effectiveSampleSize).toBeCloseTo(25 / 7, 12);
  });

  it('takes a policy given as per-decision probability rows', () => {
    // π on the logged arm = [0.5, 1, 0, 0.5]; w = [1, 4, 0, 1]; terms [1, 0, 0, 1]; mean 0.5;
    // ESS = 36/18 = 2.
    const rows = [Float64Array.of(0.5, 0.5), [0, 1], [0, 1], [0.5, 0.5]];
    const e = ips(log, perDecisionPolicy(rows));
    expect(e.value).toBeCloseTo(0.5, 12);
    expect(e.effectiveSampleSize).toBeCloseTo(2, 12);
  });
});

describe('snips', () => {
  it('divides by Σw and takes its interval by the delta method', () => {
    // arm0: Σwr = 2, Σw = 4 → 0.5. w(r − V) = [1, 0, -1, 0], Σ = 2;
    // half = Z·√(2·4/3)/4 = Z·0.4082…
    const e = snips(log, arm0);
    expect(e.value).toBeCloseTo(0.5, 12);
    const half = (Z * Math.sqrt((2 * 4) / 3)) / 4;
    expect(e.ci95![0]).toBeCloseTo(0.5 - half, 12);
    expect(e.ci95![1]).toBeCloseTo(0.5 + half, 12);
    // uniform: Σwr = 1·1 + 1·1 = 2, Σw = 5 → 0.4 (IPS says 0.5: the self-normalisation shows).
    expect(snips(log, uniform).value).toBeCloseTo(0.4, 12);
  });

  it('answers null, not NaN, when the policy puts no weight on any logged arm', () => {
    const e = snips([{ arm: 1, propensity: 0.5, reward: 1 }], arm0);
    expect(e).toEqual({ value: null, ci95: null, n: 1, effectiveSampleSize: 0 });
  });
});

describe('dr', () => {
  // A reward model that says arm 0 earns 0.5 and arm 1 earns 0.25, everywhere.
  const predicted = (_i: number, arm: number) => (arm === 0 ? 0.5 : 0.25);

  it('adds the model’s direct estimate to the weighted residual', () => {
    // arm0: direct 0.5; corrections w(r − r̂) = [2·0.5, 0, 2·(−0.5), 0] → terms [1.5, 0.5, −0.5, 0.5],
    // mean 0.5; deviations [1, 0, −1, 0], s² = 2/3, se = √(2/3/4).
    const e = dr(log, arm0, predicted, 2);
    expect(e.value).toBeCloseTo(0.5, 12);
    const half = Z * Math.sqrt(2 / 3 / 4);
    expect(e.ci95![1] - e.value!).toBeCloseTo(half, 12);
    // Narrower than IPS's ±Z·0.5 on the same decisions: the model took out variance.
    expect(half).toBeLessThan(Z * 0.5);
  });

  it('sums π(a|x)·r̂ over every arm for a stochastic target', () => {
    // uniform: direct 0.5·0.5 + 0.5·0.25 = 0.375; corrections [1·0.5, 2·(−0.25), 1·(−0.5), 1·0.75];
    // terms [0.875, −0.125, −0.125, 1.125]; mean 1.75/4 = 0.4375.
    expect(dr(log, uniform, predicted, 2).value).toBeCloseTo(0.4375, 12);
  });
});

describe('evaluate', () => {
  it('answers an empty log with n 0 and nulls, never NaN', () => {
    const r = evaluate([], uniform, { arms: 2 });
    expect(r.kind).toBe('estimated');
    if (r.kind !== 'estimated') return;
    for (const name of ['ips', 'snips', 'dr'] as const) {
      expect(r.estimates[name]).toEqual({ value: null, ci95: null, n: 0, effectiveSampleSize: 0 });
    }
    expect(JSON.stringify(r)).not.toMatch(/NaN|Infinity/);
  });

  it('refuses a log without exploration (ucb1: every propensity 1) as not evaluable', () => {
    const ucb1 = [
      { arm: 0, propensity: 1, reward: 1 },
      { arm: 1, propensity: 1, reward: 0 },
      { arm: 1, propensity: 1, reward: 1 },
    ];
    const r = evaluate(ucb1, uniform, { arms: 2 });
    expect(r.kind).toBe('not-evaluable');
    expect(r.kind === 'not-evaluable' && r.reason).toMatch(/never explored/);
    // One exploring decision is enough to estimate.
    expect(evaluate([...ucb1, { arm: 0, propensity: 0.1, reward: 1 }], uniform, { arms: 2 }).kind).toBe('estimated');
  });

  it('names the decision whose arm, propensity or reward would poison the sums', () => {
    expect(() => evaluate([{ arm: 2, propensity: 0.5, reward: 1 }], uniform, { arms: 2 })).toThrow(/decision 0: arm 2/);
    expect(() => evaluate([...log, { arm: 0, propensity: 0, reward: 1 }], uniform, { arms: 2 })).toThrow(
      /decision 4: propensity 0/,
    );
    expect(() => evaluate([{ arm: 0, propensity: 0.5, reward: Number.NaN }], uniform, { arms: 2 })).toThrow(
      /reward NaN/,
    );
    expect(() => ips(log, () => 1.5)).toThrow(/probability 1.5 at decision 0/);
  });
});
