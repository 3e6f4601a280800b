/**
 * Every datatype, in and out, in JSON and in binary, without a server: what a request's values
 * become, what goes back, and what is refused (wrong types, out-of-range integers, NaN, strings
 * where numbers go, 64-bit integers JSON cannot hold exactly).
 */
import { describe, expect, it } from 'vitest';
import type { RowSlice } from '../../src/inference/batcher.js';
import { outputBytes } from '../../src/protocol/binary-tensors.js';
import {
  DATATYPE_NAMES,
  DATATYPES,
  datatypeFromOnnx,
  datatypeFromOrt,
  type Datatype,
  type TensorValues,
} from '../../src/protocol/datatypes.js';
import { inferAnswer, parseInferRequest } from '../../src/protocol/v2.js';
import { invalid, modelVersion, thrown } from './versions.js';

/** x [-1, n] -> y [-1, n], both of `datatype`. */
const identity = (datatype: Datatype, n: number) =>
  modelVersion([{ name: 'x', datatype, shape: [-1, n] }], [{ name: 'y', datatype, shape: [-1, n] }]);

const jsonRequest = (datatype: Datatype, data: unknown[], rows = 1) => ({
  inputs: [{ name: 'x', datatype, shape: [rows, data.length / rows], data }],
});

/** What a request of `data` gives back as JSON text, through an identity model. */
function roundTrip(datatype: Datatype, data: unknown[]): { tensor: TensorValues; json: string } {
  const version = identity(datatype, data.length);
  const request = parseInferRequest(jsonRequest(datatype, data), version, 64);
  const tensor = request.inputs[0]!;
  const slice: RowSlice = {
    result: {
      outputs: [{ name: 'y', type: DATATYPES[datatype].ort, dims: [1, data.length], data: tensor }],
      seconds: 0,
    },
    offset: 0,
    rows: 1,
  };
  const answer = inferAnswer(version, request, slice);
  if (!('json' in answer)) throw new Error('expected JSON');
  return { tensor, json: answer.json };
}

/** The `data` text of the (only) output in an answer, as sent: JSON.parse would round 64-bit integers. */
const dataText = (json: string): string => /"data":(\[.*?\])\}\]\}$/.exec(json)![1]!;

describe('the datatype table', () => {
  it('lists every datatype once, each with its own ONNX Runtime and ONNX type', () => {
    expect([...DATATYPE_NAMES].sort()).toEqual(Object.keys(DATATYPES).sort());
    for (const name of DATATYPE_NAMES) {
      expect(datatypeFromOrt(DATATYPES[name].ort)).toBe(name);
      expect(datatypeFromOnnx(DATATYPES[name].onnx)).toBe(name);
    }
    expect(datatypeFromOnnx(16)).toBeUndefined(); // bfloat16
  });
});

describe('JSON tensors, in and out, per datatype', () => {
  it.each<[Datatype, unknown[], string, ArrayLike<unknown>]>([
    ['BOOL', [true, false, 1, 0], '[true,false,true,false]', [1, 0, 1, 0]],
    ['INT8', [-128, 127, 0], '[-128,127,0]', [-128, 127, 0]],
    ['INT16', [-32768, 32767], '[-32768,32767]', [-32768, 32767]],
    ['INT32', [-2147483648, 2147483647], '[-2147483648,2147483647]', [-2147483648, 2147483647]],
    ['UINT8', [0, 255], '[0,255]', [0, 255]],
    ['UINT16', [0, 65535], '[0,65535]', [0, 65535]],
    ['UINT32', [0, 4294967295], '[0,4294967295]', [0, 4294967295]],
    ['FP32', [0.5, -1e30], '[0.5,-1.0000000150474662e+30]', [0.5, Math.fround(-1e30)]],
    ['FP64', [0.1, -1e300], '[0.1,-1e+300]', [0.1, -1e300]],
    [
      'FP16',
      [1, 0.1, 65504, 2 ** -24, -0],
      '[1,0.0999755859375,65504,5.960464477539063e-8,0]',
      [0x3c00, 0x2e66, 0x7bff, 1, 0x8000],
    ],
    ['BYTES', ['FR', 'é😀', '', '"quoted"\n'], '["FR","é😀","","\\"quoted\\"\\n"]', ['FR', 'é😀', '', '"quoted"\n']],
  ])('%s', (datatype, data, text, held) => {
    const { tensor, json } = roundTrip(datatype, data);
    expect(Array.from(tensor as ArrayLike<unknown>)).toEqual(Array.from(held));
    expect(dataText(json)).toBe(text);
  });

  it('INT64 and UINT64 are exact both ways: decimal strings in, exact digits out, never through a double', () => {
    const int64 = roundTrip('INT64', [
      '-9223372036854775808',
      '9223372036854775807',
      9007199254740991,
      '9007199254740993',
    ]);
    expect([...(int64.tensor as BigInt64Array)]).toEqual([
      -(2n ** 63n),
      2n ** 63n - 1n,
      2n ** 53n - 1n,
      2n ** 53n + 1n,
    ]);
    expect(dataText(int64.json)).toBe('[-9223372036854775808,9223372036854775807,9007199254740991,9007199254740993]');
    const uint64 = roundTrip('UINT64', ['18446744073709551615', 0, '12345678901234567890']);
    expect([...(uint64.tensor as BigUint64Array)]).toEqual([2n ** 64n - 1n, 0n, 12345678901234567890n]);
    expect(dataText(uint64.json)).toBe('[18446744073709551615,0,12345678901234567890]');
  });

  it('writes non-finite FP16, FP32 and FP64 outputs as null (JSON has no NaN)', () => {
    const version = identity('FP16', 3);
    const request = parseInferRequest(jsonRequest('FP16', [0, 0, 0]), version, 64);
    const out = Uint16Array.of(0x7c00, 0xfc00, 0x7e00);
    const answer = inferAnswer(version, request, {
      result: { outputs: [{ name: 'y', type: 'float16', dims: [1, 3], data: out }], seconds: 0 },
      offset: 0,
      rows: 1,
    });
    expect(JSON.parse((answer as { json: string }).json).outputs[0].data).toEqual([null, null, null]);
  });

  const refuse = (datatype: Datatype, value: unknown) =>
    thrown(() => parseInferRequest(jsonRequest(datatype, [value]), identity(datatype, 1), 64));

  it.each<[Datatype, unknown, string]>([
    ['INT8', 128, 'inputs[0].data[0] is out of range for INT8'],
    ['INT8', -129, 'out of range for INT8'],
    ['UINT8', -1, 'out of range for UINT8'],
    ['UINT8', 256, 'out of range for UINT8'],
    ['UINT16', 65536, 'out of range for UINT16'],
    ['INT32', 2 ** 31, 'out of range for INT32'],
    ['UINT32', 2 ** 32, 'out of range for UINT32'],
    ['UINT32', -1, 'out of range for UINT32'],
    ['UINT64', -1, 'out of range for UINT64'],
    ['UINT64', '18446744073709551616', 'out of range for UINT64'],
    ['INT64', '9223372036854775808', 'out of range for INT64'],
    ['INT64', 2 ** 53, 'beyond ±(2^53 - 1), where JSON numbers are not exact: send it as a string of decimal digits'],
    ['UINT64', 1e20, 'beyond ±(2^53 - 1)'],
    ['INT64', '12.5', 'must be an integer (or a string of decimal digits) for INT64, got a string that is not one'],
    ['INT64', '0x10', 'a string that is not one'],
    ['INT64', ' 1', 'a string that is not one'],
    ['INT64', '1'.repeat(21), 'a string that is not one'],
    ['INT64', 1.5, 'must be an integer for INT64'],
    ['INT64', null, 'got null'],
    ['INT16', 'NaN', 'must be a number, got string'],
    ['INT32', 'NaN', 'must be a number, got string'],
    ['INT8', 0.5, 'must be an integer for INT8'],
    ['UINT8', true, 'must be a number, got boolean'],
    ['FP32', '1', 'must be a number, got string'],
    ['FP64', { v: 1 }, 'must be a number, got object'],
    ['FP16', 65520, 'out of range for FP16'],
    ['FP16', -1e6, 'out of range for FP16'],
    ['FP16', JSON.parse('1e400'), 'must be finite'],
    ['FP16', '1', 'must be a number, got string'],
    ['BOOL', 2, 'must be true or false'],
    ['BOOL', 'true', 'must be true or false'],
    ['BYTES', 1, 'inputs[0].data[0] must be a string, got number'],
    ['BYTES', null, 'must be a string, got null'],
    ['BYTES', { s: 'x' }, 'must be a string, got object'],
    ['BYTES', 'a\u0000b', 'contains a NUL character'],
  ])('refuses %s %j', (datatype, value, message) => {
    expect(refuse(datatype, value)).toMatchObject(invalid(message));
  });
});

/** A binary request's body part of the tensor bytes `bytes`, through an identity model of `n` values. */
function binaryParse(datatype: Datatype, n: number, bytes: Buffer) {
  return parseInferRequest(
    {
      inputs: [{ name: 'x', datatype, shape: [1, n], parameters: { binary_data_size: bytes.length } }],
      outputs: [{ name: 'y', parameters: { binary_data: true } }],
    },
    identity(datatype, n),
    64,
    bytes,
  );
}

/** The protocol's BYTES layout: a 4-byte little-endian length before each element. */
function lengthPrefixed(...elements: (string | Buffer)[]): Buffer {
  return Buffer.concat(
    elements.flatMap((e) => {
      const bytes = typeof e === 'string' ? Buffer.from(e, 'utf8') : e;
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    }),
  );
}

const bytesOf = (v: ArrayBufferView): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

describe('binary tensors, in and out, per datatype', () => {
  it.each<[Datatype, ArrayBufferView]>([
    ['BOOL', Uint8Array.of(1, 0, 1)],
    ['INT8', Int8Array.of(-128, 127)],
    ['INT16', Int16Array.of(-32768, 32767)],
    ['INT32', Int32Array.of(-2147483648, 2147483647)],
    ['INT64', BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n)],
    ['UINT8', Uint8Array.of(0, 255)],
    ['UINT16', Uint16Array.of(0, 65535)],
    ['UINT32', Uint32Array.of(0, 4294967295)],
    ['UINT64', BigUint64Array.of(0n, 2n ** 64n - 1n)],
    ['FP16', Uint16Array.of(0x3c00, 0x0001, 0x7bff, 0x8000)],
    ['FP32', Float32Array.of(0.5, -1e30)],
    ['FP64', Float64Array.of(0.1, -1e300)],
  ])('%s: the bytes in are the values held and the bytes out', (datatype, values) => {
    const n = (values as unknown as ArrayLike<unknown>).length;
    const request = binaryParse(datatype, n, bytesOf(values));
    const tensor = request.inputs[0]!;
    expect(tensor).toEqual(values);
    expect(outputBytes(tensor, n, 0, 1).equals(bytesOf(values))).toBe(true);
  });

  it('BYTES: length-prefixed elements in, strings held, the same layout out', () => {
    const body = lengthPrefixed('FR', '', 'é😀');
    const tensor = binaryParse('BYTES', 3, body).inputs[0]!;
    expect(tensor).toEqual(['FR', '', 'é😀']);
    expect(outputBytes(tensor, 3, 0, 1).equals(body)).toBe(true);
    // Rows 1 and 2 of a 3-row batch of one string each.
    expect(outputBytes(['a', 'bc', 'def'], 1, 1, 2).equals(lengthPrefixed('bc', 'def'))).toBe(true);
  });

  it.each<[string, Datatype, number, Buffer, string]>([
    ['a NaN FP16', 'FP16', 1, bytesOf(Uint16Array.of(0x7e00)), 'value 0 is not finite'],
    ['an infinite FP16', 'FP16', 2, bytesOf(Uint16Array.of(0, 0xfc00)), 'value 1 is not finite'],
    ['a NaN FP64', 'FP64', 1, bytesOf(Float64Array.of(Number.NaN)), 'value 0 is not finite'],
    ['a BOOL of 2', 'BOOL', 1, Buffer.of(2), 'BOOL values must be 0 or 1'],
    ['a size that is not the shape', 'UINT32', 2, Buffer.alloc(4), 'binary_data_size must be 8 bytes for UINT32'],
    ['a BYTES size under 4 per element', 'BYTES', 2, lengthPrefixed('a'), 'at least 4 per BYTES element'],
    [
      'a BYTES length past the data',
      'BYTES',
      1,
      Buffer.concat([Buffer.of(9, 0, 0, 0), Buffer.from('abc')]),
      'BYTES element 0 runs past binary_data_size',
    ],
    [
      'a huge BYTES length',
      'BYTES',
      1,
      Buffer.of(0xff, 0xff, 0xff, 0xff, 0x41),
      'BYTES element 0 runs past binary_data_size',
    ],
    [
      'bytes left over after the elements',
      'BYTES',
      1,
      Buffer.concat([lengthPrefixed('a'), Buffer.of(0)]),
      'the 1 BYTES elements take 5',
    ],
    [
      'a BYTES element that is not UTF-8',
      'BYTES',
      1,
      lengthPrefixed(Buffer.of(0xc3, 0x28)),
      'BYTES element 0 is not UTF-8',
    ],
    ['a BYTES element with a NUL', 'BYTES', 1, lengthPrefixed(Buffer.from('a\0b')), 'contains a NUL byte'],
  ])('refuses %s', (_, datatype, n, body, message) => {
    expect(thrown(() => binaryParse(datatype, n, body))).toMatchObject(invalid(message));
  });
});
