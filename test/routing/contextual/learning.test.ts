/**
 * The contextual policies learn what a context-free policy cannot: in a seeded world where arm 0 is
 * best for one kind of request and arm 1 for the other (each arm as good as the other on average),
 * after 3,000 offline steps (outcomes credited to the arm's LinearStats, recompute every 100 steps,
 * as the router batches) both pick the right arm per context at least 85% of the time over the
 * last 1,000 steps, and earn clearly more than context-free Thompson, which can only split.
 */
import { describe, expect, it } from 'vitest';
import { ArmStats } from '../../../src/routing/arm-stats.js';
import { createContextualPolicy } from '../../../src/routing/contextual/create.js';
import { parseRouteSpec, type RewardKind } from '../../../src/routing/route-spec.js';
import { createPolicy } from '../../../src/routing/router.js';
import { normal, seededRng, type Rng } from '../../../src/routing/sampling.js';

const arms = [0, 1].map((i) => ({ name: `a${i}`, model: 'm', version: '1' }));
const STEPS = 3000;

/** Context [kind, noise]: kind 0 or 1, noise a distracting feature. Expected reward of `arm` for it. */
function reward(arm: number, x: Float64Array, kind: RewardKind, rng: Rng): number {
  const good = arm === x[0] ? 1 : 0; // arm 0 good for kind 0, arm 1 for kind 1
  if (kind === 'bernoulli') return rng() < (good ? 0.7 : 0.3) ? 1 : 0;
  return 10 + 2 * good + normal(rng); // gaussian: means 10 and 12, noise sd 1
}

interface Run {
  right: number;
  reward: number;
}

function contextual(policy: 'linucb' | 'linear-thompson', kind: RewardKind, seed: number): Run {
  const spec = parseRouteSpec('r', { policy, reward: kind, context: ['kind', 'noise'], arms }, () => 'ok');
  const stats = arms.map(() => new ArmStats('m@1'));
  const p = createContextualPolicy(spec, stats, seededRng(seed));
  const world = seededRng(seed + 1);
  const x = new Float64Array(2);
  let right = 0;
  let total = 0;
  for (let t = 1; t <= STEPS; t++) {
    x[0] = world() < 0.5 ? 0 : 1;
    x[1] = normal(world);
    const arm = p.chooseFor(x);
    const r = reward(arm, x, kind, world);
    stats[arm]!.linear!.credit(x, r);
    if (t > STEPS - 1000) {
      if (arm === x[0]) right++;
      total += r;
    }
    if (t % 100 === 0) p.recompute(t);
  }
  return { right: right / 1000, reward: total / 1000 };
}

function contextFree(kind: RewardKind, seed: number): Run {
  const spec = parseRouteSpec('r', { policy: 'thompson', reward: kind, arms }, () => 'ok');
  const stats = arms.map(() => new ArmStats('m@1'));
  const p = createPolicy('r', spec, stats, { rng: seededRng(seed) });
  const world = seededRng(seed + 1);
  const x = new Float64Array(2);
  let right = 0;
  let total = 0;
  for (let t = 1; t <= STEPS; t++) {
    x[0] = world() < 0.5 ? 0 : 1;
    x[1] = normal(world);
    const arm = p.choose(undefined);
    const r = reward(arm, x, kind, world);
    stats[arm]!.credit(r, t, 0);
    if (t > STEPS - 1000) {
      if (arm === x[0]) right++;
      total += r;
    }
    if (t % 100 === 0) p.recompute(t);
  }
  return { right: right / 1000, reward: total / 1000 };
}

describe('contextual policies learn the best arm per context', () => {
  for (const kind of ['bernoulli', 'gaussian'] as const) {
    const margin = kind === 'bernoulli' ? 0.1 : 0.5; // ideal gain: 0.2 and 1 (half the gap)
    const baseline = contextFree(kind, 11);

    it(`context-free thompson cannot (${kind}): about half right`, () => {
      expect(baseline.right).toBeGreaterThan(0.35);
      expect(baseline.right).toBeLessThan(0.65);
    });

    for (const policy of ['linucb', 'linear-thompson'] as const)
      it(`${policy} (${kind}): ≥ 85% right, and beats context-free thompson's reward`, () => {
        const run = contextual(policy, kind, 11);
        expect(run.right).toBeGreaterThanOrEqual(0.85);
        expect(run.reward).toBeGreaterThan(baseline.reward + margin);
      });
  }
});
