/**
 * DR's reward model, cross-fitted over two folds: decisions at even positions are predicted by a
 * model trained on the odd ones and vice versa, so no prediction has seen its own reward (which
 * would shrink DR's correction term and its interval). Alternate positions rather than halves, so
 * both folds span the same stretch of time when traffic drifts.
 */
import { RidgeRegression } from './ridge.js';
import type { LoggedDecision, RewardPredictions } from './types.js';

const FOLDS = 2;

/** Predictions as a flat n×arms table, read through the `RewardPredictions` function. */
function table(values: Float64Array, arms: number): RewardPredictions {
  return (i, arm) => values[i * arms + arm]!;
}

/** Mean reward of a fold: what an arm the fold never played is predicted to earn. */
function foldMeans(log: readonly LoggedDecision[]): Float64Array {
  const sum = new Float64Array(FOLDS);
  const count = new Float64Array(FOLDS);
  for (let i = 0; i < log.length; i++) {
    sum[i % FOLDS]! += log[i]!.reward;
    count[i % FOLDS]!++;
  }
  for (let f = 0; f < FOLDS; f++) sum[f] = count[f]! > 0 ? sum[f]! / count[f]! : 0;
  return sum;
}

/** Context-free routes: each arm's mean reward in the other fold. */
export function crossFittedArmMeans(log: readonly LoggedDecision[], arms: number): RewardPredictions {
  const sum = new Float64Array(FOLDS * arms);
  const count = new Float64Array(FOLDS * arms);
  for (let i = 0; i < log.length; i++) {
    const d = log[i]!;
    sum[(i % FOLDS) * arms + d.arm]! += d.reward;
    count[(i % FOLDS) * arms + d.arm]!++;
  }
  const fallback = foldMeans(log);
  const values = new Float64Array(log.length * arms);
  for (let i = 0; i < log.length; i++) {
    const other = (i + 1) % FOLDS;
    for (let a = 0; a < arms; a++) {
      const c = count[other * arms + a]!;
      values[i * arms + a] = c > 0 ? sum[other * arms + a]! / c : fallback[other]!;
    }
  }
  return table(values, arms);
}

/** Contextual routes: a ridge regression per arm and fold, each predicting the other fold. */
export function crossFittedRidge(
  log: readonly LoggedDecision[],
  arms: number,
  features: number,
  lambda: number,
): RewardPredictions {
  const models: RidgeRegression[] = [];
  for (let k = 0; k < FOLDS * arms; k++) models.push(new RidgeRegression(features, lambda));
  for (let i = 0; i < log.length; i++) {
    const d = log[i]!;
    if ((d.context?.length ?? 0) !== features) {
      throw new RangeError(`decision ${i}: context has ${d.context?.length ?? 0} features, expected ${features}`);
    }
    models[(i % FOLDS) * arms + d.arm]!.add(d.context, d.reward);
  }
  const fallback = foldMeans(log);
  const values = new Float64Array(log.length * arms);
  for (let i = 0; i < log.length; i++) {
    const other = (i + 1) % FOLDS;
    for (let a = 0; a < arms; a++) {
      const m = models[other * arms + a]!;
      values[i * arms + a] = m.count > 0 ? m.predict(log[i]!.context) : fallback[other]!;
    }
  }
  return table(values, arms);
}
