/**
 * One interface for every routing policy. A policy keeps the weights in force (the probability of
 * each arm, which is every decision's propensity) and draws an arm from them.
 */
export interface Policy {
  /** Probability of each arm, in arm order; sums to 1. */
  readonly weights: Float64Array;
  /** Index of the chosen arm. `unit` makes the choice sticky where the policy allows it. */
  choose(unit: string | undefined): number;
  /**
   * Recomputes the weights from the arms' statistics (after a feedback batch, and on the router's
   * timer). Requests in between draw from the weights in force, so their propensity is exact.
   */
  recompute(nowMs: number): void;
  /**
   * Whether the weights can change with no new outcome (discounting, or a burn-in that ends as
   * pulls accrue): only such policies are recomputed on the router's timer.
   */
  drifts(): boolean;
}

/** Draws an index from cumulative weights with u in [0, 1). */
export function drawIndex(weights: Float64Array, u: number): number {
  let acc = 0;
  const last = weights.length - 1;
  for (let i = 0; i < last; i++) {
    acc += weights[i]!;
    if (u < acc) return i;
  }
  return last;
}

/** A stable hash of a unit id to [0, 1): the same unit maps to the same point on every replica. */
export function unitPoint(route: string, unit: string): number {
  // FNV-1a 32-bit over route + unit, then a final avalanche (murmur3 fmix32).
  let h = 0x811c9dc5;
  const s = route + '\u0000' + unit;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}
