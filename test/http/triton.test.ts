/**
 * Triton's extensions against the real server: the model configuration perf_analyzer reads (and an
 * infer request built from it alone), statistics counted where batches run, the repository index,
 * and load/unload as admin actions — with the requests tritonclient sends, byte for byte.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, liveVersion, TOKEN } from '../admin/admin-client.js';
import { copyDemoModels, demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';
import { rawRequest, tritonGet, tritonPost } from './triton-client.js';

let t: TestServer;
let models: string;
beforeAll(async () => {
  models = copyDemoModels();
  // A version that is refused at start: the index lists it as UNAVAILABLE with the reason.
  mkdirSync(join(models, 'fraud', '3'));
  writeFileSync(join(models, 'fraud', '3', 'model.json'), '{"name": "fraud"');
  t = await startTestServer({
    CROUPIER_ADMIN_TOKEN: TOKEN,
    CROUPIER_MODELS_DIR: models,
    CROUPIER_MAX_BATCH: '16',
    CROUPIER_BATCH_DELAY_US: '300',
  });
});
afterAll(async () => {
  await t.stop();
  rmSync(models, { recursive: true, force: true });
});

const get = async <T = unknown>(path: string): Promise<{ status: number; body: T }> => {
  const res = await fetch(`${t.url}${path}`);
  return { status: res.status, body: (await res.json()) as T };
};

interface TritonTensor {
  name: string;
  data_type: string;
  dims: number[];
}
interface TritonConfig {
  name: string;
  platform: string;
  backend: string;
  max_batch_size: number;
  input: TritonTensor[];
  output: TritonTensor[];
  dynamic_batching: { preferred_batch_size: number[]; max_queue_delay_microseconds: number };
  version_policy: unknown;
  parameters: Record<string, { string_value: string }>;
}

/** The infer request perf_analyzer makes from a model's config alone: `-b rows`, every input. */
function requestFromConfig(config: TritonConfig, rows: number): unknown {
  return {
    inputs: config.input.map((input) => {
      const shape = [rows, ...input.dims];
      const size = shape.reduce((a, b) => a * b, 1);
      return {
        name: input.name,
        shape,
        datatype: input.data_type.replace(/^TYPE_/, ''),
        data: Array.from({ length: size }, (_, i) => (i % 10) / 10),
      };
    }),
  };
}

it('lists the extensions in the server metadata, by the names Triton gives them', async () => {
  const { extensions } = (await get<{ extensions: string[] }>('/v2')).body;
  expect(extensions).toEqual(expect.arrayContaining(['model_configuration', 'statistics', 'model_repository']));
});

describe('GET /v2/models/{m}/config', () => {
  it("answers Triton's model configuration with the field names perf_analyzer reads", async () => {
    const { status, body } = await get('/v2/models/fraud/config');
    expect(status).toBe(200);
    const config = body as TritonConfig;
    expect(config).toMatchObject({
      name: 'fraud',
      platform: 'onnxruntime_onnx',
      backend: 'onnxruntime',
      max_batch_size: 16,
      input: [{ name: 'features', data_type: 'TYPE_FP32', dims: [32], format: 'FORMAT_NONE' }],
      output: [{ name: 'probability', data_type: 'TYPE_FP32', dims: [1] }],
      dynamic_batching: { preferred_batch_size: [16], max_queue_delay_microseconds: 300 },
      version_policy: { all: {} },
      parameters: { version: { string_value: '1' } },
    });
    // perf_analyzer (src/model_parser.cc, ModelParser::InitTriton) takes each tensor's shape from the
    // metadata, dropping the first dimension when max_batch_size > 0, and fails with "no metadata
    // found for input tensor" when a config input or output has no metadata tensor of its name.
    type Tensor = { name: string; datatype: string; shape: number[] };
    const metadata = (await get('/v2/models/fraud')).body as { inputs: Tensor[]; outputs: Tensor[] };
    expect(config.input.map((i) => [i.name, i.data_type, i.dims])).toEqual(
      metadata.inputs.map((i) => [i.name, `TYPE_${i.datatype}`, i.shape.slice(1)]),
    );
    expect(config.output.map((o) => [o.name, o.data_type, o.dims])).toEqual(
      metadata.outputs.map((o) => [o.name, `TYPE_${o.datatype}`, o.shape.slice(1)]),
    );
    // No key that would make it take the model for another kind (sequence, ensemble, decoupled, cached).
    for (const key of ['sequence_batching', 'ensemble_scheduling', 'model_transaction_policy', 'response_cache'])
      expect(config, key).not.toHaveProperty(key);
  });

  it('is enough to build an infer request that the model takes, at every batch size up to max_batch_size', async () => {
    for (const name of ['fraud', 'ctr', 'mlp']) {
      const config = (await get(`/v2/models/${name}/config`)).body as TritonConfig;
      for (const rows of [1, config.max_batch_size]) {
        const res = await postJson(`${t.url}/v2/models/${name}/infer`, requestFromConfig(config, rows));
        expect(res.status, `${name} -b ${rows}: ${await res.clone().text()}`).toBe(200);
        const answer = (await res.json()) as { outputs: { name: string; shape: number[] }[] };
        expect(answer.outputs.map((o) => [o.name, o.shape])).toEqual(
          config.output.map((o) => [o.name, [rows, ...o.dims]]),
        );
      }
    }
  });

  it("describes the version asked for, and a route as its first arm's model", async () => {
    const v2 = (await get('/v2/models/fraud/versions/2/config')).body as TritonConfig;
    expect(v2.parameters.version).toEqual({ string_value: '2' });
    const route = await get('/v2/models/fraud-scoring/config');
    expect(route.status).toBe(200);
    expect(route.body).toMatchObject({ name: 'fraud-scoring', platform: 'croupier_route', max_batch_size: 16 });
  });

  it('is what tritonclient.get_model_config reads, byte for byte', async () => {
    const answer = await rawRequest(t.server.port, tritonGet(t.server.port, '/v2/models/fraud/config'));
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(JSON.parse(answer.body)).toMatchObject({ name: 'fraud', max_batch_size: 16 });
  });

  it('answers an unknown model or version 404 in the protocol form', async () => {
    expect(await get('/v2/models/nope/config')).toEqual({ status: 404, body: { error: 'no model named "nope"' } });
    expect(await get('/v2/models/fraud/versions/9/config')).toEqual({
      status: 404,
      body: { error: 'model "fraud" has no version "9"' },
    });
    expect(await get('/v2/models/fraud/versions/3/config')).toMatchObject({ status: 404 });
    expect(await get('/v2/models/..%2f..%2fetc/config')).toMatchObject({ status: 404 });
  });
});

interface Duration {
  count: number;
  ns: number;
}
interface ModelStats {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: Record<
    'success' | 'fail' | 'queue' | 'compute_input' | 'compute_infer' | 'compute_output' | 'cache_hit' | 'cache_miss',
    Duration
  >;
  batch_stats: { batch_size: number; compute_input: Duration; compute_infer: Duration; compute_output: Duration }[];
}
const statsOf = async (path: string): Promise<ModelStats[]> => {
  const { status, body } = await get(path);
  expect(status, JSON.stringify(body)).toBe(200);
  return (body as { model_stats: ModelStats[] }).model_stats;
};

describe('GET /v2/models[/{m}[/versions/{v}]]/stats', () => {
  it('counts each request, row and batch where inference happens, per version', async () => {
    const [before] = await statsOf('/v2/models/ctr/versions/1/stats');
    expect(before).toMatchObject({ name: 'ctr', version: '1' });
    const started = Date.now();
    const config = (await get('/v2/models/ctr/config')).body as TritonConfig;
    const sizes = [1, 3, 1, 2, 5, 1];
    const answers = await Promise.all(
      sizes.map((rows) => postJson(`${t.url}/v2/models/ctr/versions/1/infer`, requestFromConfig(config, rows))),
    );
    expect(answers.map((a) => a.status)).toEqual(sizes.map(() => 200));
    const [after] = await statsOf('/v2/models/ctr/versions/1/stats');
    const rows = sizes.reduce((a, b) => a + b, 0);
    const s = after!.inference_stats;
    const b = before!.inference_stats;
    expect(after!.inference_count - before!.inference_count).toBe(rows);
    const executions = after!.execution_count - before!.execution_count;
    expect(executions).toBeGreaterThanOrEqual(1);
    expect(executions).toBeLessThanOrEqual(sizes.length);
    expect(s.success.count - b.success.count).toBe(sizes.length);
    expect(s.queue.count - b.queue.count).toBe(sizes.length);
    expect(s.compute_infer.count - b.compute_infer.count).toBe(sizes.length);
    expect(s.success.ns).toBeGreaterThan(b.success.ns);
    expect(s.compute_infer.ns).toBeGreaterThan(b.compute_infer.ns);
    // A request's time covers its wait and its batch's run.
    expect(s.success.ns - b.success.ns).toBeGreaterThanOrEqual(s.compute_infer.ns - b.compute_infer.ns);
    expect(s.success.ns - b.success.ns).toBeGreaterThanOrEqual(s.queue.ns - b.queue.ns);
    expect([s.cache_hit, s.cache_miss]).toEqual([
      { count: 0, ns: 0 },
      { count: 0, ns: 0 },
    ]);
    expect(after!.last_inference).toBeGreaterThanOrEqual(started);
    expect(after!.last_inference).toBeLessThanOrEqual(Date.now());
    // Batch statistics add up to the executions and the rows.
    const runs = after!.batch_stats.reduce((n, x) => n + x.compute_infer.count, 0);
    expect(runs).toBe(after!.execution_count);
    expect(after!.batch_stats.reduce((n, x) => n + x.batch_size * x.compute_infer.count, 0)).toBe(
      after!.inference_count,
    );
    expect(after!.batch_stats.every((x) => x.compute_infer.ns > 0 && x.batch_size <= 16)).toBe(true);
    // perf_analyzer reads every count and ns with rapidjson's GetUint64 (ParseStatistics in
    // src/client_backend/triton/triton_client_backend.cc): whole, non-negative numbers only.
    for (const d of Object.values(s)) {
      expect(Number.isSafeInteger(d.count) && d.count >= 0).toBe(true);
      expect(Number.isSafeInteger(d.ns) && d.ns >= 0).toBe(true);
    }
  });

  it('counts a request dropped past its deadline as failed', async () => {
    const [before] = await statsOf('/v2/models/ctr/versions/1/stats');
    const config = (await get('/v2/models/ctr/config')).body as TritonConfig;
    const res = await postJson(`${t.url}/v2/models/ctr/infer`, requestFromConfig(config, 1), {
      'x-croupier-timeout-ms': '0',
    });
    expect(res.status).toBe(503);
    const [after] = await statsOf('/v2/models/ctr/versions/1/stats');
    expect(after!.inference_stats.fail.count - before!.inference_stats.fail.count).toBe(1);
    expect(after!.inference_count).toBe(before!.inference_count);
  });

  it('lists every loaded version, of one model or of all', async () => {
    const all = await statsOf('/v2/models/stats');
    expect(all.map((s) => `${s.name}@${s.version}`)).toEqual(['checkout@1', 'ctr@1', 'fraud@1', 'fraud@2', 'mlp@1']);
    const fraud = await statsOf('/v2/models/fraud/stats');
    expect(fraud.map((s) => s.version)).toEqual(['1', '2']);
  });

  it('is what tritonclient.get_inference_statistics reads, byte for byte', async () => {
    const answer = await rawRequest(t.server.port, tritonGet(t.server.port, '/v2/models/fraud/versions/2/stats'));
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ model_stats: [{ name: 'fraud', version: '2' }] });
  });

  it('answers an unknown model or version 404 in the protocol form', async () => {
    expect(await get('/v2/models/nope/stats')).toEqual({ status: 404, body: { error: 'no model named "nope"' } });
    expect(await get('/v2/models/fraud/versions/7/stats')).toEqual({
      status: 404,
      body: { error: 'model "fraud" has no version "7"' },
    });
    // Statistics are per model: a route's name is not one.
    expect((await get('/v2/models/fraud-scoring/stats')).status).toBe(404);
  });
});

interface IndexEntry {
  name: string;
  version: string;
  state: string;
  reason: string;
}

describe('POST /v2/repository/index', () => {
  it('lists every version in the repository, a refused one UNAVAILABLE with its reason (tritonclient, byte for byte)', async () => {
    // get_model_repository_index: request_body="", so no Content-Length and no Content-Type at all.
    const answer = await rawRequest(t.server.port, tritonPost(t.server.port, '/v2/repository/index', ''));
    expect(answer.status, answer.body).toBe(200);
    const index = JSON.parse(answer.body) as IndexEntry[];
    expect(index.filter((e) => e.state === 'READY').map((e) => `${e.name}@${e.version}`)).toEqual([
      'checkout@1',
      'ctr@1',
      'fraud@1',
      'fraud@2',
      'mlp@1',
    ]);
    const refused = index.find((e) => e.name === 'fraud' && e.version === '3');
    expect(refused).toMatchObject({ state: 'UNAVAILABLE' });
    expect(refused!.reason).toMatch(/model\.json/);
  });

  it('lists ready versions only with {"ready": true}, and needs no token', async () => {
    const res = await postJson(`${t.url}/v2/repository/index`, { ready: true });
    expect(res.status).toBe(200);
    const index = (await res.json()) as IndexEntry[];
    expect(index.every((e) => e.state === 'READY' && e.reason === '')).toBe(true);
    expect(index).toHaveLength(5);
  });

  it('refuses a bad body in the protocol form: 400, 413, 415', async () => {
    const post = (body: string | Uint8Array, type?: string) =>
      fetch(`${t.url}/v2/repository/index`, {
        method: 'POST',
        headers: type ? { 'content-type': type } : {},
        body,
      });
    for (const [body, message] of [
      ['{"ready": "yes"}', '"ready" must be true or false'],
      ['[true]', 'the body must be a JSON object'],
      ['{"ready": true', 'request body is not valid JSON'],
      ['{"models": 1}', 'the index request: unknown key "models" (known: ready, repository_name)'],
      ['{"repository_name": "other"}', 'Croupier has one model repository; send no "repository_name"'],
    ] as const) {
      const res = await post(body, 'application/json');
      expect([res.status, await res.json()], body).toEqual([400, { error: message }]);
    }
    const typed = await post('{}', 'text/plain');
    expect([typed.status, await typed.json()]).toEqual([
      415,
      { error: 'content type must be application/json, got "text/plain"' },
    ]);
    const huge = await post(Buffer.alloc(t.server.config.bodyLimit + 1, 0x20), 'application/json');
    expect(huge.status).toBe(413);
    expect(await huge.json()).toEqual({ error: expect.stringContaining('larger than') });
  });
});

describe('POST /v2/repository/models/{m}/load and /unload', () => {
  const bearer = { Authorization: `Bearer ${TOKEN}` };
  const send = async (path: string, body: string, headers: Record<string, string> = bearer) => {
    const answer = await rawRequest(t.server.port, tritonPost(t.server.port, path, body, headers));
    return { status: answer.status, body: JSON.parse(answer.body) as Record<string, unknown> };
  };
  /** The last `n` entries of load and unload (a deploy also audits the restart of the arms that follow `live`). */
  const auditTail = async (n: number) =>
    ((await admin(t, 'GET', '/admin/audit?limit=50')).body.entries as Record<string, unknown>[])
      .filter((e) => String(e.action).startsWith('repository.'))
      .slice(-n)
      .map((e) => ({
        action: e.action,
        target: e.target,
        actor: e.actor,
        result: e.result,
        status: e.status,
      }));

  it('need the admin token and refuse cross-site requests, audited, in the protocol form', async () => {
    expect(await send('/v2/repository/models/mlp/unload', '{}', {})).toEqual({
      status: 401,
      body: { error: expect.stringContaining('token') },
    });
    expect(await send('/v2/repository/models/mlp/load', '{}', { Authorization: 'Bearer wrong' })).toMatchObject({
      status: 401,
    });
    const crossSite = await send('/v2/repository/models/mlp/unload', '{}', {
      ...bearer,
      'Sec-Fetch-Site': 'cross-site',
    });
    expect(crossSite.status).toBe(403);
    expect(typeof crossSite.body.error).toBe('string');
    expect(await fetch(`${t.url}/v2/models/mlp/ready`).then((r) => r.status)).toBe(200);
  });

  it('unload takes a model out of service (tritonclient.unload_model, byte for byte) and load brings it back', async () => {
    const unloaded = await send('/v2/repository/models/mlp/unload', '{"parameters": {"unload_dependents": false}}');
    expect(unloaded).toEqual({ status: 200, body: { model: 'mlp', unloaded: ['1'] } });
    expect((await fetch(`${t.url}/v2/models/mlp/ready`)).status).toBe(503);
    const config = (await get('/v2/models/mlp/config')).body as TritonConfig;
    const refused = await postJson(`${t.url}/v2/models/mlp/infer`, requestFromConfig(config, 1));
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({ error: 'mlp@1 is not loaded' });
    const index = (await (await postJson(`${t.url}/v2/repository/index`, {})).json()) as IndexEntry[];
    expect(index.find((e) => e.name === 'mlp')).toMatchObject({ version: '1', state: 'UNAVAILABLE' });
    expect(await statsOf('/v2/models/mlp/stats')).toEqual([]);
    // No route may be pointed at it meanwhile: each of its requests would be a 503.
    const route = { policy: 'fixed', arms: [{ name: 'a', model: 'mlp', version: 'live', weight: 1 }] };
    const routed = await admin(t, 'PUT', '/admin/routes/mlp-only', route);
    expect([routed.status, routed.body.error?.code]).toEqual([409, 'conflict']);

    // load_model with neither config nor files: json.dumps({}).
    const loaded = await send('/v2/repository/models/mlp/load', '{}');
    expect(loaded.status, JSON.stringify(loaded.body)).toBe(200);
    expect(loaded.body).toMatchObject({ model: 'mlp', live: '1', loaded: ['1'] });
    expect((await fetch(`${t.url}/v2/models/mlp/ready`)).status).toBe(200);
    expect((await postJson(`${t.url}/v2/models/mlp/infer`, requestFromConfig(config, 2))).status).toBe(200);
    expect(await auditTail(2)).toEqual([
      { action: 'repository.unload', target: 'mlp', actor: 'admin', result: 'ok', status: 200 },
      { action: 'repository.load', target: 'mlp', actor: 'admin', result: 'ok', status: 200 },
    ]);
  });

  it('refuses to unload a model that a route serves (409), and changes nothing', async () => {
    const r = await send('/v2/repository/models/fraud/unload', '');
    expect(r).toEqual({
      status: 409,
      body: {
        error:
          'model "fraud" serves routes fraud-scoring, fraud-ab, fraud-contextual; change them (PUT /admin/routes/{route}) before unloading',
      },
    });
    expect((await postJson(`${t.url}/v1/predict/fraud-scoring`, { features: demoRow() })).status).toBe(200);
    expect(await auditTail(1)).toEqual([
      { action: 'repository.unload', target: 'fraud', actor: 'admin', result: 'refused', status: 409 },
    ]);
  });

  it('a load is a deploy: of parameters.version, else of the newest version in the folder', async () => {
    const two = await send('/v2/repository/models/fraud/load', '{"parameters": {"version": "2"}}');
    expect(two).toMatchObject({ status: 200, body: { model: 'fraud', live: '2', previous: '1', changed: true } });
    expect(await liveVersion(t)).toBe('2');
    expect(await auditTail(1)).toEqual([
      { action: 'repository.load', target: 'fraud', actor: 'admin', result: 'ok', status: 200 },
    ]);

    // The newest folder (3) is broken: the load fails with its reason and nothing moves.
    const broken = await send('/v2/repository/models/fraud/load', '{}');
    expect(broken.status).toBe(422);
    expect(broken.body.error).toMatch(/^fraud version 3 is refused/);
    expect(await liveVersion(t)).toBe('2');

    // As with Triton: copy a new version into the repository, then load the model. A folder
    // without a number is not a version Triton would pick, and is not picked here either.
    mkdirSync(join(models, 'fraud', 'drafts'));
    cpSync(join(models, 'fraud', '2'), join(models, 'fraud', '4'), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(models, 'fraud', '4', 'model.json'), 'utf8')) as { version: string };
    manifest.version = '4';
    writeFileSync(join(models, 'fraud', '4', 'model.json'), JSON.stringify(manifest));
    const four = await send('/v2/repository/models/fraud/load', '');
    expect(four).toMatchObject({ status: 200, body: { live: '4', previous: '2' } });
    const res = await postJson(
      `${t.url}/v2/models/fraud/infer`,
      requestFromConfig((await get<TritonConfig>('/v2/models/fraud/config')).body, 1),
    );
    expect(((await res.json()) as { model_version: string }).model_version).toBe('4');

    const back = await send('/v2/repository/models/fraud/load', '{"parameters": {"version": 1}}');
    expect(back).toMatchObject({ status: 200, body: { live: '1', previous: '4' } });
    // Loading what is live and loaded is a no-op, audited as one.
    expect(await send('/v2/repository/models/fraud/load', '{"parameters": {"version": "1"}}')).toMatchObject({
      status: 200,
      body: { changed: false },
    });
    expect(await auditTail(1)).toEqual([
      { action: 'repository.load', target: 'fraud', actor: 'admin', result: 'noop', status: 200 },
    ]);
  });

  it('refuses unknown models 404, bad bodies 400, other content types 415, in the protocol form', async () => {
    expect(await send('/v2/repository/models/nope/load', '{}')).toEqual({
      status: 404,
      body: { error: 'no model named "nope"' },
    });
    expect(await send('/v2/repository/models/nope/unload', '{}')).toMatchObject({ status: 404 });
    expect(await send('/v2/repository/models/fraud/load', '{"parameters": {"version": "99"}}')).toEqual({
      status: 404,
      body: { error: 'model "fraud" has no version "99"' },
    });
    expect(await send('/v2/repository/models/fraud/load', '{"parameters": {"version": "../1"}}')).toMatchObject({
      status: 404,
    });
    for (const body of [
      '[]',
      '{"parameters": []}',
      '{"parameters": {"version": true}}',
      '{"parameters": {"version": ""}}',
      '{"parameters": {"version": -1}}',
      '{"parameters": {"config": "{\\"max_batch_size\\": 8}"}}',
      '{"parameters": {"file:1/model.onnx": "AAAA"}}',
      '{"parameters": {"priority": 1}}',
      '{"model_name": "fraud"}',
      '{"parameters": ',
    ]) {
      const r = await send('/v2/repository/models/fraud/load', body);
      expect(r.status, body).toBe(400);
      expect(typeof r.body.error, body).toBe('string');
    }
    expect(await send('/v2/repository/models/mlp/unload', '{"parameters": {"unload_dependents": "no"}}')).toEqual({
      status: 400,
      body: { error: '"parameters.unload_dependents" must be true or false' },
    });
    expect(await send('/v2/repository/models/fraud/load', '{}', { ...bearer, 'Content-Type': 'text/plain' })).toEqual({
      status: 415,
      body: { error: 'content type must be application/json, got "text/plain"' },
    });
    expect(await liveVersion(t)).toBe('1');
    expect((await fetch(`${t.url}/v2/models/mlp/ready`)).status).toBe(200);
  });
});
