import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS, latencyBucket, latencyQuantile } from '../../../src/monitoring/guardrails/latency-buckets.js';

/** A seeded uniform source (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('latency buckets', () => {
  it('give a p99 within 10% of the exact one, for latencies from microseconds to seconds', () => {
    for (const [seed, scaleMs] of [
      [1, 0.05],
      [2, 1],
      [3, 40],
      [4, 900],
    ] as const) {
      const u = rng(seed);
      const samples: number[] = [];
      const counts = new Float64Array(LATENCY_BUCKETS);
      for (let i = 0; i < 20_000; i++) {
        // Log-normal: most requests fast, a long tail.
        const z = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
        const ms = scaleMs * Math.exp(0.8 * z);
        samples.push(ms);
        counts[latencyBucket(ms)]! += 1;
      }
      samples.sort((a, b) => a - b);
      for (const q of [0.5, 0.99]) {
        const exact = samples[Math.ceil(q * samples.length) - 1]!;
        const estimate = latencyQuantile(counts, q)!;
        expect(Math.abs(estimate - exact) / exact).toBeLessThan(0.1);
      }
    }
  });

  it('clamp the extremes and answer null without data', () => {
    expect(latencyBucket(0)).toBe(0);
    expect(latencyBucket(Number.NaN)).toBe(0);
    expect(latencyBucket(1e9)).toBe(LATENCY_BUCKETS - 1);
    expect(latencyQuantile(new Float64Array(LATENCY_BUCKETS), 0.99)).toBeNull();
    const slow = new Float64Array(LATENCY_BUCKETS);
    slow[LATENCY_BUCKETS - 1] = 5;
    expect(latencyQuantile(slow, 0.99)).toBe(2 ** 16);
  });
});
