/** Holdout metrics of a scoring model: AUC (exact, ties shared), log loss, Brier score, calibration. */

export interface CalibrationBin {
  /** Predicted probabilities in [from, to) (the last bin includes 1). */
  readonly from: number;
  readonly to: number;
  readonly rows: number;
  readonly meanPredicted: number | null;
  readonly observedRate: number | null;
}

export interface Calibration {
  /** Expected calibration error: Σ (rows/n) · |observed − predicted| over the bins. */
  readonly ece: number;
  readonly bins: readonly CalibrationBin[];
}

export interface Metrics {
  /** null when the rows hold only one class (AUC is undefined). */
  readonly auc: number | null;
  readonly logLoss: number;
  readonly brier: number;
  readonly calibration: Calibration;
}

/** How far below the live version's AUC a candidate may be and still be registered, by default. */
export const DEFAULT_TOLERANCE_AUC = 0.005;

const CALIBRATION_BINS = 10;
/** Probabilities are clipped this far from 0 and 1 so that one confident miss costs a finite log loss. */
const EPS = 1e-15;

/**
 * The Mann–Whitney AUC: the probability that a random positive outscores a random negative, a tie
 * counting one half (mid-ranks over groups of equal scores). O(n log n).
 */
export function auc(scores: ArrayLike<number>, positive: ArrayLike<number>): number | null {
  const n = scores.length;
  const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!]! === scores[order[i]!]!) j++;
    const midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (positive[order[k]!]) {
        positives++;
        rankSum += midRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function metrics(scores: ArrayLike<number>, positive: ArrayLike<number>): Metrics {
  const n = scores.length;
  let logLoss = 0;
  let brier = 0;
  const rows = new Float64Array(CALIBRATION_BINS);
  const predicted = new Float64Array(CALIBRATION_BINS);
  const observed = new Float64Array(CALIBRATION_BINS);
  for (let i = 0; i < n; i++) {
    const p = scores[i]!;
    const y = positive[i] ? 1 : 0;
    const clipped = Math.min(1 - EPS, Math.max(EPS, p));
    logLoss -= y ? Math.log(clipped) : Math.log(1 - clipped);
    brier += (p - y) ** 2;
    const bin = Math.min(CALIBRATION_BINS - 1, Math.max(0, Math.floor(p * CALIBRATION_BINS)));
    rows[bin]!++;
    predicted[bin] = predicted[bin]! + p;
    observed[bin] = observed[bin]! + y;
  }
  let ece = 0;
  const bins: CalibrationBin[] = [];
  for (let b = 0; b < CALIBRATION_BINS; b++) {
    const r = rows[b]!;
    if (r > 0) ece += (r / n) * Math.abs(observed[b]! / r - predicted[b]! / r);
    bins.push({
      from: b / CALIBRATION_BINS,
      to: (b + 1) / CALIBRATION_BINS,
      rows: r,
      meanPredicted: r > 0 ? predicted[b]! / r : null,
      observedRate: r > 0 ? observed[b]! / r : null,
    });
  }
  return { auc: auc(scores, positive), logLoss: logLoss / n, brier: brier / n, calibration: { ece, bins } };
}
