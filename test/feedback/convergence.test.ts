/**
 * Thompson over HTTP on three Bernoulli arms (p = 0.6 / 0.45 / 0.3) with outcomes arriving in waves
 * (one feedback batch after each wave of predictions): within 3,000 requests more than 85% of
 * traffic goes to the best arm.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { seededRng } from '../../src/routing/sampling.js';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

const P: Record<string, number> = { best: 0.6, middle: 0.45, worst: 0.3 };
let t: TestServer;
beforeAll(async () => {
  const routesFile = join(mkdtempSync(join(tmpdir(), 'croupier-routes-')), 'routes.json');
  writeFileSync(
    routesFile,
    JSON.stringify({
      routes: {
        three: {
          policy: 'thompson',
          arms: [
            { name: 'worst', model: 'fraud', version: '1' },
            { name: 'middle', model: 'fraud', version: '2' },
            { name: 'best', model: 'fraud', version: '1' },
          ],
        },
      },
    }),
  );
  t = await startTestServer({ CROUPIER_ROUTES: routesFile });
});
afterAll(async () => {
  await t.stop();
});

it('puts > 85% of traffic on the best arm within 3,000 requests', async () => {
  const rng = seededRng(2011);
  const body = JSON.stringify({ features: demoRow() });
  const waves = 10,
    perWave = 300,
    concurrency = 32;
  let lastWaveBest = 0;
  for (let w = 0; w < waves; w++) {
    const answers: { decision: string; arm: string }[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < perWave) {
          next++;
          const res = await postJson(`${t.url}/v1/predict/three`, body);
          answers.push((await res.json()) as { decision: string; arm: string });
        }
      }),
    );
    if (w === waves - 1) lastWaveBest = answers.filter((a) => a.arm === 'best').length / answers.length;
    const events = answers.map((a) => ({ decision: a.decision, reward: rng() < P[a.arm]! ? 1 : 0 }));
    const res = await postJson(`${t.url}/v1/feedback`, { events });
    expect(res.status).toBe(202);
  }
  const route = t.server.gateway.router.get('three')!;
  expect(route.policy.weights[2]).toBeGreaterThan(0.85);
  expect(lastWaveBest).toBeGreaterThan(0.8);
});
