/**
 * Thompson sampling. Each arm's share is P(arm is best) under the posterior, estimated from
 * posterior draws at each recompute; a request then draws its arm from those shares, which is the
 * same in distribution as drawing one posterior sample per request, but gives an exact propensity.
 * Bernoulli: Beta(alpha + successes, beta + failures), where a fractional reward r counts r of a
 * success and 1 − r of a failure. Gaussian: a normal posterior on the mean with a weak prior (one
 * pseudo-observation at the route's pooled mean and spread).
 */
import { BanditPolicy } from './bandit.js';
import type { ArmStats } from './arm-stats.js';
import type { RouteSpec } from './route-spec.js';
import { beta, normal, type Rng } from './sampling.js';
import { pooledSd } from './ucb1.js';

export const DEFAULT_DRAWS = 2000;

export class ThompsonPolicy extends BanditPolicy {
  private readonly draws: number;
  private readonly a: Float64Array;
  private readonly b: Float64Array;

  constructor(spec: RouteSpec, stats: readonly ArmStats[], rng: Rng = Math.random, draws = DEFAULT_DRAWS) {
    super(spec, stats, rng);
    this.draws = draws;
    this.a = new Float64Array(stats.length);
    this.b = new Float64Array(stats.length);
  }

  protected allocate(out: Float64Array): void {
    out.fill(0);
    const k = this.stats.length;
    if (k === 1) {
      out[0] = 1;
      return;
    }
    const gaussian = this.spec.reward === 'gaussian';
    if (gaussian) this.gaussianPosteriors();
    else this.betaPosteriors();
    const { a, b, rng } = this;
    // Identical posteriors (no outcomes yet, or a reset) give exactly equal shares, without noise.
    if (a.every((x, i) => x === a[0] && b[i] === b[0])) {
      out.fill(1 / k);
      return;
    }
    for (let d = 0; d < this.draws; d++) {
      let best = 0;
      let top = -Infinity;
      for (let i = 0; i < k; i++) {
        const x = gaussian ? a[i]! + b[i]! * normal(rng) : beta(a[i]!, b[i]!, rng);
        if (x > top) {
          top = x;
          best = i;
        }
      }
      out[best]! += 1;
    }
    for (let i = 0; i < k; i++) out[i]! /= this.draws;
  }

  private betaPosteriors(): void {
    const { alpha, beta: b0 } = this.spec.prior;
    for (let i = 0; i < this.stats.length; i++) {
      const s = this.stats[i]!;
      this.a[i] = alpha + s.sum;
      this.b[i] = b0 + Math.max(0, s.n - s.sum);
    }
  }

  /** Fills `a` with posterior means and `b` with posterior standard deviations. */
  private gaussianPosteriors(): void {
    let n = 0,
      sum = 0;
    for (const s of this.stats) {
      n += s.n;
      sum += s.sum;
    }
    const mu0 = n > 0 ? sum / n : 0;
    const sd0 = pooledSd(this.stats);
    for (let i = 0; i < this.stats.length; i++) {
      const s = this.stats[i]!;
      const m = s.n > 0 ? s.sum / s.n : mu0;
      const ss = Math.max(0, s.sumSq - s.n * m * m);
      const variance = (ss + sd0 * sd0) / (s.n + 1);
      this.a[i] = (s.n * m + mu0) / (s.n + 1);
      this.b[i] = Math.sqrt(variance / (s.n + 1));
    }
  }
}
