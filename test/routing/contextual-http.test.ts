/**
 * The contextual world (bench/contextual-world.ts) played through a running server over HTTP:
 * predicts with named features, then feedback batches. In this world every context-free arm earns
 * 0.50 and choosing on card_present / is_international earns 0.65, so after a short warm-up LinUCB
 * and linear Thompson must earn clearly more than context-free Thompson, and say so in their
 * propensities (the chosen arm's probability depends on the request); off-policy evaluation of
 * linear Thompson's log (POST /admin/routes/{route}/ope) must see it too.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drive, type Drive } from '../../bench/contextual-driver.js';
import { exactValues, predictBody, worldRoutes } from '../../bench/contextual-world.js';
import { postJson, startTestServer, type TestServer } from '../helpers/server.js';

const HORIZON = 1500;
const SEED = 7;
const TOKEN = 'ctxworld-test-token';
/** Mean expected reward of the second half of a run, from its checkpoints. */
const secondHalf = (d: Drive): number => {
  const [mid, end] = [d.points.find((p) => p.t === HORIZON / 2)!, d.points.at(-1)!];
  return (end.meanReward * end.t - mid.meanReward * mid.t) / (end.t - mid.t);
};

describe('contextual routes through HTTP in a world where the best arm depends on the context', () => {
  let s: TestServer;
  let dir: string;
  const runs = new Map<string, Drive>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'croupier-ctxworld-'));
    writeFileSync(
      join(dir, 'routes.json'),
      JSON.stringify(worldRoutes(['uniform', 'thompson', 'linucb', 'linear-thompson'])),
    );
    s = await startTestServer({
      CROUPIER_ROUTES: join(dir, 'routes.json'),
      CROUPIER_LOG_LEVEL: 'warn',
      CROUPIER_ADMIN_TOKEN: TOKEN,
    });
  });
  afterAll(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is the world it claims: every context-free arm 0.50, the best contextual policy 0.65', () => {
    const v = exactValues();
    for (const arm of v.perArm) expect(arm).toBeCloseTo(0.5, 9);
    expect(v.contextFree).toBeCloseTo(0.5, 9);
    expect(v.contextual).toBeCloseTo(0.65, 9);
  });

  it('LinUCB and linear Thompson beat context-free Thompson by a clear margin once they have learned', async () => {
    for (const p of ['thompson', 'linucb', 'linear-thompson']) {
      const d = await drive({
        base: s.url,
        route: `world-${p}`,
        horizon: HORIZON,
        seed: SEED,
        checkpoints: [HORIZON / 2],
        keep: true,
      });
      runs.set(p, d);
    }
    const thompson = secondHalf(runs.get('thompson')!);
    // No context-free policy can beat 0.50 here; Thompson's sample sits near it.
    expect(thompson).toBeGreaterThan(0.45);
    expect(thompson).toBeLessThan(0.55);
    for (const p of ['linucb', 'linear-thompson']) {
      const d = runs.get(p)!;
      expect(secondHalf(d), p).toBeGreaterThan(thompson + 0.07);
      // And its regret over the whole run is well below Thompson's (0.15 per request).
      expect(d.points.at(-1)!.regret, p).toBeLessThan(0.6 * runs.get('thompson')!.points.at(-1)!.regret);
      // The propensity is the probability for this request: the same route gives its chosen arm
      // a high probability in one segment and the floor-sized one elsewhere.
      const late = d.decided.slice(-300);
      expect(Math.max(...late.map((x) => x.propensity)), p).toBeGreaterThan(0.8);
      expect(Math.min(...late.map((x) => x.propensity)), p).toBeLessThan(0.2);
    }
  }, 60_000);

  it('off-policy evaluation of the linear-thompson log puts its current policy above 0.50, what any context-free policy earns', async () => {
    const d = runs.get('linear-thompson');
    expect(d, 'runs after the ordering test').toBeDefined();
    let answer: {
      n: number;
      policies: { name: string; estimates: Record<string, { value: number; ci95: number[] }> }[];
    };
    // Outcomes reach the outcome log just after their answer.
    for (let i = 0; ; i++) {
      const res = await postJson(
        `${s.url}/admin/routes/world-linear-thompson/ope`,
        { policies: [{ name: 'current' }, { name: 'arm:a0' }, { name: 'uniform' }], estimators: ['dr'] },
        { authorization: `Bearer ${TOKEN}` },
      );
      expect(res.status).toBe(200);
      answer = (await res.json()) as typeof answer;
      if (answer.n === HORIZON || i === 20) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(answer.n).toBe(HORIZON);
    const dr = (name: string) => answer.policies.find((p) => p.name === name)!.estimates.dr!;
    // Truths: every single arm and uniform 0.50. One log, so one draw of each interval: allow
    // twice its half-width around the estimate (a 95% interval alone would fail one run in 20).
    for (const name of ['arm:a0', 'uniform']) {
      const e = dr(name);
      const half = (e.ci95[1]! - e.ci95[0]!) / 2;
      expect(Math.abs(e.value - 0.5), name).toBeLessThan(2 * half);
    }
    // The route's policy (about 0.6 after 1,500 requests) is shown better than any context-free one.
    expect(dr('current').ci95[0]).toBeGreaterThan(0.5);
  });

  it('refuses a request without a context feature with a 400 naming it, and keeps serving', async () => {
    const body = JSON.parse(predictBody({ cardPresent: 1, international: 0, amount: 0.2 })) as {
      features: Record<string, number>;
    };
    delete body.features.is_international;
    const res = await postJson(`${s.url}/v1/predict/world-linucb`, body);
    expect(res.status).toBe(400);
    const err = (await res.json()) as { error: { code: string; message: string } };
    expect(err.error.code).toBe('invalid_request');
    expect(err.error.message).toContain('is_international');
    const ok = await postJson(
      `${s.url}/v1/predict/world-linucb`,
      predictBody({ cardPresent: 1, international: 0, amount: 0.2 }),
    );
    expect(ok.status).toBe(200);
  });
});
