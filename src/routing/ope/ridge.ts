/**
 * Ridge regression of reward on context for one arm, in closed form: θ = (λI + XᵀX)⁻¹ Xᵀr with an
 * intercept prepended to every context. Contexts are a handful of features, so accumulating the
 * d×d sufficient statistics and one Cholesky solve beats anything iterative.
 */

export class RidgeRegression {
  /** Dimension including the intercept. */
  readonly dim: number;
  /** λI + Σ x xᵀ, row-major. */
  private readonly a: Float64Array;
  /** Σ r x. */
  private readonly b: Float64Array;
  private theta: Float64Array | undefined;
  count = 0;

  constructor(features: number, lambda: number) {
    if (!(lambda > 0)) throw new RangeError(`lambda must be > 0, got ${lambda}`);
    this.dim = features + 1;
    this.a = new Float64Array(this.dim * this.dim);
    this.b = new Float64Array(this.dim);
    for (let i = 0; i < this.dim; i++) this.a[i * this.dim + i] = lambda;
  }

  /** Adds one observation; `context` has `dim - 1` features (the intercept is implied). */
  add(context: Float64Array | undefined, reward: number): void {
    const d = this.dim;
    for (let i = 0; i < d; i++) {
      const xi = i === 0 ? 1 : context![i - 1]!;
      this.b[i]! += reward * xi;
      for (let j = 0; j < d; j++) this.a[i * d + j]! += xi * (j === 0 ? 1 : context![j - 1]!);
    }
    this.count++;
    this.theta = undefined;
  }

  /** The coefficients, intercept first; solved once per batch of additions. */
  coefficients(): Float64Array {
    this.theta ??= choleskySolve(this.a, this.b, this.dim);
    return this.theta;
  }

  predict(context: Float64Array | undefined): number {
    const t = this.coefficients();
    let y = t[0]!;
    for (let i = 1; i < this.dim; i++) y += t[i]! * context![i - 1]!;
    return y;
  }
}

/**
 * Solves A x = b for symmetric positive definite A (row-major, d×d) by A = L Lᵀ. λ > 0 makes A
 * positive definite; a non-positive pivot can only mean NaN or Infinity in the inputs.
 */
export function choleskySolve(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  if (!choleskyFactor(a, d, l)) throw new RangeError('matrix is not positive definite (non-finite context or reward?)');
  // Forward: L y = b; back: Lᵀ x = y.
  const x = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * d + k]! * x[k]!;
    x[i] = s / l[i * d + i]!;
  }
  for (let i = d - 1; i >= 0; i--) {
    let s = x[i]!;
    for (let k = i + 1; k < d; k++) s -= l[k * d + i]! * x[k]!;
    x[i] = s / l[i * d + i]!;
  }
  return x;
}

/**
 * Writes into `l` (row-major d×d; the upper triangle is left as it was) the lower Cholesky factor
 * of the symmetric matrix `a`, A = L Lᵀ. False when A is not positive definite (a pivot not > 0,
 * NaN included): callers on a hot path keep their last good factor rather than throw.
 */
export function choleskyFactor(a: Float64Array, d: number, l: Float64Array): boolean {
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j]!;
      for (let k = 0; k < j; k++) s -= l[i * d + k]! * l[j * d + k]!;
      if (i === j) {
        if (!(s > 0) || s === Infinity) return false;
        l[i * d + i] = Math.sqrt(s);
      } else {
        l[i * d + j] = s / l[j * d + j]!;
      }
    }
  }
  return true;
}
