/** Open Inference Protocol requests (JSON and binary tensors) and answers, without a server. */
import { describe, expect, it } from 'vitest';
import { headerLength } from '../../src/protocol/binary-tensors.js';
import { checkInferTarget, inferAnswer, parseInferRequest, timeoutMicros } from '../../src/protocol/v2.js';
import { invalid, modelVersion, slice, thrown } from './versions.js';

/** Inputs x FP32 [-1, 2] and ids INT64 [-1, 1]; outputs y FP32 [-1, 1] and z FP32 [-1, 2]. */
const two = modelVersion(
  [
    { name: 'x', datatype: 'FP32', shape: [-1, 2] },
    { name: 'ids', datatype: 'INT64', shape: [-1, 1] },
  ],
  [
    { name: 'y', datatype: 'FP32', shape: [-1, 1] },
    { name: 'z', datatype: 'FP32', shape: [-1, 2] },
  ],
);
const x = (data: unknown, shape: unknown = [2, 2], extra: Record<string, unknown> = {}) => ({
  name: 'x',
  datatype: 'FP32',
  shape,
  data,
  ...extra,
});
const ids = (data: unknown = [7, 8], shape: unknown = [2, 1]) => ({ name: 'ids', datatype: 'INT64', shape, data });
const le = (values: Float32Array | BigInt64Array | Uint8Array): Buffer =>
  Buffer.from(values.buffer, values.byteOffset, values.byteLength);

describe('parseInferRequest (JSON tensors)', () => {
  it('takes inputs in any order, flat or nested, and returns them in manifest order with every output', () => {
    const request = parseInferRequest(
      {
        id: 'r1',
        inputs: [
          ids(),
          x([
            [1, 2],
            [3, 4],
          ]),
        ],
      },
      two,
      64,
    );
    expect(request).toEqual({
      id: 'r1',
      rows: 2,
      inputs: [new Float32Array([1, 2, 3, 4]), new BigInt64Array([7n, 8n])],
      outputs: [0, 1],
      binaryOutputs: [false, false],
    });
    expect(parseInferRequest({ inputs: [x([1, 2, 3, 4]), ids()] }, two, 64).inputs[0]).toEqual(
      new Float32Array([1, 2, 3, 4]),
    );
  });

  it('answers only the outputs asked for, each as JSON or binary as asked', () => {
    const request = parseInferRequest(
      {
        parameters: { binary_data_output: true },
        inputs: [x([1, 2, 3, 4]), ids()],
        outputs: [{ name: 'z' }, { name: 'y', parameters: { binary_data: false } }],
      },
      two,
      64,
    );
    expect(request.outputs).toEqual([1, 0]);
    expect(request.binaryOutputs).toEqual([true, false]);
  });

  it.each([
    ['a body that is a list', [], 'the body must be a JSON object'],
    ['an unknown key', { inputs: [], model: 'm' }, 'unknown key "model"'],
    ['a numeric id', { id: 1, inputs: [x([1, 2, 3, 4]), ids()] }, '"id" must be a string'],
    [
      'an id of 257 characters',
      { id: 'i'.repeat(257), inputs: [x([1, 2, 3, 4]), ids()] },
      '"id" must be a string of at most 256',
    ],
    [
      'parameters that are not an object',
      { parameters: [], inputs: [x([1, 2, 3, 4]), ids()] },
      '"parameters" must be an object',
    ],
    ['no inputs', { inputs: [] }, '"inputs" must be a non-empty list'],
    ['an input that is not an object', { inputs: [7] }, 'inputs[0] must be an object'],
    [
      'an input with an unknown key',
      { inputs: [x([1, 2, 3, 4], [2, 2], { contents: [] })] },
      'inputs[0]: unknown key "contents"',
    ],
    [
      'an unknown input name',
      { inputs: [{ ...x([1, 2, 3, 4]), name: 'w' }] },
      'inputs[0]: m has no input named "w" (inputs: x, ids)',
    ],
    ['an input given twice', { inputs: [x([1, 2, 3, 4]), x([1, 2, 3, 4])] }, 'inputs[1]: input "x" is given twice'],
    ['the wrong datatype', { inputs: [{ ...x([1, 2, 3, 4]), datatype: 'FP64' }] }, 'inputs[0]: datatype must be FP32'],
    ['a shape of the wrong rank', { inputs: [x([1, 2, 3, 4], [4])] }, 'inputs[0]: shape must be [n, 2]'],
    ['a shape with the wrong row size', { inputs: [x([1, 2, 3, 4], [1, 4])] }, 'inputs[0]: shape must be [n, 2]'],
    ['a negative dimension', { inputs: [x([1, 2, 3, 4], [-2, 2])] }, 'inputs[0]: shape must be [n, 2]'],
    ['a fractional dimension', { inputs: [x([1, 2, 3, 4], [1.5, 2])] }, 'inputs[0]: shape must be [n, 2]'],
    ['a batch of 0 rows', { inputs: [x([], [0, 2])] }, 'inputs[0]: the batch dimension must be between 1 and 64'],
    [
      'a batch over the limit',
      { inputs: [x(new Array(130).fill(0), [65, 2])] },
      'the batch dimension must be between 1 and 64',
    ],
    [
      'inputs of different batch sizes',
      { inputs: [x([1, 2, 3, 4]), ids([7], [1, 1])] },
      'inputs[1]: every input must have the same batch size',
    ],
    ['a missing input', { inputs: [x([1, 2, 3, 4])] }, 'input "ids" is missing'],
    ['data that is not a list', { inputs: [x('1,2,3,4'), ids()] }, 'inputs[0].data must be a list'],
    ['too few values', { inputs: [x([1, 2, 3]), ids()] }, 'inputs[0].data does not match shape [2, 2]'],
    [
      'nested data of the wrong shape',
      { inputs: [x([[1, 2, 3], [4]]), ids()] },
      'inputs[0].data does not match shape [2, 2]',
    ],
    ['a string value', { inputs: [x([1, 2, '3', 4]), ids()] }, 'inputs[0].data[2] must be a number, got string'],
    ['an infinite value', { inputs: [x([1, 2, 3, JSON.parse('-1e400')]), ids()] }, 'inputs[0].data[3] must be finite'],
    ['a value past float32', { inputs: [x([1, 2, 3, 4e38]), ids()] }, 'inputs[0].data[3] is out of range for FP32'],
    [
      'an int64 past 2^53 as a JSON number (JSON.parse has rounded it)',
      { inputs: [x([1, 2, 3, 4]), ids([1, 2 ** 53])] },
      'inputs[1].data[1] is beyond ±(2^53 - 1), where JSON numbers are not exact: send it as a string of decimal digits',
    ],
    [
      'a fractional int64',
      { inputs: [x([1, 2, 3, 4]), ids([1, 2.5])] },
      'inputs[1].data[1] must be an integer for INT64',
    ],
    [
      'outputs that are not a list',
      { inputs: [x([1, 2, 3, 4]), ids()], outputs: { name: 'y' } },
      '"outputs" must be a list',
    ],
    [
      'an output without a name',
      { inputs: [x([1, 2, 3, 4]), ids()], outputs: [{}] },
      'outputs[0] must be {"name": ...}',
    ],
    [
      'an unknown output',
      { inputs: [x([1, 2, 3, 4]), ids()], outputs: [{ name: 'q' }] },
      'outputs[0]: m has no output named "q"',
    ],
    [
      'binary_data_size without the binary extension',
      { inputs: [x(undefined, [2, 2], { parameters: { binary_data_size: 16 } }), ids()] },
      'needs the binary tensor extension',
    ],
  ])('refuses %s with 400 invalid_request', (_, body, message) => {
    expect(thrown(() => parseInferRequest(body, two, 64))).toMatchObject(invalid(message));
  });
});

describe('parseInferRequest (binary tensors)', () => {
  const binaryX = (size: unknown) => x(undefined, [2, 2], { parameters: { binary_data_size: size } });

  it('reads each binary tensor from the bytes after the header, in order, beside JSON ones', () => {
    const bytes = le(new Float32Array([1.5, -2, 3, 4]));
    const request = parseInferRequest({ inputs: [binaryX(16), ids()] }, two, 64, bytes);
    expect(request.inputs).toEqual([new Float32Array([1.5, -2, 3, 4]), new BigInt64Array([7n, 8n])]);
    const both = Buffer.concat([bytes, le(new BigInt64Array([5n, 6n]))]);
    const binaryIds = { name: 'ids', datatype: 'INT64', shape: [2, 1], parameters: { binary_data_size: 16 } };
    expect(parseInferRequest({ inputs: [binaryX(16), binaryIds] }, two, 64, both).inputs[1]).toEqual(
      new BigInt64Array([5n, 6n]),
    );
  });

  it.each([
    [
      "a size that is not the tensor's",
      12,
      le(new Float32Array(3)),
      'inputs[0]: binary_data_size must be 16 bytes for FP32 of shape [2, 2]',
    ],
    ['a size that is not a number', '16', le(new Float32Array(4)), 'binary_data_size must be 16 bytes'],
    ['data that ends early', 16, le(new Float32Array(3)), "inputs[0]: binary data ends before this tensor's 16 bytes"],
    ['bytes left over', 16, le(new Float32Array(5)), 'the binary data is 20 bytes but the inputs declare 16'],
    ['a NaN', 16, le(new Float32Array([1, Number.NaN, 3, 4])), 'inputs[0]: value 1 is not finite'],
    ['an infinity', 16, le(new Float32Array([1, 2, 3, Number.POSITIVE_INFINITY])), 'inputs[0]: value 3 is not finite'],
  ])('refuses %s', (_, size, bytes, message) => {
    expect(thrown(() => parseInferRequest({ inputs: [binaryX(size), ids()] }, two, 64, bytes))).toMatchObject(
      invalid(message),
    );
  });

  it('refuses both data and binary_data_size, and BOOL bytes other than 0 and 1', () => {
    const both = x([1, 2, 3, 4], [2, 2], { parameters: { binary_data_size: 16 } });
    expect(thrown(() => parseInferRequest({ inputs: [both, ids()] }, two, 64, le(new Float32Array(4))))).toMatchObject(
      invalid('give either "data" or binary_data_size, not both'),
    );
    const flags = modelVersion(
      [{ name: 'f', datatype: 'BOOL', shape: [-1, 2] }],
      [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
    );
    const input = { name: 'f', datatype: 'BOOL', shape: [1, 2], parameters: { binary_data_size: 2 } };
    expect(parseInferRequest({ inputs: [input] }, flags, 64, le(new Uint8Array([1, 0]))).inputs[0]).toEqual(
      new Uint8Array([1, 0]),
    );
    expect(thrown(() => parseInferRequest({ inputs: [input] }, flags, 64, le(new Uint8Array([1, 2]))))).toMatchObject(
      invalid('BOOL values must be 0 or 1'),
    );
  });

  it('takes a header length that is a whole number of bytes within the body', () => {
    expect(headerLength('120', 200)).toBe(120);
    for (const raw of ['', '-1', '1.5', 'abc', '12345678901'])
      expect(thrown(() => headerLength(raw, 200))).toMatchObject(invalid('must be a whole number of bytes'));
    for (const raw of ['1', '201'])
      expect(thrown(() => headerLength(raw, 200))).toMatchObject(invalid('does not fit the 200-byte body'));
  });
});

describe('inferAnswer', () => {
  const request = (outputs: number[], binaryOutputs: boolean[], id?: string) => ({
    id,
    rows: 2,
    inputs: [],
    outputs,
    binaryOutputs,
  });
  // A batch of three rows; this request holds rows 1 and 2.
  const batch = slice(
    two,
    [
      [0.1, 0.2, Number.NaN],
      [1, 2, 3, 4, 5, 6],
    ],
    1,
    2,
  );

  it("answers the request's rows of each output asked for as JSON, non-finite values as null", () => {
    const answer = inferAnswer(two, request([1, 0], [false, false], 'r1'), batch, { decision: 'd1', propensity: 0.5 });
    expect('json' in answer && JSON.parse(answer.json)).toEqual({
      model_name: 'm',
      model_version: '1',
      id: 'r1',
      parameters: { decision: 'd1', propensity: 0.5 },
      outputs: [
        { name: 'z', datatype: 'FP32', shape: [2, 2], data: [3, 4, 5, 6] },
        { name: 'y', datatype: 'FP32', shape: [2, 1], data: [expect.closeTo(0.2, 6), null] },
      ],
    });
  });

  it('puts binary outputs after the JSON header, their sizes in it', () => {
    const answer = inferAnswer(two, request([0, 1], [false, true]), batch);
    if (!('header' in answer)) throw new Error('expected a binary answer');
    const header = JSON.parse(answer.bytes.subarray(0, answer.header).toString('utf8'));
    expect(header.outputs[1]).toEqual({
      name: 'z',
      datatype: 'FP32',
      shape: [2, 2],
      parameters: { binary_data_size: 16 },
    });
    expect(header).not.toHaveProperty('id');
    const tail = answer.bytes.subarray(answer.header);
    expect([...new Float32Array(tail.buffer.slice(tail.byteOffset, tail.byteOffset + tail.length))]).toEqual([
      3, 4, 5, 6,
    ]);
  });
});

describe('checkInferTarget (model_name / model_version against the URL)', () => {
  const check = (body: unknown, version?: string, live?: string) => () =>
    checkInferTarget(body, 'fraud', version, live);

  it('passes a body that names nothing, the URL, or the server’s choice', () => {
    for (const body of [{}, { model_name: 'fraud' }, { model_name: 'fraud', model_version: '' }, [], null, 'x'])
      expect(check(body, undefined, '1')).not.toThrow();
    expect(check({ model_version: '1' }, undefined, '1')).not.toThrow();
    expect(check({ model_version: '3' }, '3', '1')).not.toThrow();
  });

  it('refuses another target, and names that are not strings, as invalid_request', () => {
    const cases: [unknown, string | undefined, string | undefined, string][] = [
      [{ model_name: 'other' }, undefined, '1', '"model_name" is "other" but the URL names "fraud"'],
      [{ model_name: 7 }, undefined, '1', '"model_name" must be a string'],
      [{ model_version: 2 }, '2', '1', '"model_version" must be a string'],
      [{ model_version: '1' }, '2', '1', '"model_version" is "1" but the URL names version "2"'],
      [
        { model_version: '2' },
        undefined,
        '1',
        '"model_version" is "2" but the URL serves the live version "1"; send it to /v2/models/fraud/versions/2/infer',
      ],
      [
        { model_version: 'a' },
        undefined,
        undefined,
        '"model_version" is "a" but a route\'s policy picks the version; send it to /v2/models/fraud/versions/a/infer to pin an arm',
      ],
    ];
    for (const [body, version, live, message] of cases)
      expect(thrown(check(body, version, live))).toMatchObject(invalid(message));
  });
});

describe('timeoutMicros (Triton’s parameters.timeout)', () => {
  it('is the whole number of microseconds given, or 0 when there is none', () => {
    expect(timeoutMicros({ parameters: { timeout: 1500 } })).toBe(1500);
    expect(timeoutMicros({ parameters: { timeout: 0 } })).toBe(0);
    expect(timeoutMicros({ parameters: {} })).toBe(0);
    expect(timeoutMicros({})).toBe(0);
    expect(timeoutMicros({ parameters: 'x' })).toBe(0); // parseInferRequest refuses that parameters
  });

  it('refuses anything else', () => {
    for (const timeout of [-1, 0.5, '10', null, Number.NaN, 2 ** 53, [1]])
      expect(thrown(() => timeoutMicros({ parameters: { timeout } }))).toMatchObject(
        invalid('"parameters.timeout" must be a whole number of microseconds (0 for none)'),
      );
  });
});
