/** Open Inference Protocol (KServe V2 / Triton), JSON form: infer requests, answers, metadata. */
import { toJsonArray, type Datatype, type NumericArray } from './datatypes.js';
import { flattenData, invalid } from './tensor-values.js';
import type { ModelVersion } from '../registry/repository.js';
import type { RowSlice } from '../inference/batcher.js';

export interface InferRequest {
  readonly id: string | undefined;
  readonly rows: number;
  /** One array per model input, in manifest order. */
  readonly inputs: NumericArray[];
  /** Output indices to return, in manifest order. */
  readonly outputs: number[];
}

const REQUEST_KEYS = new Set(['id', 'parameters', 'inputs', 'outputs']);
const INPUT_KEYS = new Set(['name', 'shape', 'datatype', 'data', 'parameters']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseInferRequest(body: unknown, version: ModelVersion, maxRows: number): InferRequest {
  if (!isObject(body)) throw invalid('the body must be a JSON object with "inputs"');
  for (const key in body) if (!REQUEST_KEYS.has(key)) throw invalid(`unknown key "${key}"`);
  if (body.id !== undefined && (typeof body.id !== 'string' || body.id.length > 256)) throw invalid('"id" must be a string of at most 256 characters');
  if (body.parameters !== undefined && !isObject(body.parameters)) throw invalid('"parameters" must be an object');
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) throw invalid('"inputs" must be a non-empty list');
  const specs = version.manifest.inputs;
  const inputs: (NumericArray | undefined)[] = new Array(specs.length);
  let rows = -1;
  body.inputs.forEach((raw: unknown, i: number) => {
    const where = `inputs[${i}]`;
    if (!isObject(raw)) throw invalid(`${where} must be an object`);
    for (const key in raw) if (!INPUT_KEYS.has(key)) throw invalid(`${where}: unknown key "${key}"`);
    const index = specs.findIndex((s) => s.name === raw.name);
    if (index < 0) throw invalid(`${where}: ${version.model} has no input named ${JSON.stringify(raw.name)} (inputs: ${specs.map((s) => s.name).join(', ')})`);
    if (inputs[index] !== undefined) throw invalid(`${where}: input "${specs[index]!.name}" is given twice`);
    const spec = specs[index]!;
    if (raw.datatype !== spec.datatype) throw invalid(`${where}: datatype must be ${spec.datatype}`);
    const shape = raw.shape;
    const expected = spec.shape.slice(1);
    if (!Array.isArray(shape) || shape.length !== spec.shape.length || !shape.every((d) => Number.isInteger(d) && d >= 0)
      || shape.slice(1).some((d, k) => d !== expected[k])) {
      throw invalid(`${where}: shape must be [n, ${expected.join(', ')}]`);
    }
    const n = shape[0] as number;
    if (n < 1 || n > maxRows) throw invalid(`${where}: the batch dimension must be between 1 and ${maxRows}`);
    if (rows >= 0 && n !== rows) throw invalid(`${where}: every input must have the same batch size`);
    rows = n;
    if (raw.parameters !== undefined && isObject(raw.parameters) && raw.parameters.binary_data_size !== undefined) {
      throw invalid(`${where}: binary tensor data is not accepted in a JSON-only request`);
    }
    inputs[index] = flattenData(raw.data, shape as number[], spec.datatype, where);
  });
  const missing = specs.findIndex((_, k) => inputs[k] === undefined);
  if (missing >= 0) throw invalid(`input "${specs[missing]!.name}" is missing`);
  let outputs = version.manifest.outputs.map((_, k) => k);
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw invalid('"outputs" must be a list');
    outputs = body.outputs.map((o: unknown, k: number) => {
      if (!isObject(o) || typeof o.name !== 'string') throw invalid(`outputs[${k}] must be {"name": ...}`);
      const index = version.manifest.outputs.findIndex((s) => s.name === o.name);
      if (index < 0) throw invalid(`outputs[${k}]: ${version.model} has no output named ${JSON.stringify(o.name)}`);
      return index;
    });
  }
  return { id: body.id as string | undefined, rows, inputs: inputs as NumericArray[], outputs };
}

export interface InferAnswer {
  model_name: string;
  model_version: string;
  id?: string;
  parameters?: Record<string, string | number>;
  outputs: { name: string; datatype: Datatype; shape: number[]; data: (number | boolean)[] }[];
}

export function inferAnswer(version: ModelVersion, request: InferRequest, slice: RowSlice, parameters?: Record<string, string | number>): InferAnswer {
  const outputs = request.outputs.map((index) => {
    const spec = version.manifest.outputs[index]!;
    const out = slice.result.outputs[index]!;
    const rowSize = version.outputRowSizes[index]!;
    const data = toJsonArray(out.data, spec.datatype, slice.offset * rowSize, (slice.offset + slice.rows) * rowSize)
      .map((v) => (typeof v === 'number' && !Number.isFinite(v) ? (null as unknown as number) : v));
    return { name: spec.name, datatype: spec.datatype, shape: [slice.rows, ...spec.shape.slice(1)], data };
  });
  return {
    model_name: version.model,
    model_version: version.version,
    ...(request.id !== undefined ? { id: request.id } : {}),
    ...(parameters ? { parameters } : {}),
    outputs,
  };
}

export function modelMetadata(name: string, versions: string[], version: ModelVersion, platform = 'onnxruntime_onnx'): object {
  const tensor = (t: { name: string; datatype: Datatype; shape: readonly number[] }) => ({ name: t.name, datatype: t.datatype, shape: [...t.shape] });
  return {
    name,
    versions,
    platform,
    inputs: version.manifest.inputs.map(tensor),
    outputs: version.manifest.outputs.map(tensor),
  };
}

