/**
 * Issue 12, finding 5: Redis comes back empty (restarted without its data, or flushed). A replica
 * started afterwards found no decision-id secret and minted a new one, so its decisions and those
 * of the replicas started before were foreign to each other: feedback answered 404 both ways, for
 * good. The replicas holding the secret now write it back (on reconnect, and periodically).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeRedis, redisUp, startRedis, type TestRedis, until } from '../helpers/redis.js';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

const ROUTE = 'fraud-scoring';
const SECRET_KEY = 'croupier:{control}:decision-secret';

async function predict(s: TestServer): Promise<string> {
  const res = await postJson(`${s.url}/v1/predict/${ROUTE}`, { features: demoRow(5) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { decision: string }).decision;
}

/** Feedback's status once it stops answering 503 (a decision may still be on its way to Redis). */
async function feedback(s: TestServer, decision: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await postJson(`${s.url}/v1/feedback`, { decision, reward: 1 });
    await res.text();
    if (res.status !== 503 || Date.now() > deadline) return res.status;
    await sleep(200);
  }
}

describeRedis('issue 12-5: the decision-id secret survives an empty Redis', () => {
  let redis: TestRedis;
  let client: Redis;
  const servers: TestServer[] = [];
  const start = async (): Promise<TestServer> => {
    const s = await startTestServer({ CROUPIER_REDIS_URL: redis.url, CROUPIER_LOG_LEVEL: 'info' });
    servers.push(s);
    return s;
  };

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    client.on('error', () => undefined);
  });

  afterAll(async () => {
    for (const s of servers) await s.stop();
    client?.disconnect();
    await redis?.stop();
  });

  it('Redis restarted without its data: a replica started afterwards agrees with the one started before', async () => {
    const a = await start();
    redis.kill();
    await until('croupier_redis_up 0', async () => (await redisUp(a.url)) === 0, 10_000);
    await redis.restart({ empty: true });
    await until('croupier_redis_up 1', async () => (await redisUp(a.url)) === 1, 10_000);

    const b = await start();
    expect(await feedback(a, await predict(b))).toBe(202);
    expect(await feedback(b, await predict(a))).toBe(202);
  }, 60_000);

  it('Redis flushed under a live connection: the secret is written back, and a replica started later agrees', async () => {
    const a = servers[0]!;
    await client.flushall();
    await until('the secret back in Redis', async () => (await client.exists(SECRET_KEY)) === 1, 10_000);

    const c = await start();
    expect(await feedback(a, await predict(c))).toBe(202);
    expect(await feedback(c, await predict(a))).toBe(202);
  }, 60_000);
});
