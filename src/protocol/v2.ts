/** Open Inference Protocol (KServe V2 / Triton): infer requests, answers, metadata; JSON or binary tensors. */
import { outputBytes, tensorFromBytes } from './binary-tensors.js';
import { jsonArray, type Datatype, type TensorValues } from './datatypes.js';
import { flattenData, invalid } from './tensor-values.js';
import type { ModelVersion } from '../registry/repository.js';
import type { RowSlice } from '../inference/batcher.js';

export interface InferRequest {
  readonly id: string | undefined;
  readonly rows: number;
  /** One array per model input, in manifest order. */
  readonly inputs: TensorValues[];
  /** Output indices to return, in manifest order. */
  readonly outputs: number[];
  /** Per returned output: answer it as binary tensor data. */
  readonly binaryOutputs: boolean[];
}

// model_name / model_version: KServe's InferenceRESTClient sends them; checkInferTarget holds them to the URL.
const REQUEST_KEYS = new Set(['id', 'model_name', 'model_version', 'parameters', 'inputs', 'outputs']);
const INPUT_KEYS = new Set(['name', 'shape', 'datatype', 'data', 'parameters']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Holds `model_name` / `model_version` in an infer body to the URL it came to: `name` is the URL's
 * model (or route), `version` its version (or arm) segment, undefined when it has none; `live` is
 * the version a model URL without one serves. A body that names another target is refused rather
 * than silently served by the URL's. An empty `model_version` is Triton's and KServe's "let the
 * server choose".
 */
export function checkInferTarget(
  body: unknown,
  name: string,
  version: string | undefined,
  live: string | undefined,
): void {
  if (!isObject(body)) return; // parseInferRequest says what is wrong with it
  const { model_name: bodyName, model_version: bodyVersion } = body;
  if (bodyName !== undefined) {
    if (typeof bodyName !== 'string') throw invalid('"model_name" must be a string');
    if (bodyName !== name) throw invalid(`"model_name" is ${quote(bodyName)} but the URL names ${quote(name)}`);
  }
  if (bodyVersion === undefined) return;
  if (typeof bodyVersion !== 'string') throw invalid('"model_version" must be a string');
  if (version !== undefined) {
    if (bodyVersion !== version)
      throw invalid(`"model_version" is ${quote(bodyVersion)} but the URL names version ${quote(version)}`);
    return;
  }
  if (bodyVersion === '' || bodyVersion === live) return;
  const pinned = `/v2/models/${name}/versions/${encodeURIComponent(bodyVersion.slice(0, 64))}/infer`;
  throw invalid(
    live === undefined
      ? `"model_version" is ${quote(bodyVersion)} but a route's policy picks the version; send it to ${pinned} to pin an arm`
      : `"model_version" is ${quote(bodyVersion)} but the URL serves the live version ${quote(live)}; send it to ${pinned}`,
  );
}

/**
 * The infer request's `parameters.timeout`, in microseconds as Triton's clients send it
 * (tritonclient `infer(timeout=...)`), or 0 when absent; 0 is also Triton's "no timeout".
 */
export function timeoutMicros(body: unknown): number {
  if (!isObject(body) || !isObject(body.parameters)) return 0;
  const timeout = body.parameters.timeout;
  if (timeout === undefined) return 0;
  if (typeof timeout !== 'number' || !Number.isSafeInteger(timeout) || timeout < 0)
    throw invalid('"parameters.timeout" must be a whole number of microseconds (0 for none)');
  return timeout;
}

function quote(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

/** `binary` is the part of the body after the JSON header, when the request used the binary extension. */
export function parseInferRequest(
  body: unknown,
  version: ModelVersion,
  maxRows: number,
  binary?: Buffer,
): InferRequest {
  if (!isObject(body)) throw invalid('the body must be a JSON object with "inputs"');
  for (const key in body) if (!REQUEST_KEYS.has(key)) throw invalid(`unknown key "${key}"`);
  if (body.id !== undefined && (typeof body.id !== 'string' || body.id.length > 256))
    throw invalid('"id" must be a string of at most 256 characters');
  if (body.parameters !== undefined && !isObject(body.parameters)) throw invalid('"parameters" must be an object');
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) throw invalid('"inputs" must be a non-empty list');
  const specs = version.manifest.inputs;
  const inputs: (TensorValues | undefined)[] = new Array(specs.length);
  let rows = -1;
  let binaryAt = 0;
  body.inputs.forEach((raw: unknown, i: number) => {
    const where = `inputs[${i}]`;
    if (!isObject(raw)) throw invalid(`${where} must be an object`);
    for (const key in raw) if (!INPUT_KEYS.has(key)) throw invalid(`${where}: unknown key "${key}"`);
    const index = specs.findIndex((s) => s.name === raw.name);
    if (index < 0)
      throw invalid(
        `${where}: ${version.model} has no input named ${JSON.stringify(raw.name)} (inputs: ${specs.map((s) => s.name).join(', ')})`,
      );
    if (inputs[index] !== undefined) throw invalid(`${where}: input "${specs[index]!.name}" is given twice`);
    const spec = specs[index]!;
    if (raw.datatype !== spec.datatype) throw invalid(`${where}: datatype must be ${spec.datatype}`);
    const shape = raw.shape;
    const expected = spec.shape.slice(1);
    if (
      !Array.isArray(shape)
      || shape.length !== spec.shape.length
      || !shape.every((d) => Number.isInteger(d) && d >= 0)
      || shape.slice(1).some((d, k) => d !== expected[k])
    ) {
      throw invalid(`${where}: shape must be [n, ${expected.join(', ')}]`);
    }
    const n = shape[0] as number;
    if (n < 1 || n > maxRows) throw invalid(`${where}: the batch dimension must be between 1 and ${maxRows}`);
    if (rows >= 0 && n !== rows) throw invalid(`${where}: every input must have the same batch size`);
    rows = n;
    if (raw.parameters !== undefined && !isObject(raw.parameters))
      throw invalid(`${where}.parameters must be an object`);
    const binarySize = raw.parameters?.binary_data_size;
    if (binarySize === undefined) {
      inputs[index] = flattenData(raw.data, shape as number[], spec.datatype, where);
      return;
    }
    if (!binary)
      throw invalid(`${where}: binary_data_size needs the binary tensor extension (Inference-Header-Content-Length)`);
    if (raw.data !== undefined) throw invalid(`${where}: give either "data" or binary_data_size, not both`);
    inputs[index] = tensorFromBytes(binary, binaryAt, binarySize, shape as number[], spec.datatype, where);
    binaryAt += binarySize as number;
  });
  if (binary && binaryAt !== binary.length)
    throw invalid(`the binary data is ${binary.length} bytes but the inputs declare ${binaryAt}`);
  const missing = specs.findIndex((_, k) => inputs[k] === undefined);
  if (missing >= 0) throw invalid(`input "${specs[missing]!.name}" is missing`);
  const allBinary = (body.parameters as Record<string, unknown> | undefined)?.binary_data_output === true;
  let outputs = version.manifest.outputs.map((_, k) => k);
  let binaryOutputs = outputs.map(() => allBinary);
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw invalid('"outputs" must be a list');
    binaryOutputs = [];
    outputs = body.outputs.map((o: unknown, k: number) => {
      if (!isObject(o) || typeof o.name !== 'string') throw invalid(`outputs[${k}] must be {"name": ...}`);
      if (o.parameters !== undefined && !isObject(o.parameters))
        throw invalid(`outputs[${k}].parameters must be an object`);
      const index = version.manifest.outputs.findIndex((s) => s.name === o.name);
      if (index < 0) throw invalid(`outputs[${k}]: ${version.model} has no output named ${JSON.stringify(o.name)}`);
      binaryOutputs.push(typeof o.parameters?.binary_data === 'boolean' ? o.parameters.binary_data : allBinary);
      return index;
    });
  }
  return { id: body.id as string | undefined, rows, inputs: inputs as TensorValues[], outputs, binaryOutputs };
}

/** The answer: a JSON string, or (when any output is asked for as binary) the header length and bytes. */
export type InferBody = { json: string } | { header: number; bytes: Buffer };

/**
 * Written as text rather than through JSON.stringify: 64-bit integers are BigInts, whose exact
 * digits JSON.stringify will not write, and halves are bits to convert (see datatypes.jsonArray).
 */
export function inferAnswer(
  version: ModelVersion,
  request: InferRequest,
  slice: RowSlice,
  parameters?: Record<string, string | number>,
): InferBody {
  const chunks: Buffer[] = [];
  let outputs = '';
  for (let k = 0; k < request.outputs.length; k++) {
    const index = request.outputs[k]!;
    const spec = version.manifest.outputs[index]!;
    const out = slice.result.outputs[index]!;
    const rowSize = version.outputRowSizes[index]!;
    const shape = `[${slice.rows}${spec.shape.length > 1 ? `,${spec.shape.slice(1).join(',')}` : ''}]`;
    const head = `${k > 0 ? ',' : ''}{"name":${JSON.stringify(spec.name)},"datatype":"${spec.datatype}","shape":${shape},`;
    if (request.binaryOutputs[k]) {
      const bytes = outputBytes(out.data, rowSize, slice.offset, slice.rows);
      chunks.push(bytes);
      outputs += `${head}"parameters":{"binary_data_size":${bytes.length}}}`;
    } else {
      const start = slice.offset * rowSize;
      outputs += `${head}"data":${jsonArray(out.data, spec.datatype, start, start + slice.rows * rowSize)}}`;
    }
  }
  const json =
    `{"model_name":${JSON.stringify(version.model)},"model_version":${JSON.stringify(version.version)}`
    + (request.id !== undefined ? `,"id":${JSON.stringify(request.id)}` : '')
    + (parameters ? `,"parameters":${JSON.stringify(parameters)}` : '')
    + `,"outputs":[${outputs}]}`;
  if (chunks.length === 0) return { json };
  const header = Buffer.from(json, 'utf8');
  return { header: header.length, bytes: Buffer.concat([header, ...chunks]) };
}

export function modelMetadata(
  name: string,
  versions: string[],
  version: ModelVersion,
  platform = 'onnxruntime_onnx',
): object {
  const tensor = (t: { name: string; datatype: Datatype; shape: readonly number[] }) => ({
    name: t.name,
    datatype: t.datatype,
    shape: [...t.shape],
  });
  return {
    name,
    versions,
    platform,
    inputs: version.manifest.inputs.map(tensor),
    outputs: version.manifest.outputs.map(tensor),
  };
}
