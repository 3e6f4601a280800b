/**
 * Rolling windows kept as one-minute buckets (the contract's `1h` and `24h`): a bucket is a vector
 * of sums (label counts, drift bin counts, pulls and propensities), a window is the sum of the
 * buckets of its last minutes. The embedded store keeps these; Redis keeps the same buckets as
 * hashes, so the arithmetic above them is one.
 */

export const MINUTE_MS = 60_000;
export const WINDOWS = { '1h': 60, '24h': 1_440 } as const;
export type WindowName = keyof typeof WINDOWS;
export const WINDOW_NAMES = Object.keys(WINDOWS) as WindowName[];
/** How many minutes a bucket is kept: the longest window. */
export const RETAINED_MINUTES = WINDOWS['24h'];

export function minuteOf(ms: number): number {
  return Math.floor(ms / MINUTE_MS);
}

/** Adds `b` into `a`, growing past `a`'s length into a new vector when `b` is longer. */
export function addInto(a: Float64Array, b: ArrayLike<number>): Float64Array {
  let out = a;
  if (b.length > a.length) {
    out = new Float64Array(b.length);
    out.set(a);
  }
  for (let i = 0; i < b.length; i++) out[i]! += b[i]!;
  return out;
}

/** One series' buckets for the last RETAINED_MINUTES minutes; minutes without data hold none. */
export class MinuteWindow {
  private readonly buckets = new Map<number, Float64Array>();
  private newest = -Infinity;

  /** Adds `amounts` to the bucket of `minute`; buckets older than a day behind the newest go. */
  add(minute: number, amounts: ArrayLike<number>): void {
    if (minute <= this.newest - RETAINED_MINUTES) return;
    const b = this.buckets.get(minute);
    this.buckets.set(minute, addInto(b ?? new Float64Array(amounts.length), amounts));
    if (minute > this.newest) {
      this.newest = minute;
      for (const m of this.buckets.keys()) if (m <= minute - RETAINED_MINUTES) this.buckets.delete(m);
    }
  }

  /** The sum (`length` long at least) of the buckets of the `minutes` minutes ending with `lastMinute`. */
  sum(lastMinute: number, minutes: number, length: number): Float64Array {
    let out: Float64Array = new Float64Array(length);
    for (const [minute, b] of this.buckets) {
      if (minute <= lastMinute && minute > lastMinute - minutes) out = addInto(out, b);
    }
    return out;
  }

  /** The buckets from `first` to `last` minute, oldest first. */
  range(first: number, last: number): [number, Float64Array][] {
    return [...this.buckets]
      .filter(([m]) => m >= first && m <= last)
      .sort((a, b) => a[0] - b[0])
      .map(([m, b]) => [m, b.slice()]);
  }

  /** The bucket of `minute` itself (not a copy), if it holds data: a snapshot writes one minute at a time. */
  at(minute: number): Float64Array | undefined {
    return this.buckets.get(minute);
  }

  /** Every bucket, for a snapshot. */
  entries(): IterableIterator<[number, Float64Array]> {
    return this.buckets.entries();
  }

  get empty(): boolean {
    return this.buckets.size === 0;
  }
}
