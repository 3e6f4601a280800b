/**
 * Validation by Croupier itself, whoever trained: the candidate and the live version score the
 * same holdout rows (the last 20% by time, never trained on) in this process, and are compared on
 * AUC, log loss, Brier score and calibration. A candidate whose AUC is below live's by more than
 * the tolerance is refused (registered only with --force).
 */
import type { Manifest } from '../registry/manifest.js';
import type { Examples } from './train-examples.js';
import { metrics, type Metrics } from './validate-metrics.js';
import { scoreRows } from './validate-score.js';

export interface Validation {
  readonly holdout: { readonly rows: number; readonly from: string; readonly to: string };
  readonly candidate: Metrics;
  readonly live: Metrics & { readonly version: string };
  /** candidate AUC − live AUC (null when either is undefined). */
  readonly aucDifference: number | null;
  readonly tolerance: number;
  /** Whether the candidate passes: its AUC is not below live's by more than the tolerance. */
  readonly passed: boolean;
}

/** The score of `rows` by a model that takes `manifest`'s inputs. */
export function scoreExamples(
  model: Uint8Array,
  manifest: Manifest,
  ex: Examples,
  rows: Uint32Array,
): Promise<Float64Array> {
  const index = new Map(ex.features.map((f, j) => [f, ex.columns[j]!]));
  return scoreRows(model, manifest.inputs, manifest.monitor!.score, (name) => index.get(name)!, rows);
}

export async function validate(
  ex: Examples,
  candidate: { bytes: Uint8Array; manifest: Manifest },
  live: { bytes: Uint8Array; manifest: Manifest },
  tolerance: number,
): Promise<Validation> {
  const labels = Uint8Array.from(ex.holdout, (i) => ex.positive[i]!);
  const [c, l] = await Promise.all([
    scoreExamples(candidate.bytes, candidate.manifest, ex, ex.holdout),
    scoreExamples(live.bytes, live.manifest, ex, ex.holdout),
  ]);
  const cm = metrics(c, labels);
  const lm = metrics(l, labels);
  const aucDifference = cm.auc !== null && lm.auc !== null ? cm.auc - lm.auc : null;
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    holdout: {
      rows: ex.holdout.length,
      from: iso(ex.atMs[ex.holdout[0]!]!),
      to: iso(ex.atMs[ex.holdout[ex.holdout.length - 1]!]!),
    },
    candidate: cm,
    live: { version: live.manifest.version, ...lm },
    aucDifference,
    tolerance,
    passed: aucDifference === null ? false : aucDifference >= -tolerance,
  };
}
