/**
 * L2-regularised logistic regression fitted by Newton's method (IRLS) on standardised features.
 *
 * Minimises  (1/n) Σ logloss(yᵢ, σ(b + Σⱼ wⱼ zⱼᵢ)) + (λ/2) Σⱼ wⱼ²   with zⱼ = (xⱼ − meanⱼ) / stdⱼ
 * (the intercept is not penalised), and stops when the largest Newton step on any standardised
 * weight is below `tolerance`. The standardisation is then folded into raw-scale weights, so the
 * model scores raw feature values: logit = b' + Σⱼ w'ⱼ xⱼ with w'ⱼ = wⱼ / stdⱼ, b' = b − Σⱼ w'ⱼ meanⱼ.
 * A feature that is constant on the training rows gets weight 0 (it carries no information).
 */

export const DEFAULT_LAMBDA = 1e-4;
export const DEFAULT_TOLERANCE = 1e-8;
const MAX_ITERATIONS = 100;

export interface LogisticFit {
  /** Raw-scale weights, one per feature (standardisation folded in). */
  readonly weights: Float64Array;
  readonly bias: number;
  readonly means: Float64Array;
  readonly stds: Float64Array;
  readonly lambda: number;
  readonly tolerance: number;
  readonly iterations: number;
  readonly converged: boolean;
  /** The penalised mean log loss at the solution. */
  readonly loss: number;
}

const sigmoid = (t: number): number => 1 / (1 + Math.exp(-t));

/** log(1 + e^t) without overflow. */
const softplus = (t: number): number => (t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t)));

/** Solves A x = b for a symmetric positive definite A (d×d, row-major) by Cholesky; A is overwritten. */
function choleskySolve(a: Float64Array, b: Float64Array, d: number): Float64Array {
  for (let j = 0; j < d; j++) {
    let s = a[j * d + j]!;
    for (let k = 0; k < j; k++) s -= a[j * d + k]! ** 2;
    if (!(s > 0)) throw new Error('the Hessian is not positive definite (perfectly separated or degenerate data)');
    const l = Math.sqrt(s);
    a[j * d + j] = l;
    for (let i = j + 1; i < d; i++) {
      let t = a[i * d + j]!;
      for (let k = 0; k < j; k++) t -= a[i * d + k]! * a[j * d + k]!;
      a[i * d + j] = t / l;
    }
  }
  const x = Float64Array.from(b);
  for (let i = 0; i < d; i++) {
    let t = x[i]!;
    for (let k = 0; k < i; k++) t -= a[i * d + k]! * x[k]!;
    x[i] = t / a[i * d + i]!;
  }
  for (let i = d - 1; i >= 0; i--) {
    let t = x[i]!;
    for (let k = i + 1; k < d; k++) t -= a[k * d + i]! * x[k]!;
    x[i] = t / a[i * d + i]!;
  }
  return x;
}

/**
 * Fits y (0/1) on the feature columns (`columns[j][i]`: feature j of row i). `rows` picks the
 * training rows (indices into the columns).
 */
export function fitLogistic(
  columns: readonly Float64Array[],
  y: Uint8Array,
  rows: Uint32Array,
  lambda = DEFAULT_LAMBDA,
  tolerance = DEFAULT_TOLERANCE,
): LogisticFit {
  const n = rows.length;
  const p = columns.length;
  const d = p + 1;
  const means = new Float64Array(p);
  const stds = new Float64Array(p);
  // Z row-major with the intercept's 1 last: one contiguous pass per iteration.
  const z = new Float64Array(n * d);
  for (let j = 0; j < p; j++) {
    const col = columns[j]!;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += col[rows[i]!]!;
    const mean = sum / n;
    let sq = 0;
    for (let i = 0; i < n; i++) sq += (col[rows[i]!]! - mean) ** 2;
    const std = Math.sqrt(sq / n);
    means[j] = mean;
    stds[j] = std;
    for (let i = 0; i < n; i++) z[i * d + j] = std > 0 ? (col[rows[i]!]! - mean) / std : 0;
  }
  const target = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    z[i * d + p] = 1;
    target[i] = y[rows[i]!]!;
  }
  const w = new Float64Array(d);
  const eta = new Float64Array(n);
  const lossAt = (coef: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      let t = 0;
      for (let j = 0; j < d; j++) t += z[i * d + j]! * coef[j]!;
      eta[i] = t;
      s += softplus(t) - target[i]! * t;
    }
    let penalty = 0;
    for (let j = 0; j < p; j++) penalty += coef[j]! ** 2;
    return s / n + (lambda / 2) * penalty;
  };
  let loss = lossAt(w);
  let iterations = 0;
  let converged = false;
  const g = new Float64Array(d);
  const h = new Float64Array(d * d);
  while (iterations < MAX_ITERATIONS && !converged) {
    iterations++;
    g.fill(0);
    h.fill(0);
    for (let i = 0; i < n; i++) {
      const pr = sigmoid(eta[i]!);
      const r = pr - target[i]!;
      const s = pr * (1 - pr);
      const o = i * d;
      for (let a = 0; a < d; a++) {
        const za = z[o + a]!;
        g[a] = g[a]! + r * za;
        const sz = s * za;
        for (let b = 0; b <= a; b++) h[a * d + b] = h[a * d + b]! + sz * z[o + b]!;
      }
    }
    for (let a = 0; a < d; a++) {
      g[a] = g[a]! / n + (a < p ? lambda * w[a]! : 0);
      for (let b = 0; b <= a; b++) {
        const v = h[a * d + b]! / n + (a === b && a < p ? lambda : 0);
        h[a * d + b] = v;
        h[b * d + a] = v;
      }
    }
    const step = choleskySolve(h, g, d);
    // Newton steps on this convex loss rarely overshoot; halving guards the few that would.
    let scale = 1;
    let next = new Float64Array(d);
    let nextLoss = Infinity;
    for (let half = 0; half < 30; half++) {
      next = w.map((v, j) => v - scale * step[j]!);
      nextLoss = lossAt(next);
      if (nextLoss <= loss + 1e-15) break;
      scale /= 2;
    }
    let largest = 0;
    for (let j = 0; j < d; j++) largest = Math.max(largest, Math.abs(next[j]! - w[j]!));
    w.set(next);
    loss = lossAt(w);
    converged = largest < tolerance;
  }
  const weights = new Float64Array(p);
  let bias = w[p]!;
  for (let j = 0; j < p; j++) {
    weights[j] = stds[j]! > 0 ? w[j]! / stds[j]! : 0;
    bias -= weights[j]! * means[j]!;
  }
  return { weights, bias, means, stds, lambda, tolerance, iterations, converged, loss };
}
