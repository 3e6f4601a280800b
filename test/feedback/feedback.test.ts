/** POST /v1/feedback over real HTTP: accepted, repeat, unknown, forged, expired, invalid, batches. */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecisionIds } from '../../src/feedback/decision-id.js';
import type { Verdict } from '../../src/feedback/feedback.js';
import { demoRow, postJson, startTestServer, type TestServer, embeddedLog } from '../helpers/server.js';

const fraud = (name: string, version: string) => ({ name, model: 'fraud', version });
const ROUTES = {
  routes: {
    'fraud-scoring': { policy: 'thompson', arms: [fraud('champion', 'live'), fraud('challenger', '2')] },
    short: { policy: 'fixed', feedbackWindow: 60, arms: [fraud('a', '1')] },
    revenue: { policy: 'thompson', reward: 'gaussian', arms: [fraud('a', '1'), fraud('b', '2')] },
    logged: { policy: 'fixed', logFeatures: true, arms: [fraud('a', '1')] },
  },
};

let t: TestServer;
let ids: DecisionIds;
beforeAll(async () => {
  const routesFile = join(mkdtempSync(join(tmpdir(), 'croupier-routes-')), 'routes.json');
  writeFileSync(routesFile, JSON.stringify(ROUTES));
  t = await startTestServer({ CROUPIER_ROUTES: routesFile });
  ids = DecisionIds.fromFile(join(t.stateDir, 'decision-secret'));
});
afterAll(async () => {
  await t.stop();
});

async function decide(route = 'fraud-scoring', features: unknown = demoRow()): Promise<string> {
  const res = await postJson(`${t.url}/v1/predict/${route}`, { features });
  expect(res.status).toBe(200);
  return ((await res.json()) as { decision: string }).decision;
}
const feedback = (body: unknown, headers?: Record<string, string>) => postJson(`${t.url}/v1/feedback`, body, headers);
const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

describe('POST /v1/feedback', () => {
  it('accepts an outcome once (202), then answers a repeat 200 and changes nothing', async () => {
    const id = await decide();
    const first = await feedback({ decision: id, reward: 1, label: 1 });
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ accepted: 1 });
    const route = t.server.gateway.router.get('fraud-scoring')!;
    const rewards = route.stats.reduce((s, a) => s + a.rewardTotal, 0);
    const repeat = await feedback({ decision: id, reward: 0 });
    expect(repeat.status).toBe(200);
    expect(await repeat.json()).toMatchObject({ accepted: 0, result: 'duplicate' });
    expect(route.stats.reduce((s, a) => s + a.rewardTotal, 0)).toBe(rewards);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(
      /croupier_feedback_total\{route="fraud-scoring",arm="(champion|challenger)",result="accepted"\} 1/,
    );
    expect(metrics).toMatch(
      /croupier_feedback_total\{route="fraud-scoring",arm="(champion|challenger)",result="duplicate"\} 1/,
    );
    expect(metrics).toMatch(/croupier_arm_selection_probability\{route="fraud-scoring",arm="champion"\} 0\.\d+/);
  });

  it('judges outcomes sent at once each on its own: forged ids among genuine ones, a repeat in the same burst', async () => {
    const decided = await Promise.all(Array.from({ length: 6 }, () => decide()));
    const forged = decided[0]!.slice(0, 20) + (decided[0]![20] === 'A' ? 'B' : 'A') + decided[0]!.slice(21);
    const burst = [
      decided[0],
      forged,
      decided[1],
      'nonsense',
      decided[2],
      decided[2],
      decided[3],
      decided[4],
      decided[5],
    ];
    const answers = await Promise.all(burst.map((decision) => feedback({ decision, reward: 1 })));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(6);
    expect([statuses[1], statuses[3]]).toEqual([404, 404]);
    expect([statuses[4], statuses[5]].sort()).toEqual([200, 202]);
  });

  it('answers 404 for forged, malformed and never-issued ids', async () => {
    const id = await decide();
    const forged = id.slice(0, 20) + (id[20] === 'A' ? 'B' : 'A') + id.slice(21);
    for (const decision of [forged, 'nonsense', ids.mint()]) {
      const res = await feedback({ decision, reward: 1 });
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe('decision_not_found');
    }
  });

  it('answers 410 past the feedback window, from the time in the id', async () => {
    const old = ids.mint(Date.now() - 2 * 86_400_000);
    const res = await feedback({ decision: old, reward: 1 });
    expect(res.status).toBe(410);
    expect(await errorCode(res)).toBe('decision_expired');
    // A held decision on a route with a 60 s window, judged 61 s later.
    const id = await decide('short');
    const [verdict] = await new Promise<Verdict[]>((resolve, reject) => {
      t.server.feedbackLoop.feedback.receive(
        [{ decision: id, reward: 1, label: undefined }],
        { verdicts: resolve, failed: reject },
        Date.now() + 61_000,
      );
    });
    expect(verdict).toMatchObject({ result: 'expired', code: 'decision_expired' });
  });

  it('answers 400 for invalid events, reward_out_of_range on a Bernoulli route only', async () => {
    const id = await decide();
    const out = await feedback({ decision: id, reward: 1.5 });
    expect(out.status).toBe(400);
    expect(await errorCode(out)).toBe('reward_out_of_range');
    for (const body of [
      { decision: id, reward: 'yes' },
      { decision: id },
      { decision: id, reward: 1, extra: 1 },
      [1],
      { decision: 5, reward: 1 },
    ]) {
      const res = await feedback(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await errorCode(res)).toBe('invalid_request');
    }
    expect((await feedback('{"decision":')).status).toBe(400);
    expect((await feedback({ decision: id, reward: 1 }, { 'content-type': 'text/plain' })).status).toBe(415);
    // The decision is still waiting: the bad events changed nothing.
    expect((await feedback({ decision: id, reward: 0.25 })).status).toBe(202);
    expect((await feedback({ decision: await decide('revenue'), reward: 1234.5 })).status).toBe(202);
  });

  it('judges each event of a batch and lists those not accepted', async () => {
    const [a, b, c] = [await decide(), await decide(), await decide()];
    await feedback({ decision: c, reward: 1 });
    const res = await feedback({
      events: [
        { decision: a, reward: 1 },
        { decision: b, reward: 7 },
        { decision: 'forged', reward: 1 },
        { reward: 1 },
        { decision: c, reward: 1 },
        { decision: b, reward: 0 },
      ],
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as {
      accepted: number;
      results: { index: number; result: string; message: string }[];
    };
    expect(body.accepted).toBe(2);
    expect(body.results.map((r) => [r.index, r.result])).toEqual([
      [1, 'invalid'],
      [2, 'unknown'],
      [3, 'invalid'],
      [4, 'duplicate'],
    ]);
    expect(body.results.every((r) => typeof r.message === 'string')).toBe(true);
    const none = await feedback({ events: [{ decision: a, reward: 1 }] });
    expect(none.status).toBe(200);
    expect(await none.json()).toMatchObject({ accepted: 0, results: [{ index: 0, result: 'duplicate' }] });
    expect((await feedback({ events: [] })).status).toBe(200);
    expect((await feedback({ events: { decision: a, reward: 1 } })).status).toBe(400);
    expect(
      (await feedback({ events: Array.from({ length: 10_001 }, () => ({ decision: a, reward: 1 })) })).status,
    ).toBe(400);
  });

  it('journals decisions behind the answer, with features only where the route logs them', async () => {
    const row = demoRow(3);
    const logged = await decide('logged', row);
    const plain = await decide('fraud-scoring', row);
    const store = embeddedLog(t.server).decisions;
    expect(store.get(logged)!.features).toEqual(row);
    expect(store.get(plain)!.features).toBeUndefined();
    expect(store.get(plain)!.sha256).toMatch(/^[0-9a-f]{64}$/);
    const journal = () =>
      readdirSync(t.stateDir)
        .filter((f) => f.startsWith('journal-'))
        .map((f) => readFileSync(join(t.stateDir, f), 'utf8'))
        .join('');
    const deadline = Date.now() + 1000;
    while (!journal().includes(plain) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const lines = journal()
      .split('\n')
      .filter((l) => l.includes(logged) || l.includes(plain))
      .map((l) => JSON.parse(l) as { f?: unknown });
    expect(lines).toHaveLength(2);
    expect(lines.filter((l) => l.f !== undefined)).toHaveLength(1);
  });
});
