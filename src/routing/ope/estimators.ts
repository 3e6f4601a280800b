/**
 * IPS, self-normalised IPS and doubly robust estimates of a target policy's mean reward from a
 * log of decisions with their propensities (Horvitz & Thompson 1952; Swaminathan & Joachims 2015;
 * Dudík, Langford & Li 2011). Intervals are 95% normal approximations: honest for the sample sizes
 * a route logs in a day, optimistic for a few dozen decisions with heavy weights — the effective
 * sample size beside each estimate says when to distrust them.
 */
import type { Estimate, LoggedDecision, RewardPredictions, TargetPolicy } from './types.js';

const Z95 = 1.959963984540054;

/** Σw and Σw² give Kish's effective sample size, (Σw)²/Σw²; 0 when no weight at all. */
function ess(sumW: number, sumW2: number): number {
  return sumW2 > 0 ? (sumW * sumW) / sumW2 : 0;
}

/** Refuses what would turn into NaN or Infinity downstream, naming the decision. */
export function checkLog(log: readonly LoggedDecision[], arms: number): void {
  for (let i = 0; i < log.length; i++) {
    const d = log[i]!;
    if (!Number.isInteger(d.arm) || d.arm < 0 || d.arm >= arms) {
      throw new RangeError(`decision ${i}: arm ${d.arm} is not one of the ${arms} arms`);
    }
    if (!(d.propensity > 0 && d.propensity <= 1)) {
      throw new RangeError(`decision ${i}: propensity ${d.propensity} is not in (0, 1]`);
    }
    if (!Number.isFinite(d.reward)) throw new RangeError(`decision ${i}: reward ${d.reward} is not finite`);
  }
}

/**
 * A log is evaluable when at least one decision explored: a logged propensity strictly between
 * 0 and 1. A log of certainties (ucb1, fixed 100% routes) gives no information off its own path.
 */
export function isEvaluable(log: readonly LoggedDecision[]): boolean {
  for (const d of log) if (d.propensity > 0 && d.propensity < 1) return true;
  return false;
}

/** The importance weight π(a|x)/μ(a|x) of the i-th decision, checked: a probability, never NaN. */
function weight(log: readonly LoggedDecision[], target: TargetPolicy, i: number): number {
  const d = log[i]!;
  const p = target(i, d.arm);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`target policy gave probability ${p} at decision ${i}`);
  return p / d.propensity;
}

/** Mean of per-decision terms with the normal-approximation interval of their sample variance. */
function meanWithCi(terms: Float64Array, sumW: number, sumW2: number): Estimate {
  const n = terms.length;
  const effectiveSampleSize = ess(sumW, sumW2);
  if (n === 0) return { value: null, ci95: null, n, effectiveSampleSize };
  let sum = 0;
  for (const t of terms) sum += t;
  const mean = sum / n;
  if (n < 2) return { value: mean, ci95: null, n, effectiveSampleSize };
  let ss = 0;
  for (const t of terms) ss += (t - mean) * (t - mean);
  const half = Z95 * Math.sqrt(ss / (n - 1) / n);
  return { value: mean, ci95: [mean - half, mean + half], n, effectiveSampleSize };
}

/** Inverse propensity scoring: the mean of w·r. Unbiased; its variance grows with the weights. */
export function ips(log: readonly LoggedDecision[], target: TargetPolicy): Estimate {
  const terms = new Float64Array(log.length);
  let sumW = 0;
  let sumW2 = 0;
  for (let i = 0; i < log.length; i++) {
    const w = weight(log, target, i);
    sumW += w;
    sumW2 += w * w;
    terms[i] = w * log[i]!.reward;
  }
  return meanWithCi(terms, sumW, sumW2);
}

/**
 * Self-normalised IPS: Σ w r / Σ w. Slightly biased, far steadier with heavy weights, and always
 * within the range of observed rewards. Interval by the delta method:
 * Var ≈ Σ w²(r − V)² / (Σ w)², with the n/(n−1) small-sample correction.
 */
export function snips(log: readonly LoggedDecision[], target: TargetPolicy): Estimate {
  const n = log.length;
  const w = new Float64Array(n);
  let sumW = 0;
  let sumW2 = 0;
  let sumWR = 0;
  for (let i = 0; i < n; i++) {
    const wi = weight(log, target, i);
    w[i] = wi;
    sumW += wi;
    sumW2 += wi * wi;
    sumWR += wi * log[i]!.reward;
  }
  const effectiveSampleSize = ess(sumW, sumW2);
  // No weight on any logged decision: the log says nothing about this policy.
  if (n === 0 || sumW === 0) return { value: null, ci95: null, n, effectiveSampleSize };
  const value = sumWR / sumW;
  if (n < 2) return { value, ci95: null, n, effectiveSampleSize };
  let s = 0;
  for (let i = 0; i < n; i++) {
    const e = w[i]! * (log[i]!.reward - value);
    s += e * e;
  }
  const half = (Z95 * Math.sqrt((s * n) / (n - 1))) / sumW;
  return { value, ci95: [value - half, value + half], n, effectiveSampleSize };
}

/**
 * Doubly robust: per decision Σ_a π(a|x) r̂(x,a) + w (r − r̂(x, a_logged)). Unbiased when the
 * propensities are right whatever the reward model; lower variance the better the model. The
 * predictions must not have seen the decision they predict (cross-fitting, see reward-model.ts),
 * or the correction term is biased towards zero and the interval too narrow.
 */
export function dr(
  log: readonly LoggedDecision[],
  target: TargetPolicy,
  predicted: RewardPredictions,
  arms: number,
): Estimate {
  const terms = new Float64Array(log.length);
  let sumW = 0;
  let sumW2 = 0;
  for (let i = 0; i < log.length; i++) {
    const d = log[i]!;
    let direct = 0;
    for (let a = 0; a < arms; a++) {
      const p = target(i, a);
      if (p !== 0) direct += p * predicted(i, a);
    }
    const w = weight(log, target, i);
    sumW += w;
    sumW2 += w * w;
    terms[i] = direct + w * (d.reward - predicted(i, d.arm));
  }
  return meanWithCi(terms, sumW, sumW2);
}
