/**
 * Linear Thompson sampling (Agrawal & Goyal 2013): each arm's coefficients have the posterior
 * N(θ_a, v² A_a⁻¹), and a request goes to the arm whose sampled θ̃_aᵀx is highest. Arms are
 * independent, so for a context x each θ̃_aᵀx is a scalar N(m_a, s_a²) with m_a = θ_aᵀx and
 * s_a = v·sqrt(xᵀA_a⁻¹x): P(a is best) is estimated from D joint draws of those k normals (D
 * fixed: by default 64 up to 4 arms, 32 beyond), the floor is mixed in, and the arm is drawn from
 * the result.
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

/**
 * Joint posterior draws per request by default: 64 up to 4 arms (about 1 µs with 8 features), 32
 * beyond, where each draw costs more (bench/contextual-policy.ts measures cost and error).
 */
export function defaultContextDraws(arms: number): number {
  return arms <= 4 ? 64 : 32;
}
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

  constructor(
    spec: RouteSpec,
    stats: readonly ArmStats[],
    rng: Rng = Math.random,
    draws = defaultContextDraws(stats.length),
  ) {
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
    const slots = ((k + 3) >> 2) * 4; // drawAll pads to a multiple of 4 arms
    this.arm = new Int32Array(slots);
    this.m = new Float64Array(slots);
    this.w = new Float64Array(slots);
    this.cell = new Int32Array(slots);
    this.step = new Int32Array(slots);
    this.won = new Float64Array(slots);
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
    won.fill(0);
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
      n++;
    }
    this.drawAll(n);
    out.fill(0);
    const inv = 1 / this.draws;
    for (let j = 0; j < n; j++) out[arm[j]!] = won[j]! * inv;
  }

  /**
   * The D draws over the `n` compacted arms, counted into `won`. Arms go four at a time, unrolled
   * into locals (about twice as fast as a loop over arms: no inner loop to mispredict the end of);
   * with more than 4 arms each draw's leader so far is carried in `top`/`best`/`ties` from one
   * block to the next. Padding arms draw −∞, which never leads nor ties.
   */
  private drawAll(n: number): void {
    const { m, w, cell, step, won, rng, top, best, ties } = this;
    const blocks = (n + 3) >> 2;
    for (let j = n; j < blocks * 4; j++) {
      m[j] = -Infinity;
      w[j] = 0;
      cell[j] = 0;
      step[j] = 0;
    }
    const table = NORMAL_TABLE;
    const mask = NORMAL_TABLE_MASK;
    const draws = this.draws;
    for (let blk = 0; blk < blocks; blk++) {
      const o = blk * 4;
      // Plain locals, not destructured arrays: nothing allocated per request.
      const m0 = m[o]!;
      const m1 = m[o + 1]!;
      const m2 = m[o + 2]!;
      const m3 = m[o + 3]!;
      const w0 = w[o]!;
      const w1 = w[o + 1]!;
      const w2 = w[o + 2]!;
      const w3 = w[o + 3]!;
      const s0 = step[o]!;
      const s1 = step[o + 1]!;
      const s2 = step[o + 2]!;
      const s3 = step[o + 3]!;
      let c0 = cell[o]!;
      let c1 = cell[o + 1]!;
      let c2 = cell[o + 2]!;
      let c3 = cell[o + 3]!;
      const first = blk === 0;
      const last = blk === blocks - 1;
      for (let d = 0; d < draws; d++) {
        let t = first ? -Infinity : top[d]!;
        let b = first ? 0 : best[d]!;
        let tied = first ? 0 : ties[d]!;
        // The table is discrete, so two arms can draw the same value: the draw then goes to one of
        // them at random (reservoir sampling), as a continuous normal would split it.
        let y = m0 + w0 * table[c0]!;
        if (y > t) {
          t = y;
          b = o;
          tied = 1;
        } else if (y === t && rng() * ++tied < 1) b = o;
        y = m1 + w1 * table[c1]!;
        if (y > t) {
          t = y;
          b = o + 1;
          tied = 1;
        } else if (y === t && rng() * ++tied < 1) b = o + 1;
        y = m2 + w2 * table[c2]!;
        if (y > t) {
          t = y;
          b = o + 2;
          tied = 1;
        } else if (y === t && rng() * ++tied < 1) b = o + 2;
        y = m3 + w3 * table[c3]!;
        if (y > t) {
          t = y;
          b = o + 3;
          tied = 1;
        } else if (y === t && rng() * ++tied < 1) b = o + 3;
        c0 = (c0 + s0) & mask;
        c1 = (c1 + s1) & mask;
        c2 = (c2 + s2) & mask;
        c3 = (c3 + s3) & mask;
        if (last) won[b]! += 1;
        else {
          top[d] = t;
          best[d] = b;
          ties[d] = tied;
        }
      }
    }
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
