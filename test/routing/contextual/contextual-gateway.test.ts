/**
 * A contextual route through the real server: the request's context chooses the arm (named
 * features, arrays by the model's feature names, OIP tensors), a missing or non-numeric context
 * feature is a 400 naming it, outcomes credit the chosen arm's regression with the context its
 * decision kept, and what was learned survives a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, TOKEN } from '../../admin/admin-client.js';
import { demoNamed, demoRow, postJson, startTestServer, type TestServer } from '../../helpers/server.js';

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

const named = demoNamed;

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
    expect(fb.status).toBe(202);
    const i = route.armIndex(p.arm);
    await expect.poll(() => route.stats[i]!.linear!.n).toBe(before[i]! + 1);
    const lin = route.stats[i]!.linear!;
    // Column 3 of the intercept row is Σ amount; the context was (1, 0, 42).
    expect(lin.xr[3]! - 0).toBeGreaterThanOrEqual(42);
    expect(route.stats[1 - i]!.linear!.n).toBe(before[1 - i]);
  });

  it('keeps what it learned when the route is replaced on the same context, and starts again on another', async () => {
    const route = () => t.server.gateway.router.get('ctx')!;
    const learned = route().stats.reduce((n, s) => n + s.linear!.n, 0);
    expect(learned).toBeGreaterThan(0);
    const same = await admin(t, 'PUT', '/admin/routes/ctx', { ...ROUTE, floor: 0.1 });
    expect(same.body.reset).toBeUndefined();
    expect(route().stats.reduce((n, s) => n + s.linear!.n, 0)).toBe(learned);
    const other = await admin(t, 'PUT', '/admin/routes/ctx', { ...ROUTE, context: ['amount', 'card_present'] });
    expect(other.body.reset).toBe(true);
    expect(route().stats.every((s) => s.linear!.n === 0 && s.linear!.features === 2)).toBe(true);
    expect((await admin(t, 'PUT', '/admin/routes/ctx', ROUTE)).status).toBe(200);
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
        ).toBe(202);
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

describe('off-policy evaluation of a contextual route', () => {
  it("evaluates `current` on each logged context with the route's own probabilities", async () => {
    const t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN });
    try {
      expect((await admin(t, 'PUT', '/admin/routes/ctx', { ...ROUTE, floor: 0.1 })).status).toBe(200);
      // Arm one earns 0.8 on card-present requests and 0.2 on the others; arm two the reverse.
      const p = (arm: string, cp: number) => ((arm === 'one') === (cp === 1) ? 0.8 : 0.2);
      let seed = 7;
      const u = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
      for (let k = 0; k < 400; k++) {
        const cp = k % 2;
        const res = await postJson(`${t.url}/v1/predict/ctx`, { features: { ...named(k), card_present: cp } });
        const d = (await res.json()) as Predicted;
        const reward = u() < p(d.arm, cp) ? 1 : 0;
        expect((await postJson(`${t.url}/v1/feedback`, { decision: d.decision, reward })).status).toBe(202);
      }
      const route = t.server.gateway.router.get('ctx')!;
      // The truth of `current` on these contexts: each context's probabilities times its arms' rewards.
      const probs = new Float64Array(2);
      let truth = 0;
      for (let k = 0; k < 400; k++) {
        const cp = k % 2;
        route.contextual!.probabilities(
          Float64Array.of(cp, demoRowValue(k, 'is_international'), demoRowValue(k, 'amount')),
          probs,
        );
        truth += (probs[0]! * p('one', cp) + probs[1]! * p('two', cp)) / 400;
      }
      let answer:
        | {
            n: number;
            withoutContext?: number;
            policies: { name: string; estimates?: Record<string, { value: number; ci95: [number, number] }> }[];
          }
        | undefined;
      await expect
        .poll(
          async () => {
            const res = await admin(t, 'POST', '/admin/routes/ctx/ope', {
              policies: [{ name: 'current' }, { name: 'arm:one' }],
            });
            answer = res.body as unknown as typeof answer;
            return answer!.n;
          },
          { timeout: 10_000 },
        )
        .toBe(400);
      expect(answer!.withoutContext ?? 0).toBe(0);
      const current = answer!.policies.find((q) => q.name === 'current')!.estimates!;
      for (const name of ['ips', 'snips', 'dr']) {
        const e = current[name]!;
        // The route learned most of the world: `current` is worth far more than either arm alone (0.5).
        expect(e.value, name).toBeGreaterThan(0.6);
        expect(Math.abs(e.value - truth), `${name}: ${e.value} vs ${truth}`).toBeLessThan(0.1);
      }
      expect(answer!.policies.find((q) => q.name === 'arm:one')!.estimates!.dr!.ci95).not.toBeNull();
    } finally {
      await t.stop();
    }
  });
});

/** The value `named(k)` gives feature `name`. */
function demoRowValue(k: number, name: string): number {
  return named(k)[name] as number;
}
