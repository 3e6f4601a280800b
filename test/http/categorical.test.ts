/**
 * The categorical demo model (`checkout`: country and channel as strings, amount as a number)
 * served from the demo repository, through /v1/predict by named features and through /v2 infer
 * with BYTES tensors, JSON and binary; the demo route answers with a decision.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t?.stop();
});

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
/** The model's hand-set weights (scripts/make-models.ts): FR -0.3, NG 1.1, app -0.5, phone 0.7, unknown 0.8. */
const FR_APP_10 = sigmoid(-0.3 - 0.5 + 0.004 * 10 - 2);
const NG_PHONE_500 = sigmoid(1.1 + 0.7 + 0.004 * 500 - 2);
const UNKNOWN_WEB_0 = sigmoid(0.8 + 0 - 2);

interface Predicted {
  decision: string;
  model: string;
  version: string;
  outputs: { probability: number[] };
}

describe('categorical features through /v1/predict', () => {
  it('scores named string features on the checkout route', async () => {
    const res = await postJson(`${t.url}/v1/predict/checkout`, {
      features: { country: 'FR', channel: 'app', amount: 10 },
      unit: 'user-1',
    });
    const body = (await res.json()) as Predicted;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ model: 'checkout', version: '1' });
    expect(typeof body.decision).toBe('string');
    expect(body.outputs.probability[0]).toBeCloseTo(FR_APP_10, 6);
  });

  it('scores several rows, named or as values in manifest order; an unknown category gets the default weight', async () => {
    const res = await postJson(`${t.url}/v1/predict/checkout`, {
      features: [
        { amount: 500, channel: 'phone', country: 'NG' },
        ['Atlantis', 'web', 0],
        { country: 'FR', channel: 'app', amount: 10 },
      ],
    });
    const body = (await res.json()) as Predicted;
    expect(res.status, JSON.stringify(body)).toBe(200);
    const [a, b, c] = body.outputs.probability;
    expect(a).toBeCloseTo(NG_PHONE_500, 6);
    expect(b).toBeCloseTo(UNKNOWN_WEB_0, 6);
    expect(c).toBeCloseTo(FR_APP_10, 6);
  });

  it.each([
    [
      'a number for a country',
      { country: 33, channel: 'web', amount: 1 },
      'features.country must be a string, got number',
    ],
    [
      'a string for the amount',
      { country: 'FR', channel: 'web', amount: '1' },
      'features.amount must be a number, got string',
    ],
    ['a missing channel', { country: 'FR', amount: 1 }, 'feature "channel" is missing'],
    ['an unknown feature', { country: 'FR', channel: 'web', amount: 1, city: 'Lyon' }, 'unknown feature "city"'],
    ['a NUL in a string', { country: 'F\u0000R', channel: 'web', amount: 1 }, 'contains a NUL character'],
    [
      'an array for a string',
      { country: ['FR'], channel: 'web', amount: 1 },
      'features.country must be a string, got object',
    ],
  ])('refuses %s with 400, and the next request is served', async (_, features, message) => {
    const res = await postJson(`${t.url}/v1/predict/checkout`, { features });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining(message),
    });
    const next = await postJson(`${t.url}/v1/predict/checkout`, {
      features: { country: 'FR', channel: 'app', amount: 10 },
    });
    expect(next.status).toBe(200);
  });

  it('takes a long category string and answers it as unknown', async () => {
    const res = await postJson(`${t.url}/v1/predict/checkout`, {
      features: { country: 'Q'.repeat(200_000), channel: 'web', amount: 0 },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Predicted).outputs.probability[0]).toBeCloseTo(UNKNOWN_WEB_0, 6);
  });
});

describe('categorical inputs through /v2 infer', () => {
  const inputs = [
    { name: 'country', datatype: 'BYTES', shape: [2, 1], data: ['FR', 'NG'] },
    { name: 'channel', datatype: 'BYTES', shape: [2, 1], data: ['app', 'phone'] },
    { name: 'amount', datatype: 'FP32', shape: [2, 1], data: [10, 500] },
  ];

  it('lists the string inputs as BYTES in the model metadata', async () => {
    const meta = (await (await fetch(`${t.url}/v2/models/checkout`)).json()) as { inputs: unknown[] };
    expect(meta.inputs).toEqual([
      { name: 'country', datatype: 'BYTES', shape: [-1, 1] },
      { name: 'channel', datatype: 'BYTES', shape: [-1, 1] },
      { name: 'amount', datatype: 'FP32', shape: [-1, 1] },
    ]);
  });

  it('scores BYTES tensors given as JSON strings', async () => {
    const res = await postJson(`${t.url}/v2/models/checkout/infer`, { id: 'c1', inputs });
    const body = (await res.json()) as { id: string; outputs: { name: string; data: number[] }[] };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.id).toBe('c1');
    expect(body.outputs[0]!.data[0]).toBeCloseTo(FR_APP_10, 6);
    expect(body.outputs[0]!.data[1]).toBeCloseTo(NG_PHONE_500, 6);
  });

  it('scores BYTES tensors given as binary data, the way tritonclient sends them', async () => {
    const prefixed = (...s: string[]): Buffer =>
      Buffer.concat(s.flatMap((e) => [Buffer.from(Uint32Array.of(Buffer.byteLength(e)).buffer), Buffer.from(e)]));
    const country = prefixed('FR', 'NG');
    const channel = prefixed('app', 'phone');
    const amount = Buffer.from(Float32Array.of(10, 500).buffer);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: 'country', datatype: 'BYTES', shape: [2, 1], parameters: { binary_data_size: country.length } },
          { name: 'channel', datatype: 'BYTES', shape: [2, 1], parameters: { binary_data_size: channel.length } },
          { name: 'amount', datatype: 'FP32', shape: [2, 1], parameters: { binary_data_size: amount.length } },
        ],
      }),
    );
    const res = await fetch(`${t.url}/v2/models/checkout/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      body: Buffer.concat([header, country, channel, amount]),
    });
    const body = (await res.json()) as { outputs: { data: number[] }[] };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.outputs[0]!.data[0]).toBeCloseTo(FR_APP_10, 6);
    expect(body.outputs[0]!.data[1]).toBeCloseTo(NG_PHONE_500, 6);
  });

  it('refuses a number in a BYTES tensor with 400 in the protocol form', async () => {
    const res = await postJson(`${t.url}/v2/models/checkout/infer`, {
      inputs: [{ ...inputs[0], data: ['FR', 7] }, inputs[1], inputs[2]],
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain('inputs[0].data[1] must be a string, got number');
  });
});
