/**
 * Issue 13, cause 5: pulls are counted once each. A write that timed out on the client still ran
 * on Redis once it woke up, and catch-up sent the same pull counts again (HINCRBY): a stall of a
 * second or two added dozens of pulls that never happened. Now a pull is counted by the script
 * that writes its decision, only when that decision is new.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

const ROUTE = 'fraud-scoring';

describeRedis('Redis mode: pulls survive a stall without being counted twice', () => {
  let redis: TestRedis;
  let client: Redis;
  let a: TestServer;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    client.on('error', () => undefined);
    a = await startTestServer({ CROUPIER_REDIS_URL: redis.url, CROUPIER_LOG_LEVEL: 'info' });
  });

  afterAll(async () => {
    redis?.signal('SIGCONT');
    await a?.stop();
    client?.disconnect();
    await redis?.stop();
  });

  const pulls = async (): Promise<number> => {
    const h = await client.hgetall(`croupier:{route:${ROUTE}}:stats`);
    return Number(h['champion:pulls'] ?? 0) + Number(h['challenger:pulls'] ?? 0);
  };

  it('every prediction made through a 1.5 s stall is counted once', async () => {
    let made = 0;
    let running = true;
    const worker = async (): Promise<void> => {
      for (let seed = 0; running; seed++) {
        const res = await postJson(`${a.url}/v1/predict/${ROUTE}`, { features: demoRow(seed) });
        expect(res.status).toBe(200);
        await res.text();
        made++;
      }
    };
    const traffic = Promise.all(Array.from({ length: 8 }, worker));
    await sleep(300);
    redis.signal('SIGSTOP');
    await sleep(1_500);
    redis.signal('SIGCONT');
    await sleep(500);
    running = false;
    await traffic;

    // Every held decision reaches Redis; then the pull counts must equal the predictions made.
    const deadline = Date.now() + 15_000;
    while ((await pulls()) < made && Date.now() < deadline) await sleep(100);
    await sleep(500);
    expect(await pulls()).toBe(made);
  }, 60_000);
});
