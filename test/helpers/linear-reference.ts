/**
 * References the contextual policies are judged against, written apart from the code under test.
 * `linearPosterior`: an arm's fitted mean θᵀx and width sqrt(xᵀA⁻¹x), by plain Cholesky solves.
 * `argmaxProbabilities`: linear Thompson's ideal P(best): for independent normals
 * Y_a ~ N(m_a, s_a²), P(Y_a is the largest) = ∫ φ(z) Π_{b≠a} Φ((m_a + s_a z − m_b)/s_b) dz, by
 * Simpson's rule on [−9, 9] (error far below 1e-6 for the spreads the tests use): deterministic and
 * more precise than a million draws.
 */
import type { LinearStats } from '../../src/routing/contextual/linear-stats.js';
import { choleskySolve } from '../../src/routing/ope/ridge.js';

/** θᵀx̃ and sqrt(x̃ᵀA⁻¹x̃) for one arm, A = λI + Σ x xᵀ, x̃ = [1, x]. */
export function linearPosterior(
  stats: LinearStats,
  lambda: number,
  x: ArrayLike<number>,
): { mean: number; width: number } {
  const d = stats.dim;
  const a = Float64Array.from(stats.xx);
  for (let i = 0; i < d; i++) a[i * d + i]! += lambda;
  const xt = Float64Array.from([1, ...Array.from(x)]);
  const theta = choleskySolve(a, Float64Array.from(stats.xr), d);
  const ax = choleskySolve(a, xt, d);
  let mean = 0;
  let q = 0;
  for (let i = 0; i < d; i++) {
    mean += theta[i]! * xt[i]!;
    q += ax[i]! * xt[i]!;
  }
  return { mean, width: Math.sqrt(q) };
}

/** erfc(x), Numerical Recipes' Chebyshev fit (fractional error < 1.2e-7 everywhere). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const c = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587];
  let poly = 0.17087277;
  poly = poly * t - 0.82215223;
  for (let i = c.length - 1; i >= 1; i--) poly = poly * t + c[i]!;
  const r = t * Math.exp(-z * z + c[0]! + t * poly);
  return x >= 0 ? r : 2 - r;
}

/** Standard normal CDF. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** P(arm a's draw is the largest), for each arm, of independent N(means[a], sds[a]²). */
export function argmaxProbabilities(means: ArrayLike<number>, sds: ArrayLike<number>, steps = 2000): number[] {
  const k = means.length;
  const lo = -9;
  const h = 18 / steps;
  const out: number[] = [];
  for (let a = 0; a < k; a++) {
    let sum = 0;
    for (let s = 0; s <= steps; s++) {
      const z = lo + s * h;
      let f = Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
      const y = means[a]! + sds[a]! * z;
      for (let b = 0; b < k; b++) if (b !== a) f *= normalCdf((y - means[b]!) / sds[b]!);
      sum += f * (s === 0 || s === steps ? 1 : s % 2 === 1 ? 4 : 2);
    }
    out.push((sum * h) / 3);
  }
  return out;
}
