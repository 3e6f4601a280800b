/**
 * The per-arm ridge fits the contextual policies score requests with. A refit (after outcomes) turns
 * each arm's `LinearStats` into θ = A⁻¹ Σ r x with A = λI + Σ x xᵀ (the intercept regularised too,
 * as ope/ridge.ts does) and keeps W = L⁻¹, the inverse of A's Cholesky factor, because a request
 * then needs only a triangular product: xᵀA⁻¹x = ‖W x‖² (d(d+1)/2 multiply-adds, no division, no
 * dependency chain), where a dense A⁻¹ would take d². Nothing here allocates after construction.
 *
 * A fit that fails (sums overflowed to Infinity, a pivot not > 0) or comes out non-finite is not
 * installed: the arm keeps its last good fit and the request path never throws.
 */
import type { ArmStats } from '../arm-stats.js';
import { choleskyFactor } from '../ope/ridge.js';

export class RidgeFits {
  /** Arms. */
  readonly arms: number;
  /** Context features (the intercept not counted). */
  readonly features: number;
  /** features + 1. */
  readonly dim: number;
  /** θ per arm, arm-major: arm a's coefficients at [a·dim, (a+1)·dim). */
  private readonly theta: Float64Array;
  /** L⁻¹ per arm, row-major dim × dim each (lower triangle used). */
  private readonly inv: Float64Array;
  /** Arms whose last refit failed and still score with an older fit. */
  stale = 0;
  // Scratch for a refit.
  private readonly a: Float64Array;
  private readonly l: Float64Array;
  private readonly w: Float64Array;
  private readonly t: Float64Array;
  private readonly y: Float64Array;

  constructor(arms: number, features: number) {
    this.arms = arms;
    this.features = features;
    const d = features + 1;
    this.dim = d;
    this.theta = new Float64Array(arms * d);
    this.inv = new Float64Array(arms * d * d);
    this.a = new Float64Array(d * d);
    this.l = new Float64Array(d * d);
    this.w = new Float64Array(d * d);
    this.t = new Float64Array(d);
    this.y = new Float64Array(d);
  }

  /** Refits every arm from its statistics (creating them when absent or of another width). */
  refit(stats: readonly ArmStats[], lambda: number): void {
    let stale = 0;
    for (let arm = 0; arm < this.arms; arm++) {
      const s = stats[arm]!;
      if (s.linear?.features !== this.features) s.useContext(this.features);
      if (!this.fitArm(arm, s.linear!.xx, s.linear!.xr, lambda)) stale++;
    }
    this.stale = stale;
  }

  /**
   * Writes arm by arm θᵀx into `means` and sqrt(xᵀA⁻¹x) into `widths` for context `x` (no
   * intercept; `features` values). Non-finite results (a context far beyond anything seen, whose
   * products overflow) are written as they come: the policies decide what to do with them.
   */
  score(x: Float64Array, means: Float64Array, widths: Float64Array): void {
    const d = this.dim;
    const theta = this.theta;
    const inv = this.inv;
    for (let arm = 0, t = 0, w = 0; arm < this.arms; arm++, t += d, w += d * d) {
      let m = theta[t]!;
      for (let j = 1; j < d; j++) m += theta[t + j]! * x[j - 1]!;
      // z = W x̃, x̃ = [1, x]; W lower triangular, so row i stops at column i.
      let q = inv[w]! * inv[w]!; // row 0: W₀₀ · 1
      for (let i = 1, row = w + d; i < d; i++, row += d) {
        let z = inv[row]!;
        for (let j = 1; j <= i; j++) z += inv[row + j]! * x[j - 1]!;
        q += z * z;
      }
      means[arm] = m;
      widths[arm] = Math.sqrt(q);
    }
  }

  /** Arm `arm`'s coefficients, intercept first (a view: do not keep it across refits). */
  coefficients(arm: number): Float64Array {
    return this.theta.subarray(arm * this.dim, (arm + 1) * this.dim);
  }

  private fitArm(arm: number, xx: Float64Array, xr: Float64Array, lambda: number): boolean {
    const { a, l, w, t, y, dim: d } = this;
    for (let i = 0; i < d * d; i++) a[i] = xx[i]!;
    for (let i = 0; i < d; i++) a[i * d + i]! += lambda;
    if (!choleskyFactor(a, d, l)) return false;
    // W = L⁻¹ by forward substitution, column by column (W is lower triangular too).
    w.fill(0);
    for (let c = 0; c < d; c++) {
      w[c * d + c] = 1 / l[c * d + c]!;
      for (let i = c + 1; i < d; i++) {
        let s = 0;
        for (let k = c; k < i; k++) s -= l[i * d + k]! * w[k * d + c]!;
        w[i * d + c] = s / l[i * d + i]!;
      }
    }
    // θ = A⁻¹ xr = Wᵀ (W xr).
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let k = 0; k <= i; k++) s += w[i * d + k]! * xr[k]!;
      y[i] = s;
    }
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let k = i; k < d; k++) s += w[k * d + i]! * y[k]!;
      t[i] = s;
    }
    for (let i = 0; i < d; i++) if (!Number.isFinite(t[i]!)) return false;
    for (let i = 0; i < d * d; i++) if (!Number.isFinite(w[i]!)) return false;
    this.theta.set(t, arm * d);
    this.inv.set(w, arm * d * d);
    return true;
  }
}
