/** Model versions for protocol tests, built in memory the way the repository builds them from model.json. */
import { expect } from 'vitest';
import type { InferResult, TensorData } from '../../src/inference/messages.js';
import type { RowSlice } from '../../src/inference/batcher.js';
import { DATATYPES, type Datatype, type NumericArray } from '../../src/protocol/datatypes.js';
import { isFastPredict } from '../../src/protocol/predict.js';
import type { TensorSpec } from '../../src/registry/manifest.js';
import type { ModelVersion } from '../../src/registry/repository.js';

const rowSize = (shape: readonly number[]): number => shape.slice(1).reduce((a, b) => a * b, 1);

export function modelVersion(inputs: TensorSpec[], outputs: TensorSpec[], model = 'm', version = '1'): ModelVersion {
  return {
    model,
    version,
    key: `${model}@${version}`,
    dir: '/nowhere',
    file: '/nowhere/model.onnx',
    sha256: '0'.repeat(64),
    manifest: {
      name: model,
      version,
      format: 'onnx',
      file: 'model.onnx',
      sha256: '0'.repeat(64),
      created: '2026-01-01T00:00:00.000Z',
      inputs,
      outputs,
    },
    inputRowSizes: inputs.map((t) => rowSize(t.shape)),
    outputRowSizes: outputs.map((t) => rowSize(t.shape)),
    outputKeys: outputs.map((t) => `${JSON.stringify(t.name)}:[`),
    fastPredict: isFastPredict({ inputs, outputs }),
  };
}

/** A one-input FP32 model: `x` [-1, 3] with feature names a, b, c -> `y` [-1, 1]. */
export const scorer = modelVersion(
  [{ name: 'x', datatype: 'FP32', shape: [-1, 3], featureNames: ['a', 'b', 'c'] }],
  [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
);

/** A batch result whose output `o` holds `values` (row-major), as a worker would answer it. */
export function slice(
  version: ModelVersion,
  values: readonly (readonly number[])[],
  offset: number,
  rows: number,
): RowSlice {
  const outputs: TensorData[] = version.manifest.outputs.map((spec, o) => {
    const info = DATATYPES[spec.datatype as Datatype];
    const data = info.create(values[o]!.length) as NumericArray;
    values[o]!.forEach((v, i) => {
      if (data instanceof BigInt64Array) data[i] = BigInt(v);
      else data[i] = v;
    });
    return {
      name: spec.name,
      type: info.ort,
      dims: [values[o]!.length / version.outputRowSizes[o]!, ...spec.shape.slice(1)],
      data,
    };
  });
  const result: InferResult = { outputs, seconds: 0.001 };
  return { result, offset, rows };
}

/** The error `fn` throws (fails the test when it throws none). */
export function thrown(fn: () => unknown): Error & { code?: string; status?: number } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string; status?: number };
  }
  throw new Error('expected a throw');
}

/** What a 400 invalid_request whose message names `message` looks like. */
export function invalid(message: string): object {
  return { code: 'invalid_request', status: 400, message: expect.stringContaining(message) };
}
