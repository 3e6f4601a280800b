/**
 * Label metrics from counts: every labelled outcome adds to a fixed vector of sums (confusion
 * counts, log loss, Brier, calibration buckets, score histograms), so a window is the sum of its
 * minutes' vectors — added the same way in memory and in Redis (HINCRBYFLOAT by index) — and every
 * metric of the contract is computed from a sum. AUC comes from the score histograms, whose bins are
 * even in log-odds so that scores crowded near 0 or 1 (fraud, clicks) still fall in separate bins.
 */

/** Score histogram bins for AUC: even in log-odds over [-LOGIT_RANGE, LOGIT_RANGE]. */
export const SCORE_BINS = 200;
const LOGIT_RANGE = 10;
/** Equal-width score buckets of the calibration table. */
export const CALIBRATION_BINS = 10;
/** Scores are clamped to [EPS, 1 - EPS] for log loss, as scikit-learn does. */
const EPS = 1e-15;

const N = 0;
const TP = 1;
const FP = 2;
const TN = 3;
const FN = 4;
const LOG_LOSS = 5;
const BRIER = 6;
/** Per calibration bucket: score sum, positives, n. */
const CALIBRATION = 7;
const POSITIVE_SCORES = CALIBRATION + 3 * CALIBRATION_BINS;
const NEGATIVE_SCORES = POSITIVE_SCORES + SCORE_BINS;
/** Length of a label-count vector. */
export const LABEL_COUNTS = NEGATIVE_SCORES + SCORE_BINS;

export function newLabelCounts(): Float64Array {
  return new Float64Array(LABEL_COUNTS);
}

/** The score histogram bin of `score` (a probability; outside [0, 1] it is clamped). */
export function scoreBin(score: number): number {
  const p = Math.min(1 - 1e-9, Math.max(1e-9, score));
  const logit = Math.log(p / (1 - p));
  const bin = Math.floor(((logit + LOGIT_RANGE) / (2 * LOGIT_RANGE)) * SCORE_BINS);
  return Math.min(SCORE_BINS - 1, Math.max(0, bin));
}

/** The calibration bucket of `score`: [0, 0.1), [0.1, 0.2), …, [0.9, 1]. */
export function calibrationBin(score: number): number {
  return Math.min(CALIBRATION_BINS - 1, Math.max(0, Math.floor(score * CALIBRATION_BINS)));
}

/**
 * Adds one labelled outcome: `score` is the model's score for the decision's first row, `positive`
 * whether the label is the manifest's positive class; predicted positive is `score >= threshold`.
 * Calls `add(index, amount)` for each sum that changes (a vector in memory, a hash in Redis).
 */
export function labelIncrements(
  score: number,
  positive: boolean,
  threshold: number,
  add: (index: number, amount: number) => void,
): void {
  const predicted = score >= threshold;
  add(N, 1);
  add(predicted ? (positive ? TP : FP) : positive ? FN : TN, 1);
  const p = Math.min(1 - EPS, Math.max(EPS, score));
  add(LOG_LOSS, positive ? -Math.log(p) : -Math.log(1 - p));
  add(BRIER, ((positive ? 1 : 0) - score) ** 2);
  const c = CALIBRATION + 3 * calibrationBin(score);
  add(c, score);
  if (positive) add(c + 1, 1);
  add(c + 2, 1);
  add((positive ? POSITIVE_SCORES : NEGATIVE_SCORES) + scoreBin(score), 1);
}

/** `labelIncrements` into a vector. */
export function addLabel(counts: Float64Array, score: number, positive: boolean, threshold: number): void {
  labelIncrements(score, positive, threshold, (i, amount) => {
    counts[i]! += amount;
  });
}

export interface CalibrationBucket {
  meanScore: number | null;
  observedRate: number | null;
  n: number;
}

/** The contract's `labels` object. A ratio whose denominator is 0 is null, never NaN. */
export interface LabelMetrics {
  n: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  precision: number | null;
  recall: number | null;
  fpr: number | null;
  predictedPositiveRate: number | null;
  observedPositiveRate: number | null;
  logLoss: number | null;
  brier: number | null;
  auc: number | null;
  calibration: CalibrationBucket[];
}

const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);

export function labelMetrics(counts: Float64Array): LabelMetrics {
  const n = counts[N]!;
  const tp = counts[TP]!;
  const fp = counts[FP]!;
  const tn = counts[TN]!;
  const fn = counts[FN]!;
  const calibration: CalibrationBucket[] = [];
  for (let b = 0; b < CALIBRATION_BINS; b++) {
    const c = CALIBRATION + 3 * b;
    const bucketN = counts[c + 2]!;
    calibration.push({
      meanScore: ratio(counts[c]!, bucketN),
      observedRate: ratio(counts[c + 1]!, bucketN),
      n: bucketN,
    });
  }
  return {
    n,
    tp,
    fp,
    tn,
    fn,
    precision: ratio(tp, tp + fp),
    recall: ratio(tp, tp + fn),
    fpr: ratio(fp, fp + tn),
    predictedPositiveRate: ratio(tp + fp, n),
    observedPositiveRate: ratio(tp + fn, n),
    logLoss: ratio(counts[LOG_LOSS]!, n),
    brier: ratio(counts[BRIER]!, n),
    auc: histogramAuc(counts),
    calibration,
  };
}

/**
 * AUC as the Mann–Whitney statistic over the histograms: each positive beats the negatives in lower
 * bins and half of those in its own. Null without both classes.
 */
function histogramAuc(counts: Float64Array): number | null {
  let positives = 0;
  let negatives = 0;
  let wins = 0;
  for (let b = 0; b < SCORE_BINS; b++) {
    const pos = counts[POSITIVE_SCORES + b]!;
    const neg = counts[NEGATIVE_SCORES + b]!;
    wins += pos * (negatives + neg / 2);
    positives += pos;
    negatives += neg;
  }
  return positives > 0 && negatives > 0 ? wins / (positives * negatives) : null;
}
