/**
 * LinUCB, disjoint (Li, Chu, Langford & Schapire 2010): each arm's reward is a ridge regression on
 * the context, and a request goes to the arm with the highest optimistic score
 * θ_aᵀx + α·sqrt(xᵀA_a⁻¹x) — the fitted reward plus a bonus as wide as the fit is uncertain about
 * this very context. Ties split equally; the route's floor is then mixed in among the enabled arms,
 * so every decision's propensity is exact (`floor` or `floor + (1 − k·floor)/ties`).
 */
import type { ArmStats } from '../arm-stats.js';
import type { RouteSpec } from '../route-spec.js';
import type { Rng } from '../sampling.js';
import { LinearPolicy } from './linear-policy.js';

export class LinUcbPolicy extends LinearPolicy {
  readonly alpha: number;
  private readonly scratch: Float64Array;

  constructor(spec: RouteSpec, stats: readonly ArmStats[], rng: Rng = Math.random) {
    super(spec, stats, rng);
    this.alpha = spec.alpha ?? 1;
    this.scratch = new Float64Array(stats.length);
  }

  /** Each arm's score θᵀx + α·sqrt(xᵀA⁻¹x) for context `x`, into `out` (disabled arms included). */
  scores(x: Float64Array, out: Float64Array): void {
    this.fits.score(x, this.means, this.widths);
    this.scoresFromFit(out);
  }

  protected allocate(out: Float64Array): void {
    const scores = this.scratch;
    this.scoresFromFit(scores);
    const k = scores.length;
    let best = -Infinity;
    let ties = 0;
    for (let i = 0; i < k; i++) {
      if (!this.enabled[i]) continue;
      const s = scores[i]!;
      if (s > best) {
        best = s;
        ties = 1;
      } else if (s === best) ties++;
    }
    const share = 1 / ties;
    for (let i = 0; i < k; i++) out[i] = this.enabled[i] && scores[i] === best ? share : 0;
  }

  private scoresFromFit(out: Float64Array): void {
    const a = this.alpha;
    for (let i = 0; i < out.length; i++) out[i] = this.means[i]! + a * this.widths[i]!;
  }
}
