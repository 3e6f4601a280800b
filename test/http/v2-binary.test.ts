/** The binary tensor data extension, as Triton's clients send it (Inference-Header-Content-Length). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.stop();
});

function binaryRequest(
  header: unknown,
  tensors: ArrayBufferView[],
  headerLength?: number,
): { body: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header));
  const body = Buffer.concat([json, ...tensors.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength))]);
  return {
    body,
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(headerLength ?? json.length),
    },
  };
}

const post = (path: string, r: { body: Buffer; headers: Record<string, string> }): Promise<Response> =>
  fetch(`${t.url}${path}`, { method: 'POST', headers: r.headers, body: r.body });

const rows = [demoRow(1), demoRow(2), demoRow(3)];
const features = Float32Array.from(rows.flat());
const input = (extra: Record<string, unknown> = {}) => ({
  name: 'features',
  datatype: 'FP32',
  shape: [3, 32],
  parameters: { binary_data_size: features.byteLength },
  ...extra,
});

describe('binary tensor data', () => {
  it('is listed among the server extensions', async () => {
    expect(((await (await fetch(`${t.url}/v2`)).json()) as { extensions: string[] }).extensions).toContain(
      'binary_tensor_data',
    );
  });

  it('binary inputs give the same answer as JSON; binary outputs decode to the same numbers', async () => {
    const viaJson = (await (
      await postJson(`${t.url}/v2/models/fraud/infer`, {
        inputs: [{ name: 'features', datatype: 'FP32', shape: [3, 32], data: rows.flat() }],
      })
    ).json()) as { outputs: { data: number[] }[] };
    const jsonOut = await post('/v2/models/fraud/infer', binaryRequest({ inputs: [input()] }, [features]));
    expect(jsonOut.status).toBe(200);
    expect(((await jsonOut.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data).toEqual(
      viaJson.outputs[0]!.data,
    );

    const res = await post(
      '/v2/models/fraud/infer',
      binaryRequest(
        { id: 'b1', inputs: [input()], outputs: [{ name: 'probability', parameters: { binary_data: true } }] },
        [features],
      ),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const n = Number(res.headers.get('inference-header-content-length'));
    const bytes = Buffer.from(await res.arrayBuffer());
    const header = JSON.parse(bytes.subarray(0, n).toString('utf8')) as {
      id: string;
      outputs: { name: string; shape: number[]; parameters: { binary_data_size: number } }[];
    };
    expect(header).toMatchObject({
      id: 'b1',
      model_name: 'fraud',
      outputs: [{ name: 'probability', datatype: 'FP32', shape: [3, 1], parameters: { binary_data_size: 12 } }],
    });
    const tail = bytes.subarray(n);
    const values = Array.from(new Float32Array(tail.buffer.slice(tail.byteOffset, tail.byteOffset + tail.length)));
    expect(values).toEqual(viaJson.outputs[0]!.data);
  });

  it('binary_data_output asks for every output as binary', async () => {
    const res = await post(
      '/v2/models/ctr/infer',
      binaryRequest({ parameters: { binary_data_output: true }, inputs: [input()] }, [features]),
    );
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('inference-header-content-length'))).toBeGreaterThan(0);
  });

  it.each([
    [
      'a size that does not match the shape',
      binaryRequest({ inputs: [input({ parameters: { binary_data_size: 100 } })] }, [features]),
    ],
    ['bytes left over', binaryRequest({ inputs: [input()] }, [features, new Float32Array(1)])],
    ['a NaN', binaryRequest({ inputs: [input()] }, [Float32Array.from(features, (v, i) => (i === 5 ? NaN : v))])],
    [
      'an Infinity',
      binaryRequest({ inputs: [input()] }, [Float32Array.from(features, (v, i) => (i === 9 ? Infinity : v))]),
    ],
    ['a header length past the body', binaryRequest({ inputs: [input()] }, [features], 1_000_000)],
    ['a header that is not JSON', binaryRequest({ inputs: [input()] }, [features], 10)],
    ['data and binary_data_size together', binaryRequest({ inputs: [input({ data: rows.flat() })] }, [features])],
  ])('refuses %s with 400 in the protocol form', async (_name, request) => {
    const res = await post('/v2/models/fraud/infer', request);
    expect(res.status).toBe(400);
    expect(typeof ((await res.json()) as { error: string }).error).toBe('string');
    expect(
      (
        await postJson(`${t.url}/v2/models/fraud/infer`, {
          inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: demoRow() }],
        })
      ).status,
    ).toBe(200);
  });

  it('binary_data_size without the header is 400; octet-stream without it is 415', async () => {
    expect((await postJson(`${t.url}/v2/models/fraud/infer`, { inputs: [input()] })).status).toBe(400);
    const res = await fetch(`${t.url}/v2/models/fraud/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from(features.buffer),
    });
    expect(res.status).toBe(415);
  });
});
