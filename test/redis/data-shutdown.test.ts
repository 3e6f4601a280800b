/**
 * Issue 13, cause 4: a replica stopped while Redis is unreachable dropped the decisions it held
 * (their outcomes got 503 for 30 s, then 404 for good). Now it waits for Redis within the drain's
 * time, then journals what is still held in its state directory; the next start on that directory
 * writes them to Redis, and their feedback is accepted on any replica.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeRedis, redisUp, startRedis, type TestRedis } from '../helpers/redis.js';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

const ROUTE = 'fraud-scoring';

describeRedis('Redis mode: a replica stopped during an outage keeps the decisions it held', () => {
  let redis: TestRedis;
  const stateDir = mkdtempSync(join(tmpdir(), 'croupier-held-'));
  const servers: TestServer[] = [];
  const start = async (dir?: string): Promise<TestServer> => {
    const s = await startTestServer({
      CROUPIER_REDIS_URL: redis.url,
      CROUPIER_LOG_LEVEL: 'info',
      CROUPIER_DRAIN_TIMEOUT_MS: '1000',
      ...(dir ? { CROUPIER_STATE_DIR: dir } : {}),
    });
    servers.push(s);
    return s;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    await redis?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('decisions held at shutdown are journaled, written by the next start, and take feedback anywhere', async () => {
    const a = await start(stateDir);
    redis.kill();
    const deadline = Date.now() + 10_000;
    while ((await redisUp(a.url)) !== 0 && Date.now() < deadline) await sleep(50);
    const made: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await postJson(`${a.url}/v1/predict/${ROUTE}`, { features: demoRow(i) });
      expect(res.status).toBe(200);
      made.push(((await res.json()) as { decision: string }).decision);
    }
    await a.stop();
    expect(existsSync(join(stateDir, 'redis-held-decisions.jsonl'))).toBe(true);

    await redis.restart();
    await start(stateDir);
    const b = await start();
    for (const decision of made) {
      let status = 503;
      for (const end = Date.now() + 15_000; status === 503 && Date.now() < end; ) {
        const res = await postJson(`${b.url}/v1/feedback`, { decision, reward: 1 });
        await res.text();
        status = res.status;
        if (status === 503) await sleep(200);
      }
      expect(status).toBe(202);
    }
    expect(existsSync(join(stateDir, 'redis-held-decisions.jsonl'))).toBe(false);
  }, 60_000);
});
