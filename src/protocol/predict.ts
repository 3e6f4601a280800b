/** `POST /v1/predict/{route}`: request validation against the chosen version, and the answer. */
import { jsonValue, type NumericArray, type TensorValues } from './datatypes.js';
import { invalid, writeValue } from './tensor-values.js';
import { allocateTensor } from './tensor-slab.js';
import type { Manifest } from '../registry/manifest.js';
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
  /** One tensor per model input, in manifest order. */
  readonly inputs: TensorValues[];
}

/**
 * Whether a version takes /v1/predict's fast path (ModelVersion.fastPredict, decided at load): one
 * input that is not strings, and outputs written as plain numbers or booleans (not FP16 bits, not
 * strings). Anything else — several inputs, string features, FP16 — goes the general way.
 */
export function isFastPredict(manifest: Pick<Manifest, 'inputs' | 'outputs'>): boolean {
  return (
    manifest.inputs.length === 1
    && manifest.inputs[0]!.datatype !== 'BYTES'
    && manifest.outputs.every((t) => t.datatype !== 'BYTES' && t.datatype !== 'FP16')
  );
}

/** Builds the input rows from a row, a list of rows, or named features. */
export function featuresToRows(features: unknown, version: ModelVersion, maxRows: number): Rows {
  if (!version.fastPredict) return featuresToInputs(features, version, maxRows);
  const spec = version.manifest.inputs[0]!;
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
  return { rows: list.length, inputs: [data] };
}

/** Where each feature of a row goes: input `input[j]`, value `offset[j]` of that input's row. */
interface FeatureLayout {
  readonly input: readonly number[];
  readonly offset: readonly number[];
  /** Every feature's name, in manifest order; undefined when some input has none. */
  readonly names: readonly string[] | undefined;
  /** Feature index by name. */
  readonly byName: ReadonlyMap<string, number>;
}

const layouts = new WeakMap<ModelVersion, FeatureLayout>();

function layoutOf(version: ModelVersion): FeatureLayout {
  let layout = layouts.get(version);
  if (layout) return layout;
  const input: number[] = [];
  const offset: number[] = [];
  const names: string[] = [];
  let named = true;
  version.manifest.inputs.forEach((spec, k) => {
    for (let i = 0; i < version.inputRowSizes[k]!; i++) {
      input.push(k);
      offset.push(i);
    }
    if (spec.featureNames) names.push(...spec.featureNames);
    else named = false;
  });
  // Feature names repeated across inputs could not say which input a value is for.
  if (new Set(names).size !== names.length) named = false;
  layout = {
    input,
    offset,
    names: named ? names : undefined,
    byName: new Map(named ? names.map((n, j) => [n, j]) : []),
  };
  layouts.set(version, layout);
  return layout;
}

/**
 * The general way, for models of several inputs or of string (categorical) features: a row is
 * every input's row values one after another (manifest order), or an object of named features
 * from all inputs' feature names; each value is checked against its own input's datatype.
 */
function featuresToInputs(features: unknown, version: ModelVersion, maxRows: number): Rows {
  const specs = version.manifest.inputs;
  const layout = layoutOf(version);
  const rowSize = layout.input.length;
  const many =
    Array.isArray(features) && features.length > 0 && (Array.isArray(features[0]) || isPlainObject(features[0]));
  const list: unknown[] = many ? (features as unknown[]) : [features];
  if (list.length === 0) throw invalid('"features" must not be empty');
  if (list.length > maxRows) throw invalid(`at most ${maxRows} rows per request`);
  const inputs: TensorValues[] = new Array(specs.length);
  for (let k = 0; k < specs.length; k++)
    inputs[k] = allocateTensor(specs[k]!.datatype, list.length * version.inputRowSizes[k]!);
  for (let r = 0; r < list.length; r++) {
    const row = list[r];
    const where = many ? `features[${r}]` : 'features';
    if (Array.isArray(row)) {
      if (row.length !== rowSize) throw invalid(`${where} must have ${rowSize} values, got ${row.length}`);
      for (let j = 0; j < rowSize; j++) putFeature(inputs, version, layout, r, j, row[j], where, j);
    } else if (isPlainObject(row)) {
      const names = layout.names;
      if (!names) throw invalid(`${version.model} has no feature names: send a list of ${rowSize} values`);
      for (let j = 0; j < names.length; j++) {
        // Own keys only: a feature named like an Object.prototype member must not read it.
        const value = Object.hasOwn(row, names[j]!) ? row[names[j]!] : undefined;
        if (value === undefined) throw invalid(`${where}: feature "${names[j]}" is missing`);
        putFeature(inputs, version, layout, r, j, value, where, names[j]!);
      }
      for (const key in row)
        if (!layout.byName.has(key)) throw invalid(`${where}: unknown feature ${JSON.stringify(key)}`);
    } else {
      throw invalid(`${where} must be a list of ${rowSize} values or an object of named features`);
    }
  }
  return { rows: list.length, inputs };
}

/** Writes feature `j` of row `r` into its input. */
function putFeature(
  inputs: TensorValues[],
  version: ModelVersion,
  layout: FeatureLayout,
  r: number,
  j: number,
  value: unknown,
  where: string,
  key: string | number,
): void {
  const k = layout.input[j]!;
  const at = r * version.inputRowSizes[k]! + layout.offset[j]!;
  writeValue(inputs[k]!, at, value, version.manifest.inputs[k]!.datatype, where, key);
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
  if (!version.fastPredict) return typedOutputsJson(version, slice);
  let json = '{';
  const outputs = slice.result.outputs;
  for (let o = 0; o < outputs.length; o++) {
    const out = outputs[o]!;
    const rowSize = version.outputRowSizes[o]!;
    const data = out.data as NumericArray;
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

/** outputsJson for versions off the fast path: each value written by its datatype (FP16 bits, strings, ...). */
function typedOutputsJson(version: ModelVersion, slice: RowSlice): string {
  let json = '{';
  const outputs = slice.result.outputs;
  for (let o = 0; o < outputs.length; o++) {
    const data = outputs[o]!.data;
    const datatype = version.manifest.outputs[o]!.datatype;
    const rowSize = version.outputRowSizes[o]!;
    json += (o > 0 ? ',' : '') + version.outputKeys[o];
    for (let r = 0; r < slice.rows; r++) {
      const base = (slice.offset + r) * rowSize;
      if (r > 0) json += ',';
      if (rowSize === 1) {
        json += jsonValue(data, base, datatype);
        continue;
      }
      json += '[';
      for (let i = 0; i < rowSize; i++) json += (i > 0 ? ',' : '') + jsonValue(data, base + i, datatype);
      json += ']';
    }
    json += ']';
  }
  return json + '}';
}
