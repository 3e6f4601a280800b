/**
 * Fuzzing Triton's extensions: hostile names in every path, mutated and random bodies for the
 * index, load and unload, with and without a content type. Every answer is the protocol's JSON
 * error form (or a 200), never a 500; nothing served changes; the server goes on serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveVersion, TOKEN } from '../admin/admin-client.js';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN });
});
afterAll(async () => {
  await t.stop();
});

let seed = 20261203;
const rnd = (): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const pickOne = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

const NAMES = [
  'fraud',
  'nope',
  '',
  '..',
  '%2e%2e',
  '..%2f..%2fetc%2fpasswd',
  'a'.repeat(300),
  '__proto__',
  'constructor',
  '%00',
  '%F0%9F%92%A5',
  'fraud%20',
  '-1',
  '1e309',
  'NaN',
  'fraud-scoring',
  'stats',
];
const KEYS = ['parameters', 'ready', 'version', 'config', 'unload_dependents', 'file:1/model.onnx', '__proto__', 'x'];

function hostile(depth = 0): unknown {
  switch (Math.floor(rnd() * (depth > 2 ? 5 : 7))) {
    case 0:
      return null;
    case 1:
      return rnd() < 0.5;
    case 2:
      return pickOne([0, -1, 1e308, 2 ** 53 + 1, 0.5, 1, 2, 99]);
    case 3:
      return pickOne(['', '1', '2', '../1', 'live', 'NaN', 'a'.repeat(5000), '\u0000', '{}']);
    case 4:
      return Array.from({ length: Math.floor(rnd() * 4) }, () => hostile(depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: Math.floor(rnd() * 4) }, () => [pickOne(KEYS), hostile(depth + 1)]),
      );
  }
}

function mutate(value: unknown): unknown {
  if (rnd() < 0.15 || value === null || typeof value !== 'object') return hostile();
  const copy = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (keys.length === 0 || rnd() < 0.2) {
    copy[pickOne(KEYS)] = hostile();
    return copy;
  }
  const k = pickOne(keys);
  copy[k] = mutate(copy[k]);
  return copy;
}

/** A body as text: JSON, JSON with a number spelled NaN, cut short, or random bytes. */
function serialise(value: unknown): string | Uint8Array {
  const r = rnd();
  const text = JSON.stringify(value) ?? 'null';
  if (r < 0.1) return text.replace(/\d+/, 'NaN');
  if (r < 0.2) return text.slice(0, Math.floor(text.length / 2));
  if (r < 0.25) return Uint8Array.from({ length: 64 }, () => Math.floor(rnd() * 256));
  return text;
}

const CONTENT_TYPES = [
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
];

async function expectProtocolAnswer(res: Response, what: string): Promise<void> {
  expect(res.status, what).not.toBe(500);
  const text = await res.text();
  let body: unknown;
  expect(
    () => {
      body = JSON.parse(text);
    },
    `${what}: ${text.slice(0, 200)}`,
  ).not.toThrow();
  if (res.status >= 400) {
    expect([400, 401, 403, 404, 405, 409, 413, 415, 422], `${what}: ${res.status}`).toContain(res.status);
    expect(typeof (body as { error?: unknown }).error, `${what}: ${text.slice(0, 200)}`).toBe('string');
  } else expect(res.status, what).toBe(200);
}

async function expectHealthy(): Promise<void> {
  expect((await postJson(`${t.url}/v1/predict/fraud-scoring`, { features: demoRow() })).status).toBe(200);
  const infer = { inputs: [{ name: 'features', shape: [1, 32], datatype: 'FP32', data: demoRow() }] };
  expect((await postJson(`${t.url}/v2/models/fraud/infer`, infer)).status).toBe(200);
}

describe("fuzz Triton's extensions", () => {
  it('hostile names in config, stats and load paths get a JSON 404 (or 200), never a 500', async () => {
    for (const name of NAMES)
      for (const version of [undefined, ...NAMES.slice(0, 8)]) {
        const base = `/v2/models/${name}${version === undefined ? '' : `/versions/${version}`}`;
        for (const path of [`${base}/config`, `${base}/stats`]) {
          const res = await fetch(`${t.url}${path}`);
          await expectProtocolAnswer(res, `GET ${path}`);
        }
      }
    for (const name of NAMES) {
      const res = await fetch(`${t.url}/v2/repository/models/${name}/load`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        body: '{"parameters": {"version": "1"}}',
      });
      await expectProtocolAnswer(res, `load ${name}`);
    }
    await expectHealthy();
  });

  it('mutated index, load and unload bodies get JSON answers, and change nothing served', async () => {
    const targets: [string, unknown][] = [
      ['/v2/repository/index', { ready: true }],
      // ctr has one version: a load that parses is a no-op; fraud and ctr serve routes: an unload is 409.
      ['/v2/repository/models/ctr/load', { parameters: { version: '1' } }],
      ['/v2/repository/models/fraud/unload', { parameters: { unload_dependents: false } }],
      ['/v2/repository/models/ctr/unload', {}],
    ];
    for (let i = 0; i < 300; i++) {
      const [path, valid] = pickOne(targets);
      const type = pickOne(CONTENT_TYPES);
      const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
      if (type) headers['content-type'] = type;
      const res = await fetch(`${t.url}${path}`, { method: 'POST', headers, body: serialise(mutate(valid)) });
      await expectProtocolAnswer(res, `#${i} ${path}`);
    }
    expect(await liveVersion(t, 'fraud')).toBe('1');
    expect(await liveVersion(t, 'ctr')).toBe('1');
    const index = (await (await postJson(`${t.url}/v2/repository/index`, {})).json()) as { state: string }[];
    expect(index.every((e) => e.state === 'READY')).toBe(true);
    await expectHealthy();
  });
});
