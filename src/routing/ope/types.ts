/**
 * Off-policy evaluation: the shapes the estimators share. The math lives in this folder only; the
 * admin endpoint and the CLI (issue 19, later bricks) read the decision log into `LoggedDecision`s
 * and turn these results into the contract's JSON.
 */

/** One logged decision with its outcome, as the logging policy took it. */
export interface LoggedDecision {
  /** Index of the arm the logging policy chose. */
  readonly arm: number;
  /** Probability the logging policy gave that arm for this request: μ(a|x), in (0, 1]. */
  readonly propensity: number;
  /** The observed reward. */
  readonly reward: number;
  /** The context vector (contextual routes only); no intercept, the reward model adds it. */
  readonly context?: Float64Array;
}

/**
 * The policy under evaluation: the probability π(arm | decision i) it puts on `arm` for the i-th
 * logged decision. A function rather than an array so fixed policies cost nothing and contextual
 * ones can compute on the logged context; IPS and SNIPS only ask for the logged arm, DR asks for
 * every arm.
 */
export type TargetPolicy = (i: number, arm: number) => number;

/** Predicted reward r̂(x_i, arm) of the i-th decision for `arm` (DR's reward model). */
export type RewardPredictions = (i: number, arm: number) => number;

/** One estimator's answer, the contract's shape. `value` and `ci95` are null, never NaN. */
export interface Estimate {
  readonly value: number | null;
  readonly ci95: readonly [number, number] | null;
  readonly n: number;
  readonly effectiveSampleSize: number;
}

export type EstimatorName = 'ips' | 'snips' | 'dr';

/**
 * A log without exploration (every propensity 0 or 1, as `ucb1` logs) tells nothing about arms it
 * never risked; estimates from it would be numbers without meaning, so it gets its own kind.
 */
export type Evaluation =
  | { readonly kind: 'estimated'; readonly estimates: Readonly<Partial<Record<EstimatorName, Estimate>>> }
  | { readonly kind: 'not-evaluable'; readonly reason: string };

/** The policy that always plays the same weights, whatever the context (`uniform`, `arm:x`, mixes). */
export function fixedPolicy(weights: readonly number[]): TargetPolicy {
  return (_i, arm) => weights[arm] ?? 0;
}

/** Uniform over `arms` arms. */
export function uniformPolicy(arms: number): TargetPolicy {
  const p = 1 / arms;
  return () => p;
}

/**
 * A policy given as stored choice probabilities, one row per logged decision (a contextual route's
 * `current` policy re-scored on each logged context). A missing row or arm is probability 0.
 */
export function perDecisionPolicy(rows: readonly ArrayLike<number>[]): TargetPolicy {
  return (i, arm) => rows[i]?.[arm] ?? 0;
}
