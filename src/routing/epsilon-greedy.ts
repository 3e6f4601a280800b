/** Epsilon-greedy: the best mean reward takes 1 − ε, every arm shares ε. */
import { argmaxShare, BanditPolicy } from './bandit.js';
import type { ArmStats } from './arm-stats.js';
import type { RouteSpec } from './route-spec.js';
import type { Rng } from './sampling.js';

export class EpsilonGreedyPolicy extends BanditPolicy {
  private readonly scores: Float64Array;

  constructor(spec: RouteSpec, stats: readonly ArmStats[], rng: Rng = Math.random) {
    super(spec, stats, rng);
    this.scores = new Float64Array(stats.length);
  }

  protected allocate(out: Float64Array): void {
    const k = this.stats.length;
    // An arm without outcomes counts as the best (optimism), so every arm gets tried greedily once.
    for (let i = 0; i < k; i++) this.scores[i] = this.stats[i]!.n > 0 ? this.stats[i]!.mean() : Infinity;
    argmaxShare(this.scores, out);
    const eps = this.spec.epsilon;
    for (let i = 0; i < k; i++) out[i] = eps / k + (1 - eps) * out[i]!;
  }
}
