/** `/v1/predict`: the body, the rows it becomes (every refusal a 400 invalid_request), and the answer's outputs. */
import { describe, expect, it } from 'vitest';
import { featuresToRows, outputsJson, parsePredictBody } from '../../src/protocol/predict.js';
import { invalid, modelVersion, scorer, slice, thrown } from './versions.js';

describe('parsePredictBody', () => {
  it('takes features and an optional unit', () => {
    expect(parsePredictBody({ features: [1, 2, 3] })).toEqual({ features: [1, 2, 3], unit: undefined });
    expect(parsePredictBody({ features: { a: 1 }, unit: 'user-7' })).toEqual({ features: { a: 1 }, unit: 'user-7' });
  });

  it.each([
    ['an array', [1, 2, 3], 'must be a JSON object'],
    ['null', null, 'must be a JSON object'],
    ['a string', 'features', 'must be a JSON object'],
    ['an unknown key', { features: [1], feature: [1] }, 'unknown key "feature"'],
    ['no features', { unit: 'u' }, '"features" is required'],
    ['a numeric unit', { features: [1], unit: 7 }, '"unit" must be a string'],
    ['an empty unit', { features: [1], unit: '' }, '"unit" must be a string of 1 to 256'],
    ['a unit of 257 characters', { features: [1], unit: 'u'.repeat(257) }, '"unit" must be a string of 1 to 256'],
  ])('refuses %s', (_, body, message) => {
    expect(thrown(() => parsePredictBody(body))).toMatchObject(invalid(message));
  });
});

describe('featuresToRows', () => {
  it('takes one row, a list of rows, named features and a list of named rows, in feature order', () => {
    expect(featuresToRows([1, 2, 3], scorer, 64)).toEqual({ rows: 1, inputs: [new Float32Array([1, 2, 3])] });
    expect(
      featuresToRows(
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
        scorer,
        64,
      ),
    ).toEqual({ rows: 2, inputs: [new Float32Array([1, 2, 3, 4, 5, 6])] });
    expect(featuresToRows({ c: 3, a: 1, b: 2 }, scorer, 64)).toEqual({
      rows: 1,
      inputs: [new Float32Array([1, 2, 3])],
    });
    expect(
      featuresToRows(
        [
          { c: 3, a: 1, b: 2 },
          { a: -1, b: 0.5, c: 1e30 },
        ],
        scorer,
        64,
      ).inputs[0],
    ).toEqual(new Float32Array([1, 2, 3, -1, 0.5, 1e30]));
  });

  it.each([
    // An empty list is read as one empty row (so the '"features" must not be empty' branch is never reached).
    ['an empty list', [], 'features must have 3 values, got 0'],
    ['a short row', [1, 2], 'features must have 3 values, got 2'],
    [
      'a long row among rows',
      [
        [1, 2, 3],
        [1, 2, 3, 4],
      ],
      'features[1] must have 3 values, got 4',
    ],
    ['a string value', [1, '2', 3], 'features[1] must be a number, got string'],
    ['a null value', [1, null, 3], 'features[1] must be a number, got null'],
    [
      'a boolean value',
      [
        [1, 2, 3],
        [1, 2, true],
      ],
      'features[1][2] must be a number, got boolean',
    ],
    ['Infinity (JSON 1e400)', [1, JSON.parse('1e400'), 3], 'features[1] must be finite'],
    ['NaN', [1, 2, Number.NaN], 'features[2] must be finite'],
    ['a number past float32', [1, 2, 1e39], 'features[2] is out of range for FP32'],
    ['a missing named feature', { a: 1, b: 2 }, 'features: feature "c" is missing'],
    ['an unknown named feature', { a: 1, b: 2, c: 3, d: 4 }, 'features: unknown feature "d"'],
    ['a named feature that is not a number', [{ a: 1, b: 'x', c: 3 }], 'features[0].b must be a number'],
    ['a row that is neither list nor object', [[1, 2, 3], 7], 'features[1] must be a list of 3 numbers or an object'],
  ])('refuses %s', (_, features, message) => {
    expect(thrown(() => featuresToRows(features, scorer, 64))).toMatchObject(invalid(message));
  });

  it('refuses more rows than a request may hold', () => {
    expect(
      thrown(() =>
        featuresToRows(
          [
            [1, 2, 3],
            [1, 2, 3],
            [1, 2, 3],
          ],
          scorer,
          2,
        ),
      ),
    ).toMatchObject(invalid('at most 2 rows per request'));
  });

  it('refuses named features for a model without feature names', () => {
    const unnamed = modelVersion(
      [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }],
      [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
    );
    expect(thrown(() => featuresToRows({ a: 1, b: 2 }, unnamed, 64))).toMatchObject(
      invalid('m has no feature names: send a list of 2 values'),
    );
    const twoUnnamed = modelVersion(
      [
        { name: 'x', datatype: 'FP32', shape: [-1, 2], featureNames: ['a', 'b'] },
        { name: 'z', datatype: 'FP32', shape: [-1, 2] },
      ],
      [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
    );
    expect(thrown(() => featuresToRows({ a: 1, b: 2 }, twoUnnamed, 64))).toMatchObject(
      invalid('m has no feature names: send a list of 4 values'),
    );
  });

  it('checks integer and boolean inputs against their datatype', () => {
    const typed = (datatype: 'INT8' | 'INT64' | 'BOOL') =>
      modelVersion([{ name: 'x', datatype, shape: [-1, 2] }], [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }]);
    expect(featuresToRows([-128, 127], typed('INT8'), 64).inputs[0]).toEqual(new Int8Array([-128, 127]));
    expect(thrown(() => featuresToRows([1, 128], typed('INT8'), 64))).toMatchObject(
      invalid('features[1] is out of range for INT8'),
    );
    expect(thrown(() => featuresToRows([1, 1.5], typed('INT8'), 64))).toMatchObject(
      invalid('features[1] must be an integer for INT8'),
    );
    expect(featuresToRows([2 ** 53 - 1, -5], typed('INT64'), 64).inputs[0]).toEqual(
      new BigInt64Array([2n ** 53n - 1n, -5n]),
    );
    expect(thrown(() => featuresToRows([2 ** 53, 1], typed('INT64'), 64))).toMatchObject(
      invalid('features[0] is beyond ±(2^53 - 1), where JSON numbers are not exact'),
    );
    expect(featuresToRows([true, 0], typed('BOOL'), 64).inputs[0]).toEqual(new Uint8Array([1, 0]));
    expect(thrown(() => featuresToRows([true, 2], typed('BOOL'), 64))).toMatchObject(
      invalid('features[1] must be true or false'),
    );
  });
});

describe('featuresToRows, string features and several inputs', () => {
  /** Like the demo's checkout: country and channel (BYTES) and amount (FP32), one value each. */
  const checkout = modelVersion(
    [
      { name: 'country', datatype: 'BYTES', shape: [-1, 1], featureNames: ['country'] },
      { name: 'channel', datatype: 'BYTES', shape: [-1, 1], featureNames: ['channel'] },
      { name: 'amount', datatype: 'FP32', shape: [-1, 1], featureNames: ['amount'] },
    ],
    [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }],
  );

  it('is off the fast path; the all-numeric one-input model stays on it', () => {
    expect(checkout.fastPredict).toBe(false);
    expect(scorer.fastPredict).toBe(true);
  });

  it('takes named features across inputs, in any order, and rows as every input in manifest order', () => {
    expect(featuresToRows({ amount: 12.5, country: 'FR', channel: 'web' }, checkout, 64)).toEqual({
      rows: 1,
      inputs: [['FR'], ['web'], new Float32Array([12.5])],
    });
    expect(featuresToRows([{ country: 'FR', channel: 'web', amount: 1 }, ['NG', 'app', 2]], checkout, 64)).toEqual({
      rows: 2,
      inputs: [['FR', 'NG'], ['web', 'app'], new Float32Array([1, 2])],
    });
  });

  it('puts the values of a multi-value input in place', () => {
    const mixed = modelVersion(
      [
        { name: 'tags', datatype: 'BYTES', shape: [-1, 2], featureNames: ['first', 'second'] },
        { name: 'x', datatype: 'INT64', shape: [-1, 2], featureNames: ['a', 'b'] },
      ],
      [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
    );
    expect(
      featuresToRows([{ b: '9007199254740993', second: 'z', a: 1, first: 'y' }, ['p', 'q', 3, 4]], mixed, 64),
    ).toEqual({
      rows: 2,
      inputs: [['y', 'z', 'p', 'q'], new BigInt64Array([1n, 2n ** 53n + 1n, 3n, 4n])],
    });
  });

  it.each([
    [
      'a number for a string feature',
      { country: 1, channel: 'web', amount: 1 },
      'features.country must be a string, got number',
    ],
    [
      'a string for a numeric feature',
      { country: 'FR', channel: 'web', amount: '1' },
      'features.amount must be a number, got string',
    ],
    ['a missing feature', { country: 'FR', amount: 1 }, 'features: feature "channel" is missing'],
    [
      'an unknown feature',
      { country: 'FR', channel: 'web', amount: 1, city: 'Paris' },
      'features: unknown feature "city"',
    ],
    ['a row of the wrong length', ['FR', 'web'], 'features must have 3 values, got 2'],
    ['a null in a row', ['FR', null, 1], 'features[1] must be a string, got null'],
    ['a NUL in a string', { country: 'F\u0000R', channel: 'web', amount: 1 }, 'contains a NUL character'],
    ['a bare string', 'FR', 'features must be a list of 3 values or an object of named features'],
    ['no values', [], 'features must have 3 values, got 0'],
  ])('refuses %s', (_, features, message) => {
    expect(thrown(() => featuresToRows(features, checkout, 64))).toMatchObject(invalid(message));
  });

  it('reads only the features sent, not Object.prototype members of the same name', () => {
    const odd = modelVersion(
      [
        { name: 'a', datatype: 'BYTES', shape: [-1, 1], featureNames: ['constructor'] },
        { name: 'b', datatype: 'FP32', shape: [-1, 1], featureNames: ['toString'] },
      ],
      [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
    );
    expect(thrown(() => featuresToRows({ toString: 1 }, odd, 64))).toMatchObject(
      invalid('features: feature "constructor" is missing'),
    );
    expect(featuresToRows({ constructor: 'c', toString: 1 }, odd, 64).inputs).toEqual([['c'], new Float32Array([1])]);
  });

  it('writes 64-bit integer outputs with their exact digits on the fast path too', () => {
    const counts = modelVersion(
      [{ name: 'x', datatype: 'FP32', shape: [-1, 1] }],
      [
        { name: 'id', datatype: 'INT64', shape: [-1, 1] },
        { name: 'n', datatype: 'UINT64', shape: [-1, 1] },
      ],
    );
    expect(counts.fastPredict).toBe(true);
    const json = outputsJson(counts, {
      result: {
        outputs: [
          { name: 'id', type: 'int64', dims: [1, 1], data: BigInt64Array.of(-(2n ** 63n)) },
          { name: 'n', type: 'uint64', dims: [1, 1], data: BigUint64Array.of(2n ** 64n - 1n) },
        ],
        seconds: 0,
      },
      offset: 0,
      rows: 1,
    });
    expect(json).toBe('{"id":[-9223372036854775808],"n":[18446744073709551615]}');
  });

  it('writes string and FP16 outputs by their datatype', () => {
    const labels = modelVersion(
      [{ name: 'x', datatype: 'FP32', shape: [-1, 1] }],
      [
        { name: 'label', datatype: 'BYTES', shape: [-1, 1] },
        { name: 'half', datatype: 'FP16', shape: [-1, 2] },
        { name: 'big', datatype: 'UINT64', shape: [-1, 1] },
      ],
    );
    expect(labels.fastPredict).toBe(false);
    const json = outputsJson(labels, {
      result: {
        outputs: [
          { name: 'label', type: 'string', dims: [2, 1], data: ['low', 'high "risk"'] },
          { name: 'half', type: 'float16', dims: [2, 2], data: Uint16Array.of(0x3c00, 0x7c00, 0x2e66, 0x0001) },
          { name: 'big', type: 'uint64', dims: [2, 1], data: BigUint64Array.of(1n, 2n ** 64n - 1n) },
        ],
        seconds: 0,
      },
      offset: 0,
      rows: 2,
    });
    expect(json).toBe(
      '{"label":["low","high \\"risk\\""],"half":[[1,null],[0.0999755859375,5.960464477539063e-8]],"big":[1,18446744073709551615]}',
    );
  });
});

describe('outputsJson', () => {
  it("answers only the request's rows of the batch, as values or vectors; non-finite values as null", () => {
    const version = modelVersion(
      [{ name: 'x', datatype: 'FP32', shape: [-1, 1] }],
      [
        { name: 'p', datatype: 'FP32', shape: [-1, 1] },
        { name: 'v', datatype: 'FP32', shape: [-1, 2] },
        { name: 'ok', datatype: 'BOOL', shape: [-1, 1] },
      ],
    );
    // A batch of three rows; this request holds rows 1 and 2.
    const batch = slice(
      version,
      [
        [0.5, 0.25, Number.NaN],
        [1, 2, 3, 4, 5, Number.POSITIVE_INFINITY],
        [0, 1, 0],
      ],
      1,
      2,
    );
    const json = outputsJson(version, batch);
    expect(JSON.parse(json)).toEqual({
      p: [0.25, null],
      v: [
        [3, 4],
        [5, null],
      ],
      ok: [true, false],
    });
  });
});
