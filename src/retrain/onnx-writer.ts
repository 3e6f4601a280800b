/**
 * ONNX written with onnx-proto (ir_version 8, opset 13, FP32 raw little-endian initializers): the
 * tensors the demo-model generator writes, and the built-in trainer's logistic regression.
 */
import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const OPSET = 13;

/** An FP32 initializer, little-endian whatever the host. */
export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): Onnx.ITensorProto {
  const rawData = new Uint8Array(values.length * 4);
  const view = new DataView(rawData.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return { name, dims, dataType: FLOAT, rawData };
}

/** An FP32 [batch, width] graph input or output. */
export const floatValueInfo = (name: string, width: number): Onnx.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] } } },
});

export interface LinearInput {
  readonly name: string;
  /** Weights on the raw (unstandardised) values, one per value of a row. */
  readonly weights: ArrayLike<number>;
}

export interface LogisticGraph {
  readonly inputs: readonly LinearInput[];
  readonly bias: number;
  readonly output: string;
  readonly graphName: string;
  readonly docString: string;
  readonly producerVersion: string;
}

/**
 * probability = Sigmoid(Σₖ MatMul(inputₖ, Wₖ) + b): one MatMul per input tensor, so a candidate
 * takes exactly the inputs of the version it replaces (one `features` tensor, or one per feature).
 */
export function logisticModel(g: LogisticGraph): Uint8Array {
  // Internal names carry a prefix, so no input or output name of the live version can collide.
  const p = (name: string): string => `croupier_retrain_${name}`;
  const node: Onnx.INodeProto[] = [];
  const initializer: Onnx.ITensorProto[] = [floatTensor(p('b'), [1], [g.bias])];
  let sum = '';
  g.inputs.forEach((input, k) => {
    initializer.push(floatTensor(p(`W${k}`), [input.weights.length, 1], input.weights));
    node.push({ name: p(`matmul${k}`), opType: 'MatMul', input: [input.name, p(`W${k}`)], output: [p(`xw${k}`)] });
    if (k === 0) sum = p('xw0');
    else {
      node.push({ name: p(`sum${k}`), opType: 'Add', input: [sum, p(`xw${k}`)], output: [p(`sum${k}`)] });
      sum = p(`sum${k}`);
    }
  });
  node.push(
    { name: p('add_bias'), opType: 'Add', input: [sum, p('b')], output: [p('logit')] },
    { name: p('sigmoid'), opType: 'Sigmoid', input: [p('logit')], output: [g.output] },
  );
  const model: Onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'croupier/retrain',
    producerVersion: g.producerVersion,
    docString: g.docString,
    graph: {
      name: g.graphName,
      node,
      initializer,
      input: g.inputs.map((i) => floatValueInfo(i.name, i.weights.length)),
      output: [floatValueInfo(g.output, 1)],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
