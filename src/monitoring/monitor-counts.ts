/**
 * The port monitoring keeps its windows behind: per series (an arm's pulls and rewards, a model
 * version's label counts or drift bins), one vector of sums per minute. The domain adds to a
 * series' vector for the current minute in memory, as it happens, and hands the store what it added
 * (`apply`) about once a second; the store sums minutes into windows. Embedded mode keeps the
 * minutes in memory with a snapshot in the state directory (state/embedded/monitor-counts.ts);
 * Redis mode in hashes every replica adds to, so every replica reads the same windows
 * (state/redis/monitor-counts.ts). test/monitoring/monitor-counts.contract.test.ts holds both to
 * the same behaviour.
 */

/**
 * A series: `scope` and `name` say what it belongs to (a route or a model: Redis keeps a route's
 * or a model's series in one Cluster slot), `series` what it counts there, e.g. `arm:champion` or
 * `labels:fraud@2:champion`.
 */
export interface SeriesKey {
  readonly scope: 'route' | 'model';
  readonly name: string;
  readonly series: string;
}

/** What the domain added to one series in one minute since the last `apply`. */
export interface Delta {
  readonly key: SeriesKey;
  readonly minute: number;
  readonly amounts: Float64Array;
}

export interface MonitorCounts {
  /** Adds the deltas to the stored minutes. Resolves once they are stored (Redis: written). */
  apply(deltas: readonly Delta[]): Promise<void>;
  /**
   * Each series' sum over the `minutes` minutes that end with `lastMinute` (included), as a vector
   * of `length` (a series never written sums to zeros).
   */
  sums(keys: readonly SeriesKey[], lastMinute: number, minutes: number, length: number): Promise<Float64Array[]>;
  /** One series' minutes from `firstMinute` to `lastMinute` that hold data, oldest first. */
  minutes(key: SeriesKey, firstMinute: number, lastMinute: number, length: number): Promise<[number, Float64Array][]>;
  /** Stores what must outlive a restart (embedded: the snapshot). */
  close(): Promise<void>;
}

/** The text form of a key, for maps. */
export function seriesId(key: SeriesKey): string {
  return `${key.scope}\n${key.name}\n${key.series}`;
}
