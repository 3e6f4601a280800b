/**
 * OpeReads on the real outcome log (embedded day files) and a real Route: what the endpoint does
 * on a contextual route — `current` is the policy's probabilities on each logged context, outcomes
 * logged without a context are left out and counted — plus an arm no longer on the route, the
 * row limit, and a logged outcome the estimators refuse (a 400, not a 500). The contextual policy
 * here is a fixed rule written for the test (the learning ones are built elsewhere): its true value
 * is known in closed form.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isCroupierError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import { ArmStats } from '../../../src/routing/arm-stats.js';
import type { ContextualPolicy } from '../../../src/routing/contextual/contextual-policy.js';
import { OpeReads } from '../../../src/routing/ope/ope-reads.js';
import type { RouteSpec } from '../../../src/routing/route-spec.js';
import { Route } from '../../../src/routing/router.js';
import { seededRng } from '../../../src/routing/sampling.js';
import { EmbeddedOutcomeLog } from '../../../src/state/embedded/outcome-log.js';

const T0 = Date.parse('2026-06-01T12:00:00.000Z');
const dir = mkdtempSync(join(tmpdir(), 'croupier-ope-reads-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Arm a with 0.9 when the first feature is positive, else 0.1. */
class Rule implements ContextualPolicy {
  readonly contextual = true as const;
  readonly context = ['u', 'v'];
  readonly weights = new Float64Array([0.5, 0.5]);
  probabilities(x: Float64Array, out: Float64Array): void {
    out[0] = x[0]! > 0 ? 0.9 : 0.1;
    out[1] = 1 - out[0];
  }
  chooseFor(x: Float64Array): number {
    this.probabilities(x, this.weights);
    return this.weights[0]! >= 0.5 ? 0 : 1;
  }
  choose(): number {
    return 0;
  }
  setDisabled(): void {}
  recompute(): void {}
  drifts(): boolean {
    return false;
  }
}

function spec(policy: RouteSpec['policy'], context?: string[]): RouteSpec {
  return {
    policy,
    reward: 'bernoulli',
    arms: [
      { name: 'a', model: 'm', version: '1', weight: 0.5 },
      { name: 'b', model: 'm', version: '2', weight: 0.5 },
    ],
    epsilon: 0.1,
    prior: { alpha: 1, beta: 1 },
    burnIn: 0,
    floor: 0.01,
    halfLifeSeconds: undefined,
    feedbackWindow: 3600,
    logFeatures: false,
    ...(context ? { context } : {}),
  } as RouteSpec;
}

const log = new EmbeddedOutcomeLog(dir, { retentionMs: 30 * 86_400_000, now: () => T0 + 1000 }, createLogger('silent'));

describe('OpeReads', () => {
  it("evaluates a contextual route's current policy on each logged context; outcomes without one are left out", async () => {
    const route = new Route('ctx', spec('linucb', ['u', 'v']), new Rule(), [new ArmStats(), new ArmStats()]);
    const rng = seededRng(11);
    // Uniform logging; arm a pays 1 when u > 0 and 0 otherwise, arm b pays 0.5: the rule earns
    // ½(0.9·1 + 0.1·0.5) + ½(0.1·0 + 0.9·0.5) = 0.7.
    for (let i = 0; i < 2000; i++) {
      const u = rng() < 0.5 ? -1 : 1;
      const arm = rng() < 0.5 ? 'a' : 'b';
      const reward = arm === 'a' ? (u > 0 ? 1 : 0) : 0.5;
      log.append('ctx', { decidedMs: T0, outcomeMs: T0 + i, arm, propensity: 0.5, reward, context: [u, rng()] });
    }
    for (let i = 0; i < 7; i++)
      log.append('ctx', { decidedMs: T0, outcomeMs: T0 + 3000, arm: 'a', propensity: 0.5, reward: 1 });
    await log.flush();
    const ope = new OpeReads(log, { get: (r) => (r === 'ctx' ? route : undefined) }, () => T0 + 1000);
    const answer = await ope.evaluate('ctx', { policies: [{ name: 'current' }, { name: 'arm:b' }], since: '1h' });
    expect(answer.n).toBe(2000);
    expect(answer.withoutContext).toBe(7);
    const current = answer.policies[0]!.estimates!;
    for (const e of Object.values(current)) expect(e!.ci95![0] <= 0.7 && 0.7 <= e!.ci95![1]).toBe(true);
    // DR's reward model is a ridge on the context: it explains arm a's reward, so DR is the narrowest.
    const width = (e: { ci95: readonly [number, number] | null }) => e.ci95![1] - e.ci95![0];
    expect(width(current.dr!)).toBeLessThan(width(current.ips!));
    expect(answer.policies[1]!.estimates!.snips!.value).toBeCloseTo(0.5, 12);
  });

  it('keeps an arm no longer on the route in the log, and gives it 0 under every policy', async () => {
    const route = new Route(
      'gone',
      spec('fixed'),
      { weights: new Float64Array([0.5, 0.5]), choose: () => 0, recompute() {}, drifts: () => false },
      [new ArmStats(), new ArmStats()],
    );
    for (let i = 0; i < 300; i++) {
      const arm = ['a', 'b', 'retired'][i % 3]!;
      log.append('gone', {
        decidedMs: T0,
        outcomeMs: T0 + i,
        arm,
        propensity: 1 / 3,
        reward: arm === 'retired' ? 1 : 0,
      });
    }
    await log.flush();
    const ope = new OpeReads(log, { get: () => route }, () => T0 + 1000);
    const answer = await ope.evaluate('gone', {
      policies: [{ name: 'uniform' }, { name: 'current' }],
      estimators: ['snips'],
    });
    expect(answer.n).toBe(300);
    expect(answer.logged.observedMean).toBeCloseTo(1 / 3, 12);
    // Only the retired arm ever paid; no policy of the route plays it.
    for (const p of answer.policies) expect(p.estimates!.snips!.value).toBe(0);
    expect(answer.withoutContext).toBeUndefined();
  });

  it('reads at most its row limit, and says so', async () => {
    const route = new Route(
      'gone',
      spec('fixed'),
      { weights: new Float64Array([0.5, 0.5]), choose: () => 0, recompute() {}, drifts: () => false },
      [new ArmStats(), new ArmStats()],
    );
    const ope = new OpeReads(log, { get: () => route }, () => T0 + 1000, 100);
    const answer = await ope.evaluate('gone', { policies: [{ name: 'uniform' }] });
    expect(answer.n).toBe(100);
    expect(answer.rowLimitReached).toBe(true);
  });

  it('answers a logged outcome the estimators refuse with a 400 naming it', async () => {
    log.append('broken', { decidedMs: T0, outcomeMs: T0, arm: 'a', propensity: 0, reward: 1 });
    await log.flush();
    const route = new Route(
      'broken',
      spec('fixed'),
      { weights: new Float64Array([0.5, 0.5]), choose: () => 0, recompute() {}, drifts: () => false },
      [new ArmStats(), new ArmStats()],
    );
    const ope = new OpeReads(log, { get: () => route }, () => T0 + 1000);
    const refused = await ope.evaluate('broken', { policies: [{ name: 'uniform' }] }).catch((e: unknown) => e);
    expect(isCroupierError(refused) && refused.status).toBe(400);
    expect((refused as Error).message).toMatch(/propensity 0 is not in \(0, 1\]/);
  });
});
