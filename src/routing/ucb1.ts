/**
 * UCB1 (Auer et al. 2002): all traffic to the arm with the highest upper confidence bound until the
 * next recompute. Deterministic, so propensities are 0 or 1: its decisions cannot be evaluated
 * offline by importance weighting. No floor (the contract's floor is for thompson/epsilon-greedy).
 */
import { BanditPolicy } from './bandit.js';
import type { ArmStats } from './arm-stats.js';
import type { RouteSpec } from './route-spec.js';
import type { Rng } from './sampling.js';

export class Ucb1Policy extends BanditPolicy {
  constructor(spec: RouteSpec, stats: readonly ArmStats[], rng: Rng = Math.random) {
    super(spec, stats, rng);
  }

  protected override floor(): number {
    return 0;
  }

  protected allocate(out: Float64Array): void {
    out.fill(0);
    let total = 0;
    for (const s of this.stats) total += s.n;
    // Bernoulli rewards are in [0, 1], as UCB1 assumes; Gaussian ones are scaled by their spread.
    const scale = this.spec.reward === 'gaussian' ? pooledSd(this.stats) : 1;
    let best = 0;
    let bestIndex = -Infinity;
    for (let i = 0; i < this.stats.length; i++) {
      const s = this.stats[i]!;
      const index = s.n <= 0 ? Infinity : s.mean() + scale * Math.sqrt((2 * Math.log(Math.max(total, 1))) / s.n);
      if (index > bestIndex) {
        bestIndex = index;
        best = i;
      }
    }
    out[best] = 1;
  }
}

/** Standard deviation of all outcomes of the route (1 when there are too few to say). */
export function pooledSd(stats: readonly ArmStats[]): number {
  let n = 0,
    sum = 0,
    sumSq = 0;
  for (const s of stats) {
    n += s.n;
    sum += s.sum;
    sumSq += s.sumSq;
  }
  if (n < 2) return 1;
  const variance = (sumSq - (sum * sum) / n) / (n - 1);
  return variance > 0 ? Math.sqrt(variance) : 1;
}
