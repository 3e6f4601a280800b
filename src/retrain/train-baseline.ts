/**
 * A model's baseline (the manifest's `baseline`, read by monitoring/drift.ts): per feature its
 * summary and a decile histogram of the rows it was trained on, and the histogram of its scores on
 * them. Shared by the demo-model generator (scripts/make-models.ts) and the built-in trainer.
 */
import type { Histogram } from '../monitoring/drift.js';
import { histogramBin } from '../monitoring/drift.js';

export interface Summary {
  mean: number;
  std: number;
  min: number;
  max: number;
}

/** Six significant digits: a manifest is read by people; + 0 turns -0 into 0. */
export const sig6 = (x: number): number => Number(x.toPrecision(6)) + 0;

/** Mean, population standard deviation, min and max of `values` (two passes, so the std is stable). */
export function summary(values: ArrayLike<number>): Summary {
  let sum = 0,
    min = Infinity,
    max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = sum / values.length;
  let sq = 0;
  for (let i = 0; i < values.length; i++) sq += (values[i]! - mean) ** 2;
  return { mean: sig6(mean), std: sig6(Math.sqrt(sq / values.length)), min: sig6(min), max: sig6(max) };
}

/** The shortest decimal form of a number strictly between `lo` and `hi`, near their middle. */
function between(lo: number, hi: number): number {
  const mid = (lo + hi) / 2;
  for (let digits = 6; digits <= 17; digits++) {
    const v = Number(mid.toPrecision(digits)) + 0;
    if (v > lo && v < hi) return v;
  }
  return mid;
}

/**
 * Decile histogram of `values`: the inner edges sit at the 10%…90% quantiles, each placed halfway
 * between the quantile value and the distinct value below it (at the minimum: the one above it), so
 * that no training value lies on an edge and rounding a value to float32, as requests carry it,
 * never moves it across one. Ties (discrete features) merge edges: such features get fewer bins,
 * and a constant one none (undefined: drift.ts needs at least one edge).
 * Counts are the rows per bin, binned as the gateway bins float32 values.
 */
export function decileHistogram(values: ArrayLike<number>): Histogram | undefined {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const edges: number[] = [];
  for (let q = 1; q <= 9; q++) {
    let i = Math.floor((q * n) / 10);
    let j = i;
    while (i > 0 && sorted[i - 1]! === sorted[j]!) i--;
    if (i === 0) {
      // The quantile is the minimum: the edge goes above it, under the next distinct value.
      while (j < n && sorted[j]! === sorted[0]!) j++;
      if (j === n) continue;
      i = j;
    }
    const edge = between(sorted[i - 1]!, sorted[i]!);
    if (edges.length === 0 || edge > edges[edges.length - 1]!) edges.push(edge);
  }
  if (edges.length === 0) return undefined;
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let k = 0; k < values.length; k++) counts[histogramBin(edges, Math.fround(values[k]!))]!++;
  return { edges, counts };
}
