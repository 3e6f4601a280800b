/**
 * The tests behind monitoring's verdicts: chi-square for sample-ratio mismatch, one-sided tests for
 * guardrails. Plain numerics, no dependencies; each checked against published tables in
 * test/monitoring/statistics.test.ts.
 */

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 through erf; absolute error below 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; about 15 significant digits). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let a = c[0]!;
  const t = y + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * The regularised upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a): by its series below a + 1, by
 * its continued fraction above (Numerical Recipes, 6.2).
 */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lead = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - sum * Math.exp(lead));
  }
  // Lentz's method for the continued fraction.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.min(1, Math.exp(lead) * h);
}

/** P(X ≥ x) for X chi-square with `df` degrees of freedom. */
export function chiSquareSurvival(x: number, df: number): number {
  return gammaQ(df / 2, x / 2);
}

/**
 * Pearson's chi-square goodness of fit of `observed` counts to `expected` counts (the same total:
 * `expected` is rescaled to it). Categories expected never are left out; fewer than two left, or
 * nothing observed, is no evidence (p = 1).
 */
export function chiSquareGoodnessOfFit(
  observed: readonly number[],
  expected: readonly number[],
): { statistic: number; df: number; pValue: number } {
  let observedTotal = 0;
  let expectedTotal = 0;
  let categories = 0;
  for (let i = 0; i < observed.length; i++) {
    if (!(expected[i]! > 0)) {
      // Pulls where none were expected (an arm at probability 0 drawn anyway): as far from the
      // expectation as a split can be.
      if (observed[i]! > 0) return { statistic: Number.POSITIVE_INFINITY, df: observed.length - 1, pValue: 0 };
      continue;
    }
    observedTotal += observed[i]!;
    expectedTotal += expected[i]!;
    categories++;
  }
  if (categories < 2 || observedTotal === 0) return { statistic: 0, df: Math.max(0, categories - 1), pValue: 1 };
  let statistic = 0;
  for (let i = 0; i < observed.length; i++) {
    if (!(expected[i]! > 0)) continue;
    const e = (expected[i]! * observedTotal) / expectedTotal;
    statistic += (observed[i]! - e) ** 2 / e;
  }
  const df = categories - 1;
  return { statistic, df, pValue: chiSquareSurvival(statistic, df) };
}

/**
 * One-sided two-proportion z-test: the p-value of "the challenger's rate is above the champion's"
 * (for error rates: worse), pooled variance. No evidence (p = 1) when either has no trials.
 */
export function proportionAbove(successes: number, trials: number, baseSuccesses: number, baseTrials: number): number {
  if (trials <= 0 || baseTrials <= 0) return 1;
  const p = successes / trials;
  const q = baseSuccesses / baseTrials;
  const pooled = (successes + baseSuccesses) / (trials + baseTrials);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / trials + 1 / baseTrials));
  if (se === 0) return p > q ? 0 : 1;
  return 1 - normalCdf((p - q) / se);
}

/** Count, sum and sum of squares of a sample: enough for its mean and variance. */
export interface Moments {
  readonly n: number;
  readonly sum: number;
  readonly sumSq: number;
}

/**
 * One-sided Welch test: the p-value of "the challenger's mean is below the champion's" (for
 * rewards: worse). The t statistic is read against the normal distribution: guardrails act only
 * past hundreds of samples (`minSamples`), where the two differ by less than the noise of the data.
 */
export function meanBelow(challenger: Moments, champion: Moments): number {
  if (challenger.n < 2 || champion.n < 2) return 1;
  const m1 = challenger.sum / challenger.n;
  const m2 = champion.sum / champion.n;
  const v1 = Math.max(0, (challenger.sumSq - challenger.n * m1 * m1) / (challenger.n - 1));
  const v2 = Math.max(0, (champion.sumSq - champion.n * m2 * m2) / (champion.n - 1));
  const se = Math.sqrt(v1 / challenger.n + v2 / champion.n);
  if (se === 0) return m1 < m2 ? 0 : 1;
  return normalCdf((m1 - m2) / se);
}
