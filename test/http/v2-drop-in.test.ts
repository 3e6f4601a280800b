/**
 * The drop-in rules of /v2 (issue 15) against hostile input: content types, request encodings
 * (bad, truncated, empty, bombs), model_name/model_version that do not match the URL or are not
 * strings, the `timeout` parameter, and arms pinned through /versions/{arm}. Every refusal is the
 * protocol's `{"error": "..."}`, and the server goes on serving.
 */
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.stop();
});

const row = demoRow(3);
const body = (extra: Record<string, unknown> = {}) => ({
  inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: row }],
  ...extra,
});
const json = (extra: Record<string, unknown> = {}) => Buffer.from(JSON.stringify(body(extra)));

/** A POST with exactly these headers: a Uint8Array body makes fetch add no Content-Type. */
async function post(
  path: string,
  bytes: Uint8Array,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: { error?: unknown; outputs?: { data: number[] }[]; model_version?: string } }> {
  const res = await fetch(`${t.url}${path}`, { method: 'POST', headers, body: bytes });
  expect(res.headers.get('content-type')).toMatch(/^application\/(json|octet-stream)$/);
  return { status: res.status, body: (await res.json()) as never };
}

async function refused(
  path: string,
  bytes: Uint8Array,
  headers: Record<string, string>,
  status: number,
): Promise<string> {
  const r = await post(path, bytes, headers);
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(Object.keys(r.body)).toEqual(['error']);
  expect(typeof r.body.error).toBe('string');
  return r.body.error as string;
}

const INFER = '/v2/models/fraud/infer';
let reference: number;
beforeAll(async () => {
  const res = await postJson(`${t.url}${INFER}`, body());
  reference = ((await res.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data[0]!;
});

async function served(path: string, bytes: Uint8Array, headers: Record<string, string> = {}): Promise<void> {
  const r = await post(path, bytes, headers);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.outputs![0]!.data).toEqual([reference]);
}

describe('content type under /v2', () => {
  it('none is JSON; with Inference-Header-Content-Length none is the binary extension', async () => {
    await served(INFER, json());
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], parameters: { binary_data_size: 128 } }],
      }),
    );
    const tensor = Buffer.from(Float32Array.from(row).buffer);
    await served(INFER, Buffer.concat([header, tensor]), { 'inference-header-content-length': String(header.length) });
  });

  it('one that is neither is still 415, naming what came', async () => {
    expect(await refused(INFER, json(), { 'content-type': 'text/plain' }, 415)).toBe(
      'content type must be application/json (or none), got "text/plain"',
    );
    expect(
      await refused(INFER, json(), { 'content-type': 'text/csv', 'inference-header-content-length': '10' }, 415),
    ).toBe('binary tensor data must be sent as application/octet-stream (or with no content type), got "text/csv"');
  });

  it('outside /v2 the rule is unchanged: no content type is 415', async () => {
    const res = await fetch(`${t.url}/v1/predict/fraud-scoring`, {
      method: 'POST',
      body: Buffer.from(JSON.stringify({ features: row })),
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type');
  });
});

describe('Content-Encoding', () => {
  it('gzip, x-gzip, deflate (zlib and raw) and identity are served, with or without a content type', async () => {
    const plain = json();
    await served(INFER, gzipSync(plain), { 'content-encoding': 'gzip' });
    await served(INFER, gzipSync(plain), { 'content-encoding': 'GZip', 'content-type': 'application/json' });
    await served(INFER, gzipSync(plain), { 'content-encoding': 'x-gzip' });
    await served(INFER, deflateSync(plain), { 'content-encoding': 'deflate' });
    await served(INFER, deflateRawSync(plain), { 'content-encoding': 'deflate' });
    await served(INFER, plain, { 'content-encoding': 'identity' });
  });

  it('an encoding it cannot undo is 415 in the protocol form', async () => {
    for (const encoding of ['br', 'zstd', 'gzip, br', 'compress', 'gzip;q=1']) {
      expect(await refused(INFER, json(), { 'content-encoding': encoding }, 415)).toBe(
        `content encoding must be gzip, deflate or identity, got ${JSON.stringify(encoding)}`,
      );
    }
  });

  it('bad, truncated or empty compressed bodies are 400, not 500', async () => {
    const gz = gzipSync(json());
    const cases: [string, Buffer][] = [
      ['gzip', Buffer.from('not gzip at all')],
      ['gzip', gz.subarray(0, gz.length >> 1)],
      ['gzip', gz.subarray(0, 10)],
      ['gzip', Buffer.alloc(0)],
      ['gzip', Buffer.concat([gz.subarray(0, 20), Buffer.alloc(30, 0xff), gz.subarray(50)])],
      ['deflate', Buffer.from([0x78, 0x9c, 0xff, 0xff, 0xff])],
      ['deflate', Buffer.alloc(0)],
    ];
    for (const [encoding, bytes] of cases) {
      const message = await refused(INFER, bytes, { 'content-encoding': encoding }, 400);
      expect(message).toMatch(new RegExp(`^the request body is not valid ${encoding} data`));
    }
  });

  it('valid compression of something that is not a request is the usual 400', async () => {
    expect(await refused(INFER, gzipSync('{"inputs": ['), { 'content-encoding': 'gzip' }, 400)).toBe(
      'request body is not valid JSON',
    );
    expect(await refused(INFER, gzipSync('[1, 2]'), { 'content-encoding': 'gzip' }, 400)).toBe(
      'the body must be a JSON object with "inputs"',
    );
  });

  it('a gzip bomb is 413 as soon as the inflated bytes pass the body limit', async () => {
    // 16 KiB on the wire that would inflate to 16 MiB, sixteen times the default 1 MiB limit.
    const zeros = Buffer.alloc(16 * 1024 * 1024);
    const bombs = { gzip: gzipSync(zeros, { level: 9 }), deflate: deflateSync(zeros, { level: 9 }) };
    expect(bombs.gzip.length).toBeLessThan(64 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    for (const [encoding, bytes] of Object.entries(bombs)) {
      expect(await refused(INFER, bytes, { 'content-encoding': encoding }, 413)).toBe(
        'request body inflates past 1048576 bytes',
      );
    }
    // The 16 MiB were never held: what stays is at most a few limits' worth.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
    await served(INFER, json());
  });

  it('the compressed body is bounded too, before anything is inflated', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 1);
    expect(await refused(INFER, big, { 'content-encoding': 'gzip' }, 413)).toBe(
      'request body is larger than 1048576 bytes',
    );
  });
});

describe('model_name and model_version in the body', () => {
  it('matching the URL is served', async () => {
    await served(INFER, json({ model_name: 'fraud' }));
    await served(INFER, json({ model_name: 'fraud', model_version: '' }));
    await served(INFER, json({ model_name: 'fraud', model_version: '1' }));
    await served('/v2/models/fraud/versions/1/infer', json({ model_name: 'fraud', model_version: '1' }));
  });

  it('another name or version is 400, saying which', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      [INFER, { model_name: 'mlp' }, '"model_name" is "mlp" but the URL names "fraud"'],
      [INFER, { model_name: 'Fraud' }, '"model_name" is "Fraud" but the URL names "fraud"'],
      [INFER, { model_name: '' }, '"model_name" is "" but the URL names "fraud"'],
      [
        '/v2/models/fraud/versions/2/infer',
        { model_version: '1' },
        '"model_version" is "1" but the URL names version "2"',
      ],
      [
        '/v2/models/fraud/versions/2/infer',
        { model_version: '' },
        '"model_version" is "" but the URL names version "2"',
      ],
      [
        INFER,
        { model_version: '../2' },
        '"model_version" is "../2" but the URL serves the live version "1"; send it to /v2/models/fraud/versions/..%2F2/infer',
      ],
      [
        '/v2/models/fraud-scoring/infer',
        { model_version: 'champion' },
        '"model_version" is "champion" but a route\'s policy picks the version; send it to /v2/models/fraud-scoring/versions/champion/infer to pin an arm',
      ],
      [INFER, { model_name: `${'x'.repeat(100)}` }, `"model_name" is "${'x'.repeat(64)}…" but the URL names "fraud"`],
    ];
    for (const [path, extra, message] of cases)
      expect(await refused(path, json(extra), {}, 400), JSON.stringify(extra)).toBe(message);
  });

  it('names that are not strings are 400', async () => {
    for (const value of [1, null, true, ['fraud'], { name: 'fraud' }]) {
      expect(await refused(INFER, json({ model_name: value }), {}, 400)).toBe('"model_name" must be a string');
      expect(await refused(INFER, json({ model_version: value }), {}, 400)).toBe('"model_version" must be a string');
    }
  });
});

describe('parameters.timeout (microseconds, as tritonclient sends it)', () => {
  it('a generous timeout, 0 (Triton: none) and a huge one are served', async () => {
    for (const timeout of [5_000_000, 0, Number.MAX_SAFE_INTEGER])
      await served(INFER, json({ parameters: { timeout } }));
  });

  it('one that has passed sheds the request like x-croupier-timeout-ms, and the earlier of the two wins', async () => {
    expect(await refused(INFER, json({ parameters: { timeout: 1 } }), {}, 503)).toBe(
      'the request deadline passed before inference started',
    );
    const both = { 'x-croupier-timeout-ms': '60000' };
    expect(await refused(INFER, json({ parameters: { timeout: 1 } }), both, 503)).toBe(
      'the request deadline passed before inference started',
    );
    await served(INFER, json({ parameters: { timeout: 60_000_000 } }), { 'x-croupier-timeout-ms': '60000' });
  });

  it('anything but a whole non-negative number is 400', async () => {
    for (const timeout of ['100', -1, 1.5, null, true, [1], { us: 1 }, 1e300])
      expect(await refused(INFER, json({ parameters: { timeout } }), {}, 400), String(timeout)).toBe(
        '"parameters.timeout" must be a whole number of microseconds (0 for none)',
      );
  });
});

describe("a route's arms as its versions", () => {
  it('metadata, readiness and infer agree on /versions/{arm}', async () => {
    const meta = (await (await fetch(`${t.url}/v2/models/fraud-scoring/versions/challenger`)).json()) as {
      name: string;
      versions: string[];
      platform: string;
    };
    expect(meta).toMatchObject({ name: 'fraud-scoring', versions: ['challenger'], platform: 'croupier_route' });
    const ready = await fetch(`${t.url}/v2/models/fraud-scoring/versions/challenger/ready`);
    expect([ready.status, await ready.json()]).toEqual([
      200,
      { name: 'fraud-scoring', version: 'challenger', ready: true },
    ]);
    const r = await post('/v2/models/fraud-scoring/versions/challenger/infer', json({ model_name: 'fraud-scoring' }));
    expect([r.status, r.body.model_version]).toEqual([200, '2']);
  });

  it('an arm the route does not have is 404, listing its arms, on every path', async () => {
    const message = 'route "fraud-scoring" has no arm "1" (arms: champion, challenger)';
    expect(await refused('/v2/models/fraud-scoring/versions/1/infer', json(), {}, 404)).toBe(message);
    for (const suffix of ['', '/ready']) {
      const res = await fetch(`${t.url}/v2/models/fraud-scoring/versions/1${suffix}`);
      expect([res.status, await res.json()]).toEqual([404, { error: message }]);
    }
  });
});
