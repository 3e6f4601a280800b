/** The model manifest (`<model>/<version>/model.json`): validated once, when a version is scanned. */
import { isHistogram, type Histogram } from '../monitoring/drift.js';
import { DATATYPE_NAMES, UNSUPPORTED_DATATYPES, isDatatype, type Datatype } from '../protocol/datatypes.js';

export interface TensorSpec {
  readonly name: string;
  readonly datatype: Datatype;
  /** -1 is the batch dimension (first); every other dimension is fixed. */
  readonly shape: readonly number[];
  readonly featureNames?: readonly string[];
}

export interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly format: 'onnx';
  readonly file: string;
  readonly sha256: string;
  readonly created: string;
  readonly source?: Readonly<Record<string, unknown>>;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly baseline?: Baseline;
  /** What label metrics read: the score output, the decision threshold, the positive label. */
  readonly monitor?: MonitorSpec;
  readonly maxBatch?: number;
  readonly batchDelayUs?: number;
}

/**
 * What the training rows looked like (the contract's "Monitoring and protection"): per named
 * feature its summary and, for drift, its histogram (ascending inner edges, one more count); a
 * categorical feature may carry its category `frequencies` instead. `prediction` is the histogram
 * of the model's score on those rows.
 */
export interface FeatureBaseline {
  readonly mean?: number;
  readonly std?: number;
  readonly min?: number;
  readonly max?: number;
  readonly histogram?: Histogram;
  readonly frequencies?: Readonly<Record<string, number>>;
}
export interface Baseline {
  readonly features: Readonly<Record<string, FeatureBaseline>>;
  readonly prediction?: { readonly histogram: Histogram };
}

/** The manifest's `monitor`: the output whose first value is the score kept with each decision. */
export interface MonitorSpec {
  readonly score: string;
  readonly threshold: number;
  /** A label equal to this is the positive class. */
  readonly positive: number | string | boolean;
}

/** Names are ids, never paths. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export function isId(s: unknown): s is string {
  return typeof s === 'string' && ID_PATTERN.test(s) && !s.includes('..');
}

function fail(message: string): never {
  throw new Error(`manifest: ${message}`);
}

function tensorSpec(raw: unknown, where: string, needsBatchDim: boolean): TensorSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${where} must be an object`);
  const t = raw as Record<string, unknown>;
  if (typeof t.name !== 'string' || t.name === '') fail(`${where}.name must be a non-empty string`);
  if (typeof t.datatype === 'string' && Object.hasOwn(UNSUPPORTED_DATATYPES, t.datatype))
    fail(`${where}.datatype: ${UNSUPPORTED_DATATYPES[t.datatype]}`);
  if (!isDatatype(t.datatype)) fail(`${where}.datatype must be one of ${DATATYPE_NAMES.join(', ')}`);
  const shape = t.shape;
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 8)
    fail(`${where}.shape must be a list of 1 to 8 dimensions`);
  shape.forEach((d, i) => {
    const ok =
      i === 0 && needsBatchDim ? d === -1 : (Number.isInteger(d) && (d as number) > 0) || (!needsBatchDim && d === -1);
    if (!ok)
      fail(
        `${where}.shape[${i}] must be ${i === 0 && needsBatchDim ? '-1 (the batch dimension)' : 'a positive integer'}`,
      );
  });
  const spec: { name: string; datatype: Datatype; shape: number[]; featureNames?: string[] } = {
    name: t.name,
    datatype: t.datatype,
    shape: shape as number[],
  };
  if (t.featureNames !== undefined) {
    const names = t.featureNames;
    const rowSize = (shape as number[]).slice(1).reduce((a, b) => a * b, 1);
    if (!Array.isArray(names) || names.length !== rowSize || !names.every((n) => typeof n === 'string' && n !== '')) {
      fail(`${where}.featureNames must list ${rowSize} non-empty names`);
    }
    if (new Set(names).size !== names.length) fail(`${where}.featureNames has duplicates`);
    spec.featureNames = names as string[];
  }
  return spec;
}

function monitorSpec(raw: unknown, outputs: readonly TensorSpec[]): MonitorSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('monitor must be an object');
  const m = raw as Record<string, unknown>;
  for (const key of Object.keys(m))
    if (key !== 'score' && key !== 'threshold' && key !== 'positive')
      fail(`monitor has an unknown key "${key.slice(0, 64)}" (expected "score", "threshold", "positive")`);
  const out = outputs.find((t) => t.name === m.score);
  if (typeof m.score !== 'string' || !out) fail('monitor.score must name one of the outputs');
  if (out.datatype === 'BYTES' || out.datatype === 'BOOL') fail('monitor.score must name a numeric output');
  const t = m.threshold;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > 1)
    fail('monitor.threshold must be a number in [0, 1]');
  const p = m.positive;
  const ok =
    (typeof p === 'number' && Number.isFinite(p))
    || typeof p === 'boolean'
    || (typeof p === 'string' && p.length <= 256);
  if (!ok) fail('monitor.positive must be a finite number, a boolean or a string of at most 256 characters');
  return { score: m.score, threshold: t, positive: p as MonitorSpec['positive'] };
}

function optionalInt(v: unknown, key: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max)
    fail(`${key} must be an integer in [${min}, ${max}]`);
  return v as number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why `h` is not a histogram (drift.ts isHistogram), in words that name the field. */
function histogram(h: unknown, where: string): Histogram {
  if (isHistogram(h)) return { edges: h.edges, counts: h.counts };
  if (!isObject(h) || !Array.isArray(h.edges) || !Array.isArray(h.counts))
    fail(`${where} must be an object with "edges" and "counts" lists`);
  if (h.edges.length === 0) fail(`${where}.edges must list at least one edge`);
  if (h.counts.length !== h.edges.length + 1)
    fail(`${where}.counts must have one more entry than edges (${h.edges.length + 1}, got ${h.counts.length})`);
  if (!h.edges.every((e) => typeof e === 'number' && Number.isFinite(e))) fail(`${where}.edges must be finite numbers`);
  if (!h.counts.every((c) => typeof c === 'number' && Number.isFinite(c) && c >= 0))
    fail(`${where}.counts must be finite non-negative numbers`);
  fail(`${where}.edges must be strictly ascending`);
}

const FEATURE_STATS = ['mean', 'std', 'min', 'max'] as const;

/** The manifest's `baseline`: features must be the model's named features, histograms well formed. */
function baseline(raw: unknown, inputs: readonly TensorSpec[]): Baseline {
  if (!isObject(raw)) fail('baseline must be an object');
  if (!isObject(raw.features)) fail('baseline.features must be an object of feature name to statistics');
  const named = new Set(inputs.flatMap((t) => t.featureNames ?? []));
  const features: Record<string, FeatureBaseline> = {};
  for (const [name, value] of Object.entries(raw.features)) {
    const where = `baseline.features.${name}`;
    if (!named.has(name)) fail(`${where}: "${name}" is not one of the model's named features (inputs[].featureNames)`);
    if (!isObject(value)) fail(`${where} must be an object`);
    const f: { -readonly [K in keyof FeatureBaseline]: FeatureBaseline[K] } = {};
    for (const key of FEATURE_STATS) {
      const v = value[key];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${where}.${key} must be a finite number`);
      f[key] = v;
    }
    if (f.std !== undefined && f.std < 0) fail(`${where}.std must not be negative`);
    if (f.min !== undefined && f.max !== undefined && f.min > f.max) fail(`${where}.min must not exceed max`);
    if (value.histogram !== undefined) f.histogram = histogram(value.histogram, `${where}.histogram`);
    if (value.frequencies !== undefined) {
      const fr = value.frequencies;
      if (!isObject(fr) || !Object.values(fr).every((p) => typeof p === 'number' && Number.isFinite(p) && p >= 0))
        fail(`${where}.frequencies must map categories to finite non-negative numbers`);
      f.frequencies = fr as Record<string, number>;
    }
    features[name] = f;
  }
  if (raw.prediction === undefined) return { features };
  if (!isObject(raw.prediction)) fail('baseline.prediction must be an object with a "histogram"');
  return { features, prediction: { histogram: histogram(raw.prediction.histogram, 'baseline.prediction.histogram') } };
}

export function parseManifest(raw: unknown, model: string, version: string): Manifest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('must be a JSON object');
  const m = raw as Record<string, unknown>;
  if (m.name !== model) fail(`name "${String(m.name)}" does not match the folder "${model}"`);
  if (String(m.version) !== version) fail(`version "${String(m.version)}" does not match the folder "${version}"`);
  if ((m.format ?? 'onnx') !== 'onnx') fail('format must be "onnx"');
  const file = m.file ?? 'model.onnx';
  if (typeof file !== 'string' || !/^[A-Za-z0-9_.-]+\.onnx$/.test(file) || file.startsWith('.'))
    fail('file must be a plain file name ending in .onnx');
  if (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256)) fail('sha256 must be 64 lowercase hex digits');
  if (typeof m.created !== 'string' || Number.isNaN(Date.parse(m.created))) fail('created must be an ISO date');
  if (!Array.isArray(m.inputs) || m.inputs.length === 0) fail('inputs must list at least one tensor');
  if (!Array.isArray(m.outputs) || m.outputs.length === 0) fail('outputs must list at least one tensor');
  const inputs = m.inputs.map((t, i) => tensorSpec(t, `inputs[${i}]`, true));
  const outputs = m.outputs.map((t, i) => tensorSpec(t, `outputs[${i}]`, true));
  for (const list of [inputs, outputs]) {
    if (new Set(list.map((t) => t.name)).size !== list.length) fail('tensor names must be unique');
  }
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (m.source !== undefined && !isObj(m.source)) fail('source must be an object');
  const base = m.baseline === undefined ? undefined : baseline(m.baseline, inputs);
  const manifest: Manifest = {
    name: model,
    version,
    format: 'onnx',
    file,
    sha256: m.sha256,
    created: m.created,
    inputs,
    outputs,
    ...(isObj(m.source) ? { source: m.source } : {}),
    ...(base ? { baseline: base } : {}),
    ...(m.monitor !== undefined ? { monitor: monitorSpec(m.monitor, outputs) } : {}),
    ...(m.maxBatch !== undefined ? { maxBatch: optionalInt(m.maxBatch, 'maxBatch', 1, 65536) } : {}),
    ...(m.batchDelayUs !== undefined
      ? { batchDelayUs: optionalInt(m.batchDelayUs, 'batchDelayUs', 0, 1_000_000) }
      : {}),
  };
  return manifest;
}
