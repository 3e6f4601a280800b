/** MonitorReports for the alerting tests: one route with two arms, one model with one version. */
import type { LabelMetrics } from '../../../src/monitoring/label-counts.js';
import type { MonitorReport, RewardWindow } from '../../../src/monitoring/report.js';

export interface Shape {
  /** PSI of the feature `amount` (null: no rows to compare). */
  psi?: number | null;
  rows?: number;
  precision?: number | null;
  labels?: number;
  srmP?: number;
}

function labels(precision: number | null, n: number): LabelMetrics {
  return {
    n,
    tp: 0,
    fp: 0,
    tn: 0,
    fn: 0,
    precision,
    recall: 0.5,
    fpr: 0.1,
    predictedPositiveRate: 0.1,
    observedPositiveRate: 0.1,
    logLoss: 0.3,
    brier: 0.1,
    auc: 0.8,
    calibration: [],
  };
}

export function report(shape: Shape = {}): MonitorReport {
  const { psi = 0.01, rows = 1000, precision = 0.9, labels: n = 500, srmP = 0.4 } = shape;
  const window = (challenger: boolean): RewardWindow => ({
    pulls: 1000,
    outcomes: 800,
    meanReward: 0.1,
    labels: labels(challenger ? precision : 0.9, n),
  });
  const drift = { rows, sampled: false, features: { amount: psi }, prediction: psi === null ? null : psi / 2 };
  return {
    routes: {
      'fraud-scoring': {
        srm: { '1h': { pValue: srmP, srm: srmP < 0.001 }, '24h': { pValue: 0.5, srm: false } },
        arms: {
          champion: {
            model: 'fraud',
            version: '1',
            disabled: false,
            windows: { '1h': window(false), '24h': window(false) },
          },
          challenger: {
            model: 'fraud',
            version: '2',
            disabled: false,
            windows: { '1h': window(true), '24h': window(true) },
          },
        },
      },
    },
    models: { fraud: { '1': { drift: { '1h': drift, '24h': drift } } } },
    alerts: [],
  };
}
