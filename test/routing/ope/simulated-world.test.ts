/**
 * A seeded world where the truth is known: 3 arms whose Bernoulli reward depends linearly on a
 * 2-feature context x ~ U(−1, 1)², so each arm's true mean is its base rate (E[x] = 0). Uniform
 * logging, as an epsilon-greedy or Thompson route with its floor would log on a flat start.
 */
import { describe, expect, it } from 'vitest';
import { evaluate, rewardModel } from '../../../src/routing/ope/evaluate.js';
import { type Rng, seededRng } from '../../../src/routing/sampling.js';
import {
  type EstimatorName,
  fixedPolicy,
  type LoggedDecision,
  type TargetPolicy,
  uniformPolicy,
} from '../../../src/routing/ope/types.js';

const BASE = [0.3, 0.5, 0.6];
const SLOPE = [
  [0.2, 0],
  [-0.2, 0.1],
  [0, -0.25],
];
const ARMS = BASE.length;

function simulateLog(n: number, rng: Rng): LoggedDecision[] {
  const log: LoggedDecision[] = [];
  for (let i = 0; i < n; i++) {
    const context = Float64Array.of(2 * rng() - 1, 2 * rng() - 1);
    const arm = Math.floor(rng() * ARMS);
    const p = BASE[arm]! + SLOPE[arm]![0]! * context[0]! + SLOPE[arm]![1]! * context[1]!;
    log.push({ arm, propensity: 1 / ARMS, reward: rng() < p ? 1 : 0, context });
  }
  return log;
}

const POLICIES: [string, TargetPolicy, number][] = [
  ['arm:0', fixedPolicy([1, 0, 0]), BASE[0]!],
  ['arm:1', fixedPolicy([0, 1, 0]), BASE[1]!],
  ['arm:2', fixedPolicy([0, 0, 1]), BASE[2]!],
  ['uniform', uniformPolicy(ARMS), (BASE[0]! + BASE[1]! + BASE[2]!) / ARMS],
];
const ESTIMATORS: EstimatorName[] = ['ips', 'snips', 'dr'];

function estimatesOf(log: LoggedDecision[], target: TargetPolicy, predicted: ReturnType<typeof rewardModel>) {
  const r = evaluate(log, target, { arms: ARMS }, predicted);
  if (r.kind !== 'estimated') throw new Error('a uniform log must be evaluable');
  return r.estimates;
}

describe('off-policy estimates in a simulated world', () => {
  it('puts each fixed arm and uniform within its 95% interval of the truth', () => {
    const log = simulateLog(2000, seededRng(19));
    const predicted = rewardModel(log, ARMS);
    for (const [, target, truth] of POLICIES) {
      const estimates = estimatesOf(log, target, predicted);
      for (const name of ESTIMATORS) {
        const e = estimates[name]!;
        expect(e.n).toBe(2000);
        expect(truth).toBeGreaterThanOrEqual(e.ci95![0]);
        expect(truth).toBeLessThanOrEqual(e.ci95![1]);
        expect(Math.abs(e.value! - truth)).toBeLessThan(0.08);
      }
      // The context explains part of the reward, so the ridge model narrows DR's interval.
      const width = (name: EstimatorName) => estimates[name]!.ci95![1] - estimates[name]!.ci95![0];
      expect(width('dr')).toBeLessThan(width('ips'));
    }
    // Fixed arms under uniform logging: every weight is 3 or 0, ESS ≈ n/3.
    const ess = estimatesOf(log, POLICIES[0]![1], predicted).ips!.effectiveSampleSize;
    expect(ess).toBeGreaterThan(2000 / 3 - 60);
    expect(ess).toBeLessThan(2000 / 3 + 60);
  });

  it('covers the truth in 90–99% of 200 repeated runs, for every policy and estimator', () => {
    const RUNS = 200;
    const covered: Record<string, number> = {};
    for (let run = 0; run < RUNS; run++) {
      const log = simulateLog(1000, seededRng(1000 + run));
      const predicted = rewardModel(log, ARMS);
      for (const [policy, target, truth] of POLICIES) {
        const estimates = estimatesOf(log, target, predicted);
        for (const name of ESTIMATORS) {
          const [lo, hi] = estimates[name]!.ci95!;
          const key = `${policy} ${name}`;
          covered[key] = (covered[key] ?? 0) + (lo <= truth && truth <= hi ? 1 : 0);
        }
      }
    }
    const coverage = Object.fromEntries(Object.entries(covered).map(([k, c]) => [k, c / RUNS]));
    if (process.env.OPE_COVERAGE) console.log(coverage);
    for (const [key, c] of Object.entries(coverage)) {
      expect({ key, c: c >= 0.9 && c <= 0.99 }).toEqual({ key, c: true });
    }
  });
});
