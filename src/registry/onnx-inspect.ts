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
}

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
  return {
    inputs: (graph.input ?? []).map((v) => v.name ?? '').filter((n) => !initializers.has(n)),
    outputs: (graph.output ?? []).map((v) => v.name ?? ''),
  };
}
