/**
 * Linear Thompson's D-draw probabilities against the exact P(best) of its posterior (numerical
 * integration over plain Cholesky fits, test/helpers/linear-reference.ts). The tolerances are the
 * documented ones (docs/routing.md): at the default D (64 for 4 arms, 32 for 6), mean |p̂ − p|
 * measured 0.005 and 0.008 here (0.006 at D = 64 in the bench's world); averaged over calls the
 * estimate is unbiased. Up to 4 enabled arms take an unrolled path and more take loops: both are
 * checked.
 */
import { describe, expect, it } from 'vitest';
import { ArmStats } from '../../../src/routing/arm-stats.js';
import {
  defaultContextDraws,
  LinearThompsonPolicy,
  MAX_CONTEXT_DRAWS,
} from '../../../src/routing/contextual/linear-thompson.js';
import { parseRouteSpec } from '../../../src/routing/route-spec.js';
import { normal, seededRng } from '../../../src/routing/sampling.js';
import { argmaxProbabilities, linearPosterior } from '../../helpers/linear-reference.js';

const names = Array.from({ length: 8 }, (_, i) => `f${i}`);
const arms = (k: number) => Array.from({ length: k }, (_, i) => ({ name: `a${i}`, model: 'm', version: '1' }));
const spec = (raw: Record<string, unknown> = {}, k = 4) =>
  parseRouteSpec('r', { policy: 'linear-thompson', context: names, arms: arms(k), floor: 0, ...raw }, () => 'ok');

/** Arms with 100 outcomes each of a linear world: posteriors that overlap, so P(best) is seldom 0 or 1. */
function world(seed: number, k = 4): ArmStats[] {
  const rng = seededRng(seed);
  return Array.from({ length: k }, () => {
    const s = new ArmStats('m@1');
    s.useContext(names.length);
    const beta = names.map(() => 0.3 * normal(rng));
    for (let n = 0; n < 100; n++) {
      const x = names.map(() => normal(rng));
      s.linear!.credit(x, 0.5 + beta.reduce((r, b, j) => r + b * x[j]!, 0) + 0.5 * normal(rng));
    }
    return s;
  });
}

function ideal(stats: ArmStats[], x: Float64Array, v: number, lambda = 1): number[] {
  const post = stats.map((s) => linearPosterior(s.linear!, lambda, x));
  return argmaxProbabilities(
    post.map((p) => p.mean),
    post.map((p) => v * p.width),
  );
}

describe('linear-thompson', () => {
  for (const [k, bound] of [
    [4, 0.009],
    [6, 0.012],
  ] as const)
    it(`estimates P(best) within the documented error at the default D = ${defaultContextDraws(k)}, ${k} arms`, () => {
      const stats = world(1, k);
      const policy = new LinearThompsonPolicy(spec({}, k), stats, seededRng(2));
      expect(policy.draws).toBe(k <= 4 ? 64 : 32);
      const rng = seededRng(3);
      const out = new Float64Array(k);
      let err = 0;
      let worst = 0;
      let interesting = 0;
      const contexts = 150;
      for (let c = 0; c < contexts; c++) {
        const x = Float64Array.from(names, () => normal(rng));
        const p = ideal(stats, x, 0.5);
        policy.probabilities(x, out);
        for (let a = 0; a < k; a++) {
          const e = Math.abs(out[a]! - p[a]!);
          err += e;
          worst = Math.max(worst, e);
          if (p[a]! > 0.05 && p[a]! < 0.95) interesting++;
        }
      }
      expect(interesting / (contexts * k)).toBeGreaterThan(0.15);
      expect(err / (contexts * k)).toBeLessThan(bound);
      expect(worst).toBeLessThan(0.15);
    });

  for (const k of [3, 6])
    it(`is unbiased: the estimate averaged over calls converges on P(best), ${k} arms`, () => {
      const stats = world(4, k);
      const policy = new LinearThompsonPolicy(spec({ v: 0.8 }, k), stats, seededRng(5), 16);
      const x = Float64Array.from(names, (_, j) => (j % 2 ? 0.5 : -0.3));
      const p = ideal(stats, x, 0.8);
      expect(Math.max(...p)).toBeLessThan(0.9);
      const out = new Float64Array(k);
      const mean = new Float64Array(k);
      const calls = 4000;
      for (let i = 0; i < calls; i++) {
        policy.probabilities(x, out);
        for (let a = 0; a < k; a++) mean[a]! += out[a]! / calls;
      }
      for (let a = 0; a < k; a++) expect(Math.abs(mean[a]! - p[a]!)).toBeLessThan(0.004);
    });

  it('gets closer with more draws, and rounds D up to a power of two (at most 1024)', () => {
    const stats = world(6);
    const rng = seededRng(7);
    const contexts = Array.from({ length: 60 }, () => Float64Array.from(names, () => normal(rng)));
    const refs = contexts.map((x) => ideal(stats, x, 0.5));
    const error = (draws: number) => {
      const policy = new LinearThompsonPolicy(spec(), stats, seededRng(8), draws);
      const out = new Float64Array(4);
      let e = 0;
      for (const [c, x] of contexts.entries()) {
        policy.probabilities(x, out);
        for (let a = 0; a < 4; a++) e += Math.abs(out[a]! - refs[c]![a]!);
      }
      return e / (contexts.length * 4);
    };
    expect(error(256)).toBeLessThan(error(32) / 2);
    expect(error(1024)).toBeLessThan(0.003);
    expect(new LinearThompsonPolicy(spec(), stats, seededRng(1), 48).draws).toBe(64);
    expect(new LinearThompsonPolicy(spec(), stats, seededRng(1), 1000).draws).toBe(1024);
    expect(new LinearThompsonPolicy(spec(), stats, seededRng(1), 5000).draws).toBe(MAX_CONTEXT_DRAWS);
  });

  for (const k of [4, 6])
    it(`splits exactly equally while the arms know nothing, and evenly among identical arms (${k} arms)`, () => {
      const stats = Array.from({ length: k }, () => new ArmStats('m@1'));
      const policy = new LinearThompsonPolicy(spec({ floor: 0.02 }, k), stats, seededRng(9));
      const out = new Float64Array(k);
      const zero = Float64Array.from(names, () => 0);
      policy.probabilities(
        Float64Array.from(names, () => 1),
        out,
      );
      expect([...out]).toEqual(new Array(k).fill(1 / k));
      // Arm 0 learned it is poor; the others are identical and must split the rest evenly on average.
      for (let n = 0; n < 50; n++) stats[0]!.linear!.credit(zero, -1);
      policy.recompute(0);
      const mean = new Float64Array(k);
      for (let i = 0; i < 3000; i++) {
        policy.probabilities(zero, out);
        for (let a = 0; a < k; a++) mean[a]! += out[a]! / 3000;
      }
      expect(mean[0]).toBeLessThan(0.03);
      for (let a = 2; a < k; a++) expect(Math.abs(mean[a]! - mean[1]!)).toBeLessThan(0.01);
    });

  it('refuses a D below 1', () => {
    expect(() => new LinearThompsonPolicy(spec(), world(1), seededRng(1), 0)).toThrow(RangeError);
  });
});
