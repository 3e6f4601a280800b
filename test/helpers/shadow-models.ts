/**
 * Real ONNX models with the demo fraud model's inputs (FP32 [N, 32], its feature names) and a
 * `probability` output [N, 1], for shadow-arm tests: one that always says 0.99, one that is slow,
 * one that fails on rows whose first feature is 2 or more. Written into a copy of the demo models.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { writeVersion } from './onnx.js';
import { DEMO_MODELS } from './server.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

type Node = onnxProto.onnx.INodeProto;
type Tensor = onnxProto.onnx.ITensorProto;

const io = (name: string, width: number): onnxProto.onnx.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] } } },
});

const floats = (name: string, dims: number[], values: Float32Array): Tensor => ({
  name,
  dims,
  dataType: FLOAT,
  rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
});

function graph(name: string, node: Node[], initializer: Tensor[]): Uint8Array {
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'croupier-test',
    graph: { name, node, initializer, input: [io('features', 32)], output: [io('probability', 1)] },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** probability = 0.99 whatever the row (x · 0 + 0.99). */
export function constantModel(value = 0.99): Uint8Array {
  return graph(
    'constant',
    [
      { opType: 'MatMul', input: ['features', 'w'], output: ['z'] },
      { opType: 'Add', input: ['z', 'b'], output: ['probability'] },
    ],
    [floats('w', [32, 1], new Float32Array(32)), floats('b', [1], Float32Array.of(value))],
  );
}

/**
 * A deep stack of `width`×`width` MatMuls (one shared weight, tiny values so nothing overflows),
 * then a sigmoid: about layers × width² multiply-adds per row.
 */
export function slowModel(layers: number, width = 512): Uint8Array {
  const w = new Float32Array(width * width).fill(1 / width);
  const nodes: Node[] = [{ opType: 'MatMul', input: ['features', 'w_in'], output: ['h0'] }];
  for (let i = 0; i < layers; i++) nodes.push({ opType: 'MatMul', input: [`h${i}`, 'w'], output: [`h${i + 1}`] });
  nodes.push({ opType: 'MatMul', input: [`h${layers}`, 'w_out'], output: ['z'] });
  nodes.push({ opType: 'Sigmoid', input: ['z'], output: ['probability'] });
  return graph('slow', nodes, [
    floats('w_in', [32, width], new Float32Array(32 * width).fill(1 / 32)),
    floats('w', [width, width], w),
    floats('w_out', [width, 1], new Float32Array(width).fill(1 / width)),
  ]);
}

/**
 * Fails at run time on a row whose first feature is 2 or more: it becomes an index into a table of
 * two values (ONNX Runtime refuses an index out of bounds). Rows of zeros (the warm-up) pass.
 */
export function failingModel(): Uint8Array {
  const pick = new Float32Array(32);
  pick[0] = 1;
  return graph(
    'failing',
    [
      { opType: 'MatMul', input: ['features', 'pick'], output: ['first'] },
      { opType: 'Cast', input: ['first'], output: ['index'], attribute: [{ name: 'to', type: 2, i: 7 }] },
      {
        opType: 'Gather',
        input: ['table', 'index'],
        output: ['probability'],
        attribute: [{ name: 'axis', type: 2, i: 0 }],
      },
    ],
    [floats('pick', [32, 1], pick), floats('table', [2], Float32Array.of(0.1, 0.2))],
  );
}

/** The demo fraud manifest's inputs and monitor, for a model of ours at `version`. */
export function fraudLikeManifest(version: string, bytes: Uint8Array, monitor = true): Record<string, unknown> {
  const demo = JSON.parse(readFileSync(join(DEMO_MODELS, 'fraud', '1', 'model.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  return {
    name: 'fraud',
    version,
    format: 'onnx',
    file: 'model.onnx',
    sha256: createHash('sha256').update(bytes).digest('hex'),
    created: '2026-01-01T00:00:00.000Z',
    inputs: demo.inputs,
    outputs: demo.outputs,
    ...(monitor ? { monitor: demo.monitor } : {}),
  };
}

/** Adds `fraud/<version>` made of `bytes` to the model repository at `root`. */
export function addFraudVersion(root: string, version: string, bytes: Uint8Array, monitor = true): void {
  writeVersion(root, 'fraud', version, bytes, fraudLikeManifest(version, bytes, monitor));
}
