/**
 * Redis mode: two replicas on one real Redis keep one dataset. Decisions made on one replica and
 * their outcomes posted to the other (and posted again to the first: duplicates) make one row each,
 * and both replicas serve the same rows.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RowJson } from '../../src/retrain/dataset-row.js';
import { describeRedis, startRedis, until, type TestRedis } from '../helpers/redis.js';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN = 'redis-dataset-token';
const work = mkdtempSync(join(tmpdir(), 'croupier-dataset-redis-'));
const routesFile = join(work, 'routes.json');
writeFileSync(
  routesFile,
  JSON.stringify({
    routes: {
      logged: {
        policy: 'fixed',
        logFeatures: true,
        arms: [
          { name: 'a', model: 'fraud', version: '1', weight: 0.5 },
          { name: 'b', model: 'fraud', version: '2', weight: 0.5 },
        ],
      },
    },
  }),
);

async function rowsFrom(t: TestServer): Promise<RowJson[]> {
  const res = await fetch(`${t.url}/admin/routes/logged/dataset?since=1d`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(res.status).toBe(200);
  const text = await res.text();
  return text === ''
    ? []
    : text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as RowJson);
}

describeRedis('training rows in Redis mode', () => {
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

  it('two replicas produce one dataset, one row per decision', async () => {
    const decisions: { decision: string; arm: string }[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await postJson(`${a.url}/v1/predict/logged`, { features: demoRow(i) });
      expect(res.status).toBe(200);
      decisions.push((await res.json()) as { decision: string; arm: string });
    }
    const events = decisions.map((d, i) => ({ decision: d.decision, reward: i % 2, label: i % 2 }));
    expect((await postJson(`${b.url}/v1/feedback`, { events })).status).toBeLessThan(300);
    // The same outcomes again, on the other replica: duplicates, no second row.
    expect((await postJson(`${a.url}/v1/feedback`, { events })).status).toBeLessThan(300);
    await until('20 rows', async () => (await rowsFrom(a)).length >= 20, 10_000);
    const fromA = await rowsFrom(a);
    expect(fromA.map((r) => r.decision).sort()).toEqual(decisions.map((d) => d.decision).sort());
    expect(await rowsFrom(b)).toEqual(fromA);
    for (const d of decisions) {
      const r = fromA.find((x) => x.decision === d.decision)!;
      expect(r.arm).toBe(d.arm);
      expect(r.version).toBe(d.arm === 'a' ? '1' : '2');
      expect(r.propensity).toBe(0.5);
      expect(r.features.amount).toBe(demoRow(decisions.indexOf(d))[0]);
    }
  });
});
