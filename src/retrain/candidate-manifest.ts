/**
 * The candidate's model.json, completed by Croupier whichever trainer wrote model.onnx: the live
 * version's inputs (so the same request works) and `monitor`, baseline histograms from the
 * training rows and the candidate's scores on them, `source` (dataset, rows, trainer, Croupier
 * version) and `validation`. A trainer's own model.json may add `source` fields and `outputs`;
 * inputs it declares must be the live version's.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest, TensorSpec } from '../registry/manifest.js';
import { inspectOnnx } from '../registry/onnx-inspect.js';
import type { Dataset } from './train-dataset.js';
import { decileHistogram, summary } from './train-baseline.js';
import type { Examples } from './train-examples.js';
import { TrainerError } from './train-external.js';
import type { Validation } from './validate.js';

interface Partial {
  inputs?: unknown;
  outputs?: unknown;
  source?: unknown;
}

const list = (names: readonly string[]): string => names.map((n) => `"${n}"`).join(', ') || 'none';

function describeInputs(inputs: readonly TensorSpec[]): string {
  return inputs.map((t) => `${t.name}[${(t.featureNames ?? [t.name]).join(', ')}]`).join('; ');
}

/** The candidate's model.onnx and the partial model.json beside it, checked against the live version. */
export function readCandidate(outDir: string, live: Manifest): { bytes: Buffer; partial: Partial } {
  const bytes = readFileSync(join(outDir, 'model.onnx'));
  let summaryOnnx;
  try {
    summaryOnnx = inspectOnnx(bytes, outDir);
  } catch (e) {
    throw new TrainerError(`model.onnx cannot be used: ${(e as Error).message}`);
  }
  const wanted = live.inputs.map((t) => t.name);
  const missing = wanted.filter((n) => !summaryOnnx.inputs.includes(n));
  const extra = summaryOnnx.inputs.filter((n) => !wanted.includes(n));
  if (missing.length || extra.length)
    throw new TrainerError(
      `model.onnx's inputs do not match ${live.name} ${live.version}'s (${describeInputs(live.inputs)}): missing ${list(missing)}, unexpected ${list(extra)}`,
    );
  const score = live.monitor!.score;
  if (!summaryOnnx.outputs.includes(score))
    throw new TrainerError(
      `model.onnx has no output "${score}" (the live version's monitor.score), only ${list(summaryOnnx.outputs)}`,
    );
  let partial: Partial = {};
  const file = join(outDir, 'model.json');
  if (existsSync(file)) {
    try {
      partial = JSON.parse(readFileSync(file, 'utf8')) as Partial;
    } catch (e) {
      throw new TrainerError(`the trainer's model.json is not JSON (${(e as Error).message})`);
    }
    if (typeof partial !== 'object' || partial === null)
      throw new TrainerError("the trainer's model.json is not an object");
  }
  if (partial.inputs !== undefined) {
    const given = partial.inputs as TensorSpec[];
    const same =
      Array.isArray(given)
      && given.length === live.inputs.length
      && live.inputs.every((t, k) => {
        const g = given[k];
        return (
          g?.name === t.name
          && JSON.stringify(g.featureNames ?? [g.name]) === JSON.stringify(t.featureNames ?? [t.name])
        );
      });
    if (!same)
      throw new TrainerError(
        `the trainer's model.json declares inputs that are not the live version's features (${describeInputs(live.inputs)})`,
      );
  }
  return { bytes, partial };
}

export interface CandidateFacts {
  readonly version: string;
  readonly trainer: string;
  readonly croupierVersion: string;
  readonly fit?: Record<string, unknown>;
}

/** The complete model.json of the candidate. */
export function candidateManifest(
  live: Manifest,
  bytes: Buffer,
  partial: Partial,
  dataset: Dataset,
  ex: Examples,
  trainScores: Float64Array,
  validation: Validation,
  facts: CandidateFacts,
): Record<string, unknown> {
  const score = live.monitor!.score;
  const outputs =
    Array.isArray(partial.outputs) && partial.outputs.length > 0
      ? partial.outputs
      : [{ name: score, datatype: 'FP32', shape: [-1, 1] }];
  const features: Record<string, unknown> = {};
  const named = new Set(live.inputs.flatMap((t) => t.featureNames ?? []));
  ex.features.forEach((name, j) => {
    if (!named.has(name)) return;
    const values = Float64Array.from(ex.train, (i) => ex.columns[j]![i]!);
    const histogram = decileHistogram(values);
    features[name] = { ...summary(values), ...(histogram ? { histogram } : {}) };
  });
  const prediction = decileHistogram(trainScores);
  const extraSource =
    typeof partial.source === 'object' && partial.source !== null ? (partial.source as Record<string, unknown>) : {};
  const m = dataset.manifest;
  return {
    name: live.name,
    version: facts.version,
    format: 'onnx',
    file: 'model.onnx',
    sha256: createHash('sha256').update(bytes).digest('hex'),
    created: new Date().toISOString(),
    source: {
      ...extraSource,
      dataset: { sha256: m.sha256, route: m.route, rows: m.rows, from: m.from, to: m.to, createdAt: m.createdAt },
      rows: { train: ex.train.length, holdout: ex.holdout.length, skipped: ex.skipped },
      trainer: facts.trainer,
      ...(facts.fit ? { fit: facts.fit } : {}),
      retrainedFrom: live.version,
      croupierVersion: facts.croupierVersion,
    },
    inputs: live.inputs,
    outputs,
    // A model whose scores are all equal has no prediction histogram, and so no baseline (drift.ts needs one).
    ...(prediction ? { baseline: { features, prediction: { histogram: prediction } } } : {}),
    monitor: live.monitor,
    validation,
  };
}
