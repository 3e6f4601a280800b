/** `POST /v1/predict/{route}`: request validation against the chosen version, and the answer. */
import type { NumericArray } from './datatypes.js';
import { invalid, writeValue } from './tensor-values.js';
import { allocateTensor } from './tensor-slab.js';
import type { ModelVersion } from '../registry/repository.js';
import type { RowSlice } from '../inference/batcher.js';

export interface PredictBody {
  readonly features: unknown;
  readonly unit: string | undefined;
}

const PREDICT_KEYS = new Set(['features', 'unit']);

export function parsePredictBody(body: unknown): PredictBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('the body must be a JSON object with "features"');
  const b = body as Record<string, unknown>;
  for (const key in b)
    if (!PREDICT_KEYS.has(key)) throw invalid(`unknown key "${key}" (expected "features" and optionally "unit")`);
  if (b.features === undefined) throw invalid('"features" is required');
  if (b.unit !== undefined && (typeof b.unit !== 'string' || b.unit.length === 0 || b.unit.length > 256))
    throw invalid('"unit" must be a string of 1 to 256 characters');
  return { features: b.features, unit: b.unit as string | undefined };
}

export interface Rows {
  readonly rows: number;
  readonly data: NumericArray;
}

/** Builds the input rows for a single-input model from a row, a list of rows, or named features. */
export function featuresToRows(features: unknown, version: ModelVersion, maxRows: number): Rows {
  const spec = version.manifest.inputs[0]!;
  if (version.manifest.inputs.length !== 1)
    throw invalid(
      `${version.model} takes ${version.manifest.inputs.length} inputs: use /v2/models/${version.model}/infer`,
    );
  const rowSize = version.inputRowSizes[0]!;
  const isList = Array.isArray(features);
  const many = isList && features.length > 0 && (Array.isArray(features[0]) || isPlainObject(features[0]));
  const list: unknown[] = many ? (features as unknown[]) : [features];
  if (list.length === 0) throw invalid('"features" must not be empty');
  if (list.length > maxRows) throw invalid(`at most ${maxRows} rows per request`);
  const data = allocateTensor(spec.datatype, list.length * rowSize);
  for (let r = 0; r < list.length; r++) {
    const row = list[r];
    const where = many ? `features[${r}]` : 'features';
    if (Array.isArray(row)) {
      if (row.length !== rowSize) throw invalid(`${where} must have ${rowSize} values, got ${row.length}`);
      if (data instanceof Float32Array) copyFloat32(data, r * rowSize, row, where);
      else for (let i = 0; i < rowSize; i++) writeValue(data, r * rowSize + i, row[i], spec.datatype, where, i);
    } else if (isPlainObject(row)) {
      const names = spec.featureNames;
      if (!names) throw invalid(`${version.model} has no feature names: send a list of ${rowSize} values`);
      let seen = 0;
      for (let i = 0; i < names.length; i++) {
        const value = row[names[i]!];
        if (value === undefined) throw invalid(`${where}: feature "${names[i]}" is missing`);
        writeValue(data, r * rowSize + i, value, spec.datatype, where, names[i]);
        seen++;
      }
      if (Object.keys(row).length !== seen) {
        const unknown = Object.keys(row).find((k) => !names.includes(k));
        throw invalid(`${where}: unknown feature "${unknown}"`);
      }
    } else {
      throw invalid(`${where} must be a list of ${rowSize} numbers or an object of named features`);
    }
  }
  return { rows: list.length, data };
}

const FP32_MAX = 3.4028234663852886e38;

/** The hot case, a row of finite float32 numbers, in one monomorphic loop; anything else throws there. */
function copyFloat32(out: Float32Array, at: number, row: unknown[], where: string): void {
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (typeof v === 'number' && v >= -FP32_MAX && v <= FP32_MAX) out[at + i] = v;
    else writeValue(out, at + i, v, 'FP32', where, i);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON text of one number; non-finite model outputs become null (JSON has no NaN). */
function num(v: number | bigint): string {
  if (typeof v === 'bigint') return v.toString();
  return Number.isFinite(v) ? String(v) : 'null';
}

/** `{"name": [per-row value or vector], ...}` for the rows of one request. */
export function outputsJson(version: ModelVersion, slice: RowSlice): string {
  let json = '{';
  const outputs = slice.result.outputs;
  for (let o = 0; o < outputs.length; o++) {
    const out = outputs[o]!;
    const rowSize = version.outputRowSizes[o]!;
    const data = out.data;
    const bool = out.type === 'bool';
    if (o > 0) json += ',';
    json += version.outputKeys[o];
    for (let r = 0; r < slice.rows; r++) {
      if (r > 0) json += ',';
      const base = (slice.offset + r) * rowSize;
      if (rowSize === 1) {
        json += bool ? String(data[base] !== 0) : num(data[base]!);
      } else {
        json += '[';
        for (let i = 0; i < rowSize; i++)
          json += (i > 0 ? ',' : '') + (bool ? String(data[base + i] !== 0) : num(data[base + i]!));
        json += ']';
      }
    }
    json += ']';
  }
  return json + '}';
}
