/**
 * Redis mode: OPE reads the route's outcomes stream, which the credit script writes as it counts
 * each outcome — decisions made on one replica, outcomes posted to the other (and again: duplicates,
 * not logged twice), and either replica evaluates the same log.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeRedis, startRedis, type TestRedis } from '../../helpers/redis.js';
import { demoRow, postJson, startTestServer, type TestServer } from '../../helpers/server.js';

const TOKEN = 'redis-ope-token';
const work = mkdtempSync(join(tmpdir(), 'croupier-ope-redis-'));
const routesFile = join(work, 'routes.json');
writeFileSync(
  routesFile,
  JSON.stringify({
    routes: {
      split: {
        policy: 'fixed',
        arms: [
          { name: 'a', model: 'fraud', version: '1', weight: 0.8 },
          { name: 'b', model: 'fraud', version: '2', weight: 0.2 },
        ],
      },
    },
  }),
);

interface Answer {
  n: number;
  logged: { observedMean: number | null; n: number };
  policies: { name: string; estimates: Record<string, { value: number; n: number }> }[];
}

describeRedis('off-policy evaluation in Redis mode', () => {
  let redis: TestRedis;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    redis = await startRedis();
    const env = { CROUPIER_REDIS_URL: redis.url, CROUPIER_ROUTES: routesFile, CROUPIER_ADMIN_TOKEN: TOKEN };
    a = await startTestServer(env);
    b = await startTestServer(env);
  }, 60_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('evaluates the outcomes stream the credit script wrote, the same on every replica', async () => {
    const decisions: { decision: string; arm: string }[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await postJson(`${a.url}/v1/predict/split`, { features: demoRow(i), unit: `u${i}` });
      expect(res.status).toBe(200);
      decisions.push((await res.json()) as { decision: string; arm: string });
    }
    // Arm b always pays, arm a never: the observed mean is b's share, and arm:b's value is 1.
    const events = decisions.map((d) => ({ decision: d.decision, reward: d.arm === 'b' ? 1 : 0 }));
    expect((await postJson(`${b.url}/v1/feedback`, { events })).status).toBeLessThan(300);
    expect((await postJson(`${a.url}/v1/feedback`, { events })).status).toBeLessThan(300);
    const body = { policies: [{ name: 'arm:b' }, { name: 'arm:a' }], estimators: ['snips'] };
    const ask = async (t: TestServer): Promise<Answer> => {
      const res = await postJson(`${t.url}/admin/routes/split/ope`, body, { authorization: `Bearer ${TOKEN}` });
      expect(res.status).toBe(200);
      return (await res.json()) as Answer;
    };
    const fromA = await ask(a);
    const bShare = decisions.filter((d) => d.arm === 'b').length / decisions.length;
    expect(bShare).toBeGreaterThan(0);
    expect(fromA.n).toBe(40);
    expect(fromA.logged.observedMean).toBeCloseTo(bShare, 12);
    expect(fromA.policies.map((p) => [p.name, p.estimates.snips!.value])).toEqual([
      ['arm:b', 1],
      ['arm:a', 0],
    ]);
    expect(await ask(b)).toEqual(fromA);
  });
});
