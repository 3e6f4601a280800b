/**
 * Every loaded version's drift counter (the batchers' DriftSink), and the once-a-second hand-over
 * of what they counted to the MonitorCounts store: series scope 'model', name the model, series
 * `drift:<version>`, summed per minute there (embedded, or in Redis across replicas). Each count is
 * handed over with the minute its rows were counted in (the counter keeps one vector per minute).
 */
import type { Logger } from '../log.js';
import type { ModelVersion } from '../registry/repository.js';
import { DriftCounter, driftLayout, driftReport, type DriftLayout, type DriftSink } from './drift-counter.js';
import type { Delta, MonitorCounts, SeriesKey } from './monitor-counts.js';
import type { DriftWindow } from './report.js';

/** The store series of a model version's drift vector. */
export function driftSeries(model: string, version: string): SeriesKey {
  return { scope: 'model', name: model, series: `drift:${version}` };
}

export class DriftCounters implements DriftSink {
  private readonly counters = new Map<string, { version: ModelVersion; counter: DriftCounter }>();

  /** `now`: the wall clock the counters take their minutes from (tests inject one). */
  constructor(private readonly now: () => number = Date.now) {}

  /** The version's counter, made from its manifest the first time (one per version, kept across reloads). */
  counter(version: ModelVersion): DriftCounter | undefined {
    const known = this.counters.get(version.key);
    if (known) return known.counter;
    const layout = driftLayout(version);
    if (!layout) return undefined;
    const counter = new DriftCounter(layout, this.now);
    this.counters.set(version.key, { version, counter });
    return counter;
  }

  /** The layout of a version's vector (for the store's `length` and the report), if it counts drift. */
  layout(version: ModelVersion): DriftLayout | undefined {
    return this.counter(version)?.layout;
  }

  /** A version's drift window from its vector summed over the window's minutes. */
  report(version: ModelVersion, summed: ArrayLike<number>): DriftWindow | undefined {
    const layout = this.layout(version);
    return layout ? driftReport(layout, summed) : undefined;
  }

  /** What every counter counted since the last call, as deltas of the minutes it was counted in. */
  deltas(): Delta[] {
    const out: Delta[] = [];
    for (const { version, counter } of this.counters.values()) {
      const taken = counter.take();
      if (taken.length === 0) continue;
      const key = driftSeries(version.model, version.version);
      for (const { minute, amounts } of taken) out.push({ key, minute, amounts });
    }
    return out;
  }
}

/** Applies the counters' deltas to the store about once a second; `close` applies the last ones. */
export class DriftApplier {
  private readonly timer: NodeJS.Timeout;
  private applying: Promise<void> = Promise.resolve();

  constructor(
    private readonly counters: DriftCounters,
    private readonly store: MonitorCounts,
    private readonly log: Logger,
    intervalMs = 1000,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  /** Hands over what was counted so far (one apply at a time; a failed apply is logged, its counts lost). */
  flush(): Promise<void> {
    this.applying = this.applying.then(async () => {
      const deltas = this.counters.deltas();
      if (deltas.length === 0) return;
      try {
        await this.store.apply(deltas);
      } catch (e) {
        this.log.warn({ err: (e as Error).message, series: deltas.length }, 'drift counts not stored');
      }
    });
    return this.applying;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
