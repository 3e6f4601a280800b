/**
 * POST /admin/routes/{route}/ope and `croupier ope` on a real server (embedded mode): a fixed 80/20
 * route serves real predictions, a seeded Bernoulli world rewards arm a with 0.3 and arm b with
 * 0.6, the feedback goes through /v1/feedback, and the outcome log those outcomes were kept in is
 * evaluated. Units make every arm choice deterministic (fixed weights are sticky by unit) and the
 * rewards are seeded, so the log is the same every run: the intervals below either hold or not.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRng } from '../../../src/routing/sampling.js';
import { until } from '../../helpers/redis.js';
import { demoRow, postJson, ROOT, startTestServer, type TestServer } from '../../helpers/server.js';

const ADMIN = 'ope-admin-token-1234';
const VIEWER = 'ope-viewer-token-1234';
const P = { a: 0.3, b: 0.6 } as const;
const DECISIONS = 1200;
const TRUTH: Record<string, number> = {
  'arm:a': P.a,
  'arm:b': P.b,
  uniform: (P.a + P.b) / 2,
  current: 0.8 * P.a + 0.2 * P.b,
  mix: 0.5 * P.a + 0.5 * P.b,
};

const work = mkdtempSync(join(tmpdir(), 'croupier-ope-'));
const stateDir = mkdtempSync(join(tmpdir(), 'croupier-ope-state-'));
const routesFile = join(work, 'routes.json');
const arms = (policy: string, weights?: [number, number]) => ({
  policy,
  arms: [
    { name: 'a', model: 'fraud', version: '1', ...(weights ? { weight: weights[0] } : {}) },
    { name: 'b', model: 'fraud', version: '2', ...(weights ? { weight: weights[1] } : {}) },
  ],
});
writeFileSync(
  routesFile,
  JSON.stringify({
    routes: { split: arms('fixed', [0.8, 0.2]), explore: arms('ucb1'), quiet: arms('fixed', [0.5, 0.5]) },
  }),
);

interface Estimate {
  value: number | null;
  ci95: [number, number] | null;
  n: number;
  effectiveSampleSize: number;
}
interface Answer {
  route: string;
  n: number;
  logged: { observedMean: number | null; n: number };
  policies: { name: string; estimates?: Record<string, Estimate>; notEvaluable?: string }[];
}

let t: TestServer;
let stopped = false;
/** `token` '': none sent. */
const ope = (route: string, body: unknown, token = ADMIN): Promise<Response> =>
  postJson(`${t.url}/admin/routes/${route}/ope`, body, token ? { authorization: `Bearer ${token}` } : {});

/** Decisions on `route` for units u0…, `concurrency` at a time; their arms in unit order. */
async function decide(route: string, count: number): Promise<{ decision: string; arm: string }[]> {
  const out: { decision: string; arm: string }[] = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const res = await postJson(`${t.url}/v1/predict/${route}`, { features: demoRow(i), unit: `u${i}` });
      expect(res.status).toBe(200);
      out[i] = (await res.json()) as { decision: string; arm: string };
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return out;
}

/** Seeded Bernoulli rewards in decision order, posted in batches; returns their sum. */
async function reward(decisions: readonly { decision: string; arm: string }[], seed: number): Promise<number> {
  const rng = seededRng(seed);
  const events = decisions.map((d) => ({ decision: d.decision, reward: rng() < P[d.arm as 'a' | 'b'] ? 1 : 0 }));
  for (let i = 0; i < events.length; i += 200) {
    const res = await postJson(`${t.url}/v1/feedback`, { events: events.slice(i, i + 200) });
    expect(res.status).toBeLessThan(300);
  }
  return events.reduce((s, e) => s + e.reward, 0);
}

describe('off-policy evaluation through the admin API', () => {
  let rewardSum = 0;
  let answer: Answer;

  beforeAll(async () => {
    t = await startTestServer({
      CROUPIER_ROUTES: routesFile,
      CROUPIER_ADMIN_TOKENS: `ops:${ADMIN},look:${VIEWER}:viewer`,
      CROUPIER_STATE_DIR: stateDir,
    });
    const split = await decide('split', DECISIONS);
    rewardSum = await reward(split, 42);
    await reward(await decide('explore', 60), 7);
    const asked = [{ name: 'arm:a' }, { name: 'arm:b' }, { name: 'uniform' }, { name: 'current' }];
    const body = { policies: [...asked, { name: 'mix', weights: { a: 1, b: 1 } }] };
    // The log is written behind the answers: wait until every outcome is in it.
    await until(
      'every outcome in the log',
      async () => {
        answer = (await (await ope('split', body)).json()) as Answer;
        return answer.n === DECISIONS;
      },
      10_000,
    );
  }, 120_000);

  afterAll(async () => {
    if (!stopped) await t?.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('logs every accepted outcome and reports the observed mean reward', () => {
    expect(answer.route).toBe('split');
    expect(answer.logged).toEqual({ observedMean: rewardSum / DECISIONS, n: DECISIONS });
  });

  it('estimates each policy within its 95% interval of the true value, with every estimator', () => {
    expect(answer.policies.map((p) => p.name)).toEqual(['arm:a', 'arm:b', 'uniform', 'current', 'mix']);
    for (const p of answer.policies) {
      expect(Object.keys(p.estimates!)).toEqual(['ips', 'snips', 'dr']);
      for (const [estimator, e] of Object.entries(p.estimates!)) {
        const [lo, hi] = e.ci95!;
        expect(lo <= TRUTH[p.name]! && TRUTH[p.name]! <= hi, `${p.name} ${estimator}: ${lo}..${hi}`).toBe(true);
        expect(e.n).toBe(DECISIONS);
      }
    }
    // Always-b is seen to beat always-a, and the b-only estimate rests on the ~20% of decisions b served.
    const byName = new Map(answer.policies.map((p) => [p.name, p.estimates!]));
    expect(byName.get('arm:b')!.dr!.value!).toBeGreaterThan(byName.get('arm:a')!.dr!.value! + 0.15);
    const essB = byName.get('arm:b')!.ips!.effectiveSampleSize;
    expect(essB).toBeGreaterThan(0.15 * DECISIONS);
    expect(essB).toBeLessThan(0.25 * DECISIONS);
  });

  it('reports a route that never explored (ucb1) as not evaluable', async () => {
    const res = await ope('explore', { policies: [{ name: 'uniform' }, { name: 'arm:a' }] });
    expect(res.status).toBe(200);
    const a = (await res.json()) as Answer;
    expect(a.n).toBe(60);
    for (const p of a.policies) {
      expect(p.estimates).toBeUndefined();
      expect(p.notEvaluable).toMatch(/never explored/);
    }
  });

  it('answers n: 0 with nulls on a route with no outcomes, never NaN', async () => {
    const res = await ope('quiet', { policies: [{ name: 'uniform' }], estimators: ['ips', 'dr'] });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toMatch(/NaN/);
    expect(JSON.parse(text)).toEqual({
      route: 'quiet',
      n: 0,
      logged: { observedMean: null, n: 0 },
      policies: [
        {
          name: 'uniform',
          estimates: {
            ips: { value: null, ci95: null, n: 0, effectiveSampleSize: 0 },
            dr: { value: null, ci95: null, n: 0, effectiveSampleSize: 0 },
          },
        },
      ],
    });
  });

  it.each([
    ['unknown policy', { policies: [{ name: 'greedy' }] }, /unknown policy "greedy"/],
    ['unknown arm', { policies: [{ name: 'arm:c' }] }, /no arm "c" on this route \(its arms: a, b\)/],
    ['mix naming an unknown arm', { policies: [{ name: 'mix', weights: { c: 1 } }] }, /no arm "c"/],
    ['negative weight', { policies: [{ name: 'mix', weights: { a: -1, b: 2 } }] }, /finite number ≥ 0, got -1/],
    ['weight not a number', { policies: [{ name: 'mix', weights: { a: 'x' } }] }, /finite number ≥ 0, got "x"/],
    ['weights all zero', { policies: [{ name: 'mix', weights: { a: 0, b: 0 } }] }, /must not all be 0/],
    ['unknown estimator', { policies: [{ name: 'uniform' }], estimators: ['magic'] }, /unknown estimator "magic"/],
    ['bad since', { policies: [{ name: 'uniform' }], since: 'last week' }, /since must be a duration like 7d/],
    ['no policies', { policies: [] }, /policies must be a non-empty array/],
    ['unknown key', { policies: [{ name: 'uniform' }], sinse: '7d' }, /unknown key "sinse"/],
    ['not an object', [1, 2], /the body must be a JSON object/],
  ])('refuses %s with a 400 naming it', async (_, body, message) => {
    const res = await ope('split', body);
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('invalid_request');
    expect(error.message).toMatch(message);
  });

  it('refuses malformed JSON (400 invalid_json), an unknown route (404 route_not_found, first) and another content type (415)', async () => {
    const bad = await ope('split', '{"policies": [');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
    // The route is checked first: an unknown one is a 404 whatever the body.
    for (const body of [{ policies: [{ name: 'uniform' }] }, '{"policies": [']) {
      const missing = await ope('nowhere', body);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('route_not_found');
    }
    const text = await fetch(`${t.url}/admin/routes/split/ope`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/plain' },
      body: '{}',
    });
    expect(text.status).toBe(415);
  });

  it('lets a viewer evaluate (it only reads), and refuses a call without a token', async () => {
    const viewer = await ope('split', { policies: [{ name: 'current' }], estimators: ['snips'] }, VIEWER);
    expect(viewer.status).toBe(200);
    expect(((await viewer.json()) as Answer).n).toBe(DECISIONS);
    const anonymous = await ope('split', { policies: [{ name: 'current' }] }, '');
    expect(anonymous.status).toBe(401);
  });

  it('croupier ope prints a table per policy and estimator, or the JSON', async () => {
    const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) =>
        execFile(
          process.execPath,
          [join(ROOT, 'bin', 'croupier.js'), 'ope', ...args, '--url', t.url],
          { env: { PATH: process.env.PATH ?? '', CROUPIER_ADMIN_TOKEN: VIEWER } },
          (error, stdout, stderr) =>
            resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        ),
      );
    const table = await run(['split', '--policy', 'arm:b', '--policy', 'mix:a=0.5,b=0.5', '--estimator', 'dr']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(
      new RegExp(`^route split: ${DECISIONS} logged outcomes since 7d, observed mean reward 0\\.\\d{4}$`, 'm'),
    );
    expect(table.stdout).toMatch(/^POLICY\s+ESTIMATOR\s+VALUE\s+95% CI\s+ESS$/m);
    expect(table.stdout).toMatch(/^arm:b\s+dr\s+0\.\d{4}\s+\[0\.\d{4}, 0\.\d{4}\]\s+\d+\.\d$/m);
    expect(table.stdout).toMatch(/^mix:a=0\.5,b=0\.5\s+dr\s+0\.\d{4}\s+\[/m);
    const json = await run(['explore', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const a = JSON.parse(json.stdout) as Answer;
    expect(a.policies.map((p) => p.name)).toEqual(['uniform', 'current']);
    expect(a.policies[0]!.notEvaluable).toMatch(/never explored/);
    const refused = await run(['split', '--policy', 'arm:zzz']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/no arm "zzz" on this route \(its arms: a, b\) \(400 invalid_request\)/);
    expect((await run(['split', '--policy', 'mix:a'])).code).toBe(2);
  });

  // Last: it stops the server.
  it('has every outcome answered before the server stops on disk after it stops, one compact line each', async () => {
    const decisions = await decide('quiet', 30);
    await reward(decisions, 3);
    stopped = true;
    await t.stop();
    const dir = join(stateDir, 'outcomes', 'quiet');
    const lines = readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
    expect(lines).toHaveLength(30);
    expect(JSON.parse(lines[0]!)).toMatchObject({ a: expect.stringMatching(/^[ab]$/), p: 0.5 });
  });
});
