/**
 * Structured fuzzing of every endpoint: valid requests with one part replaced by something hostile
 * (wrong types, NaN/Infinity spellings, huge or negative numbers, prototype keys, deep nesting),
 * path tricks, and binary-extension header lengths that lie. Every answer must be JSON with a 2xx or
 * a 4xx/503 status (never 500), nothing live may change, and the server must go on serving.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_MODELS, demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';
import { admin, liveVersion, TOKEN } from '../admin/admin-client.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN });
});
afterAll(async () => {
  await t.stop();
});

let seed = 20261129;
const rnd = (): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const pickOne = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

const HOSTILE_STRINGS = [
  '',
  'x',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '\u0000',
  '../../../etc/passwd',
  '%2e%2e%2f',
  'a'.repeat(5000),
  '__proto__',
  '💥',
  'FP32',
  'live',
];
const KEYS = [
  'features',
  'unit',
  'inputs',
  'outputs',
  'name',
  'shape',
  'datatype',
  'data',
  'parameters',
  'decision',
  'reward',
  'events',
  'label',
  'binary_data_size',
  '__proto__',
  'constructor',
  'version',
  'arms',
  'policy',
  'weight',
];

function hostile(depth = 0): unknown {
  switch (Math.floor(rnd() * (depth > 2 ? 5 : 8))) {
    case 0:
      return null;
    case 1:
      return rnd() < 0.5;
    case 2:
      return pickOne([0, -1, 1e308, -1e-308, 2 ** 53 + 1, 0.5, -0, 1e9, 4294967296, -2147483649]);
    case 3:
      return pickOne(HOSTILE_STRINGS);
    case 4:
      return Math.floor(rnd() * 40) - 5;
    case 5:
      return Array.from({ length: Math.floor(rnd() * 5) }, () => hostile(depth + 1));
    case 6:
      return Object.fromEntries(
        Array.from({ length: Math.floor(rnd() * 4) }, () => [pickOne(KEYS), hostile(depth + 1)]),
      );
    default:
      return Array.from({ length: 33 }, () => hostile(depth + 3));
  }
}

/** A copy of `value` with one randomly chosen node (possibly the whole) replaced by something hostile. */
function mutate(value: unknown): unknown {
  if (rnd() < 0.1 || value === null || typeof value !== 'object') return hostile();
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value)
    ? [...value]
    : { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (keys.length === 0 || rnd() < 0.15) {
    (copy as Record<string, unknown>)[pickOne(KEYS)] = hostile();
    return copy;
  }
  const k = pickOne(keys);
  (copy as Record<string, unknown>)[k] = mutate((copy as Record<string, unknown>)[k]);
  return copy;
}

/** JSON.stringify, with NaN/Infinity spelled out as some clients do (invalid JSON, must be 400). */
function serialise(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return rnd() < 0.1 ? text.replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/i, pickOne(['NaN', 'Infinity', '-Infinity'])) : text;
}

const infer = { inputs: [{ name: 'features', shape: [1, 32], datatype: 'FP32', data: demoRow() }] };
/** The categorical demo: string (BYTES) and number inputs. */
const checkout = {
  inputs: [
    { name: 'country', shape: [2, 1], datatype: 'BYTES', data: ['FR', 'NG'] },
    { name: 'channel', shape: [2, 1], datatype: 'BYTES', data: ['app', 'web'] },
    { name: 'amount', shape: [2, 1], datatype: 'FP32', data: [10, 500] },
  ],
};

async function expectJsonAnswer(res: Response, what: string): Promise<void> {
  expect(res.status, what).not.toBe(500);
  expect((res.status >= 200 && res.status < 500) || res.status === 503, `${what}: ${res.status}`).toBe(true);
  const text = await res.text();
  if (res.status !== 204) expect(() => JSON.parse(text), `${what}: ${text.slice(0, 200)}`).not.toThrow();
}

async function expectHealthy(): Promise<void> {
  const res = await postJson(`${t.url}/v1/predict/fraud-scoring`, { features: demoRow(), unit: 'u' });
  expect(res.status).toBe(200);
  const decision = ((await res.json()) as { decision: string }).decision;
  expect((await postJson(`${t.url}/v1/feedback`, { decision, reward: 1 })).status).toBe(202);
}

describe('fuzz every endpoint', () => {
  it('mutated scoring and feedback bodies get JSON answers, never a 500', async () => {
    const { decision } = (await (
      await postJson(`${t.url}/v1/predict/fraud-scoring`, { features: demoRow() })
    ).json()) as { decision: string };
    const targets: [string, unknown][] = [
      ['/v1/predict/fraud-scoring', { features: demoRow(), unit: 'user-1' }],
      ['/v1/predict/ctr', { features: [demoRow(2), demoRow(3)] }],
      ['/v2/models/fraud/infer', infer],
      ['/v2/models/fraud/versions/1/infer', infer],
      ['/v2/models/fraud-scoring/infer', infer],
      ['/v1/predict/checkout', { features: [{ country: 'FR', channel: 'app', amount: 10 }, ['NG', 'web', 1]] }],
      ['/v2/models/checkout/infer', checkout],
      ['/v1/feedback', { decision, reward: 1 }],
      ['/v1/feedback', { events: [{ decision, reward: 0.5, label: 'click' }] }],
    ];
    for (let i = 0; i < 400; i++) {
      const [path, valid] = targets[i % targets.length]!;
      const body = serialise(mutate(valid));
      await expectJsonAnswer(await postJson(`${t.url}${path}`, body), `${path} ${body.slice(0, 200)}`);
    }
    await expectHealthy();
  });

  it('mutated admin bodies get JSON answers, never a 500, and the demo can be put back', async () => {
    const live = await liveVersion(t);
    const routesBefore = (await admin(t, 'GET', '/admin/routes')).body;
    const targets: [string, string, unknown][] = [
      ['POST', '/admin/models/fraud/deploy', { version: '1' }],
      ['POST', '/admin/models/fraud/rollback', {}],
      [
        'PUT',
        '/admin/routes/fraud-scoring',
        { policy: 'fixed', arms: [{ name: 'a', model: 'fraud', version: 'live', weight: 1 }] },
      ],
    ];
    for (let i = 0; i < 150; i++) {
      const [method, path, valid] = targets[i % targets.length]!;
      let body = mutate(valid);
      // A mutation that still happens to be a valid request is skipped: this test is about refusals.
      if (JSON.stringify(body) === JSON.stringify(valid)) body = { ...(valid as object), __extra: hostile() };
      const res = await fetch(`${t.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: serialise(body),
      });
      await expectJsonAnswer(res, `${method} ${path} ${JSON.stringify(body)?.slice(0, 200)}`);
    }
    // Whatever was accepted, the demo keeps serving; deploys of real versions are the only change possible.
    expect(['1', '2']).toContain(await liveVersion(t));
    await admin(t, 'POST', '/admin/models/fraud/deploy', { version: live });
    const original = (
      JSON.parse(readFileSync(join(DEMO_MODELS, 'routes.json'), 'utf8')) as { routes: Record<string, unknown> }
    ).routes['fraud-scoring'];
    expect((await admin(t, 'PUT', '/admin/routes/fraud-scoring', original)).status).toBe(200);
    expect((await admin(t, 'GET', '/admin/routes')).body).toEqual(routesBefore);
    await expectHealthy();
  });

  it('path tricks and lying binary header lengths are 4xx JSON', async () => {
    const paths = [
      '/v1/predict/..%2f..%2fetc%2fpasswd',
      '/v1/predict/%00',
      '/v2/models/..%2Fmodels/infer',
      '/v2/models/fraud/versions/..%2F..%2F1/infer',
      '/v2/models/fraud/versions/%2e%2e/infer',
      `/v1/predict/${'a'.repeat(3000)}`,
      '/v2/models/fraud%20/infer',
      '/admin/models/..%2Ffraud/deploy',
      '//v1//predict//fraud-scoring',
    ];
    for (const p of paths)
      await expectJsonAnswer(
        await postJson(`${t.url}${p}`, { features: demoRow() }, { authorization: `Bearer ${TOKEN}` }),
        p,
      );
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'features', shape: [1, 32], datatype: 'FP32', parameters: { binary_data_size: 128 } }],
      }),
    );
    const tensor = Buffer.from(new Float32Array(demoRow()).buffer);
    for (const claimed of [
      '-1',
      '0',
      '1',
      String(header.length - 1),
      String(header.length + 1),
      String(header.length + tensor.length + 1),
      '1e3',
      'abc',
      '99999999999999999999',
    ]) {
      const res = await fetch(`${t.url}/v2/models/fraud/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': claimed },
        body: Buffer.concat([header, tensor]),
      });
      expect(res.status, `header length ${claimed}`).toBeGreaterThanOrEqual(400);
      await expectJsonAnswer(res, `header length ${claimed}`);
    }
    await expectHealthy();
  });
});
