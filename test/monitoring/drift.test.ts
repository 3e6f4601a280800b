/** Drift: histogram bins as the contract defines them, PSI by its formula. */
import { describe, expect, it } from 'vitest';
import { histogramBin, isHistogram, psi } from '../../src/monitoring/drift.js';
import { MinuteWindow } from '../../src/monitoring/minute-window.js';

describe('histogram bins', () => {
  it('bin 0 is below the first edge, the last at or above the last edge, an edge opens its bin', () => {
    const edges = [1, 2, 3];
    expect([0.5, 1, 1.5, 2, 2.99, 3, 100].map((x) => histogramBin(edges, x))).toEqual([0, 1, 1, 2, 2, 3, 3]);
    expect(histogramBin(edges, -Infinity)).toBe(0);
    expect(histogramBin(edges, Infinity)).toBe(3);
    expect(histogramBin(edges, NaN)).toBe(-1);
  });

  it('accepts only ascending finite edges with one more non-negative count', () => {
    expect(isHistogram({ edges: [1, 2], counts: [1, 2, 3] })).toBe(true);
    expect(isHistogram({ edges: [2, 1], counts: [1, 2, 3] })).toBe(false);
    expect(isHistogram({ edges: [1, 1], counts: [1, 2, 3] })).toBe(false);
    expect(isHistogram({ edges: [1, 2], counts: [1, 2] })).toBe(false);
    expect(isHistogram({ edges: [1, Infinity], counts: [1, 2, 3] })).toBe(false);
    expect(isHistogram({ edges: [1, 2], counts: [1, -2, 3] })).toBe(false);
    expect(isHistogram({ edges: [], counts: [1] })).toBe(false);
    expect(isHistogram(null)).toBe(false);
  });
});

describe('PSI', () => {
  it('is 0 for the same proportions, whatever the totals', () => {
    expect(psi([10, 20, 30], [1, 2, 3])).toBeCloseTo(0, 12);
  });

  it('follows the formula: (0.25 − 0.5)·ln(0.5) + (0.75 − 0.5)·ln(1.5)', () => {
    expect(psi([50, 50], [25, 75])).toBeCloseTo(0.25 * Math.log(2) + 0.25 * Math.log(1.5), 12);
  });

  it('takes an empty bin as 0.0001, so that a bin never seen stays finite', () => {
    const expected = (0.0001 - 0.5) * Math.log(0.0001 / 0.5) + (1 - 0.5) * Math.log(1 / 0.5);
    expect(psi([1, 1], [0, 10])).toBeCloseTo(expected, 9);
  });

  it('is null without rows on either side', () => {
    expect(psi([1, 1], [0, 0])).toBeNull();
    expect(psi([0, 0], [1, 1])).toBeNull();
  });

  it('a shifted normal sample drifts past 0.2, a fresh sample of the same one does not', () => {
    let seed = 7;
    const uniform = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) + 0.5) / 2147483648;
    const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    const train = Array.from({ length: 20_000 }, normal).sort((a, b) => a - b);
    const edges = Array.from({ length: 9 }, (_, i) => train[Math.floor(((i + 1) * train.length) / 10)]!);
    const count = (xs: number[]) => {
      const c = new Array(10).fill(0);
      for (const x of xs) c[histogramBin(edges, x)]++;
      return c;
    };
    const baseline = count(train);
    expect(psi(baseline, count(Array.from({ length: 5_000 }, normal)))!).toBeLessThan(0.02);
    expect(psi(baseline, count(Array.from({ length: 5_000 }, () => normal() + 0.6)))!).toBeGreaterThan(0.2);
  });
});

describe('minute windows', () => {
  it('a window sums the buckets of its last minutes and forgets those past 24 h', () => {
    const w = new MinuteWindow();
    w.add(1_000, [1, 0]);
    w.add(1_030, [2, 0]);
    w.add(1_059, [0, 5]);
    expect([...w.sum(1_060, 60, 2)]).toEqual([2, 5]); // minute 1,000 is 61 minutes back
    expect([...w.sum(1_060, 1_440, 2)]).toEqual([3, 5]);
    expect([...w.sum(1_030, 1, 2)]).toEqual([2, 0]);
    expect(w.range(1_000, 1_060).map(([m]) => m)).toEqual([1_000, 1_030, 1_059]);
    w.add(2_440, [1, 0]); // a day after minute 1,000: it goes
    expect([...w.sum(2_440, 1_440, 2)]).toEqual([3, 5]);
    expect(w.range(0, 3_000).map(([m]) => m)).toEqual([1_030, 1_059, 2_440]);
    w.add(1_000, [9, 9]); // too old to keep
    expect(w.range(0, 1_029)).toEqual([]);
  });

  it('a longer vector grows the sum instead of being cut', () => {
    const w = new MinuteWindow();
    w.add(5, [1]);
    w.add(5, [1, 2, 3]);
    expect([...w.sum(5, 60, 1)]).toEqual([2, 2, 3]);
  });
});
