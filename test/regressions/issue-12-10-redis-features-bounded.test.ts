/**
 * Issue 12, finding 10, in Redis mode: with `logFeatures`, every decision's features went to Redis
 * whatever their size (`RedisDecisions.decided` -> `Decision.line()`), so one client sending 1 MB
 * bodies filled Redis with megabytes per decision. Rule, as in embedded mode: a decision keeps its
 * features only up to CROUPIER_FEATURES_MAX bytes of JSON; past that it keeps none (counted in
 * croupier_features_dropped_total{reason="too_large"}) and the prediction is answered as usual.
 * In total, features in Redis are bounded by the decisions' TTL.
 */
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { decisionKey } from '../../src/state/redis/keys.js';
import { featuresWithin } from '../../src/feedback/logged-features.js';
import { describeRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { postJson, startTestServer, type TestServer } from '../helpers/server.js';

const MAX = 8 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'croupier-12-10-redis-'));
const routesFile = join(dir, 'routes.json');
writeFileSync(
  routesFile,
  JSON.stringify({
    routes: { logged: { policy: 'fixed', logFeatures: true, arms: [{ name: 'a', model: 'fraud', version: '1' }] } },
  }),
);
let redis: TestRedis | undefined;
let t: TestServer | undefined;
let client: Redis | undefined;
afterAll(async () => {
  await t?.stop();
  client?.disconnect();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const row = (seed: number) =>
  Array.from({ length: 32 }, (_, i) => Number((((i * 7 + seed * 13) % 1000) / 1000 + 0.000123456).toFixed(9)));
async function predict(s: TestServer, rows: number, seed: number): Promise<string> {
  const features = rows === 1 ? row(seed) : Array.from({ length: rows }, (_, r) => row(seed + r));
  const res = await postJson(`${s.url}/v1/predict/logged`, { features });
  expect(res.status).toBe(200);
  return ((await res.json()) as { decision: string }).decision;
}
const tooLarge = async (s: TestServer): Promise<number> => {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  return Number(/^croupier_features_dropped_total\{reason="too_large"\} (\S+)$/m.exec(text)?.[1] ?? 0);
};

describeRedis('issue 12-10 (Redis mode): features kept with decisions are bounded in bytes', () => {
  it('a decision over CROUPIER_FEATURES_MAX keeps no features in Redis, counted; smaller ones keep theirs; every prediction is answered', async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    t = await startTestServer({
      CROUPIER_REDIS_URL: redis.url,
      CROUPIER_ROUTES: routesFile,
      CROUPIER_FEATURES_MAX: String(MAX),
      CROUPIER_STATE_DIR: dir,
    });
    // Five requests of about 1 MB each: far over the cap.
    const big: string[] = [];
    for (let i = 0; i < 5; i++) big.push(await predict(t, 2600, i));
    const small = await predict(t, 1, 42);

    for (const id of big) {
      const line = await client.get(decisionKey(id));
      expect(line, 'the decision itself is written').not.toBeNull();
      expect(line!.length, 'without its features').toBeLessThan(1024);
      expect(JSON.parse(line!)).not.toHaveProperty('f');
    }
    expect(JSON.parse((await client.get(decisionKey(small)))!)).toMatchObject({ d: small, f: row(42) });
    expect(await tooLarge(t)).toBe(5);
    // Redis holds a few kilobytes, not the 5 MB sent.
    const info = await client.info('memory');
    expect(Number(/used_memory:(\d+)/.exec(info)![1])).toBeLessThan(4 * 1024 * 1024);
  }, 60_000);

  it('measures the cap in UTF-8 bytes, as embedded mode does', () => {
    expect(featuresWithin({ a: 'x'.repeat(90) }, 100)).toBe(JSON.stringify({ a: 'x'.repeat(90) }));
    // 40 characters, 80 bytes of text, 88 bytes of JSON.
    expect(featuresWithin({ a: 'é'.repeat(40) }, 87)).toBeUndefined();
    expect(featuresWithin({ a: 'é'.repeat(40) }, 88)).toBe(JSON.stringify({ a: 'é'.repeat(40) }));
    expect(featuresWithin({ a: 'x'.repeat(200) }, 100)).toBeUndefined();
  });
});
