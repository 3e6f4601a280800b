/**
 * A contextual route through the real server: the request's context chooses the arm (named
 * features, arrays by the model's feature names, OIP tensors), a missing or non-numeric context
 * feature is a 400 naming it, outcomes credit the chosen arm's regression with the context its
 * decision kept, and what was learned survives a restart.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, TOKEN } from '../../admin/admin-client.js';
import { DEMO_MODELS, demoRow, postJson, startTestServer, type TestServer } from '../../helpers/server.js';

const NAMES = (
  JSON.parse(readFileSync(join(DEMO_MODELS, 'fraud/1/model.json'), 'utf8')) as {
    inputs: { featureNames: string[] }[];
  }
).inputs[0]!.featureNames;
const CONTEXT = ['card_present', 'is_international', 'amount'];
const ROUTE = {
  policy: 'linucb',
  context: CONTEXT,
  floor: 0.05,
  arms: [
    { name: 'one', model: 'fraud', version: '1' },
    { name: 'two', model: 'fraud', version: '2' },
  ],
};

const named = (seed: number): Record<string, unknown> =>
  Object.fromEntries(demoRow(seed).map((v, i) => [NAMES[i]!, v]));

interface Predicted {
  decision: string;
  arm: string;
  propensity: number;
}

describe('a contextual route through the server', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN });
    const put = await admin(t, 'PUT', '/admin/routes/ctx', ROUTE);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
  });
  afterAll(async () => {
    await t?.stop();
  });

  const predict = async (features: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await postJson(`${t.url}/v1/predict/ctx`, { features });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('answers named features and arrays, with a propensity at or above the floor', async () => {
    for (const features of [named(1), demoRow(2), [demoRow(3), demoRow(4)]]) {
      const r = await predict(features);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const p = r.body as unknown as Predicted;
      expect(['one', 'two']).toContain(p.arm);
      expect(p.propensity).toBeGreaterThanOrEqual(0.05);
      expect(p.propensity).toBeLessThanOrEqual(0.95);
    }
  });

  it('refuses a request that lacks a context feature, naming it', async () => {
    const f = named(1);
    delete f.is_international;
    const r = await predict(f);
    expect(r.status).toBe(400);
    expect((r.body.error as { code: string }).code).toBe('invalid_request');
    expect((r.body.error as { message: string }).message).toContain('"is_international"');
  });

  it('refuses a non-numeric context feature, naming it', async () => {
    for (const bad of ['yes', true, null, [1], { v: 1 }]) {
      const r = await predict({ ...named(1), card_present: bad });
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect((r.body.error as { message: string }).message).toContain('"card_present"');
    }
    // 1e999 parses as Infinity: not a finite number.
    const res = await fetch(`${t.url}/v1/predict/ctx`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"features": ${JSON.stringify(named(1)).replace('"amount":', '"amount":1e999,"x_":')}}`,
    });
    expect([400]).toContain(res.status);
  });

  it('credits the chosen arm with the context its decision kept', async () => {
    const route = t.server.gateway.router.get('ctx')!;
    const before = route.stats.map((s) => s.linear!.n);
    const f = { ...named(5), card_present: 1, is_international: 0, amount: 42 };
    const p = (await predict(f)).body as unknown as Predicted;
    const fb = await postJson(`${t.url}/v1/feedback`, { decision: p.decision, reward: 1 });
    expect(fb.status).toBe(200);
    const i = route.armIndex(p.arm);
    await expect.poll(() => route.stats[i]!.linear!.n).toBe(before[i]! + 1);
    const lin = route.stats[i]!.linear!;
    // Column 3 of the intercept row is Σ amount; the context was (1, 0, 42).
    expect(lin.xr[3]! - 0).toBeGreaterThanOrEqual(42);
    expect(route.stats[1 - i]!.linear!.n).toBe(before[1 - i]);
  });

  it('chooses on the first row of an OIP infer request', async () => {
    const res = await postJson(`${t.url}/v2/models/ctx/infer`, {
      inputs: [{ name: 'features', shape: [1, 32], datatype: 'FP32', data: demoRow(7) }],
    });
    const body = (await res.json()) as { parameters?: { decision?: string; propensity?: number } };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.parameters?.propensity).toBeGreaterThanOrEqual(0.05);
  });

  it('refuses the policy keys on the wrong policy, and a contextual policy without a context', async () => {
    const bad = [
      { ...ROUTE, policy: 'thompson' },
      { ...ROUTE, alpha: 1, policy: 'linear-thompson' },
      { ...ROUTE, context: [] },
      { ...ROUTE, context: undefined },
      { ...ROUTE, halfLifeSeconds: 60 },
    ];
    for (const spec of bad) {
      const r = await admin(t, 'PUT', '/admin/routes/ctx-bad', spec);
      expect(r.status, JSON.stringify(spec)).toBe(400);
    }
  });
});

describe('what a contextual route learned', () => {
  it('survives a restart (snapshot and journal)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'croupier-ctx-'));
    try {
      const env = { CROUPIER_ADMIN_TOKEN: TOKEN, CROUPIER_STATE_DIR: stateDir };
      let t = await startTestServer(env);
      expect((await admin(t, 'PUT', '/admin/routes/ctx', ROUTE)).status).toBe(200);
      for (let k = 0; k < 30; k++) {
        const res = await postJson(`${t.url}/v1/predict/ctx`, { features: { ...named(k), amount: k } });
        const p = (await res.json()) as Predicted;
        expect(
          (await postJson(`${t.url}/v1/feedback`, { decision: p.decision, reward: k % 3 === 0 ? 1 : 0 })).status,
        ).toBe(200);
      }
      const packs = (s: TestServer) =>
        s.server.gateway.router.get('ctx')!.stats.map((a) => Array.from(a.linear!.pack()));
      await expect.poll(() => packs(t).reduce((n, p) => n + p[0]!, 0)).toBe(30);
      const learned = packs(t);
      await t.stop();
      t = await startTestServer(env);
      try {
        expect(packs(t)).toEqual(learned);
      } finally {
        await t.stop();
      }
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
