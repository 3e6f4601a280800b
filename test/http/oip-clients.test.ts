/**
 * Triton's and KServe's Python clients, byte for byte (fixtures/oip-clients.ts), on a raw socket,
 * and their answers read the way those clients read them (issue 15).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestServer, type TestServer } from '../helpers/server.js';
import * as wire from './fixtures/oip-clients.js';
import { rawHttp, rawHttpAll, type RawAnswer } from './fixtures/raw-http.js';

let t: TestServer;
let port: number;
beforeAll(async () => {
  t = await startTestServer();
  port = t.server.port;
});
afterAll(async () => {
  await t.stop();
});

interface InferOutput {
  name: string;
  datatype: string;
  shape: number[];
  data?: number[];
  parameters?: { binary_data_size?: number };
}
interface InferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, unknown>;
  outputs: InferOutput[];
}

/**
 * tritonclient http/_utils.py `_raise_if_error` / `_get_error`: any status but 200 is an error
 * whose message is `json.loads(body)["error"]`.
 */
function tritonError(a: RawAnswer): string {
  expect(a.status).not.toBe(200);
  const error = (JSON.parse(a.body.toString('utf8')) as { error: unknown }).error;
  expect(typeof error).toBe('string');
  return error as string;
}

/**
 * tritonclient http/_infer_result.py `InferResult.__init__` and `as_numpy`: Content-Encoding gzip
 * or deflate is undone (none here: the answer is plain); with Inference-Header-Content-Length the
 * JSON is that many bytes and each output with `binary_data_size` takes the next bytes, in order;
 * without it the whole body is JSON. FP32 buffers are `np.frombuffer(..., float32)`.
 */
function tritonResult(a: RawAnswer): { response: InferResponse; asFloat32(name: string): Float32Array } {
  expect(a.status, a.body.toString('utf8', 0, 300)).toBe(200);
  expect(a.headers.get('content-encoding')).toBeUndefined();
  const headerLength = a.headers.get('inference-header-content-length');
  if (headerLength === undefined) {
    const response = JSON.parse(a.body.toString('utf8')) as InferResponse;
    return { response, asFloat32: (name) => Float32Array.from(response.outputs.find((o) => o.name === name)!.data!) };
  }
  const n = Number.parseInt(headerLength, 10);
  const response = JSON.parse(a.body.toString('utf8', 0, n)) as InferResponse;
  const buffer = a.body.subarray(n);
  const at = new Map<string, number>();
  let index = 0;
  for (const output of response.outputs) {
    const size = output.parameters?.binary_data_size;
    if (size !== undefined) {
      at.set(output.name, index);
      index += size;
    }
  }
  expect(index).toBe(buffer.length);
  return {
    response,
    asFloat32(name) {
      const output = response.outputs.find((o) => o.name === name)!;
      const size = output.parameters?.binary_data_size;
      if (size === undefined) return Float32Array.from(output.data!);
      const start = at.get(name)!;
      const bytes = Uint8Array.prototype.slice.call(buffer, start, start + size);
      const values = new Float32Array(bytes.buffer);
      expect(values.length).toBe(output.shape.reduce((x, y) => x * y, 1));
      return values;
    },
  };
}

/**
 * KServe inference_client.py `InferenceRESTClient.infer` then infer_type.py `InferResponse.from_bytes`:
 * `json_length` is the inference-header-content-length header or the whole body; `model_name`
 * must be there (a KeyError otherwise); binary outputs follow the JSON; other outputs need `data`.
 */
function kserveResult(a: RawAnswer): { response: InferResponse; raw: Map<string, Buffer> } {
  expect(a.status, a.body.toString('utf8', 0, 300)).toBe(200);
  const jsonLength = Number.parseInt(a.headers.get('inference-header-content-length') ?? String(a.body.length), 10);
  const response = JSON.parse(a.body.toString('utf8', 0, jsonLength)) as InferResponse;
  expect(typeof response.model_name).toBe('string');
  const raw = new Map<string, Buffer>();
  let start = jsonLength;
  for (const output of response.outputs) {
    const size = output.parameters?.binary_data_size;
    if (size !== undefined) {
      raw.set(output.name, a.body.subarray(start, start + size));
      start += size;
    } else expect(output.data, `'data' field is missing for output '${output.name}'`).toBeDefined();
  }
  return { response, raw };
}

/**
 * KServe `_construct_http_status_error`: the message is read from the JSON error only when the
 * content-type is exactly application/json.
 */
function kserveError(a: RawAnswer): string {
  expect(a.status).toBeGreaterThanOrEqual(400);
  expect(a.headers.get('content-type')).toBe('application/json');
  return (JSON.parse(a.body.toString('utf8')) as { error: string }).error;
}

/** The probability the model gives the fixtures' row, asked the ordinary way. */
async function expected(path = '/v2/models/fraud/infer'): Promise<number> {
  const res = await postJson(`${t.url}${path}`, {
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: wire.FEATURES }],
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as InferResponse).outputs[0]!.data![0]!;
}

describe('the fixtures', () => {
  const requests: [string, Buffer][] = [
    ['tritonInferJson', wire.tritonInferJson()],
    ['tritonInferBinary', wire.tritonInferBinary(2_000_000)],
    ['tritonInferGzip', wire.tritonInferGzip],
    ['tritonInferDeflate', wire.tritonInferDeflate],
    ['kserveInferJson', wire.kserveInferJson()],
    ['kserveInferDict', wire.kserveInferDict('1')],
    ['kserveInferBinary', wire.kserveInferBinary()],
  ];
  it.each(requests)('%s: Content-Length matches the body (and tritonclient sends no Content-Type)', (name, bytes) => {
    const end = bytes.indexOf('\r\n\r\n');
    const head = bytes.toString('latin1', 0, end);
    const length = /\r\nContent-Length: (\d+)/.exec(head);
    expect(Number(length?.[1])).toBe(bytes.length - end - 4);
    if (name.startsWith('triton')) expect(head.toLowerCase()).not.toContain('content-type');
    const ihcl = /\r\ninference-header-content-length: (\d+)/i.exec(head);
    if (ihcl && !head.includes('Content-Encoding')) {
      const json = bytes.toString('utf8', end + 4, end + 4 + Number(ihcl[1]));
      expect(() => JSON.parse(json)).not.toThrow();
    }
  });
});

describe("Triton's tritonclient.http", () => {
  it('is_server_live and is_server_ready: 200', async () => {
    const live = await rawHttp(port, wire.tritonServerLive);
    expect([live.status, JSON.parse(live.body.toString())]).toEqual([200, { live: true }]);
    expect((await rawHttp(port, wire.tritonServerReady)).status).toBe(200);
    expect((await rawHttp(port, wire.tritonModelReady('fraud'))).status).toBe(200);
    expect((await rawHttp(port, wire.tritonModelReady('fraud', '2'))).status).toBe(200);
    expect(tritonError(await rawHttp(port, wire.tritonModelReady('fraud', '9')))).toContain('no version "9"');
  });

  it('infer with JSON data and no Content-Type: 200, outputs in binary as binary_data_output asks', async () => {
    const a = await rawHttp(port, wire.tritonInferJson());
    expect(a.headers.get('content-type')).toBe('application/octet-stream');
    const result = tritonResult(a);
    expect(result.response).toMatchObject({ model_name: 'fraud', model_version: '1' });
    expect(result.response.outputs[0]).toMatchObject({ name: 'probability', datatype: 'FP32', shape: [1, 1] });
    expect(result.asFloat32('probability')[0]).toBe(await expected());
  });

  it('infer with a binary tensor, Inference-Header-Content-Length and no Content-Type: 200, id echoed', async () => {
    const result = tritonResult(await rawHttp(port, wire.tritonInferBinary(2_000_000)));
    expect(result.response.id).toBe('7');
    expect(result.asFloat32('probability')[0]).toBe(await expected());
  });

  it('infer(timeout=1): a 1 µs deadline has passed before inference starts, so the request is shed', async () => {
    const a = await rawHttp(port, wire.tritonInferBinary(1));
    expect(a.status).toBe(503);
    expect(tritonError(a)).toBe('the request deadline passed before inference started');
  });

  it("infer(request_compression_algorithm='gzip'): inflated and served; the answer is not compressed", async () => {
    const a = await rawHttp(port, wire.tritonInferGzip);
    expect(a.headers.get('content-encoding')).toBeUndefined();
    expect(tritonResult(a).asFloat32('probability')[0]).toBe(await expected());
  });

  it("infer(request_compression_algorithm='deflate'): the zlib format, inflated and served", async () => {
    expect(tritonResult(await rawHttp(port, wire.tritonInferDeflate)).asFloat32('probability')[0]).toBe(
      await expected(),
    );
  });

  it("a route's metadata lists its arms as versions, and each of them is ready and inferable", async () => {
    const metadata = JSON.parse((await rawHttp(port, wire.tritonModelMetadata('fraud-scoring'))).body.toString()) as {
      versions: string[];
    };
    expect(metadata.versions).toEqual(['champion', 'challenger']);
    const served: Record<string, string> = { champion: '1', challenger: '2' };
    for (const version of metadata.versions) {
      expect((await rawHttp(port, wire.tritonModelReady('fraud-scoring', version))).status).toBe(200);
      const result = tritonResult(
        await rawHttp(port, wire.tritonInferJson(`/v2/models/fraud-scoring/versions/${version}/infer`)),
      );
      // Served like the arm's model version, with no decision: the policy did not choose it.
      expect(result.response).toMatchObject({ model_name: 'fraud', model_version: served[version] });
      expect(result.response.parameters).toBeUndefined();
      expect(result.asFloat32('probability')[0]).toBe(
        await expected(`/v2/models/fraud/versions/${served[version]}/infer`),
      );
    }
    expect(tritonError(await rawHttp(port, wire.tritonModelReady('fraud-scoring', 'nope')))).toBe(
      'route "fraud-scoring" has no arm "nope" (arms: champion, challenger)',
    );
  });
});

describe("KServe's InferenceRESTClient", () => {
  it('is_server_live and is_server_ready read "live" and "ready"; is_model_ready reads the status', async () => {
    const json = async (path: string) => JSON.parse((await rawHttp(port, wire.kserveGet(path))).body.toString());
    expect((await json('/v2/health/live')).live).toBe(true);
    expect((await json('/v2/health/ready')).ready).toBe(true);
    for (const model of ['fraud', 'fraud-scoring'])
      expect((await rawHttp(port, wire.kserveGet(`/v2/models/${model}/ready`))).status).toBe(200);
    expect((await rawHttp(port, wire.kserveGet('/v2/models/nope/ready'))).status).toBe(404);
  });

  it('InferRequest with model_name in the body: 200, read by InferResponse.from_bytes', async () => {
    const a = await rawHttp(port, wire.kserveInferJson());
    expect(a.headers.get('content-type')).toBe('application/json');
    const { response } = kserveResult(a);
    expect(response).toMatchObject({ model_name: 'fraud', model_version: '1', id: '2ja0ls9j1309' });
    expect(response.outputs[0]!.data).toEqual([await expected()]);
  });

  it('binary input and a binary output asked for: read after the JSON header', async () => {
    const { response, raw } = kserveResult(await rawHttp(port, wire.kserveInferBinary()));
    expect(response.id).toBe('5c1e2a8e-4f0b-4d7e-9a51-3f2b7c0d9e14');
    const bytes = raw.get('probability')!;
    expect(bytes.length).toBe(4);
    expect(bytes.readFloatLE(0)).toBe(await expected());
  });

  it('a body naming another model than the URL: 400, with a message the client shows', async () => {
    const a = await rawHttp(port, wire.kserveInferJson('fraud-scoring', 'fraud'));
    expect(a.status).toBe(400);
    expect(kserveError(a)).toBe('"model_name" is "fraud" but the URL names "fraud-scoring"');
  });

  it('model_version in a dict body: the version the URL serves is accepted, another is refused', async () => {
    expect(kserveResult(await rawHttp(port, wire.kserveInferDict('1'))).response.model_version).toBe('1');
    expect(kserveResult(await rawHttp(port, wire.kserveInferDict(''))).response.model_version).toBe('1');
    const other = await rawHttp(port, wire.kserveInferDict('2'));
    expect(other.status).toBe(400);
    expect(kserveError(other)).toBe(
      '"model_version" is "2" but the URL serves the live version "1"; send it to /v2/models/fraud/versions/2/infer',
    );
    const number = await rawHttp(port, wire.kserveInferDict(1));
    expect(kserveError(number)).toBe('"model_version" must be a string');
  });
});

describe('HEAD on the health paths', () => {
  it.each([
    ['/v2/health/live', 200],
    ['/v2/health/ready', 200],
    ['/v2/models/fraud/ready', 200],
    ['/v2/models/fraud/versions/2/ready', 200],
    ['/v2/models/fraud-scoring/ready', 200],
    ['/v2/models/fraud-scoring/versions/challenger/ready', 200],
    ['/v2/models/nope/ready', 404],
    ['/v2/models/fraud/versions/9/ready', 404],
  ])('HEAD %s: %i like GET, no body', async (path, status) => {
    // A GET pipelined after the HEAD: a body wrongly sent with the HEAD answer would be read as its status line.
    const get = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost:8000\r\n\r\n`);
    const [head, after] = await rawHttpAll(port, Buffer.concat([wire.curlHead(path), get]), [true, false]);
    expect(head!.status).toBe(status);
    expect(after!.status).toBe(status);
    expect(head!.headers.get('content-type')).toBe('application/json');
    expect(Number(head!.headers.get('content-length'))).toBe(after!.body.length);
  });
});
