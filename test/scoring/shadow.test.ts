/**
 * Shadow arms on the real server with real ONNX models: a copy of a share of a route's requests is
 * scored by the shadow's model after the served answer, never returned, compared with the served
 * score (agreement at the served version's threshold, score delta, latency) in /admin/monitor and
 * Prometheus; a slow or failing shadow model neither slows nor fails a served request; under a
 * flood copies are shed, never served requests; two Redis-mode replicas report the same numbers.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MonitorReport } from '../../src/monitoring/report.js';
import type { ShadowWindow } from '../../src/monitoring/shadow-counts.js';
import { describeRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { copyDemoModels, demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';
import { addFraudVersion, constantModel, failingModel, slowModel } from '../helpers/shadow-models.js';

const ADMIN = 'shadow-admin-token-1';
const TOKENS = { CROUPIER_ADMIN_TOKENS: `ops:${ADMIN}` };
/** The demo fraud model scores `row(seed)` between 0.6 and 1: a threshold in the middle splits them. */
const THRESHOLD = 0.9;
const ALWAYS = 0.99;

const served = (arms: object[] = []): object => ({
  policy: 'fixed',
  arms: [{ name: 'a', model: 'fraud', version: '1' }, ...arms],
});

/** The demo models with fraud@1's threshold at 0.9, and four shadow models as fraud versions 10 to 13. */
function shadowModels(): string {
  const dir = copyDemoModels();
  const path = join(dir, 'fraud', '1', 'model.json');
  const m = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  m.monitor = { score: 'probability', threshold: THRESHOLD, positive: 1 };
  writeFileSync(path, JSON.stringify(m));
  addFraudVersion(dir, '10', constantModel(ALWAYS));
  addFraudVersion(dir, '11', slowModel(100, 1024));
  addFraudVersion(dir, '12', failingModel());
  addFraudVersion(dir, '13', constantModel(ALWAYS), false);
  const routes = {
    plain: served(),
    mirror: served([{ name: 'always', model: 'fraud', version: '10', shadow: 1 }]),
    unscored: served([{ name: 'blind', model: 'fraud', version: '13', shadow: 1 }]),
    slow: served([{ name: 'slow', model: 'fraud', version: '11', shadow: 1 }]),
    failing: served([{ name: 'broken', model: 'fraud', version: '12', shadow: 1 }]),
    other: { policy: 'fixed', arms: [{ name: 'b', model: 'fraud', version: '11' }] },
  };
  writeFileSync(join(dir, 'routes.json'), JSON.stringify({ routes }));
  return dir;
}

const row = (seed: number): number[] => demoRow(seed).map((x, i) => (x - 0.5) * ((seed * 7 + i) % 3));

interface Answer {
  status: number;
  text: string;
  ms: number;
}

async function predict(url: string, route: string, features: number[]): Promise<Answer> {
  const started = performance.now();
  const res = await postJson(`${url}/v1/predict/${route}`, { features });
  const text = await res.text();
  return { status: res.status, text, ms: performance.now() - started };
}

async function report(url: string): Promise<MonitorReport> {
  const res = await fetch(`${url}/admin/monitor`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as MonitorReport;
}

/** The shadow arm's 1h window once `settled` holds (copies are scored after the answers): polled, with a deadline. */
async function shadowWindow(
  url: string,
  route: string,
  arm: string,
  settled: (w: ShadowWindow) => boolean,
): Promise<ShadowWindow> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const w = (await report(url)).routes[route]?.shadows?.[arm]?.windows['1h'].shadow;
    if (w && settled(w)) return w;
    if (Date.now() > deadline) throw new Error(`shadow ${route}/${arm} did not settle: ${JSON.stringify(w)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function metricValue(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

describe('shadow arms on a real server', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ ...TOKENS, CROUPIER_MODELS_DIR: shadowModels() });
  }, 60_000);
  afterAll(() => t?.stop());

  it('never returns the shadow answer; counts every comparison with the agreement a recount gives', async () => {
    const n = 60;
    let above = 0;
    let deltaSum = 0;
    for (let i = 0; i < n; i++) {
      const a = await predict(t.url, 'mirror', row(i));
      expect(a.status).toBe(200);
      const body = JSON.parse(a.text) as {
        arm: string;
        version: string;
        propensity: number;
        outputs: { probability: number[] };
      };
      expect(body.arm).toBe('a');
      expect(body.version).toBe('1');
      expect(body.propensity).toBe(1);
      expect(a.text).not.toContain('always');
      const score = body.outputs.probability[0]!;
      expect(score).not.toBeCloseTo(ALWAYS, 6);
      if (score >= THRESHOLD) above++;
      deltaSum += Math.abs(Math.fround(ALWAYS) - score);
    }
    // The rows straddle the threshold, so agreement is neither 0 nor 1 by construction.
    expect(above).toBeGreaterThan(0);
    expect(above).toBeLessThan(n);
    const w = await shadowWindow(t.url, 'mirror', 'always', (x) => x.comparisons >= n);
    expect(w.comparisons).toBe(n);
    expect(w.agreement).toBeCloseTo(above / n, 12);
    expect(w.meanAbsScoreDelta).toBeCloseTo(deltaSum / n, 5);
    expect(w.withoutScores).toBe(0);
    expect(w.shed + w.failed).toBe(0);
    expect(w.p99LatencyMs).toBeGreaterThan(0);

    const r = await report(t.url);
    const route = r.routes.mirror!;
    // No pull, no propensity: the policy and SRM see the served arm only.
    expect(Object.keys(route.arms)).toEqual(['a']);
    expect(route.arms.a!.windows['1h'].pulls).toBe(n);
    expect(route.shadows!.always).toMatchObject({ model: 'fraud', version: '10', share: 1 });
    expect(await metricValue(t.url, 'croupier_shadow_total{route="mirror",arm="always",agree="true"}')).toBe(above);
    expect(await metricValue(t.url, 'croupier_shadow_total{route="mirror",arm="always",agree="false"}')).toBe(
      n - above,
    );
    expect(await metricValue(t.url, 'croupier_shadow_score_delta_count{route="mirror",arm="always"}')).toBe(n);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).not.toMatch(/croupier_arm_pulls\{route="mirror",arm="always"\}/);
    // promtool, the real client, finds nothing to say about the shadow series.
    const check = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
    if (check.status !== null || process.env.CI === 'true') {
      expect(check.error).toBeUndefined();
      expect(`${check.stdout}${check.stderr}`.split('\n').filter((l) => l.includes('croupier_shadow'))).toEqual([]);
    }
  }, 60_000);

  it('counts a shadow without `monitor` as comparisons without agreement data', async () => {
    const n = 20;
    for (let i = 0; i < n; i++) expect((await predict(t.url, 'unscored', row(i))).status).toBe(200);
    const w = await shadowWindow(t.url, 'unscored', 'blind', (x) => x.comparisons >= n);
    expect(w).toMatchObject({ comparisons: n, withoutScores: n, agreement: null, meanAbsScoreDelta: null });
    expect(await metricValue(t.url, 'croupier_shadow_total{route="unscored",arm="blind",agree="unknown"}')).toBe(n);
  }, 60_000);

  it('answers every request of a route whose shadow model fails, and counts the failures', async () => {
    const n = 20;
    for (let i = 0; i < n; i++) {
      const features = row(i);
      features[0] = 5; // out of the failing model's table
      const a = await predict(t.url, 'failing', features);
      expect(a.status, a.text).toBe(200);
    }
    const w = await shadowWindow(t.url, 'failing', 'broken', (x) => x.failed + x.shed >= n);
    expect(w.comparisons).toBe(0);
    expect(w.failed + w.shed).toBe(n);
    expect(w.failed).toBeGreaterThan(0);
  }, 60_000);

  it('sheds copies, never served requests, under a flood', async () => {
    const before = await shadowWindow(t.url, 'slow', 'slow', () => true);
    const n = 400;
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => predict(t.url, 'slow', row(i))));
    expect(answers.filter((a) => a.status !== 200).map((a) => a.text)).toEqual([]);
    const settled = (x: ShadowWindow): number =>
      x.comparisons + x.shed + x.failed - (before.comparisons + before.shed + before.failed);
    const w = await shadowWindow(t.url, 'slow', 'slow', (x) => settled(x) >= n);
    expect(settled(w)).toBe(n);
    expect(w.shed - before.shed).toBeGreaterThan(0);
    expect(
      (await metricValue(t.url, 'croupier_shadow_shed_total{route="slow",arm="slow",reason="busy"}'))
        + (await metricValue(t.url, 'croupier_shadow_shed_total{route="slow",arm="slow",reason="bound"}')),
    ).toBe(w.shed);
  }, 120_000);

  it('scores copies for a shadow arm added by a route change, once its version is warm in the lane', async () => {
    const res = await fetch(`${t.url}/admin/routes/late`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify(served([{ name: 'new', model: 'fraud', version: '2', shadow: 1 }])),
    });
    expect(res.status).toBe(200);
    const deadline = Date.now() + 30_000;
    let sent = 0;
    let w: ShadowWindow | undefined;
    do {
      expect((await predict(t.url, 'late', row(sent++))).status).toBe(200);
      w = (await report(t.url)).routes.late?.shadows?.new?.windows['1h'].shadow;
    } while ((w?.comparisons ?? 0) === 0 && Date.now() < deadline);
    expect(w!.comparisons).toBeGreaterThan(0);
    expect(w!.agreement).not.toBeNull();
    w = await shadowWindow(t.url, 'late', 'new', (x) => x.comparisons + x.shed + x.failed >= sent);
    expect(w.comparisons + w.shed + w.failed).toBe(sent);
    expect(w.failed).toBe(0);
  }, 60_000);

  it('refuses bad shadow arms with a message that names the key', async () => {
    const put = (spec: object) =>
      fetch(`${t.url}/admin/routes/bad`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify(spec),
      });
    const cases: [object, RegExp][] = [
      [
        served([{ name: 's', model: 'fraud', version: '10', shadow: 0 }]),
        /arms\[1\]\.shadow must be a number in \(0, 1\]/,
      ],
      [
        served([{ name: 's', model: 'fraud', version: '10', shadow: 2 }]),
        /arms\[1\]\.shadow must be a number in \(0, 1\]/,
      ],
      [
        served([{ name: 's', model: 'fraud', version: '10', shadow: 'x' }]),
        /arms\[1\]\.shadow must be a number in \(0, 1\]/,
      ],
      [
        { policy: 'thompson', arms: [{ name: 's', model: 'fraud', version: '10', shadow: 0.5 }] },
        /every arm is a shadow/,
      ],
      [served([{ name: 's', model: 'fraud', version: '10', shadow: 0.5, weight: 1 }]), /shadow arm takes no weight/],
    ];
    for (const [spec, message] of cases) {
      const res = await put(spec);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.message).toMatch(message);
    }
    const routes = (await (
      await fetch(`${t.url}/admin/routes`, { headers: { authorization: `Bearer ${ADMIN}` } })
    ).json()) as { routes: Record<string, unknown> };
    expect(routes.routes.bad).toBeUndefined();
    expect(JSON.stringify(routes.routes.mirror)).toContain('"shadow":1');
  });
});

// Served by the main thread (the demo model is small enough: inline) and by the served workers.
describe.each([
  ['inline', {}],
  ['in the workers', { CROUPIER_INLINE_MAX_US: '0' }],
])('a slow shadow model, served %s', (_, env) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ ...TOKENS, ...env, CROUPIER_MODELS_DIR: shadowModels(), CROUPIER_LOG_LEVEL: 'info' });
  }, 60_000);
  afterAll(() => t?.stop());

  it('answers as fast as without it', async () => {
    const plain: number[] = [];
    const slow: number[] = [];
    for (let i = 0; i < 5; i++) await predict(t.url, 'slow', row(i));
    // Blocks of requests without and with copies, taken in turn so the machine's load weighs on both alike.
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 15; i++) plain.push((await predict(t.url, 'plain', row(i))).ms);
      for (let i = 0; i < 15; i++) {
        const a = await predict(t.url, 'slow', row(i));
        expect(a.status).toBe(200);
        slow.push(a.ms);
      }
    }
    const w = await shadowWindow(t.url, 'slow', 'slow', (x) => x.comparisons + x.shed + x.failed >= 65);
    expect(w.comparisons).toBeGreaterThan(0);
    // The shadow takes tens of ms a copy; the served answers do not wait for it.
    expect(w.p99LatencyMs!).toBeGreaterThan(5);
    expect(median(slow), `with copies ${median(slow)} ms, without ${median(plain)} ms`).toBeLessThan(
      median(plain) * 1.5 + 2,
    );
  }, 120_000);
});

describe('shadow arms under overload (served queues of 16 rows, in the workers)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({
      ...TOKENS,
      CROUPIER_MODELS_DIR: shadowModels(),
      CROUPIER_LOG_LEVEL: 'info',
      CROUPIER_INLINE_MAX_US: '0',
      CROUPIER_MAX_QUEUED_ROWS: '16',
    });
  }, 60_000);
  afterAll(() => t?.stop());

  it('makes no copy while a served queue refuses work; every request is answered', async () => {
    // Waves of requests on another route keep the slow model's queue saturated while requests to the
    // mirror route go on (both served by the one worker: the mirror answers are slow, not refused).
    const flood: Answer[] = [];
    const until = Date.now() + 3_000;
    const waves = (async () => {
      while (Date.now() < until)
        flood.push(...(await Promise.all(Array.from({ length: 64 }, (_, i) => predict(t.url, 'other', row(i))))));
    })();
    let done = false;
    void waves.finally(() => {
      done = true;
    });
    const mirrored: Answer[] = [];
    while (!done) mirrored.push(await predict(t.url, 'mirror', row(mirrored.length)));
    await waves;
    const refused = flood.filter((a) => a.status === 503);
    expect(flood.filter((a) => a.status === 200).length + refused.length).toBe(flood.length);
    // The flood did overload the served queue (else this test shows nothing).
    expect(refused.length).toBeGreaterThan(0);
    for (const a of refused) expect(JSON.parse(a.text).error.code).toBe('queue_full');
    expect(mirrored.filter((a) => a.status !== 200).map((a) => a.text)).toEqual([]);
    // One copy drawn per mirrored request (share 1): each is compared, shed or failed.
    const w = await shadowWindow(
      t.url,
      'mirror',
      'always',
      (x) => x.comparisons + x.shed + x.failed >= mirrored.length,
    );
    expect(w.comparisons + w.shed + w.failed).toBe(mirrored.length);
    const overload = await metricValue(
      t.url,
      'croupier_shadow_shed_total{route="mirror",arm="always",reason="overload"}',
    );
    expect(overload, JSON.stringify({ mirrored: mirrored.length, refused: refused.length, w })).toBeGreaterThan(0);
  }, 120_000);
});

describeRedis('shadow arms in Redis mode: two replicas report the same numbers', () => {
  let redis: TestRedis;
  const servers: TestServer[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    const models = shadowModels();
    for (let i = 0; i < 2; i++)
      servers.push(
        await startTestServer({
          ...TOKENS,
          CROUPIER_MODELS_DIR: models,
          CROUPIER_REDIS_URL: redis.url,
          CROUPIER_LOG_LEVEL: 'info',
        }),
      );
  }, 120_000);
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await redis?.stop();
  });

  it("sums both replicas' comparisons for either to report", async () => {
    const n = 40;
    let above = 0;
    for (let i = 0; i < n; i++) {
      const a = await predict(servers[i % 2]!.url, 'mirror', row(i));
      expect(a.status).toBe(200);
      if ((JSON.parse(a.text) as { outputs: { probability: number[] } }).outputs.probability[0]! >= THRESHOLD) above++;
    }
    const first = await shadowWindow(servers[0]!.url, 'mirror', 'always', (x) => x.comparisons >= n);
    const second = await shadowWindow(servers[1]!.url, 'mirror', 'always', (x) => x.comparisons >= n);
    expect(first.comparisons).toBe(n);
    expect(first.agreement).toBeCloseTo(above / n, 12);
    expect(second).toEqual(first);
  }, 120_000);
});
