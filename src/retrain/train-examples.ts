/**
 * The dataset seen through the live version's manifest: its features (by the names the model
 * reads them, `inputs[].featureNames`), the label as positive or not (`monitor.positive`), and the
 * time split — the last 20% of the usable rows by decision time are held out for validation.
 */
import type { Manifest } from '../registry/manifest.js';
import { featureColumn } from './dataset-columns.js';
import { DatasetError, type Dataset } from './train-dataset.js';

export const HOLDOUT_SHARE = 0.2;
/** Fewer usable rows than this is refused: a fit and an AUC on fewer would be noise. */
export const MIN_ROWS = 100;
/** Each class needs this many rows in the training part and one in the holdout. */
export const MIN_PER_CLASS = 10;

export interface Examples {
  /** The model's features in its input order (every input's featureNames, concatenated). */
  readonly features: readonly string[];
  /** One column per feature, over all dataset rows (NaN where a row has no value). */
  readonly columns: readonly Float64Array[];
  /** 1 where the row's label is `monitor.positive`. */
  readonly positive: Uint8Array;
  readonly atMs: Float64Array;
  /** Usable rows (a label and every feature), split by time. */
  readonly train: Uint32Array;
  readonly holdout: Uint32Array;
  /** Rows left out: no label, or a feature missing. */
  readonly skipped: number;
}

/** The manifest's feature names, or why the built-in pipeline cannot read this model. */
export function modelFeatures(live: Manifest): string[] {
  if (!live.monitor)
    throw new DatasetError(
      `${live.name} ${live.version} has no "monitor" in its manifest: without monitor.score and monitor.positive there is no label to train on`,
    );
  const names: string[] = [];
  for (const input of live.inputs) {
    if (input.datatype !== 'FP32')
      throw new DatasetError(
        `input "${input.name}" of ${live.name} ${live.version} is ${input.datatype}: croupier retrain reads FP32 (numeric) features only; string (categorical) features need a --trainer of your own`,
      );
    names.push(...(input.featureNames ?? [input.name]));
  }
  return names;
}

/**
 * Whether an exported label is `positive`, the same whichever type its column got: a float64 label
 * column holds booleans as 1/0, and one text label makes the column utf8, holding numbers and
 * booleans as their JSON text — so `true`, `1` and `"true"`/`"1"` all read as 1.
 */
export function isPositive(label: string | number | null, positive: number | string | boolean): boolean {
  if (label === null || (typeof label === 'number' && Number.isNaN(label))) return false;
  if (typeof positive === 'string') return label === positive;
  const want = Number(positive);
  if (typeof label === 'number') return label === want;
  return label === String(want) || (label === 'true' && want === 1) || (label === 'false' && want === 0);
}

/** The dataset's columns for `live`'s features, labels and a time split; throws DatasetError when too little is usable. */
export function examples(dataset: Dataset, live: Manifest): Examples {
  const features = modelFeatures(live);
  const positiveLabel = live.monitor!.positive;
  const n = dataset.rows;
  if (n < MIN_ROWS) throw new DatasetError(`the dataset has ${n} rows: at least ${MIN_ROWS} are needed`);
  const column = (name: string): Float64Array => {
    const exported = featureColumn(name);
    const role = dataset.manifest.columns.find((c) => c.role === 'feature' && c.name === exported);
    if (!role)
      throw new DatasetError(
        `the dataset has no column "${exported}" for feature "${name}" of ${live.name} ${live.version}`,
      );
    const values = dataset.values.get(role.name)!;
    if (!(values instanceof Float64Array))
      throw new DatasetError(
        `feature "${name}" is text in the dataset: croupier retrain fits numeric features only (use --trainer for categorical ones)`,
      );
    return values;
  };
  const columns = features.map(column);
  const labelColumn = dataset.manifest.columns.find((c) => c.role === 'label');
  const timeColumn = dataset.manifest.columns.find((c) => c.role === 'time');
  if (!labelColumn || !timeColumn) throw new DatasetError('the dataset has no label or no time column');
  const labels = dataset.values.get(labelColumn.name)!;
  const atMs = dataset.values.get(timeColumn.name) as Float64Array;
  const positive = new Uint8Array(n);
  const usable: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = labels[i] ?? null;
    if (label === null || (typeof label === 'number' && Number.isNaN(label))) continue;
    if (!columns.every((c) => Number.isFinite(c[i]!))) continue;
    positive[i] = isPositive(label, positiveLabel) ? 1 : 0;
    usable.push(i);
  }
  if (usable.length < MIN_ROWS)
    throw new DatasetError(
      `the dataset has ${usable.length} usable rows (a label and every feature; ${n} in all): at least ${MIN_ROWS} are needed`,
    );
  // Stable sort by decision time: the holdout is the most recent rows.
  usable.sort((a, b) => atMs[a]! - atMs[b]! || a - b);
  const cut = Math.round(usable.length * (1 - HOLDOUT_SHARE));
  const train = Uint32Array.from(usable.slice(0, cut));
  const holdout = Uint32Array.from(usable.slice(cut));
  const count = (rows: Uint32Array): number => rows.reduce((s, i) => s + positive[i]!, 0);
  const trainPositives = count(train);
  if (trainPositives < MIN_PER_CLASS || train.length - trainPositives < MIN_PER_CLASS)
    throw new DatasetError(
      `the training rows hold ${trainPositives} positive and ${train.length - trainPositives} negative labels (positive: ${JSON.stringify(positiveLabel)}): at least ${MIN_PER_CLASS} of each are needed`,
    );
  const holdoutPositives = count(holdout);
  if (holdoutPositives === 0 || holdoutPositives === holdout.length)
    throw new DatasetError(
      'the holdout rows (the last 20% by time) hold one class only: AUC cannot compare the models',
    );
  return { features, columns, positive, atMs, train, holdout, skipped: n - usable.length };
}
