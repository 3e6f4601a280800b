/**
 * Rolling windows kept as one-minute buckets (the contract's `1h` and `24h`): a bucket is a vector
 * of sums (label counts, drift bin counts, pulls and propensities), a window is the sum of the
 * buckets of its last minutes. This is the embedded store's form; Redis keeps the same buckets as
 * hashes with a TTL, so the arithmetic above them is one.
 */

export const MINUTE_MS = 60_000;
export const WINDOWS = { '1h': 60, '24h': 1_440 } as const;
export type WindowName = keyof typeof WINDOWS;
export const WINDOW_NAMES = Object.keys(WINDOWS) as WindowName[];
/** How many minutes a bucket must be kept: the longest window. */
export const RETAINED_MINUTES = WINDOWS['24h'];

export function minuteOf(ms: number): number {
  return Math.floor(ms / MINUTE_MS);
}

/** Buckets of `length`-long vectors for the last RETAINED_MINUTES minutes; minutes without data hold none. */
export class MinuteWindow {
  private readonly buckets = new Map<number, Float64Array>();

  constructor(readonly length: number) {}

  /** The bucket of the minute of `ms`, made when first written; old buckets go as new ones come. */
  bucket(ms: number): Float64Array {
    const minute = minuteOf(ms);
    let b = this.buckets.get(minute);
    if (!b) {
      b = new Float64Array(this.length);
      this.buckets.set(minute, b);
      this.prune(minute);
    }
    return b;
  }

  /** Adds `amount` at `index` of the bucket of `ms`. */
  add(ms: number, index: number, amount: number): void {
    this.bucket(ms)[index]! += amount;
  }

  /** The sum of the buckets of the `minutes` minutes up to and including the minute of `nowMs`. */
  sum(nowMs: number, minutes: number): Float64Array {
    const out = new Float64Array(this.length);
    const last = minuteOf(nowMs);
    for (const [minute, b] of this.buckets) {
      if (minute > last || minute <= last - minutes) continue;
      for (let i = 0; i < b.length; i++) out[i]! += b[i]!;
    }
    return out;
  }

  /** Each minute's bucket from `fromMs` to `toMs`, oldest first (the series endpoint). */
  *minutes(fromMs: number, toMs: number): Generator<[minute: number, bucket: Float64Array]> {
    const from = minuteOf(fromMs);
    const to = minuteOf(toMs);
    for (const minute of [...this.buckets.keys()].sort((a, b) => a - b)) {
      if (minute >= from && minute <= to) yield [minute, this.buckets.get(minute)!];
    }
  }

  /** Whether any bucket holds data. */
  get empty(): boolean {
    return this.buckets.size === 0;
  }

  private prune(newest: number): void {
    for (const minute of this.buckets.keys()) if (minute <= newest - RETAINED_MINUTES) this.buckets.delete(minute);
  }
}
