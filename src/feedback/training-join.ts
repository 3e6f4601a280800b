/**
 * Where an accepted outcome meets its decision to become a training row (routes with
 * `logFeatures`; the others pay one property read). The verdict ladder (feedback.ts) asks for the
 * row as it judges, while the store still holds the decision, and hands it to the TrainingRows
 * port only once the outcome is durable and counted — so a decision with several outcomes keeps
 * the one the ladder accepted, and a refused commit keeps none.
 */
import type { FeedbackEvent } from '../protocol/feedback.js';
import type { ModelVersion } from '../registry/repository.js';
import type { TrainingRow } from '../retrain/dataset-row.js';
import type { TrainingRows } from '../state/training-rows.js';
import type { JoinedDecision, Served } from './decision-log.js';

/** Which version a decision named (its manifest names the features of array requests). */
export interface VersionLookup {
  resolve(model: string, version: string): ModelVersion | undefined;
}

export class TrainingJoin {
  constructor(
    private readonly rows: TrainingRows,
    private readonly versions: VersionLookup,
  ) {}

  /** The row an accepted `event` makes of its decision; undefined when the decision kept no features. */
  row(served: Served, d: JoinedDecision, score: number, event: FeedbackEvent, nowMs: number): TrainingRow | undefined {
    const features = namedFeatures(d.features, this.versions.resolve(d.model, d.version));
    if (features === undefined) return undefined;
    return {
      decision: event.decision,
      atMs: d.createdMs,
      route: served.route,
      arm: served.arm,
      model: d.model,
      version: d.version,
      propensity: d.propensity,
      score,
      features,
      reward: event.reward,
      label: event.label,
      outcomeAtMs: nowMs,
    };
  }

  /** Writes the rows still waiting (at shutdown). */
  close(): Promise<void> {
    return this.rows.close();
  }

  /** The row's outcome is durable and counted: keep it. */
  kept(row: TrainingRow): void {
    this.rows.append(row);
  }
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * A request's features by name: named features as sent; a row of values named by the version's
 * manifest (inputs[].featureNames in order, else `<input>_<i>`, else `f<i>`); for a request of
 * several rows, its first row (the one whose score the decision keeps).
 */
export function namedFeatures(
  features: unknown,
  version: ModelVersion | undefined,
): Record<string, unknown> | undefined {
  if (isPlainObject(features)) return features;
  if (!Array.isArray(features) || features.length === 0) return undefined;
  const first = features[0];
  if (Array.isArray(first) || isPlainObject(first)) return namedFeatures(first, version);
  const names = version ? manifestNames(version) : [];
  const out: Record<string, unknown> = {};
  const named = names.length === features.length;
  for (let i = 0; i < features.length; i++) out[named ? names[i]! : `f${i}`] = features[i];
  return out;
}

/** A version's feature names in row order (inputs[].featureNames, else `<input>_<i>`). */
export function manifestNames(version: ModelVersion): string[] {
  const names: string[] = [];
  for (const input of version.manifest.inputs) {
    const size = input.shape.slice(1).reduce((a, b) => a * b, 1);
    for (let i = 0; i < size; i++) names.push(input.featureNames?.[i] ?? `${input.name}_${i}`);
  }
  return names;
}
