/**
 * The monitor's per-arm and per-version vectors, and the store keys they are kept under: the
 * shapes both the write side (monitor.ts) and the read side (monitor-report.ts) agree on.
 */
import type { MonitorSpec } from '../registry/manifest.js';
import { newLabelCounts } from './label-counts.js';
import type { SeriesKey } from './monitor-counts.js';

/** An arm's vector: pulls, expected pulls (Σ of its probability over the route's decisions), outcomes, Σ reward, Σ reward². */
export const PULLS = 0;
export const EXPECTED = 1;
export const OUTCOMES = 2;
export const REWARD = 3;
export const REWARD_SQ = 4;
export const ARM_COUNTS = 5;

/** A counter cell (croupier_outcome_labels_total's child). */
export interface Increment {
  inc(): void;
}

/** One series' sums since the last apply. */
export class Series {
  touched = false;
  /** The minute `amounts` counts (its events happened in it). */
  minute = 0;
  constructor(
    readonly key: SeriesKey,
    readonly amounts: Float64Array,
  ) {}
}

/** A version's label series on one arm (only versions with `monitor`). */
export class LabelSeries extends Series {
  /** croupier_outcome_labels_total's cells: [predicted·2 + actual]. */
  readonly cells: Increment[];
  /** `labelIncrements`' adder into this vector, made once (addLabel would make one per outcome). */
  readonly add = (i: number, amount: number): void => {
    this.amounts[i]! += amount;
  };

  constructor(
    key: SeriesKey,
    readonly spec: MonitorSpec,
    cells: Increment[],
  ) {
    super(key, newLabelCounts());
    this.cells = cells;
  }
}

/** An arm's series, and its versions' label series (null: a version without `monitor`). */
export class ArmSeries extends Series {
  readonly labels = new Map<string, LabelSeries | null>();
}

export const armSeriesKey = (route: string, arm: string): SeriesKey => ({
  scope: 'route',
  name: route,
  series: `arm:${arm}`,
});

export const labelSeriesKey = (route: string, arm: string, model: string, version: string): SeriesKey => ({
  scope: 'route',
  name: route,
  series: `labels:${model}@${version}:${arm}`,
});
