/**
 * Triton's JSON shapes (src/protocol/triton.ts) for what the demo models do not show: a tensor of
 * one value per row, several inputs of other types, statistics of a version not loaded, and the
 * load, unload and index bodies.
 */
import { describe, expect, it } from 'vitest';
import { VersionStats } from '../../src/inference/version-stats.js';
import {
  modelConfig,
  modelStatistics,
  optionalJsonObject,
  parseIndexRequest,
  parseLoadRequest,
  parseUnloadRequest,
  tritonDataType,
} from '../../src/protocol/triton.js';
import { modelVersion, thrown } from './versions.js';

const version = modelVersion(
  [
    { name: 'ids', datatype: 'INT64', shape: [-1, 4] },
    { name: 'flag', datatype: 'BOOL', shape: [-1] },
    { name: 'image', datatype: 'UINT8', shape: [-1, 2, 3] },
  ],
  [{ name: 'score', datatype: 'FP64', shape: [-1] }],
  'multi',
  '7',
);
const limits = { maxBatch: 8, batchDelayUs: 250, maxQueuedRows: 1024 };

describe('modelConfig', () => {
  it('writes every input and output with Triton data types and dims without the batch dimension', () => {
    const config = modelConfig({ name: 'multi', version, limits, instances: 2 }) as Record<string, unknown>;
    expect(config.input).toEqual([
      expect.objectContaining({ name: 'ids', data_type: 'TYPE_INT64', dims: [4] }),
      // One value per row: Triton needs a dimension, so [1] reshaped to [], as a Triton config says it.
      expect.objectContaining({ name: 'flag', data_type: 'TYPE_BOOL', dims: [1], reshape: { shape: [] } }),
      expect.objectContaining({ name: 'image', data_type: 'TYPE_UINT8', dims: [2, 3] }),
    ]);
    expect((config.input as object[])[0]).not.toHaveProperty('reshape');
    expect(config.output).toEqual([
      expect.objectContaining({ name: 'score', data_type: 'TYPE_FP64', dims: [1], reshape: { shape: [] } }),
    ]);
    expect(config).toMatchObject({
      max_batch_size: 8,
      dynamic_batching: { preferred_batch_size: [8], max_queue_delay_microseconds: 250 },
      instance_group: [{ name: 'multi_0', kind: 'KIND_CPU', count: 2 }],
      parameters: { version: { string_value: '7' } },
    });
  });

  it("names BYTES as Triton's TYPE_STRING", () => {
    expect(tritonDataType('BYTES' as never)).toBe('TYPE_STRING');
    expect(tritonDataType('FP32')).toBe('TYPE_FP32');
  });
});

describe('modelStatistics', () => {
  it('reads as zeros for a version that is not loaded, in nanoseconds as whole numbers otherwise', () => {
    expect(modelStatistics(version, undefined)).toMatchObject({
      name: 'multi',
      version: '7',
      last_inference: 0,
      inference_count: 0,
      execution_count: 0,
      inference_stats: { success: { count: 0, ns: 0 }, queue: { count: 0, ns: 0 } },
      batch_stats: [],
    });
    const stats = new VersionStats();
    stats.dispatched(2, 10 + 10.5, 11, 0.0004);
    stats.succeeded(2, 5, 10 + 10.5, 12.25, 0.0004, 0.7500001, 0.01);
    expect(modelStatistics(version, stats)).toMatchObject({
      inference_count: 5,
      execution_count: 1,
      inference_stats: {
        success: { count: 2, ns: 4_000_000 },
        queue: { count: 2, ns: 1_500_000 },
        compute_input: { count: 2, ns: 800 },
        compute_infer: { count: 2, ns: 1_500_000 },
        compute_output: { count: 2, ns: 20_000 },
      },
      batch_stats: [
        {
          batch_size: 5,
          compute_input: { count: 1, ns: 400 },
          compute_infer: { count: 1, ns: 750_000 },
          compute_output: { count: 1, ns: 10_000 },
        },
      ],
    });
  });
});

describe('request bodies', () => {
  it('reads an empty body as {} and anything but an object as 400', () => {
    expect(optionalJsonObject(Buffer.from(''))).toEqual({});
    expect(optionalJsonObject(Buffer.from(' \n'))).toEqual({});
    expect(thrown(() => optionalJsonObject(Buffer.from('null')))).toMatchObject({ status: 400 });
    expect(thrown(() => optionalJsonObject(Buffer.from('{')))).toMatchObject({ code: 'invalid_json' });
  });

  it('takes the version to load as a string or a whole number, and refuses overrides', () => {
    expect(parseLoadRequest({})).toEqual({ version: undefined });
    expect(parseLoadRequest({ parameters: { version: 3 } })).toEqual({ version: '3' });
    expect(parseLoadRequest({ parameters: { version: 'b' } })).toEqual({ version: 'b' });
    for (const body of [
      { parameters: { version: 1.5 } },
      { parameters: { config: '{}' } },
      { parameters: { 'file:1/model.onnx': 'AA==' } },
      { parameters: null },
      { model_name: 'x' },
    ])
      expect(
        thrown(() => parseLoadRequest(body)),
        JSON.stringify(body),
      ).toMatchObject({ status: 400 });
  });

  it('takes what tritonclient sends to unload and to the index', () => {
    expect(() => parseUnloadRequest({ parameters: { unload_dependents: true } })).not.toThrow();
    expect(thrown(() => parseUnloadRequest({ parameters: { force: true } }))).toMatchObject({ status: 400 });
    expect(parseIndexRequest({})).toEqual({ readyOnly: false });
    expect(parseIndexRequest({ ready: true, repository_name: '' })).toEqual({ readyOnly: true });
  });
});
