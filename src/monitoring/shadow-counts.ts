/**
 * A shadow arm's comparisons (scoring/shadow.ts copies a share of a route's requests to it): per
 * minute one vector of sums in the MonitorCounts store, like an arm's pulls, so that every replica
 * of a fleet reads the same windows. Its latency is a histogram of fixed log-spaced buckets (sums
 * add across replicas; a quantile of quantiles would not), read back as a p99 upper bound.
 */
import type { Increment } from './monitor-series.js';
import type { MonitorCounts, SeriesKey } from './monitor-counts.js';
import { WINDOW_NAMES, WINDOWS, type WindowName } from './minute-window.js';

/** The vector: comparisons, those with both scores (agreement data), agreeing, Σ |Δ score|, shed, failed, latency buckets. */
const COMPARISONS = 0;
const JUDGED = 1;
const AGREED = 2;
const DELTA_SUM = 3;
const SHED = 4;
const FAILED = 5;
const LATENCY = 6;

/**
 * Upper edges of the latency buckets, in ms: 0.05 ms × 2^(k/4), so a p99 read from them is at most
 * 19% above the true one, up to about 86 s; the last bucket holds everything slower.
 */
export const LATENCY_EDGES_MS: readonly number[] = Array.from({ length: 84 }, (_, k) => 0.05 * 2 ** (k / 4));
export const SHADOW_COUNTS = LATENCY + LATENCY_EDGES_MS.length + 1;

export type ShadowShedReason = 'busy' | 'bound' | 'overload';

/** A shadow arm's figures in one window (`GET /admin/monitor`, routes.R.shadows.A.windows.W.shadow). */
export interface ShadowWindow {
  /** Copies scored and compared with the served answer. */
  comparisons: number;
  /** Of those, the share on the same side of the served version's threshold; null without agreement data. */
  agreement: number | null;
  /** Mean |shadow score − served score|; null without agreement data. */
  meanAbsScoreDelta: number | null;
  /** The shadow model's inference time for the copy's batch; an upper bound within 19%; null without comparisons. */
  p99LatencyMs: number | null;
  /** Comparisons without agreement data: the served or the shadow version has no manifest `monitor`. */
  withoutScores: number;
  /** Copies dropped before scoring (the lane busy, the in-flight bound reached, or the served engine overloaded). */
  shed: number;
  /** Copies whose scoring failed (or whose features the shadow's model could not take). */
  failed: number;
}

export interface ShadowReport {
  model: string;
  version: string;
  /** The share of the route's requests copied to it. */
  share: number;
  windows: Record<WindowName, { shadow: ShadowWindow }>;
}

/** The metrics room's cells for one shadow arm (croupier_shadow_*), asked once per arm. */
export interface ShadowCells {
  /** croupier_shadow_total by agree: [false, true, unknown]. */
  readonly agree: readonly [Increment, Increment, Increment];
  readonly delta: { observe(value: number): void };
  readonly shed: Record<ShadowShedReason, Increment>;
  readonly failed: Increment;
}

export const shadowSeriesKey = (route: string, arm: string): SeriesKey => ({
  scope: 'route',
  name: route,
  series: `shadow:${arm}`,
});

/** The bucket of a latency: binary search over the edges (84 of them: 7 steps). */
function latencyBucket(ms: number): number {
  let lo = 0;
  let hi = LATENCY_EDGES_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ms <= LATENCY_EDGES_MS[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * One shadow arm's counts since the monitor's last apply (the monitor hands them to the store once
 * a second, with its own series). `counting` is called before each count: the monitor closes the
 * vector's earlier minute if the clock has moved on, and notes that it has something to hand over.
 */
export class ShadowSeries {
  touched = false;
  /** The minute `amounts` counts. */
  minute = 0;
  readonly amounts = new Float64Array(SHADOW_COUNTS);

  constructor(
    readonly key: SeriesKey,
    private readonly cells: ShadowCells | undefined,
    private readonly counting: (s: ShadowSeries) => void,
  ) {}

  /**
   * A copy scored: `served` and `shadow` are the two scores (NaN: that version has no `monitor`),
   * `threshold` the served version's.
   */
  compared(served: number, shadow: number, threshold: number, latencyMs: number): void {
    this.counting(this);
    const a = this.amounts;
    a[COMPARISONS]! += 1;
    a[LATENCY + latencyBucket(latencyMs)]! += 1;
    const judged = Number.isFinite(served) && Number.isFinite(shadow) && Number.isFinite(threshold);
    if (judged) {
      const agree = served >= threshold === shadow >= threshold;
      const delta = Math.abs(shadow - served);
      a[JUDGED]! += 1;
      if (agree) a[AGREED]! += 1;
      a[DELTA_SUM]! += delta;
      this.cells?.agree[agree ? 1 : 0].inc();
      this.cells?.delta.observe(delta);
    } else this.cells?.agree[2].inc();
  }

  shed(reason: ShadowShedReason): void {
    this.counting(this);
    this.amounts[SHED]! += 1;
    this.cells?.shed[reason].inc();
  }

  failed(): void {
    this.counting(this);
    this.amounts[FAILED]! += 1;
    this.cells?.failed.inc();
  }
}

/** The p99 of a window's latency buckets: the upper edge of the bucket that holds it. */
function p99(v: Float64Array, n: number): number | null {
  if (n <= 0) return null;
  const target = Math.ceil(n * 0.99);
  let seen = 0;
  for (let i = 0; i <= LATENCY_EDGES_MS.length; i++) {
    seen += v[LATENCY + i] ?? 0;
    if (seen >= target) return Math.round(LATENCY_EDGES_MS[Math.min(i, LATENCY_EDGES_MS.length - 1)]! * 1000) / 1000;
  }
  return null;
}

export function shadowWindow(v: Float64Array): ShadowWindow {
  const comparisons = v[COMPARISONS]!;
  const judged = v[JUDGED]!;
  return {
    comparisons,
    agreement: judged > 0 ? v[AGREED]! / judged : null,
    meanAbsScoreDelta: judged > 0 ? v[DELTA_SUM]! / judged : null,
    p99LatencyMs: p99(v, comparisons),
    withoutScores: comparisons - judged,
    shed: v[SHED]!,
    failed: v[FAILED]!,
  };
}

/** The shadow arms of one route, each with its windows ending with minute `last`. */
export async function shadowReports(
  store: MonitorCounts,
  route: string,
  arms: readonly { name: string; share: number; model: string; version: string }[],
  last: number,
): Promise<Record<string, ShadowReport>> {
  const keys = arms.map((a) => shadowSeriesKey(route, a.name));
  const out: Record<string, ShadowReport> = {};
  for (const a of arms)
    out[a.name] = { model: a.model, version: a.version, share: a.share, windows: {} as ShadowReport['windows'] };
  for (const w of WINDOW_NAMES) {
    const sums = await store.sums(keys, last, WINDOWS[w], SHADOW_COUNTS);
    arms.forEach((a, i) => {
      out[a.name]!.windows[w] = { shadow: shadowWindow(sums[i]!) };
    });
  }
  return out;
}
