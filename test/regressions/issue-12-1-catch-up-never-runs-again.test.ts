/**
 * Issue 12, finding 1: Redis reconnects while a replica holds no pending decisions, then stalls.
 * Catch-up ran with nothing to write, its promise settled before it was stored, stayed stored, and
 * catch-up never ran again: the decisions held during the stall were never written, every later
 * decision was held too (the replica stayed "stalled"), and their feedback answered 503 for good.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeRedis, redisUp, startRedis, type TestRedis, until } from '../helpers/redis.js';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

const ROUTE = 'fraud-scoring';

async function predict(s: TestServer): Promise<string> {
  const res = await postJson(`${s.url}/v1/predict/${ROUTE}`, { features: demoRow(3) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { decision: string }).decision;
}

/** Feedback status once it stops answering 503 (or the last 503 after `timeoutMs`). */
async function settledFeedback(s: TestServer, decision: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await postJson(`${s.url}/v1/feedback`, { decision, reward: 1 });
    await res.text();
    if (res.status !== 503 || Date.now() > deadline) return res.status;
    await sleep(200);
  }
}

describeRedis('issue 12-1: catch-up runs again after a reconnect with nothing held', () => {
  let redis: TestRedis;
  let a: TestServer;

  beforeAll(async () => {
    redis = await startRedis();
    a = await startTestServer({ CROUPIER_REDIS_URL: redis.url, CROUPIER_LOG_LEVEL: 'info' });
  });

  afterAll(async () => {
    redis?.signal('SIGCONT');
    await a?.stop();
    await redis?.stop();
  });

  it('decisions held through a stall after an idle reconnect are written, and feedback for them is taken', async () => {
    // An outage with no traffic: the replica reconnects holding nothing.
    redis.kill();
    await until('croupier_redis_up 0', async () => (await redisUp(a.url)) === 0, 10_000);
    await redis.restart();
    await until('croupier_redis_up 1', async () => (await redisUp(a.url)) === 1, 10_000);
    await sleep(300);

    // Redis stalls with its socket open; predictions go on and their decisions are held.
    const duringStall: string[] = [];
    redis.signal('SIGSTOP');
    try {
      const end = Date.now() + 2_000;
      while (Date.now() < end) duringStall.push(await predict(a));
    } finally {
      redis.signal('SIGCONT');
    }
    expect(duringStall.length).toBeGreaterThan(0);

    // Once Redis answers again, the held decisions reach it and their feedback is accepted.
    expect(await settledFeedback(a, duringStall[0]!, 15_000)).toBe(202);
    expect(await settledFeedback(a, duringStall.at(-1)!, 15_000)).toBe(202);
    // And a decision made afterwards is written at once, not held.
    expect(await settledFeedback(a, await predict(a), 15_000)).toBe(202);
  }, 90_000);
});
