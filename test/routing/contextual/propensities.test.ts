/**
 * The propensity a contextual route logs is the probability its arm was drawn with: for both
 * policies, over many chooseFor(x) the arms are chosen as often as `weights` said (the sum of the
 * weights in force at each call, since linear-thompson's vary call to call), every enabled arm gets
 * at least the floor, the weights sum to 1, and a disabled arm is never chosen.
 */
import { describe, expect, it } from 'vitest';
import { ArmStats } from '../../../src/routing/arm-stats.js';
import type { ContextualPolicy } from '../../../src/routing/contextual/contextual-policy.js';
import { createContextualPolicy } from '../../../src/routing/contextual/create.js';
import { parseRouteSpec } from '../../../src/routing/route-spec.js';
import { normal, seededRng } from '../../../src/routing/sampling.js';

const K = 4;
const names = ['f0', 'f1', 'f2'];
const arms = Array.from({ length: K }, (_, i) => ({ name: `a${i}`, model: 'm', version: '1' }));

/** A policy whose arms learned a little of a world where each arm is best for some contexts. */
function trained(policy: 'linucb' | 'linear-thompson', floor: number, seed: number): ContextualPolicy {
  const spec = parseRouteSpec('r', { policy, context: names, arms, floor }, () => 'ok');
  const stats = Array.from({ length: K }, () => new ArmStats('m@1'));
  const p = createContextualPolicy(spec, stats, seededRng(seed));
  const rng = seededRng(seed + 100);
  for (const [a, s] of stats.entries())
    for (let n = 0; n < 40; n++) {
      const x = names.map(() => normal(rng));
      // Arm a < 3 earns with feature a, arm 3 against feature 0: each is best for some contexts.
      s.linear!.credit(x, (a < 3 ? x[a]! : -x[0]!) + 0.3 * normal(rng));
    }
  p.recompute(0);
  return p;
}

/** Chooses `n` times for `x`; returns the counts and the summed weights per arm, and checks each call's weights. */
function drive(p: ContextualPolicy, x: Float64Array, n: number, floor: number, disabled: readonly boolean[] = []) {
  const counts = new Float64Array(K);
  const expected = new Float64Array(K);
  const variance = new Float64Array(K);
  // expect() per call is slow: keep the worst of each, and check those.
  let leastEnabled = 1;
  let mostDisabled = 0;
  let worstSum = 0;
  let disabledChosen = 0;
  for (let i = 0; i < n; i++) {
    const arm = p.chooseFor(x);
    counts[arm]!++;
    if (disabled[arm]) disabledChosen++;
    let sum = 0;
    for (let a = 0; a < K; a++) {
      const w = p.weights[a]!;
      sum += w;
      expected[a]! += w;
      variance[a]! += w * (1 - w);
      if (disabled[a]) mostDisabled = Math.max(mostDisabled, w);
      else leastEnabled = Math.min(leastEnabled, w);
    }
    worstSum = Math.max(worstSum, Math.abs(sum - 1));
  }
  expect(worstSum).toBeLessThan(1e-12);
  expect(leastEnabled).toBeGreaterThanOrEqual(floor - 1e-15);
  expect(mostDisabled).toBe(0);
  expect(disabledChosen).toBe(0);
  return { counts, expected, variance };
}

for (const policy of ['linucb', 'linear-thompson'] as const) {
  describe(`${policy} propensities`, () => {
    it('match the empirical choice frequencies (within 4.5 sd per arm), floor kept, sum 1', () => {
      const p = trained(policy, 0.05, 1);
      const rng = seededRng(2);
      const tops = new Set<number>();
      for (let c = 0; c < 4; c++) {
        const x = Float64Array.from(names, () => normal(rng));
        const { counts, expected, variance } = drive(p, x, 20_000, 0.05);
        for (let a = 0; a < K; a++)
          expect(Math.abs(counts[a]! - expected[a]!)).toBeLessThan(4.5 * Math.sqrt(variance[a]!) + 1);
        tops.add(expected.indexOf(Math.max(...expected)));
      }
      // The context matters: the favourite arm changes with it (else this test would prove little).
      expect(tops.size).toBeGreaterThan(1);
    });

    it('give disabled arms 0 and share the floor among the enabled; all disabled counts as none', () => {
      const p = trained(policy, 0.1, 3);
      const x = Float64Array.of(0.5, -0.2, 1);
      const disabled = [false, true, false, true];
      p.setDisabled(disabled);
      expect(p.weights[1]).toBe(0);
      expect(p.weights[3]).toBe(0);
      const { counts, expected, variance } = drive(p, x, 10_000, 0.1, disabled);
      expect(counts[1]).toBe(0);
      expect(counts[3]).toBe(0);
      for (const a of [0, 2])
        expect(Math.abs(counts[a]! - expected[a]!)).toBeLessThan(4.5 * Math.sqrt(variance[a]!) + 1);
      // One arm left: it takes everything.
      p.setDisabled([true, true, false, true]);
      drive(p, x, 200, 0, [true, true, false, true]);
      expect([...p.weights]).toEqual([0, 0, 1, 0]);
      // Every arm disabled: treated as none disabled, floor back on every arm.
      p.setDisabled([true, true, true, true]);
      drive(p, x, 200, 0.1);
      p.setDisabled([]);
      drive(p, x, 200, 0.1);
    });

    it('choose() without a context never draws a disabled arm', () => {
      const p = trained(policy, 0.01, 4);
      p.chooseFor(Float64Array.of(1, 1, 1));
      p.setDisabled([true, false, true, true]);
      expect([...p.weights]).toEqual([0, 1, 0, 0]);
      for (let i = 0; i < 500; i++) expect(p.choose(undefined)).toBe(1);
    });
  });
}
