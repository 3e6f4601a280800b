/**
 * Monitoring wired in, on real servers: predictions and labelled outcomes give the /admin/monitor
 * numbers a hand computation gives (pulls, outcomes, mean reward, confusion counts, precision,
 * SRM p-value), /series says the same per minute, the windows outlive a restart (embedded
 * snapshot), a viewer token reads but cannot change, and two Redis-mode replicas sharing one Redis
 * answer the same report when predictions went to one and outcomes to the other.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chiSquareSurvival } from '../../src/monitoring/statistics.js';
import type { MonitorReport } from '../../src/monitoring/report.js';
import { describeRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { copyDemoModels, demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

const ROUTE = 'fraud-ab';
const ADMIN = 'monitor-admin-token-1';
const VIEWER = 'monitor-viewer-token-1';
const TOKENS = { CROUPIER_ADMIN_TOKENS: `ops:${ADMIN},watcher:${VIEWER}:viewer` };
/** The demo fraud model scores these rows between 0.6 and 1: a threshold in the middle gives all four cells. */
const THRESHOLD = 0.9;

/** The demo models, fraud's versions with `monitor` (the sha256 is the ONNX file's: unchanged). */
function monitoredModels(): string {
  const dir = copyDemoModels();
  for (const v of ['1', '2']) {
    const path = join(dir, 'fraud', v, 'model.json');
    const m = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    m.monitor = { score: 'probability', threshold: THRESHOLD, positive: 1 };
    writeFileSync(path, JSON.stringify(m));
  }
  return dir;
}

interface Made {
  decision: string;
  arm: string;
  propensity: number;
  score: number;
}

async function predict(url: string, seed: number): Promise<Made> {
  const res = await postJson(`${url}/v1/predict/${ROUTE}`, {
    features: demoRow(seed).map((x, i) => (x - 0.5) * ((seed * 7 + i) % 3)),
  });
  expect(res.status).toBe(200);
  const b = (await res.json()) as {
    decision: string;
    arm: string;
    propensity: number;
    outputs: { probability: number[] };
  };
  return { decision: b.decision, arm: b.arm, propensity: b.propensity, score: b.outputs.probability[0]! };
}

interface ErrorBody {
  error: { code: string };
}
interface SeriesBody {
  minutes: { t: string; arms: Record<string, Record<string, number>> }[];
}
interface AuditBody {
  entries: { actor: string | null; result: string; action: string }[];
}

async function get<T = MonitorReport>(url: string, path: string, token = ADMIN): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as T };
}

interface Expected {
  pulls: Record<string, number>;
  propensity: Record<string, number>;
  outcomes: Record<string, number>;
  rewardSum: Record<string, number>;
  confusion: Record<string, { tp: number; fp: number; tn: number; fn: number }>;
}

/** Predictions on `predictUrl`, then labelled outcomes for two in three of them on `feedbackUrl`; what the report must say. */
async function traffic(predictUrl: string, feedbackUrl: string, n: number): Promise<Expected> {
  const made: Made[] = [];
  for (let i = 0; i < n; i++) made.push(await predict(predictUrl, i));
  const e: Expected = { pulls: {}, propensity: {}, outcomes: {}, rewardSum: {}, confusion: {} };
  for (const arm of ['a', 'b']) {
    e.pulls[arm] = 0;
    e.propensity[arm] = 0;
    e.outcomes[arm] = 0;
    e.rewardSum[arm] = 0;
    e.confusion[arm] = { tp: 0, fp: 0, tn: 0, fn: 0 };
  }
  const events: { decision: string; reward: number; label: number }[] = [];
  made.forEach((m, i) => {
    e.pulls[m.arm]! += 1;
    // Expected pulls: every arm's probability in every decision; with two arms the other's is 1 − p.
    e.propensity[m.arm]! += m.propensity;
    e.propensity[m.arm === 'a' ? 'b' : 'a']! += 1 - m.propensity;
    if (i % 3 === 2) return;
    const label = i % 4 === 0 || m.score > 0.97 ? 1 : 0;
    const reward = i % 5 === 0 ? 1 : 0;
    events.push({ decision: m.decision, reward, label });
    e.outcomes[m.arm]! += 1;
    e.rewardSum[m.arm]! += reward;
    const c = e.confusion[m.arm]!;
    const predicted = m.score >= THRESHOLD;
    if (predicted && label === 1) c.tp++;
    else if (predicted) c.fp++;
    else if (label === 1) c.fn++;
    else c.tn++;
  });
  const res = await postJson(`${feedbackUrl}/v1/feedback`, { events });
  const body = await res.text();
  expect(res.status, body).toBeLessThan(300);
  return e;
}

function expectReport(report: MonitorReport, e: Expected): void {
  const r = report.routes[ROUTE]!;
  for (const w of ['1h', '24h'] as const) {
    for (const arm of ['a', 'b']) {
      const a = r.arms[arm]!;
      expect(a.model).toBe('fraud');
      expect(a.disabled).toBe(false);
      const win = a.windows[w];
      expect(win.pulls).toBe(e.pulls[arm]);
      expect(win.outcomes).toBe(e.outcomes[arm]);
      expect(win.meanReward).toBeCloseTo(e.rewardSum[arm]! / e.outcomes[arm]!, 12);
      const c = e.confusion[arm]!;
      const l = win.labels!;
      expect({ tp: l.tp, fp: l.fp, tn: l.tn, fn: l.fn, n: l.n }).toEqual({ ...c, n: e.outcomes[arm] });
      expect(l.precision).toBe(c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : null);
      expect(l.recall).toBe(c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : null);
    }
    // Pearson's statistic of the pulls against the expected pulls, by hand; two arms: one degree of freedom.
    const total = e.pulls.a! + e.pulls.b!;
    const expectedTotal = e.propensity.a! + e.propensity.b!;
    let x = 0;
    for (const arm of ['a', 'b']) {
      const ex = (e.propensity[arm]! * total) / expectedTotal;
      x += (e.pulls[arm]! - ex) ** 2 / ex;
    }
    expect(r.srm[w].pValue).toBeCloseTo(chiSquareSurvival(x, 1), 10);
    expect(r.srm[w].srm).toBe(r.srm[w].pValue < 0.001);
  }
  expect(report.alerts).toEqual([]);
}

describe('monitoring, embedded mode', () => {
  let t: TestServer;
  let models: string;
  let stateDir: string;
  let expected: Expected;

  beforeAll(async () => {
    models = monitoredModels();
    stateDir = mkdtempSync(join(tmpdir(), 'croupier-monitor-state-'));
    t = await startTestServer({ ...TOKENS, CROUPIER_MODELS_DIR: models, CROUPIER_STATE_DIR: stateDir });
    expected = await traffic(t.url, t.url, 48);
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    rmSync(models, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('/admin/monitor equals a hand computation (viewer token)', async () => {
    const r = await get(t.url, '/admin/monitor', VIEWER);
    expect(r.status).toBe(200);
    expectReport(r.body, expected);
    // A route whose versions have no `monitor` reports rewards and no labels.
    expect(r.body.routes.checkout!.arms.default!.windows['1h'].labels).toBeUndefined();
    // Drift: every row the fraud versions scored is counted (fewer than 10,000 a second: no sampling).
    const fraud = r.body.models.fraud!;
    const rows = Object.values(fraud).reduce((n, v) => n + v.drift['1h'].rows, 0);
    expect(rows).toBe(expected.pulls.a! + expected.pulls.b!);
    for (const v of Object.values(fraud)) {
      expect(v.drift['24h'].sampled).toBe(false);
      if (v.drift['1h'].rows > 0) expect(Number.isFinite(v.drift['1h'].features.amount)).toBe(true);
    }
  });

  it('/admin/monitor/series gives the same sums per minute, and refuses bad parameters', async () => {
    const r = await get<SeriesBody>(t.url, `/admin/monitor/series?route=${ROUTE}&window=1h`, VIEWER);
    expect(r.status).toBe(200);
    expect(r.body.minutes).toHaveLength(60);
    expect(Date.parse(r.body.minutes[59]!.t)).toBeLessThanOrEqual(Date.now());
    for (const arm of ['a', 'b']) {
      const sum = (k: string) => r.body.minutes.reduce((s, m) => s + m.arms[arm]![k]!, 0);
      expect(sum('pulls')).toBe(expected.pulls[arm]);
      expect(sum('outcomes')).toBe(expected.outcomes[arm]);
      expect(sum('rewardSum')).toBe(expected.rewardSum[arm]);
      expect(sum('propensitySum')).toBeCloseTo(expected.propensity[arm]!, 9);
    }
    const unknown = await get<ErrorBody>(t.url, '/admin/monitor/series?route=nope&window=1h');
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'route_not_found']);
    const bad = await get<ErrorBody>(t.url, `/admin/monitor/series?route=${ROUTE}&window=7d`);
    expect([bad.status, bad.body.error.code]).toEqual([400, 'invalid_request']);
    const none = await get<ErrorBody>(t.url, '/admin/monitor/series');
    expect([none.status, none.body.error.code]).toEqual([400, 'invalid_request']);
  });

  it('counts labelled outcomes in croupier_outcome_labels_total and exposes the SRM p-value', async () => {
    await fetch(`${t.url}/metrics`).then((r) => r.text());
    const text = await (await fetch(`${t.url}/metrics`)).text();
    const c = expected.confusion.a!;
    const line = (predicted: string, actual: string) =>
      `croupier_outcome_labels_total{route="${ROUTE}",arm="a",model="fraud",version="1",predicted="${predicted}",actual="${actual}"}`;
    const value = (prefix: string) => {
      const l = text.split('\n').find((s) => s.startsWith(`${prefix} `));
      return l === undefined ? 0 : Number(l.slice(prefix.length + 1));
    };
    expect(value(line('negative', 'negative'))).toBe(c.tn);
    expect(value(line('negative', 'positive'))).toBe(c.fn);
    expect(value(line('positive', 'positive'))).toBe(c.tp);
    expect(value(line('positive', 'negative'))).toBe(c.fp);
    expect(text).toMatch(new RegExp(`croupier_route_srm_p_value\\{route="${ROUTE}",window="1h"\\} [0-9.e-]+`));
    // promtool, the real client, finds nothing to say about the new series.
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (check.status !== null || process.env.CI === 'true') {
      const findings = `${check.stdout}${check.stderr}`
        .split('\n')
        .filter((l) => /croupier_(outcome_labels|route_srm)/.test(l));
      expect(findings).toEqual([]);
    }
  });

  it('a viewer reads everything and changes nothing (403, audited as refused); whoami names the caller', async () => {
    expect((await get(t.url, '/admin/routes', VIEWER)).status).toBe(200);
    expect((await get(t.url, '/admin/audit', VIEWER)).status).toBe(200);
    const reset = await fetch(`${t.url}/admin/routes/${ROUTE}/reset`, {
      method: 'POST',
      headers: { authorization: `Bearer ${VIEWER}` },
    });
    expect(reset.status).toBe(403);
    expect(((await reset.json()) as ErrorBody).error.code).toBe('forbidden');
    const deploy = await postJson(
      `${t.url}/admin/models/fraud/deploy`,
      { version: '2' },
      { authorization: `Bearer ${VIEWER}` },
    );
    expect(deploy.status).toBe(403);
    // Nothing changed: the route's arms still have their pulls.
    const after = await get(t.url, '/admin/monitor', VIEWER);
    expect(after.body.routes[ROUTE]!.arms.a!.windows['1h'].pulls).toBe(expected.pulls.a);
    const audit = await get<AuditBody>(t.url, '/admin/audit?limit=5');
    const refused = audit.body.entries.filter((e) => e.actor === 'watcher' && e.result === 'refused');
    expect(refused.map((e) => e.action).sort()).toEqual(['deploy', 'routes.reset']);
    expect((await get<unknown>(t.url, '/admin/whoami', VIEWER)).body).toEqual({ name: 'watcher', role: 'viewer' });
    expect((await get<unknown>(t.url, '/admin/whoami')).body).toEqual({ name: 'ops', role: 'admin' });
  });

  it('a restart keeps the windows (the embedded snapshot)', async () => {
    await t.stop();
    t = await startTestServer({ ...TOKENS, CROUPIER_MODELS_DIR: models, CROUPIER_STATE_DIR: stateDir });
    const r = await get(t.url, '/admin/monitor');
    expectReport(r.body, expected);
  }, 60_000);
  it('the score kept with a decision outlives a restart: a label posted after it still joins', async () => {
    const made: Made[] = [];
    for (let i = 0; i < 6; i++) made.push(await predict(t.url, 200 + i));
    await t.stop();
    t = await startTestServer({ ...TOKENS, CROUPIER_MODELS_DIR: models, CROUPIER_STATE_DIR: stateDir });
    const before = (await get(t.url, '/admin/monitor')).body.routes[ROUTE]!.arms;
    const events = made.map((m) => ({ decision: m.decision, reward: 0, label: 0 }));
    expect((await postJson(`${t.url}/v1/feedback`, { events })).status).toBeLessThan(300);
    const after = (await get(t.url, '/admin/monitor')).body.routes[ROUTE]!.arms;
    for (const arm of ['a', 'b']) {
      const mine = made.filter((m) => m.arm === arm);
      const l0 = before[arm]!.windows['1h'].labels!;
      const l1 = after[arm]!.windows['1h'].labels!;
      // Every label is negative: each is a false positive or a true negative by the score kept.
      expect(l1.fp - l0.fp).toBe(mine.filter((m) => m.score >= THRESHOLD).length);
      expect(l1.tn - l0.tn).toBe(mine.filter((m) => m.score < THRESHOLD).length);
    }
  }, 60_000);
});

describeRedis('monitoring, Redis mode: two replicas on one Redis answer the same report', () => {
  let redis: TestRedis;
  let a: TestServer;
  let b: TestServer;
  let models: string;

  beforeAll(async () => {
    redis = await startRedis();
    models = monitoredModels();
    const env = { ...TOKENS, CROUPIER_MODELS_DIR: models, CROUPIER_REDIS_URL: redis.url, CROUPIER_LOG_LEVEL: 'info' };
    a = await startTestServer(env);
    b = await startTestServer(env);
  }, 60_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
    rmSync(models, { recursive: true, force: true });
  });

  it('predictions on one, outcomes on the other: both report the hand computation', async () => {
    const expected = await traffic(a.url, b.url, 36);
    // Each replica hands its counts to Redis once a second (and before its own reads).
    await sleep(1_500);
    const fromA = (await get(a.url, '/admin/monitor', VIEWER)).body;
    const fromB = (await get(b.url, '/admin/monitor', VIEWER)).body;
    expectReport(fromA, expected);
    expect(fromB).toEqual(fromA);
  }, 60_000);
});

describeRedis('monitoring, Redis mode: counts made while Redis is down are kept and stored when it is back', () => {
  let redis: TestRedis;
  let a: TestServer;
  let models: string;

  beforeAll(async () => {
    redis = await startRedis();
    models = monitoredModels();
    a = await startTestServer({
      ...TOKENS,
      CROUPIER_MODELS_DIR: models,
      CROUPIER_REDIS_URL: redis.url,
      CROUPIER_LOG_LEVEL: 'info',
    });
  }, 60_000);

  afterAll(async () => {
    await a?.stop();
    await redis?.stop();
    rmSync(models, { recursive: true, force: true });
  });

  it('pulls made during an outage are in the report once Redis answers again', async () => {
    const pulls = async (): Promise<number | undefined> => {
      const r = await get(a.url, '/admin/monitor');
      if (r.status !== 200) return undefined;
      const arms = r.body.routes[ROUTE]!.arms;
      return arms.a!.windows['1h'].pulls + arms.b!.windows['1h'].pulls;
    };
    for (let i = 0; i < 10; i++) await predict(a.url, i);
    expect(await pulls()).toBe(10);
    redis.kill();
    await sleep(200);
    for (let i = 0; i < 7; i++) await predict(a.url, 100 + i);
    // The apply of those pulls fails (more than one tick); reading answers 503, not 500.
    await sleep(1_500);
    const down = await get<ErrorBody>(a.url, '/admin/monitor');
    expect([down.status, down.body.error.code]).toEqual([503, 'state_unavailable']);
    await redis.restart();
    const deadline = Date.now() + 20_000;
    let seen: number | undefined;
    while (Date.now() < deadline) {
      seen = await pulls();
      if (seen === 17) break;
      await sleep(200);
    }
    expect(seen).toBe(17);
    const text = await (await fetch(`${a.url}/metrics`)).text();
    const failures = /^croupier_monitor_apply_failures_total (\d+)/m.exec(text);
    expect(Number(failures?.[1])).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^croupier_monitor_deltas_dropped_total 0$/m);
  }, 60_000);
});
