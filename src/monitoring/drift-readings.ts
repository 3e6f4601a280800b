/**
 * croupier_drift_psi's readings: the `models` part of a monitoring report (the numbers
 * `/admin/monitor` answers) as one reading per model, version, baseline feature and window, the
 * score as feature `prediction`. Windows without rows have no PSI and no reading, so the label set
 * is bounded by the versions that scored rows in the last day × their baseline features × 2 windows.
 */
import type { MonitorReport } from './report.js';

/** The `feature` label of the score's PSI (the contract's). */
export const PREDICTION_FEATURE = 'prediction';

export interface DriftReading {
  readonly model: string;
  readonly version: string;
  readonly feature: string;
  readonly window: string;
  readonly psi: number;
}

export function driftReadings(models: MonitorReport['models']): DriftReading[] {
  const out: DriftReading[] = [];
  for (const [model, versions] of Object.entries(models))
    for (const [version, { drift }] of Object.entries(versions))
      for (const [window, w] of Object.entries(drift)) {
        for (const [feature, psi] of Object.entries(w.features))
          if (psi !== null) out.push({ model, version, feature, window, psi });
        if (w.prediction !== null) out.push({ model, version, feature: PREDICTION_FEATURE, window, psi: w.prediction });
      }
  return out;
}
