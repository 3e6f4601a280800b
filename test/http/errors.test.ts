/** Every bad input gets its JSON error and status, in the contract's order, and harms nothing. */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ CROUPIER_BODY_LIMIT: '4kb' });
});
afterAll(async () => {
  await t.stop();
});

async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/json');
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
}

async function expectServedNormally(): Promise<void> {
  const res = await postJson(`${t.url}/v1/predict/fraud-scoring`, { features: demoRow() });
  expect(res.status).toBe(200);
}

const predict = (): string => `${t.url}/v1/predict/fraud-scoring`;

describe('data plane errors (/v1 form)', () => {
  it('unknown path, route and wrong method', async () => {
    await expectError(await fetch(`${t.url}/nothing/here`), 404, 'not_found');
    await expectError(
      await postJson(`${t.url}/v1/predict/no-such-route`, { features: demoRow() }),
      404,
      'route_not_found',
    );
    await expectError(
      await postJson(`${t.url}/v1/predict/..%2F..%2Fetc%2Fpasswd`, { features: demoRow() }),
      404,
      'route_not_found',
    );
    await expectError(await postJson(`${t.url}/v1/predict/%00`, { features: demoRow() }), 404, 'route_not_found');
    const get = await fetch(predict());
    expect(get.headers.get('allow')).toBe('POST');
    await expectError(get, 405, 'method_not_allowed');
    await expectServedNormally();
  });

  it('404 comes before 413 and 415', async () => {
    await expectError(
      await fetch(`${t.url}/v1/predict/nope`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'x'.repeat(10_000),
      }),
      404,
      'route_not_found',
    );
  });

  it('a body past the limit is 413, by Content-Length or counted when chunked', async () => {
    await expectError(
      await postJson(predict(), { features: demoRow(), unit: 'x'.repeat(5000) }),
      413,
      'body_too_large',
    );
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode(' '.repeat(1000)));
        c.close();
      },
    });
    const res = await fetch(predict(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: chunked,
      duplex: 'half',
    } as RequestInit);
    await expectError(res, 413, 'body_too_large');
    await expectServedNormally();
  });

  it('413 comes before 415', async () => {
    await expectError(
      await fetch(predict(), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(10_000) }),
      413,
      'body_too_large',
    );
  });

  it('a content type other than application/json, or none, is 415', async () => {
    await expectError(
      await fetch(predict(), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' }),
      415,
      'unsupported_media_type',
    );
    await expectError(
      await fetch(predict(), { method: 'POST', body: new Uint8Array([123, 125]) }),
      415,
      'unsupported_media_type',
    );
    const ok = await fetch(predict(), {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ features: demoRow() }),
    });
    expect(ok.status).toBe(200);
  });

  it.each([
    ['empty body', ''],
    ['truncated JSON', '{"features": [1, 2'],
    ['NaN literal', `{"features": [NaN${',0'.repeat(31)}]}`],
    ['Infinity literal', `{"features": [Infinity${',0'.repeat(31)}]}`],
    ['trailing garbage', '{"features": []} x'],
  ])('malformed JSON (%s) is 400 invalid_json', async (_name, body) => {
    await expectError(await postJson(predict(), body), 400, 'invalid_json');
    await expectServedNormally();
  });

  it.each([
    ['a list body', [1, 2, 3]],
    ['a string body', 'hello'],
    ['null', null],
    ['no features', { unit: 'u' }],
    ['unknown key', { features: demoRow(), extra: 1 }],
    ['too few values', { features: demoRow().slice(1) }],
    ['too many values', { features: [...demoRow(), 1] }],
    ['a string value', { features: ['1', ...demoRow().slice(1)] }],
    ['a null value', { features: [null, ...demoRow().slice(1)] }],
    ['a boolean value', { features: [true, ...demoRow().slice(1)] }],
    ['a nested object value', { features: [{}, ...demoRow().slice(1)] }],
    ['beyond float32', { features: [1e39, ...demoRow().slice(1)] }],
    ['ragged rows', { features: [demoRow(), demoRow().slice(2)] }],
    ['empty list', { features: [] }],
    ['unit not a string', { features: demoRow(), unit: 42 }],
    ['unit empty', { features: demoRow(), unit: '' }],
    ['features a number', { features: 3 }],
    ['missing named feature', { features: { amount: 1 } }],
    [
      'unknown named feature',
      { features: { ...Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`f${i}`, 1])) } },
    ],
  ])('invalid request (%s) is 400 invalid_request', async (_name, body) => {
    await expectError(await postJson(predict(), JSON.stringify(body)), 400, 'invalid_request');
    await expectServedNormally();
  });

  it('a bad x-croupier-timeout-ms is 400; a passed deadline is 503 with Retry-After', async () => {
    await expectError(
      await postJson(predict(), { features: demoRow() }, { 'x-croupier-timeout-ms': 'soon' }),
      400,
      'invalid_request',
    );
    const res = await postJson(predict(), { features: demoRow() }, { 'x-croupier-timeout-ms': '0' });
    expect(res.headers.get('retry-after')).toBe('1');
    await expectError(res, 503, 'deadline_exceeded');
    await expectServedNormally();
  });

  it('a client that disconnects mid-body or mid-inference never harms the server', async () => {
    const port = new URL(t.url).port;
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          const body = JSON.stringify({ features: demoRow() });
          socket.write(
            `POST /v1/predict/fraud-scoring HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
          );
          // Half the time send the whole body and leave before the answer, else leave mid-body.
          socket.write(i % 2 === 0 ? body : body.slice(0, 10));
          setImmediate(() => {
            socket.destroy();
            resolve();
          });
        });
        socket.on('error', () => resolve());
      });
    }
    await expectServedNormally();
  });
});

describe('Open Inference Protocol errors (/v2 form)', () => {
  const infer = (body: unknown, path = '/v2/models/fraud/infer'): Promise<Response> =>
    postJson(`${t.url}${path}`, JSON.stringify(body));
  const good = { name: 'features', datatype: 'FP32', shape: [1, 32], data: demoRow() };

  async function expectV2Error(res: Response, status: number): Promise<string> {
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: string };
    expect(typeof body.error).toBe('string');
    return body.error;
  }

  it('unknown model and version are 404 in the protocol form', async () => {
    await expectV2Error(await infer({ inputs: [good] }, '/v2/models/nope/infer'), 404);
    await expectV2Error(await infer({ inputs: [good] }, '/v2/models/fraud/versions/9/infer'), 404);
    await expectV2Error(await infer({ inputs: [good] }, '/v2/models/fraud/versions/..%2F1/infer'), 404);
    await expectV2Error(await fetch(`${t.url}/v2/models/nope`), 404);
    await expectV2Error(await fetch(`${t.url}/v2/nothing`), 404);
  });

  it.each([
    ['no inputs', {}],
    ['inputs not a list', { inputs: good }],
    ['wrong input name', { inputs: [{ ...good, name: 'x' }] }],
    ['wrong datatype', { inputs: [{ ...good, datatype: 'INT32' }] }],
    ['wrong shape', { inputs: [{ ...good, shape: [1, 31] }] }],
    ['shape and data disagree', { inputs: [{ ...good, shape: [2, 32] }] }],
    ['negative batch', { inputs: [{ ...good, shape: [-1, 32] }] }],
    ['zero batch', { inputs: [{ ...good, shape: [0, 32], data: [] }] }],
    ['string in data', { inputs: [{ ...good, data: ['a', ...demoRow().slice(1)] }] }],
    ['input given twice', { inputs: [good, good] }],
    ['unknown output', { inputs: [good], outputs: [{ name: 'nope' }] }],
    ['id not a string', { id: 5, inputs: [good] }],
    ['unknown top-level key', { inputs: [good], foo: 1 }],
  ])('invalid infer request (%s) is 400', async (_name, body) => {
    await expectV2Error(await infer(body), 400);
    const ok = await infer({ inputs: [good] });
    expect(ok.status).toBe(200);
  });

  it('415 and malformed JSON in the protocol form', async () => {
    expect(
      await expectV2Error(
        await fetch(`${t.url}/v2/models/fraud/infer`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain' },
          body: '{}',
        }),
        415,
      ),
    ).toMatch(/application\/json/);
    await expectV2Error(await postJson(`${t.url}/v2/models/fraud/infer`, '{"inputs": ['), 400);
  });
});

describe('fuzz', () => {
  it('random bodies never crash the server and always answer JSON', async () => {
    let seed = 7;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const atoms = [
      'null',
      'true',
      '1e309',
      '-0',
      '"x"',
      '[]',
      '{}',
      '0.5',
      '"features"',
      '{"features":',
      ']',
      '}',
      ',',
      '"\\u0000"',
    ];
    for (let i = 0; i < 200; i++) {
      let body = '';
      const n = Math.floor(rnd() * 12);
      for (let k = 0; k < n; k++) body += atoms[Math.floor(rnd() * atoms.length)];
      const path = i % 2 === 0 ? '/v1/predict/fraud-scoring' : '/v2/models/fraud/infer';
      const res = await postJson(`${t.url}${path}`, body);
      expect([200, 400]).toContain(res.status);
      await res.json();
    }
    await expectServedNormally();
  });
});
