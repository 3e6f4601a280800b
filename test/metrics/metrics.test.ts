/** /metrics is valid Prometheus text (checked by promtool, the real client) with bounded labels. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import onnxProto from 'onnx-proto';
import { LATENCY_BUCKETS } from '../../src/metrics/metrics.js';
import { tinyModel, writeVersion } from '../helpers/onnx.js';
import { describeRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { copyDemoModels, demoRow, postJson, ROOT, startTestServer, type TestServer } from '../helpers/server.js';

const promtool = spawnSync('promtool', ['--version']).status === 0;
if (!promtool && process.env.CI === 'true')
  throw new Error('promtool is required under CI=true (apt-get install prometheus); .ci/run installs it');

const { onnx } = onnxProto;
const TOKEN = 'metrics-test-token';
const { version: VERSION } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const fp32 = (seed = 1) => ({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: demoRow(seed) }] });

/** Every finding of `promtool check metrics` on the whole page ("" when it has none). */
function promtoolFindings(text: string): string {
  const out = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return `${out.stdout}${out.stderr}${out.status === 0 ? '' : `(exit ${out.status})`}`;
}

/** The value of one series line (name and labels exactly as printed), undefined when absent. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Traffic on every kind of series: /v1 predict and feedback, /v2 by route, model and version, errors, admin. */
async function traffic(url: string): Promise<void> {
  const predicted = await postJson(`${url}/v1/predict/fraud-scoring`, { features: demoRow(), unit: 'user-1' });
  expect(predicted.status).toBe(200);
  const { decision } = (await predicted.json()) as { decision: string };
  expect((await postJson(`${url}/v1/feedback`, { decision, reward: 1 })).status).toBe(202);
  expect((await postJson(`${url}/v1/feedback`, { decision, reward: 1 })).status).toBe(200);
  const answers = await Promise.all([
    postJson(`${url}/v1/feedback`, { decision: 'not-a-decision', reward: 1 }),
    postJson(`${url}/v1/predict/no-such-route-${Date.now()}`, { features: demoRow() }),
    postJson(`${url}/v1/predict/fraud-scoring`, { features: 'nope' }),
    postJson(`${url}/v2/models/ctr/infer`, fp32()),
    postJson(`${url}/v2/models/fraud/infer`, fp32()),
    postJson(`${url}/v2/models/fraud/versions/2/infer`, fp32()),
    postJson(`${url}/v2/models/fraud/versions/2/infer`, {
      inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: [Number.NaN] }],
    }),
    postJson(`${url}/v2/models/fraud/versions/77/infer`, fp32()),
    postJson(`${url}/v2/models/no-such-model/infer`, fp32()),
    postJson(`${url}/v2/models/fraud-ab/infer`, fp32()),
  ]);
  expect(answers.map((r) => r.status)).toEqual([404, 404, 400, 200, 200, 200, 400, 404, 404, 200]);
  const admin = { authorization: `Bearer ${TOKEN}` };
  expect((await fetch(`${url}/admin/models`, { headers: admin })).status).toBe(200);
  expect((await postJson(`${url}/admin/models/fraud/deploy`, { version: '1' }, admin)).status).toBe(200);
  expect((await postJson(`${url}/admin/models/fraud/deploy`, { version: '404' }, admin)).status).toBe(404);
  expect((await fetch(`${url}/admin/models`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
}

describe('GET /metrics', () => {
  let t: TestServer;
  let models: string;
  let text: string;
  beforeAll(async () => {
    // A version the checks refuse at start (and again when someone deploys it): a load failure.
    models = copyDemoModels();
    mkdirSync(join(models, 'fraud', '9'));
    writeFileSync(join(models, 'fraud', '9', 'model.json'), '{"name": "fraud", "version": "9"');
    // One that passes the checks but not ONNX Runtime (an operator it does not have), beside a good one.
    writeVersion(models, 'tiny', '1', tinyModel());
    const unknownOp = onnx.ModelProto.decode(tinyModel());
    unknownOp.graph!.node![0]!.opType = 'NoSuchOperator';
    writeVersion(models, 'tiny', '2', onnx.ModelProto.encode(unknownOp).finish());
    t = await startTestServer({ CROUPIER_MODELS_DIR: models, CROUPIER_ADMIN_TOKEN: TOKEN });
    await traffic(t.url);
    const refused = await postJson(
      `${t.url}/admin/models/fraud/deploy`,
      { version: '9' },
      { authorization: `Bearer ${TOKEN}` },
    );
    expect(refused.status).toBeGreaterThanOrEqual(400);
    const failed = await postJson(
      `${t.url}/admin/models/tiny/deploy`,
      { version: '2' },
      { authorization: `Bearer ${TOKEN}` },
    );
    expect(failed.status).toBeGreaterThanOrEqual(400);
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    text = await res.text();
  });
  afterAll(async () => {
    await t?.stop();
    rmSync(models, { recursive: true, force: true });
  });

  it.skipIf(!promtool)('the whole page passes promtool check metrics', () => {
    expect(promtoolFindings(text)).toBe('');
  });

  it('exports the serving series with bounded labels', () => {
    for (const series of [
      'croupier_requests_total',
      'croupier_request_duration_seconds_bucket',
      'croupier_inference_duration_seconds_bucket',
      'croupier_batch_size_bucket',
      'croupier_queue_depth',
      'croupier_model_info',
      'croupier_feedback_total',
    ]) {
      expect(text).toContain(series);
    }
    expect(text).toMatch(
      /croupier_requests_total\{route="fraud-scoring",arm="(champion|challenger)",model="fraud",version="[12]",code="200"\} 1/,
    );
    expect(text).toMatch(/croupier_requests_total\{route="unknown",arm="",model="",version="",code="404"\} 2/);
    expect(text).toMatch(/croupier_model_info\{model="fraud",version="1",sha256="[0-9a-f]{64}",live="true"\} 1/);
    expect(text).toMatch(/croupier_model_info\{model="fraud",version="2",sha256="[0-9a-f]{64}",live="false"\} 1/);
    expect(text).not.toContain('user-1');
    expect(text).not.toContain('no-such-route');
    expect(text).not.toContain('no-such-model');
    expect(text).not.toContain('"77"');
    expect(text).not.toContain('not-a-decision');
    // prom-client's *_total gauges (refused by promtool) are gone; their labelled twins stay.
    expect(text).not.toContain('nodejs_active_handles_total');
    expect(text).toContain('nodejs_active_handles{');
  });

  it('labels direct /v2 calls and their errors with the model and version', () => {
    const direct = (labels: string) => value(text, `croupier_requests_total{route="",arm="",${labels}}`);
    expect(direct('model="ctr",version="1",code="200"')).toBe(1);
    expect(direct('model="fraud",version="1",code="200"')).toBe(1);
    expect(direct('model="fraud",version="2",code="200"')).toBe(1);
    expect(direct('model="fraud",version="2",code="400"')).toBe(1);
    // A known model, a version it does not have: the model is known, the version is not a label value.
    expect(direct('model="fraud",version="",code="404"')).toBe(1);
    expect(text).not.toMatch(/croupier_requests_total\{route="",arm="",model="",/);
    expect(text).toMatch(
      /croupier_requests_total\{route="fraud-ab",arm="[ab]",model="fraud",version="[12]",code="200"\} 1/,
    );
  });

  it('documents every croupier_ series it exports, and the latency buckets as they are', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8');
    const exported = [...text.matchAll(/^# TYPE (croupier_\w+) /gm)].map((m) => m[1]!);
    expect(exported.length).toBeGreaterThan(15);
    expect(exported.filter((name) => !doc.includes(`\`${name}`))).toEqual([]);
    expect(doc).toContain(`\n${LATENCY_BUCKETS.join(' ')} +Inf\n`);
  });

  it('has latency buckets from 50 µs to 10 s', () => {
    for (const series of ['croupier_request_duration_seconds', 'croupier_inference_duration_seconds']) {
      const bounds = [...text.matchAll(new RegExp(`^${series}_bucket\\{le="([^"]+)"`, 'gm'))].map((m) => m[1]);
      expect(bounds[0]).toBe('0.00005');
      expect(bounds).toContain('10');
      expect(bounds.at(-1)).toBe('+Inf');
    }
  });

  it('says what runs, what is in flight, what failed to load and what admins did', () => {
    const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
    const revision = head.status === 0 ? head.stdout.trim() : '';
    expect(
      value(text, `croupier_build_info{version="${VERSION}",node="${process.version}",revision="${revision}"}`),
    ).toBe(1);
    // The scrape itself is in flight while the page is made.
    expect(value(text, 'croupier_requests_in_flight')).toBe(1);
    // Refused by the checks at start, then again when deployed.
    expect(value(text, 'croupier_model_load_failures_total{model="fraud",reason="invalid"}')).toBe(2);
    // Refused by ONNX Runtime at start, then again when deployed.
    expect(value(text, 'croupier_model_load_failures_total{model="tiny",reason="runtime"}')).toBe(2);
    expect(value(text, 'croupier_admin_actions_total{action="models.list",result="ok"}')).toBe(1);
    expect(value(text, 'croupier_admin_actions_total{action="deploy",result="noop"}')).toBe(1);
    expect(value(text, 'croupier_admin_actions_total{action="deploy",result="refused"}')).toBe(3);
    expect(value(text, 'croupier_admin_refused_total{reason="wrong_token"}')).toBe(1);
  });

  it('drops the series of a version once it is unloaded, and counts it from zero if it comes back', async () => {
    const v2 = 'model="fraud",version="2"';
    const before = await (await fetch(`${t.url}/metrics`)).text();
    expect(before).toContain(`croupier_batch_size_count{${v2}}`);
    expect(before).toContain(`croupier_queue_depth{${v2}}`);
    expect(before).toMatch(new RegExp(`croupier_requests_total\\{[^}]*${v2}`));
    await t.server.gateway.engine.unload('fraud@2');
    const after = await (await fetch(`${t.url}/metrics`)).text();
    // croupier_model_info follows the repository; croupier_drift_psi is a window over rows already
    // scored, reported for every version of the repository (as /admin/monitor does) until it empties.
    const left = after
      .split('\n')
      .filter((l) => l.includes(v2) && !l.startsWith('croupier_model_info') && !l.startsWith('croupier_drift_psi'));
    expect(left).toEqual([]);
    expect(after).toMatch(/croupier_batch_size_count\{model="fraud",version="1"\} [1-9]/);

    const fraud2 = t.server.gateway.registry.model('fraud')!.versions.get('2')!;
    await t.server.gateway.engine.load(fraud2);
    expect((await postJson(`${t.url}/v2/models/fraud/versions/2/infer`, fp32())).status).toBe(200);
    const again = await (await fetch(`${t.url}/metrics`)).text();
    expect(value(again, `croupier_requests_total{route="",arm="",${v2},code="200"}`)).toBe(1);
    expect(value(again, `croupier_batch_size_count{${v2}}`)).toBe(1);
  });
});

describeRedis('GET /metrics in Redis mode', () => {
  let redis: TestRedis;
  let t: TestServer;
  beforeAll(async () => {
    redis = await startRedis();
    t = await startTestServer({
      CROUPIER_REDIS_URL: redis.url,
      CROUPIER_ADMIN_TOKEN: TOKEN,
      CROUPIER_LOG_LEVEL: 'info',
    });
  });
  afterAll(async () => {
    await t?.stop();
    await redis?.stop();
  });

  it.skipIf(!promtool)('the whole page passes promtool check metrics', async () => {
    await traffic(t.url);
    const text = await (await fetch(`${t.url}/metrics`)).text();
    expect(value(text, 'croupier_redis_up')).toBe(1);
    expect(text).toMatch(/croupier_feedback_total\{route="fraud-scoring",arm="\w+",result="accepted"\} 1/);
    expect(promtoolFindings(text)).toBe('');
  });
});

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.stop();
});

describe('logs', () => {
  it('carry x-request-id and traceparent, and never feature values or tokens', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await postJson(
      `${t.url}/v1/predict/fraud-scoring`,
      { features: demoRow(9), unit: 'u' },
      { traceparent, 'x-request-id': 'client-req-7', authorization: 'Bearer sekrit-token' },
    );
    expect(res.headers.get('x-request-id')).toBe('client-req-7');
    const generated = await postJson(`${t.url}/v1/predict/fraud-scoring`, { features: demoRow(9) });
    expect(generated.headers.get('x-request-id')).toMatch(/^[\w-]+$/);
    const entry = t.logs.find((l) => l.requestId === 'client-req-7');
    expect(entry).toMatchObject({ traceparent, status: 200 });
    const all = JSON.stringify(t.logs);
    expect(all).not.toContain('sekrit-token');
    expect(all).not.toContain(String(demoRow(9)[3]) + ',' + String(demoRow(9)[4]));
  });
});
