/**
 * Guardrails with two replicas on a real Redis: traffic and feedback go to both, the health counts
 * are the fleet's, one replica acts (one audit entry, one event per finding) and both route
 * accordingly; a watched deploy that goes bad is rolled back once, and both replicas serve the
 * version before.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWebhook, type Webhook } from '../../helpers/receivers.js';
import { describeRedis, startRedis, type TestRedis } from '../../helpers/redis.js';
import { postJson, startTestServer, type TestServer } from '../../helpers/server.js';
import {
  ADMIN,
  type Answer,
  auditEntries,
  eventsOf,
  eventually,
  feedback,
  monitorArms,
  predict,
  removeModels,
  TOKENS,
  worldModels,
} from './world.js';

const ROUTES = {
  world: {
    policy: 'fixed',
    arms: [
      { name: 'champion', model: 'good', version: '1' },
      { name: 'loser', model: 'good', version: '2' },
      { name: 'erring', model: 'bad', version: '1' },
    ],
    guardrails: { champion: 'champion', checks: ['error_rate', 'reward'], minSamples: 60, confidence: 0.99 },
  },
  plain: { policy: 'fixed', arms: [{ name: 'only', model: 'scored', version: 'live' }] },
};

describeRedis('guardrails with two replicas on Redis', () => {
  let redis: TestRedis;
  let hook: Webhook;
  let models: string;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    redis = await startRedis();
    hook = await startWebhook();
    models = worldModels(ROUTES, hook.url);
    const env = {
      CROUPIER_MODELS_DIR: models,
      CROUPIER_REDIS_URL: redis.url,
      CROUPIER_ADMIN_TOKENS: TOKENS,
      CROUPIER_ALERT_INTERVAL_MS: '200',
    };
    a = await startTestServer(env);
    b = await startTestServer(env);
  }, 120_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await hook?.close();
    await redis?.stop();
    removeModels(models);
  });

  const both = async (route: string, n: number): Promise<[Answer[], Answer[]]> =>
    Promise.all([predict(a.url, route, n, 8), predict(b.url, route, n, 8)]);

  it('one replica disables the challengers, both stop routing to them', async () => {
    const [fromA, fromB] = await both('world', 240);
    // Each replica's share alone is under minSamples for some arms: the fleet's counts decide.
    await feedback(b.url, fromA, (arm, i) => (arm === 'champion' ? i % 2 : 0));
    await feedback(a.url, fromB, (arm, i) => (arm === 'champion' ? i % 2 : 0));
    for (const t of [a, b])
      await eventually('both challengers disabled on every replica', async () => {
        const arms = await monitorArms(t.url, 'world');
        return arms.loser!.disabled && arms.erring!.disabled && !arms.champion!.disabled;
      });
    const [afterA, afterB] = await both('world', 40);
    expect([...afterA, ...afterB].every((x) => x.status === 200 && x.arm === 'champion' && x.propensity === 1)).toBe(
      true,
    );
    for (const t of [a, b])
      expect(await (await fetch(`${t.url}/metrics`)).text()).toContain(
        'croupier_arm_disabled{route="world",arm="erring"} 1',
      );
    const disables = (await auditEntries(a.url)).filter((e) => e.action === 'guardrail.disable');
    expect(disables.map((e) => e.target).sort()).toEqual(['world/erring', 'world/loser']);
    await hook.waitFor(2);
    await new Promise((r) => setTimeout(r, 1000));
    const events = eventsOf(hook, 'guardrail_disable');
    expect(events.map((e) => e.details.arm).sort()).toEqual(['erring', 'loser']);
  }, 180_000);

  it('a watched deploy that goes bad is rolled back once, and both replicas serve the version before', async () => {
    await both('plain', 60);
    const res = await postJson(
      `${b.url}/admin/models/scored/deploy`,
      { version: '2', watch: { minutes: 10, checks: ['error_rate'], minSamples: 40 } },
      ADMIN,
    );
    expect(res.status).toBe(200);
    await both('plain', 40);
    for (const t of [a, b])
      await eventually('version 1 live again on every replica', async () => {
        const answers = await predict(t.url, 'plain', 4);
        return answers.every((x) => x.status === 200 && x.version === '1');
      });
    const rollbacks = (await auditEntries(a.url)).filter((e) => e.action === 'rollback');
    expect(rollbacks.map((e) => [e.actor, e.target, e.before])).toEqual([['guardrail', 'scored', '2']]);
    await eventually('the rollback event', async () => eventsOf(hook, 'rollback').length > 0);
    await new Promise((r) => setTimeout(r, 1000));
    expect(eventsOf(hook, 'rollback')).toHaveLength(1);
  }, 180_000);
});
