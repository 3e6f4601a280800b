/**
 * Drift: the population stability index of a window's values against a baseline histogram (the
 * manifest's `baseline`), PSI = Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ) over the bins' proportions, an empty bin
 * taken as 0.0001 so that the logarithm stays finite.
 */

/** A manifest histogram: ascending inner edges, one more count than edges. */
export interface Histogram {
  readonly edges: readonly number[];
  readonly counts: readonly number[];
}

/** Proportion given to an empty bin. */
export const EMPTY_BIN = 0.0001;

/**
 * The bin of `x`: 0 below the first edge, i where edges[i-1] ≤ x < edges[i], the last at or above
 * the last edge (the number of edges at or below x, by binary search). NaN has no bin (-1).
 */
export function histogramBin(edges: readonly number[], x: number): number {
  if (Number.isNaN(x)) return -1;
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * PSI of `actual` counts against `expected` counts over the same bins; null when either is empty
 * (no rows: no evidence either way).
 */
export function psi(expected: ArrayLike<number>, actual: ArrayLike<number>): number | null {
  let e = 0;
  let a = 0;
  for (let i = 0; i < expected.length; i++) {
    e += expected[i]!;
    a += actual[i] ?? 0;
  }
  if (!(e > 0) || !(a > 0)) return null;
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const pe = Math.max(EMPTY_BIN, expected[i]! / e);
    const pa = Math.max(EMPTY_BIN, (actual[i] ?? 0) / a);
    sum += (pa - pe) * Math.log(pa / pe);
  }
  return sum;
}

/** Whether `h` is a usable histogram: finite ascending edges and one more non-negative count. */
export function isHistogram(h: unknown): h is Histogram {
  const x = h as Histogram;
  if (typeof x !== 'object' || x === null || !Array.isArray(x.edges) || !Array.isArray(x.counts)) return false;
  if (x.counts.length !== x.edges.length + 1 || x.edges.length === 0) return false;
  for (let i = 0; i < x.edges.length; i++) {
    if (typeof x.edges[i] !== 'number' || !Number.isFinite(x.edges[i])) return false;
    if (i > 0 && !(x.edges[i]! > x.edges[i - 1]!)) return false;
  }
  return x.counts.every((c) => typeof c === 'number' && Number.isFinite(c) && c >= 0);
}
