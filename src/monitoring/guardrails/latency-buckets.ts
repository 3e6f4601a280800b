/**
 * Latency as a histogram that sums across minutes and replicas: fixed log-spaced buckets, four per
 * doubling (each bound 2^¼ ≈ 1.19× the one below), from 1/64 ms to 65.5 s. A quantile read back by
 * interpolating inside its bucket (geometrically) is within about 9% of the exact one — enough to
 * tell whether an arm's p99 is 1.5× the champion's — and a bucket index is one Math.log2.
 */

/** Buckets per doubling. */
const PER_OCTAVE = 4;
/** log2 of the lowest bound (ms): bucket 0 holds everything below 2^-6 ms. */
const LOW = -6;
/** log2 of the highest bound (ms): the last bucket holds everything at or above 2^16 ms. */
const HIGH = 16;
export const LATENCY_BUCKETS = (HIGH - LOW) * PER_OCTAVE + 2;

/** The bucket of a latency in ms. */
export function latencyBucket(ms: number): number {
  if (!(ms >= 2 ** LOW)) return 0;
  const i = Math.floor((Math.log2(ms) - LOW) * PER_OCTAVE) + 1;
  return Math.min(i, LATENCY_BUCKETS - 1);
}

/** The lower bound (ms) of bucket `i` (0 for the first). */
function lowerBound(i: number): number {
  return i <= 0 ? 0 : 2 ** (LOW + (i - 1) / PER_OCTAVE);
}

/**
 * The `q` quantile (0..1) of the latencies counted in `counts` (LATENCY_BUCKETS long, read from
 * `at`), in ms; null without any.
 */
export function latencyQuantile(counts: ArrayLike<number>, q: number, at = 0): number | null {
  let total = 0;
  for (let i = 0; i < LATENCY_BUCKETS; i++) total += counts[at + i]!;
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < LATENCY_BUCKETS; i++) {
    const c = counts[at + i]!;
    if (c <= 0) continue;
    if (seen + c >= rank) {
      if (i === 0) return lowerBound(1);
      if (i === LATENCY_BUCKETS - 1) return lowerBound(i);
      const lo = lowerBound(i);
      const hi = lowerBound(i + 1);
      // Geometric interpolation: within a log-spaced bucket latencies spread by ratio, not by difference.
      return lo * (hi / lo) ** Math.min(1, Math.max(0, (rank - seen) / c));
    }
    seen += c;
  }
  return lowerBound(LATENCY_BUCKETS - 1);
}
