/** Each policy's allocation, driven in-process with a seeded RNG. */
import { describe, expect, it } from 'vitest';
import { ArmStats } from '../../src/routing/arm-stats.js';
import { createPolicy } from '../../src/routing/router.js';
import { parseRouteSpec } from '../../src/routing/route-spec.js';
import { seededRng } from '../../src/routing/sampling.js';

const arms = (n: number, weights?: number[]) =>
  Array.from({ length: n }, (_, i) => ({
    name: `a${i}`,
    model: 'm',
    version: '1',
    ...(weights ? { weight: weights[i] } : {}),
  }));
const spec = (raw: Record<string, unknown>) => parseRouteSpec('r', raw, () => 'ok');
const statsFor = (n: number) => Array.from({ length: n }, () => new ArmStats('m@1'));
const feed = (s: ArmStats, outcomes: number, reward: number, atMs = 0) => {
  for (let i = 0; i < outcomes; i++) s.credit(reward, atMs, 0);
};

function shares(choose: () => number, n: number, k: number): number[] {
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) counts[choose()]!++;
  return counts.map((c) => c / n);
}

describe('fixed', () => {
  it('splits traffic by weight within tolerance', () => {
    const p = createPolicy('r', spec({ policy: 'fixed', arms: arms(3, [0.7, 0.2, 0.1]) }), statsFor(3), {
      rng: seededRng(1),
    });
    const s = shares(() => p.choose(undefined), 50_000, 3);
    expect(s[0]).toBeCloseTo(0.7, 1);
    expect(Math.abs(s[1]! - 0.2)).toBeLessThan(0.01);
    expect(Math.abs(s[2]! - 0.1)).toBeLessThan(0.01);
    expect([...p.weights]).toEqual([0.7, 0.2, 0.1].map((w) => expect.closeTo(w, 12)));
  });

  it('is sticky by unit, and units still split by weight', () => {
    const p = createPolicy('r', spec({ policy: 'fixed', arms: arms(2, [0.8, 0.2]) }), statsFor(2));
    for (let u = 0; u < 50; u++) {
      const first = p.choose(`user-${u}`);
      for (let i = 0; i < 5; i++) expect(p.choose(`user-${u}`)).toBe(first);
    }
    let i = 0;
    const s = shares(() => p.choose(`unit-${i++}`), 20_000, 2);
    expect(Math.abs(s[0]! - 0.8)).toBeLessThan(0.02);
  });
});

describe('thompson', () => {
  it('holds an equal split during burn-in, then learns', () => {
    const stats = statsFor(2);
    const p = createPolicy('r', spec({ policy: 'thompson', burnIn: 50, floor: 0, arms: arms(2) }), stats, {
      rng: seededRng(2),
    });
    feed(stats[0]!, 40, 1);
    feed(stats[1]!, 40, 0);
    stats[0]!.pulls = 40;
    stats[1]!.pulls = 60;
    p.recompute(0);
    expect([...p.weights]).toEqual([0.5, 0.5]);
    stats[0]!.pulls = 50;
    p.recompute(0);
    expect(p.weights[0]).toBeGreaterThan(0.99);
  });

  it('never goes below the floor (default 1%)', () => {
    const stats = statsFor(3);
    const p = createPolicy('r', spec({ policy: 'thompson', arms: arms(3) }), stats, { rng: seededRng(3) });
    feed(stats[0]!, 500, 1);
    feed(stats[1]!, 500, 0);
    feed(stats[2]!, 500, 0);
    p.recompute(0);
    expect(p.weights[1]).toBeCloseTo(0.01, 6);
    expect(p.weights[2]).toBeCloseTo(0.01, 6);
    expect(p.weights[0]).toBeCloseTo(0.98, 6);
    const s = shares(() => p.choose(undefined), 100_000, 3);
    expect(s[1]).toBeGreaterThan(0.008);
  });

  it('counts fractional rewards fractionally (0.9 is mostly a success)', () => {
    const stats = statsFor(2);
    const p = createPolicy('r', spec({ policy: 'thompson', floor: 0, arms: arms(2) }), stats, { rng: seededRng(4) });
    feed(stats[0]!, 200, 0.9);
    feed(stats[1]!, 200, 0.6);
    p.recompute(0);
    expect(p.weights[0]).toBeGreaterThan(0.99);
  });

  it('uses a Gaussian posterior for reward: gaussian', () => {
    const stats = statsFor(2);
    const rng = seededRng(5);
    const p = createPolicy('r', spec({ policy: 'thompson', reward: 'gaussian', floor: 0, arms: arms(2) }), stats, {
      rng,
    });
    for (let i = 0; i < 100; i++) {
      stats[0]!.credit(100 + 20 * (rng() - 0.5), 0, 0);
      stats[1]!.credit(110 + 20 * (rng() - 0.5), 0, 0);
    }
    p.recompute(0);
    expect(p.weights[1]).toBeGreaterThan(0.95);
  });

  it('discounts old outcomes with a half-life', () => {
    const make = (halfLifeSeconds?: number) => {
      const stats = statsFor(2);
      const p = createPolicy(
        'r',
        spec({ policy: 'thompson', floor: 0, arms: arms(2), ...(halfLifeSeconds ? { halfLifeSeconds } : {}) }),
        stats,
        { rng: seededRng(6) },
      );
      const h = (halfLifeSeconds ?? 0) * 1000;
      // Arm 0 was great long ago; arm 1 is good now.
      for (let i = 0; i < 1000; i++) {
        stats[0]!.credit(1, 0, h);
        stats[1]!.credit(0, 0, h);
      }
      for (let i = 0; i < 30; i++) {
        stats[0]!.credit(0, 60_000, h);
        stats[1]!.credit(1, 60_000, h);
      }
      p.recompute(60_000);
      return p.weights;
    };
    expect(make()[0]).toBeGreaterThan(0.99);
    expect(make(5)[1]).toBeGreaterThan(0.99);
  });
});

describe('epsilon-greedy', () => {
  it('gives the best mean 1 − ε and shares ε, then the floor', () => {
    const stats = statsFor(4);
    const p = createPolicy('r', spec({ policy: 'epsilon-greedy', epsilon: 0.2, floor: 0, arms: arms(4) }), stats, {
      rng: seededRng(7),
    });
    feed(stats[0]!, 10, 0.2);
    feed(stats[1]!, 10, 0.7);
    feed(stats[2]!, 10, 0.5);
    feed(stats[3]!, 10, 0.1);
    p.recompute(0);
    expect(p.weights[1]).toBeCloseTo(0.8 + 0.05, 9);
    expect(p.weights[0]).toBeCloseTo(0.05, 9);
    const s = shares(() => p.choose(undefined), 40_000, 4);
    expect(Math.abs(s[1]! - 0.85)).toBeLessThan(0.01);
    const floored = createPolicy('r', spec({ policy: 'epsilon-greedy', epsilon: 0, floor: 0.1, arms: arms(4) }), stats);
    floored.recompute(0);
    expect(floored.weights[0]).toBeCloseTo(0.1, 9);
    expect(floored.weights[1]).toBeCloseTo(0.7, 9);
  });
});

describe('ucb1', () => {
  it('has propensities of 0 or 1: untried arms first, then the highest bound', () => {
    const stats = statsFor(3);
    const p = createPolicy('r', spec({ policy: 'ucb1', arms: arms(3) }), stats);
    feed(stats[0]!, 10, 1);
    feed(stats[1]!, 10, 0);
    p.recompute(0);
    expect([...p.weights]).toEqual([0, 0, 1]);
    feed(stats[2]!, 10, 0.1);
    p.recompute(0);
    expect([...p.weights]).toEqual([1, 0, 0]);
  });

  it('honours burn-in', () => {
    const stats = statsFor(2);
    const p = createPolicy('r', spec({ policy: 'ucb1', burnIn: 10, arms: arms(2) }), stats);
    feed(stats[0]!, 5, 1);
    feed(stats[1]!, 5, 0);
    p.recompute(0);
    expect([...p.weights]).toEqual([0.5, 0.5]);
  });
});
