/**
 * Reads an ONNX file's structure before ONNX Runtime ever sees it, to refuse what we must never load:
 * external-data paths that leave the version folder (the class of onnx CVE-2024-5187) and
 * operators from domains that would need custom-op libraries (we load none).
 */
import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Operator domains ONNX Runtime implements itself. */
const BUILTIN_DOMAINS = new Set([
  '',
  'ai.onnx',
  'ai.onnx.ml',
  'com.microsoft',
  'com.microsoft.nchwc',
  'ai.onnx.training',
  'ai.onnx.preview.training',
]);

export interface OnnxSummary {
  inputs: string[];
  outputs: string[];
  /** The ONNX element type (TensorProto.DataType) of each graph input and output that declares one. */
  elemTypes: Map<string, number>;
}

/** ONNX element types that onnxruntime-node cannot hold, with what to say. */
const UNHELD_ELEM_TYPES: Record<number, string> = {
  16: 'BF16 (bfloat16), which onnxruntime-node cannot hold',
  14: 'COMPLEX64, which onnxruntime-node cannot hold',
  15: 'COMPLEX128, which onnxruntime-node cannot hold',
  17: 'FLOAT8E4M3FN, which onnxruntime-node cannot hold',
  18: 'FLOAT8E4M3FNUZ, which onnxruntime-node cannot hold',
  19: 'FLOAT8E5M2, which onnxruntime-node cannot hold',
  20: 'FLOAT8E5M2FNUZ, which onnxruntime-node cannot hold',
  21: 'UINT4, which the Open Inference Protocol has no datatype for',
  22: 'INT4, which the Open Inference Protocol has no datatype for',
};

type Graph = onnxProto.onnx.IGraphProto;
type Tensor = onnxProto.onnx.ITensorProto;

function* graphTensors(graph: Graph): Generator<Tensor> {
  yield* graph.initializer ?? [];
  for (const sparse of graph.sparseInitializer ?? []) {
    if (sparse.values) yield sparse.values;
    if (sparse.indices) yield sparse.indices;
  }
  for (const node of graph.node ?? []) {
    for (const attr of node.attribute ?? []) {
      if (attr.t) yield attr.t;
      for (const t of attr.tensors ?? []) yield t;
      if (attr.g) yield* graphTensors(attr.g);
      for (const g of attr.graphs ?? []) yield* graphTensors(g);
    }
  }
}

function* graphNodeDomains(graph: Graph): Generator<string> {
  for (const node of graph.node ?? []) {
    yield node.domain ?? '';
    for (const attr of node.attribute ?? []) {
      if (attr.g) yield* graphNodeDomains(attr.g);
      for (const g of attr.graphs ?? []) yield* graphNodeDomains(g);
    }
  }
}

/** Throws an Error with a reason a person can act on; returns the graph's input and output names. */
export function inspectOnnx(bytes: Uint8Array, versionDir: string): OnnxSummary {
  let model: onnxProto.onnx.IModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`not a readable ONNX model (${(e as Error).message})`);
  }
  const graph = model.graph;
  if (!graph) throw new Error('the ONNX model has no graph');

  for (const opset of model.opsetImport ?? []) {
    const domain = opset.domain ?? '';
    if (!BUILTIN_DOMAINS.has(domain))
      throw new Error(`the model needs custom operators from domain "${domain}"; custom-op libraries are never loaded`);
  }
  for (const domain of graphNodeDomains(graph)) {
    if (!BUILTIN_DOMAINS.has(domain))
      throw new Error(`the model needs custom operators from domain "${domain}"; custom-op libraries are never loaded`);
  }

  const realDir = realpathSync(versionDir);
  for (const tensor of graphTensors(graph)) {
    if (tensor.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const location = (tensor.externalData ?? []).find((e) => e.key === 'location')?.value ?? '';
    if (location === '' || isAbsolute(location) || location.includes('\0')) {
      throw new Error(`external data of tensor "${tensor.name}" has an invalid location "${location}"`);
    }
    const target = resolve(realDir, location);
    const rel = relative(realDir, target);
    if (rel === '' || rel.startsWith('..') || rel.includes(`..${sep}`) || isAbsolute(rel)) {
      throw new Error(`external data of tensor "${tensor.name}" points outside its version folder ("${location}")`);
    }
    let real: string;
    try {
      real = realpathSync(target);
    } catch {
      throw new Error(`external data file "${location}" of tensor "${tensor.name}" is missing`);
    }
    if (!real.startsWith(realDir + sep))
      throw new Error(`external data "${location}" resolves outside its version folder`);
  }

  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const inputs = (graph.input ?? []).filter((v) => !initializers.has(v.name ?? ''));
  const outputs = graph.output ?? [];
  const elemTypes = new Map<string, number>();
  for (const [kind, list] of [
    ['input', inputs],
    ['output', outputs],
  ] as const) {
    for (const v of list) {
      const elemType = v.type?.tensorType?.elemType;
      if (!elemType) continue;
      const unheld = UNHELD_ELEM_TYPES[elemType];
      if (unheld) throw new Error(`graph ${kind} "${v.name}" is of type ${unheld}`);
      elemTypes.set(v.name ?? '', elemType);
    }
  }
  return { inputs: inputs.map((v) => v.name ?? ''), outputs: outputs.map((v) => v.name ?? ''), elemTypes };
}
