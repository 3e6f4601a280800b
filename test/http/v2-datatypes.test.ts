/**
 * Every datatype of the protocol that onnxruntime-node can hold, through a real server and a real
 * ONNX model per datatype (an Identity graph written in the test): JSON and binary, in and out,
 * in the workers and on the main thread. 64-bit integers come back digit for digit, FP16 as the
 * nearest half, BYTES as the strings sent; bad values are a 400 that harms nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATATYPES, type Datatype } from '../../src/protocol/datatypes.js';
import { identityManifest, identityModel, writeVersion } from '../helpers/onnx.js';
import { postJson, startTestServer, type TestServer } from '../helpers/server.js';

const WIDTH = 3;

interface Case {
  datatype: Datatype;
  /** Two rows of WIDTH values, as JSON sends them. */
  json: unknown[];
  /** The answer's `data`, as text (JSON.parse would round 64-bit integers). */
  text: string;
  /** The same values as binary tensor data. */
  binary: Buffer;
}

const bytesOf = (v: ArrayBufferView): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** The protocol's BYTES layout: a 4-byte little-endian length before each element. */
function lengthPrefixed(elements: string[]): Buffer {
  return Buffer.concat(
    elements.flatMap((e) => {
      const bytes = Buffer.from(e, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    }),
  );
}

const plain = (datatype: Datatype, json: number[], typed: ArrayBufferView): Case => ({
  datatype,
  json,
  text: JSON.stringify(json),
  binary: bytesOf(typed),
});
const LONG = 'x'.repeat(100_000);
const STRINGS = ['FR', 'é😀', '', 'two words', '"quoted"\\', LONG];

const CASES: Case[] = [
  {
    datatype: 'BOOL',
    json: [true, false, true, false, false, true],
    text: '[true,false,true,false,false,true]',
    binary: Buffer.of(1, 0, 1, 0, 0, 1),
  },
  plain('INT8', [-128, 127, 0, 1, -1, 5], Int8Array.of(-128, 127, 0, 1, -1, 5)),
  plain('INT16', [-32768, 32767, 0, 1, -1, 5], Int16Array.of(-32768, 32767, 0, 1, -1, 5)),
  plain('INT32', [-2147483648, 2147483647, 0, 1, -1, 5], Int32Array.of(-2147483648, 2147483647, 0, 1, -1, 5)),
  {
    datatype: 'INT64',
    json: ['-9223372036854775808', '9223372036854775807', 9007199254740991, '9007199254740993', 0, -1],
    text: '[-9223372036854775808,9223372036854775807,9007199254740991,9007199254740993,0,-1]',
    binary: bytesOf(BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n - 1n, 2n ** 53n + 1n, 0n, -1n)),
  },
  plain('UINT8', [0, 255, 1, 2, 3, 4], Uint8Array.of(0, 255, 1, 2, 3, 4)),
  plain('UINT16', [0, 65535, 1, 2, 3, 4], Uint16Array.of(0, 65535, 1, 2, 3, 4)),
  plain('UINT32', [0, 4294967295, 1, 2, 3, 4], Uint32Array.of(0, 4294967295, 1, 2, 3, 4)),
  {
    datatype: 'UINT64',
    json: ['18446744073709551615', 0, '12345678901234567890', 1, 2, 9007199254740991],
    text: '[18446744073709551615,0,12345678901234567890,1,2,9007199254740991]',
    binary: bytesOf(BigUint64Array.of(2n ** 64n - 1n, 0n, 12345678901234567890n, 1n, 2n, 2n ** 53n - 1n)),
  },
  {
    datatype: 'FP16',
    json: [1, 0.1, 65504, 2 ** -24, -2, 0.5],
    text: '[1,0.0999755859375,65504,5.960464477539063e-8,-2,0.5]',
    binary: bytesOf(Uint16Array.of(0x3c00, 0x2e66, 0x7bff, 0x0001, 0xc000, 0x3800)),
  },
  plain('FP32', [0.5, -0.25, 1e-7, 3, 4, 5], Float32Array.of(0.5, -0.25, 1e-7, 3, 4, 5)),
  plain('FP64', [0.1, -1e300, 5e-324, 3, 4, 5], Float64Array.of(0.1, -1e300, 5e-324, 3, 4, 5)),
  { datatype: 'BYTES', json: STRINGS, text: JSON.stringify(STRINGS), binary: lengthPrefixed(STRINGS) },
];
// FP32 answers are float32 values written as doubles: 1e-7 comes back as its float32.
CASES.find((c) => c.datatype === 'FP32')!.text = JSON.stringify(Array.from(Float32Array.of(0.5, -0.25, 1e-7, 3, 4, 5)));

const modelName = (datatype: Datatype): string => `id-${datatype.toLowerCase()}`;

let models: string;
beforeAll(() => {
  models = mkdtempSync(join(tmpdir(), 'croupier-datatypes-'));
  for (const datatype of Object.keys(DATATYPES) as Datatype[]) {
    const bytes = identityModel(DATATYPES[datatype].onnx, WIDTH);
    writeVersion(
      models,
      modelName(datatype),
      '1',
      bytes,
      identityManifest(modelName(datatype), bytes, datatype, WIDTH),
    );
  }
});
afterAll(() => {
  rmSync(models, { recursive: true, force: true });
});

/** A binary request: JSON header, then the tensor bytes. */
function postBinary(url: string, header: unknown, tensor: Buffer): Promise<Response> {
  const json = Buffer.from(JSON.stringify(header));
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) },
    body: Buffer.concat([json, tensor]),
  });
}

describe.each([
  ['workers', '0'],
  ['inline', '100000'],
])('datatypes through /v2 infer (%s)', (runs, inlineMaxUs) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ CROUPIER_MODELS_DIR: models, CROUPIER_INLINE_MAX_US: inlineMaxUs });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('loads every model, and runs where it was told', () => {
    for (const { datatype } of CASES)
      expect(t.server.gateway.engine.isInline(`${modelName(datatype)}@1`), datatype).toBe(runs === 'inline');
  });

  it.each(CASES)('$datatype: JSON in, JSON out, exact', async ({ datatype, json, text }) => {
    const res = await postJson(`${t.url}/v2/models/${modelName(datatype)}/infer`, {
      inputs: [{ name: 'x', datatype, shape: [2, WIDTH], data: json }],
    });
    const body = await res.text();
    expect(res.status, body).toBe(200);
    expect(body.endsWith(`"data":${text}}]}`), body.slice(0, 300)).toBe(true);
    expect(JSON.parse(body).outputs[0]).toMatchObject({ name: 'y', datatype, shape: [2, WIDTH] });
  });

  it.each(CASES)('$datatype: binary in, binary out, the same bytes', async ({ datatype, binary }) => {
    const res = await postBinary(
      `${t.url}/v2/models/${modelName(datatype)}/infer`,
      {
        inputs: [{ name: 'x', datatype, shape: [2, WIDTH], parameters: { binary_data_size: binary.length } }],
        outputs: [{ name: 'y', parameters: { binary_data: true } }],
      },
      binary,
    );
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(res.status, bytes.subarray(0, 300).toString()).toBe(200);
    const n = Number(res.headers.get('inference-header-content-length'));
    const header = JSON.parse(bytes.subarray(0, n).toString('utf8'));
    expect(header.outputs[0]).toMatchObject({
      datatype,
      shape: [2, WIDTH],
      parameters: { binary_data_size: binary.length },
    });
    expect(bytes.subarray(n).equals(binary)).toBe(true);
  });

  it.each(CASES)('$datatype: binary in, JSON out, exact', async ({ datatype, binary, text }) => {
    const res = await postBinary(
      `${t.url}/v2/models/${modelName(datatype)}/infer`,
      { inputs: [{ name: 'x', datatype, shape: [2, WIDTH], parameters: { binary_data_size: binary.length } }] },
      binary,
    );
    const body = await res.text();
    expect(res.status, body.slice(0, 300)).toBe(200);
    expect(body.endsWith(`"data":${text}}]}`)).toBe(true);
  });

  /** The JSON data of one row of `value` in the first place, zeros (or '') elsewhere. */
  const row = (datatype: Datatype, value: unknown): unknown[] => [
    value,
    ...Array.from({ length: WIDTH - 1 }, () => (datatype === 'BYTES' ? '' : datatype === 'BOOL' ? false : 0)),
  ];

  it.each<[Datatype, unknown, string]>([
    ['INT8', 128, 'out of range for INT8'],
    ['UINT8', -1, 'out of range for UINT8'],
    ['UINT8', 256, 'out of range for UINT8'],
    ['INT16', 32768, 'out of range for INT16'],
    ['UINT16', 65536, 'out of range for UINT16'],
    ['INT32', -2147483649, 'out of range for INT32'],
    ['UINT32', 4294967296, 'out of range for UINT32'],
    ['INT64', '9223372036854775808', 'out of range for INT64'],
    ['UINT64', '-1', 'out of range for UINT64'],
    ['INT64', 'NaN', 'must be an integer (or a string of decimal digits)'],
    ['INT32', 'NaN', 'must be a number, got string'],
    ['UINT8', 1.5, 'must be an integer for UINT8'],
    ['FP16', 1e5, 'out of range for FP16'],
    ['FP32', '0.5', 'must be a number, got string'],
    ['BOOL', 'yes', 'must be true or false'],
    ['BYTES', 42, 'must be a string, got number'],
    ['BYTES', 'a\u0000b', 'contains a NUL character'],
  ])('refuses %s %j with 400, and the next request is served', async (datatype, value, message) => {
    const url = `${t.url}/v2/models/${modelName(datatype)}/infer`;
    const res = await postJson(url, {
      inputs: [{ name: 'x', datatype, shape: [1, WIDTH], data: row(datatype, value) }],
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain(message);
    const good = CASES.find((c) => c.datatype === datatype)!;
    const next = await postJson(url, { inputs: [{ name: 'x', datatype, shape: [2, WIDTH], data: good.json }] });
    expect(next.status).toBe(200);
  });

  it('refuses an INT64 past 2^53 sent as a JSON number (JSON.parse has already rounded it)', async () => {
    const res = await postJson(
      `${t.url}/v2/models/id-int64/infer`,
      '{"inputs":[{"name":"x","datatype":"INT64","shape":[1,3],"data":[9007199254740993,0,0]}]}',
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain('send it as a string of decimal digits');
  });

  it('refuses BYTES binary data that is not UTF-8', async () => {
    const bad = Buffer.concat([lengthPrefixed(['a', '']), Buffer.of(2, 0, 0, 0, 0xc3, 0x28)]);
    const res = await postBinary(
      `${t.url}/v2/models/id-bytes/infer`,
      { inputs: [{ name: 'x', datatype: 'BYTES', shape: [1, WIDTH], parameters: { binary_data_size: bad.length } }] },
      bad,
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain('BYTES element 2 is not UTF-8');
  });

  it('lists each datatype in the model metadata', async () => {
    for (const { datatype } of CASES) {
      const meta = (await (await fetch(`${t.url}/v2/models/${modelName(datatype)}`)).json()) as {
        inputs: { datatype: string; shape: number[] }[];
      };
      expect(meta.inputs[0]).toEqual({ name: 'x', datatype, shape: [-1, WIDTH] });
    }
  });

  it('batches the strings of concurrent requests without mixing their rows', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const data = [`a${i}`, `b${i}`, `c${i}`];
        const res = await postJson(`${t.url}/v2/models/id-bytes/infer`, {
          inputs: [{ name: 'x', datatype: 'BYTES', shape: [1, WIDTH], data }],
        });
        return { data, got: ((await res.json()) as { outputs: { data: string[] }[] }).outputs[0]!.data };
      }),
    );
    for (const { data, got } of answers) expect(got).toEqual(data);
  });
});
