/**
 * One call from a log and a target policy to the estimates asked for: checks the log, refuses a
 * log without exploration, and cross-fits DR's reward model (ridge on the context when the log
 * has contexts, per-arm means otherwise).
 */
import { checkLog, dr, ips, isEvaluable, snips } from './estimators.js';
import { crossFittedArmMeans, crossFittedRidge } from './reward-model.js';
import type { Estimate, EstimatorName, Evaluation, LoggedDecision, RewardPredictions, TargetPolicy } from './types.js';

export interface EvaluateOptions {
  readonly arms: number;
  readonly estimators?: readonly EstimatorName[];
  /** Ridge regularisation of DR's reward model on contextual logs. */
  readonly lambda?: number;
}

/** DR's reward model for this log; build once and share across the policies evaluated on it. */
export function rewardModel(log: readonly LoggedDecision[], arms: number, lambda = 1): RewardPredictions {
  const features = log[0]?.context?.length ?? 0;
  return features > 0 ? crossFittedRidge(log, arms, features, lambda) : crossFittedArmMeans(log, arms);
}

export function evaluate(
  log: readonly LoggedDecision[],
  target: TargetPolicy,
  options: EvaluateOptions,
  predicted?: RewardPredictions,
): Evaluation {
  const { arms, estimators = ['ips', 'snips', 'dr'] } = options;
  checkLog(log, arms);
  // An empty log is evaluable and answers n: 0 with nulls; only a log of certainties is refused.
  if (log.length > 0 && !isEvaluable(log)) {
    return {
      kind: 'not-evaluable',
      reason: 'every logged propensity is 0 or 1: the logging policy never explored (ucb1 or a fixed route)',
    };
  }
  const estimates: Partial<Record<EstimatorName, Estimate>> = {};
  for (const name of estimators) {
    if (name === 'ips') estimates.ips = ips(log, target);
    else if (name === 'snips') estimates.snips = snips(log, target);
    else estimates.dr = dr(log, target, predicted ?? rewardModel(log, arms, options.lambda), arms);
  }
  return { kind: 'estimated', estimates };
}
