/**
 * The outcome log's line of an accepted outcome (feedback/outcome-record.ts): on a route with a
 * context, the context the decision kept; a decision that kept none (made before the route was
 * contextual) or one of another length logs no context; a context-free route logs none.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { OutcomeRecorder } from '../../src/feedback/outcome-record.js';
import { createLogger } from '../../src/log.js';
import { ArmStats } from '../../src/routing/arm-stats.js';
import type { RouteSpec } from '../../src/routing/route-spec.js';
import { Route } from '../../src/routing/router.js';
import { EmbeddedOutcomeLog } from '../../src/state/embedded/outcome-log.js';

const dir = mkdtempSync(join(tmpdir(), 'croupier-outcome-record-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const route = (context?: string[]): Route =>
  new Route(
    'r',
    {
      policy: 'fixed',
      reward: 'bernoulli',
      arms: [{ name: 'a', model: 'm', version: '1', weight: 1 }],
      epsilon: 0,
      prior: { alpha: 1, beta: 1 },
      burnIn: 0,
      floor: 0.01,
      halfLifeSeconds: undefined,
      feedbackWindow: 3600,
      logFeatures: false,
      ...(context ? { context } : {}),
    } as RouteSpec,
    {
      weights: new Float64Array([1]),
      choose: () => 0,
      recompute() {},
      drifts: () => false,
      // A contextual policy as the route sees it (the choice itself is not what is tested).
      ...(context ? { contextual: true, context, probabilities() {}, chooseFor: () => 0, setDisabled() {} } : {}),
    },
    [new ArmStats()],
  );

it('logs the decision time, arm, propensity, reward and, on a route with a context, the context', async () => {
  const log = new EmbeddedOutcomeLog(dir, { retentionMs: 86_400_000 }, createLogger('silent'));
  const recorder = new OutcomeRecorder(log);
  const now = Date.now();
  const decision = { createdMs: now - 50, model: 'm', version: '1', propensity: 0.25 };
  const event = { decision: 'd1', reward: 1, label: undefined };
  const contextual = route(['v', 'u']);
  const withContext = recorder.outcome(
    contextual,
    'a',
    { ...decision, features: undefined, context: Float64Array.of(-2, 1.5) },
    event,
    now,
  );
  expect(withContext).toEqual({
    decidedMs: now - 50,
    outcomeMs: now,
    arm: 'a',
    propensity: 0.25,
    reward: 1,
    context: [-2, 1.5],
  });
  const without = recorder.outcome(contextual, 'a', { ...decision, features: undefined }, event, now);
  // A context of another length (kept before the route's context changed) is not logged as this one.
  const other = { ...decision, features: undefined, context: Float64Array.of(1, 2, 3) };
  expect(recorder.outcome(contextual, 'a', other, event, now).context).toBeUndefined();
  expect(without).toEqual({ decidedMs: now - 50, outcomeMs: now, arm: 'a', propensity: 0.25, reward: 1 });
  const free = { ...decision, features: undefined, context: Float64Array.of(1, 2) };
  expect(recorder.outcome(route(), 'a', free, event, now).context).toBeUndefined();
  recorder.kept('r', withContext);
  recorder.kept('r', without);
  await recorder.close();
  const read = [];
  for await (const page of log.read('r', 0, 10)) read.push(...page);
  expect(read).toEqual([withContext, without]);
});
