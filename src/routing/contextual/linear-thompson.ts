/**
 * Linear Thompson sampling (Agrawal & Goyal 2013): each arm's coefficients have the posterior
 * N(θ_a, v² A_a⁻¹), and a request goes to the arm whose sampled θ̃_aᵀx is highest. Arms are
 * independent, so for a context x each θ̃_aᵀx is a scalar N(m_a, s_a²) with m_a = θ_aᵀx and
 * s_a = v·sqrt(xᵀA_a⁻¹x): P(a is best) is estimated from D joint draws of those k normals
 * (D fixed, default 32), the floor is mixed in, and the arm is drawn from the result.
 *
 * The D draws are a randomly shifted rank-1 lattice over the normal table's cells (Korobov
 * generator α ≈ D(√2 − 1), odd): draw j takes arm a's cell (Δ_a + j·g_a·N/D) mod N, g_a = α^a mod
 * D, with an independent uniform shift Δ_a per arm and request. Each draw is then exactly a joint
 * draw of independent normals (so the estimate is unbiased), while the D draws together stratify
 * every arm's normal; measured, this halves the error of D independent draws and needs k/3 random
 * numbers per request instead of k·D/3.
 *
 * The logged propensity is exact for the draw made (the arm really was drawn with that
 * probability). The estimate p̂ differs from the ideal P(best) by Monte Carlo error (mean |p̂ − p|
 * measured in docs/routing.md) but is unbiased, so over requests arms are chosen exactly as often
 * as Thompson sampling would choose them; a larger D only smooths the propensities, which lowers
 * the variance of off-policy estimates from this route's log.
 */
import type { ArmStats } from '../arm-stats.js';
import type { RouteSpec } from '../route-spec.js';
import type { Rng } from '../sampling.js';
import { LinearPolicy } from './linear-policy.js';
import { NORMAL_TABLE, NORMAL_TABLE_BITS, NORMAL_TABLE_MASK } from './normal-table.js';

/** Joint posterior draws per request (bench/contextual-policy.ts measures cost and error). */
export const DEFAULT_CONTEXT_DRAWS = 32;
/** The most draws that stay a lattice over the table (every cell of each arm used once). */
export const MAX_CONTEXT_DRAWS = NORMAL_TABLE_MASK + 1;

export class LinearThompsonPolicy extends LinearPolicy {
  /** Posterior scale v. */
  readonly v: number;
  /** Joint draws per request, D: the `draws` asked for, rounded up to a power of two, at most 1024. */
  readonly draws: number;
  /** Per arm: how far its table cell moves from one draw to the next (g_a·N/D mod N). */
  private readonly steps: Int32Array;
  // Per-request scratch over the enabled arms only, so the draw loop has no branch but the max:
  // arm index, mean, width, current table cell, step, and draws won.
  private readonly arm: Int32Array;
  private readonly m: Float64Array;
  private readonly w: Float64Array;
  private readonly cell: Int32Array;
  private readonly step: Int32Array;
  private readonly won: Float64Array;
  /** Per draw: the highest value so far, the (compacted) arm that drew it, and how many tie it. */
  private readonly top: Float64Array;
  private readonly best: Int32Array;
  private readonly ties: Int32Array;

  constructor(spec: RouteSpec, stats: readonly ArmStats[], rng: Rng = Math.random, draws = DEFAULT_CONTEXT_DRAWS) {
    super(spec, stats, rng);
    if (!(draws >= 1)) throw new RangeError(`draws must be ≥ 1, got ${draws}`);
    const k = stats.length;
    this.v = spec.v ?? 0.5;
    this.draws = Math.min(MAX_CONTEXT_DRAWS, 2 ** Math.ceil(Math.log2(draws)));
    const d = this.draws;
    const alpha = Math.round(d * (Math.SQRT2 - 1)) | 1;
    this.steps = new Int32Array(k);
    for (let a = 0, g = 1; a < k; a++, g = (g * alpha) % d)
      this.steps[a] = (g * (MAX_CONTEXT_DRAWS / d)) & NORMAL_TABLE_MASK;
    this.arm = new Int32Array(k);
    this.m = new Float64Array(k);
    this.w = new Float64Array(k);
    this.cell = new Int32Array(k);
    this.step = new Int32Array(k);
    this.won = new Float64Array(k);
    this.top = new Float64Array(this.draws);
    this.best = new Int32Array(this.draws);
    this.ties = new Int32Array(this.draws);
  }

  protected allocate(out: Float64Array): void {
    if (this.sameFit()) {
      // Identical posteriors (no outcomes yet, a reset): exactly equal shares, without noise.
      this.equalShare();
      return;
    }
    const { arm, m, w, cell, step, won, rng } = this;
    const k = out.length;
    // The enabled arms, compacted, each with the lattice's random shift: a table cell per arm,
    // three from each 32-bit uniform.
    let n = 0;
    let word = 0;
    for (let i = 0; i < k; i++) {
      if (!this.enabled[i]) continue;
      if (n % 3 === 0) word = (rng() * 4294967296) >>> 0;
      arm[n] = i;
      m[n] = this.means[i]!;
      w[n] = this.v * this.widths[i]!;
      cell[n] = word & NORMAL_TABLE_MASK;
      word >>>= NORMAL_TABLE_BITS;
      step[n] = this.steps[i]!;
      won[n] = 0;
      n++;
    }
    // Arm by arm, each over all D draws: the running maximum of every draw lives in `top`, and
    // the inner loop keeps its arm's mean, width and cell in registers.
    const { top, best, ties } = this;
    const draws = this.draws;
    const table = NORMAL_TABLE;
    top.fill(-Infinity);
    for (let j = 0; j < n; j++) {
      const mj = m[j]!;
      const wj = w[j]!;
      const sj = step[j]!;
      let at = cell[j]!;
      for (let d = 0; d < draws; d++) {
        const y = mj + wj * table[at]!;
        at = (at + sj) & NORMAL_TABLE_MASK;
        if (y > top[d]!) {
          top[d] = y;
          best[d] = j;
          ties[d] = 1;
        } else if (y === top[d] && rng() * ++ties[d]! < 1) {
          // The table is discrete, so two arms can draw the same value: the draw goes to one of
          // them at random (reservoir sampling), as a continuous normal would split it.
          best[d] = j;
        }
      }
    }
    for (let d = 0; d < draws; d++) won[best[d]!]! += 1;
    out.fill(0);
    const inv = 1 / this.draws;
    for (let j = 0; j < n; j++) out[arm[j]!] = won[j]! * inv;
  }

  /** Whether every enabled arm has the same mean and width for this context. */
  private sameFit(): boolean {
    let first = -1;
    for (let i = 0; i < this.means.length; i++) {
      if (!this.enabled[i]) continue;
      if (first < 0) first = i;
      else if (this.means[i] !== this.means[first] || this.widths[i] !== this.widths[first]) return false;
    }
    return true;
  }
}
