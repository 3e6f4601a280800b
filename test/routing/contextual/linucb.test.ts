/** LinUCB's scores and probabilities, checked by hand on a tiny case and against plain Cholesky solves on a larger one. */
import { describe, expect, it } from 'vitest';
import { ArmStats } from '../../../src/routing/arm-stats.js';
import { isContextual } from '../../../src/routing/contextual/contextual-policy.js';
import { LinUcbPolicy } from '../../../src/routing/contextual/linucb.js';
import { parseRouteSpec } from '../../../src/routing/route-spec.js';
import { createPolicy } from '../../../src/routing/router.js';
import { normal, seededRng } from '../../../src/routing/sampling.js';
import { linearPosterior } from '../../helpers/linear-reference.js';

const arms = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `a${i}`, model: 'm', version: '1' }));
const spec = (n: number, raw: Record<string, unknown> = {}) =>
  parseRouteSpec('r', { policy: 'linucb', context: ['x'], arms: arms(n), ...raw }, () => 'ok');
const statsFor = (n: number, features = 1) =>
  Array.from({ length: n }, () => {
    const s = new ArmStats('m@1');
    s.useContext(features);
    return s;
  });
const x1 = (v: number) => Float64Array.of(v);

/**
 * Arm 0 saw (x=1, r=1) and (x=0, r=0): A = [[3,1],[1,2]], A⁻¹ = [[2,−1],[−1,3]]/5, θ = A⁻¹[1,1] = [0.2, 0.4].
 * Arm 1 saw (x=1, r=0): A = [[2,1],[1,2]], A⁻¹ = [[2,−1],[−1,2]]/3, θ = 0.
 */
function tiny(raw: Record<string, unknown> = {}) {
  const stats = statsFor(2);
  stats[0]!.linear!.credit([1], 1);
  stats[0]!.linear!.credit([0], 0);
  stats[1]!.linear!.credit([1], 0);
  return { stats, policy: new LinUcbPolicy(spec(2, raw), stats, seededRng(1)) };
}

describe('linucb', () => {
  it('scores θᵀx + α·sqrt(xᵀA⁻¹x) as worked by hand', () => {
    const { policy } = tiny();
    const out = new Float64Array(2);
    policy.scores(x1(1), out);
    expect(out[0]).toBeCloseTo(0.6 + Math.sqrt(3 / 5), 12);
    expect(out[1]).toBeCloseTo(Math.sqrt(2 / 3), 12);
    policy.scores(x1(-1), out);
    expect(out[0]).toBeCloseTo(-0.2 + Math.sqrt(7 / 5), 12);
    expect(out[1]).toBeCloseTo(Math.sqrt(2), 12);
    const greedy = tiny({ alpha: 0 }).policy;
    greedy.scores(x1(1), out);
    expect([...out]).toEqual([expect.closeTo(0.6, 12), 0]);
  });

  it('gives the best-scoring arm 1 − floor and the other the floor, per context', () => {
    const { policy } = tiny();
    const p = new Float64Array(2);
    policy.probabilities(x1(1), p);
    expect([...p]).toEqual([expect.closeTo(0.99, 12), expect.closeTo(0.01, 12)]);
    // At x = −1 arm 1's wider interval wins: 1.414 against 0.983.
    policy.probabilities(x1(-1), p);
    expect([...p]).toEqual([expect.closeTo(0.01, 12), expect.closeTo(0.99, 12)]);
    const noFloor = tiny({ floor: 0 }).policy;
    noFloor.probabilities(x1(-1), p);
    expect([...p]).toEqual([0, 1]);
  });

  it('splits ties equally, the floor on top', () => {
    // Three arms, α = 0: arm 0 learned a negative reward, arms 1 and 2 know nothing (score 0 both).
    const stats = statsFor(3);
    for (let i = 0; i < 10; i++) stats[0]!.linear!.credit([i], -1);
    const policy = new LinUcbPolicy(spec(3, { alpha: 0, floor: 0.05 }), stats, seededRng(2));
    const p = new Float64Array(3);
    policy.probabilities(x1(3), p);
    expect([...p]).toEqual([0.05, 0.05 + 0.85 / 2, 0.05 + 0.85 / 2].map((v) => expect.closeTo(v, 12)));
  });

  it('is uniform before any outcome, and chooseFor leaves the probabilities in weights', () => {
    const policy = new LinUcbPolicy(spec(4), statsFor(4), seededRng(3));
    expect([...policy.weights]).toEqual([0.25, 0.25, 0.25, 0.25]);
    policy.chooseFor(x1(7));
    expect([...policy.weights]).toEqual([0.25, 0.25, 0.25, 0.25]);
    const { policy: learned } = tiny();
    const arm = learned.chooseFor(x1(-1));
    expect([...learned.weights]).toEqual([expect.closeTo(0.01, 12), expect.closeTo(0.99, 12)]);
    expect([0, 1]).toContain(arm);
  });

  it('fits 4 arms × 8 features as plain Cholesky solves do, and refits only on recompute', () => {
    const rng = seededRng(4);
    const stats = statsFor(4, 8);
    const names = Array.from({ length: 8 }, (_, i) => `f${i}`);
    const policy = new LinUcbPolicy(spec(4, { context: names, alpha: 0.7, lambda: 2 }), stats, rng);
    for (const s of stats)
      for (let n = 0; n < 300; n++) {
        const x = Array.from({ length: 8 }, () => normal(rng));
        s.linear!.credit(x, x[0]! - 0.5 * x[3]! + normal(rng));
      }
    const x = Float64Array.from({ length: 8 }, () => normal(rng));
    const out = new Float64Array(4);
    policy.scores(x, out);
    // Not refitted yet: every arm still scores the prior (mean 0, width sqrt(xᵀx + 1)/sqrt(λ)).
    const prior = Math.sqrt((1 + x.reduce((s, v) => s + v * v, 0)) / 2);
    for (const s of out) expect(s).toBeCloseTo(0.7 * prior, 10);
    policy.recompute(0);
    policy.scores(x, out);
    for (let a = 0; a < 4; a++) {
      const { mean, width } = linearPosterior(stats[a]!.linear!, 2, x);
      expect(out[a]).toBeCloseTo(mean + 0.7 * width, 10);
    }
  });

  it('keeps the last good fit when the statistics overflow, and never throws on the request path', () => {
    const { stats, policy } = tiny();
    const before = new Float64Array(2);
    policy.scores(x1(1), before);
    stats[0]!.linear!.credit([1e200], 1); // xx gains 1e400 = Infinity
    policy.recompute(0);
    expect(policy.staleFits()).toBe(1);
    const after = new Float64Array(2);
    policy.scores(x1(1), after);
    expect([...after]).toEqual([...before]);
    // A context whose products overflow (finite, but far beyond anything seen): an equal split.
    const p = new Float64Array(2);
    expect(() => policy.probabilities(x1(1e300), p)).not.toThrow();
    expect([...p]).toEqual([0.5, 0.5]);
  });

  it('is what createPolicy builds for a linucb route, with linear statistics on every arm', () => {
    const stats = Array.from({ length: 2 }, () => new ArmStats('m@1'));
    const policy = createPolicy('r', spec(2), stats, { rng: seededRng(5) });
    expect(isContextual(policy)).toBe(true);
    expect(policy).toBeInstanceOf(LinUcbPolicy);
    expect(stats.every((s) => s.linear?.features === 1)).toBe(true);
    expect(policy.drifts()).toBe(false);
  });
});
