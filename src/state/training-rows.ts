/**
 * The port where training rows are kept (routes with `logFeatures`): a log per route, appended as
 * outcomes are joined with their decisions, trimmed by age (CROUPIER_DATASET_DAYS), read back by
 * time. Embedded mode keeps it in files under the state directory (embedded/training-rows.ts);
 * Redis mode in one stream per route (redis/training-rows.ts), so a fleet keeps one dataset. One
 * contract suite runs against both (test/state/training-rows.contract.test.ts).
 *
 * Rows are training data, not the decision or its outcome: they are written behind the outcome's
 * answer, in batches, without an fsync (embedded) or a WAIT (Redis). A crash of the machine (not of
 * the process, embedded) or an unreachable Redis may lose the rows of the last moments; those
 * losses are counted (`dropped`) and logged, and the outcome itself stays counted.
 */
import type { TrainingRow } from '../retrain/dataset-row.js';

export interface TrainingRows {
  /** Queues `row` (joined at `row.outcomeAtMs`) for the next batch: never waits, never throws. */
  append(row: TrainingRow): void;
  /**
   * The kept lines of `route` (rowLine's text) joined at or after `fromMs`, oldest first, in pages
   * of at most `pageRows`; the next page is read only when asked for (the reader's backpressure).
   * A few lines joined a little before `fromMs` may come too: the caller filters by its times.
   */
  read(route: string, fromMs: number, pageRows: number): AsyncIterable<string[]>;
  /** Resolves once every row appended so far is written (or counted as dropped). */
  flush(): Promise<void>;
  /** Rows lost: the store could not take them (disk or Redis failing, or too many waiting). */
  readonly dropped: number;
  /** Flushes, then releases what it holds. */
  close(): Promise<void>;
}

/** What both adapters are opened with. */
export interface TrainingRowsOptions {
  /** How long a row is kept after it was joined (CROUPIER_DATASET_DAYS). */
  readonly retentionMs: number;
  /** The clock (tests move it). */
  readonly now?: () => number;
}

/**
 * How long rows wait to be written with the ones after them: one write (a syscall, or a Redis
 * round trip) per 20 ms rather than per turn of the event loop, which on a busy feedback path cost
 * about 10% of an outcome's CPU. A process that dies loses at most these milliseconds of rows (the
 * outcomes themselves are journaled).
 */
export const ROWS_WRITE_DELAY_MS = 20;

/** Rows waiting to be written at most: past it a store drops new rows (and counts them) rather than grow. */
export const PENDING_ROWS_MAX = 100_000;

/**
 * Rows waiting to be written, by key (a file, a route), for every row log (training rows, the
 * outcome log): one write in flight, ROWS_WRITE_DELAY_MS after the first row waiting (what arrives meanwhile
 * goes in the same write), and what arrives during a write goes in the next; at most PENDING_ROWS_MAX wait, the rest are
 * counted in `dropped`.
 */
export class PendingRows<Row = TrainingRow> {
  dropped = 0;
  private pending = new Map<string, Row[]>();
  private count = 0;
  private writing: Promise<void> | undefined;

  constructor(private readonly write: (batch: Map<string, Row[]>) => Promise<void>) {}

  add(key: string, row: Row): void {
    if (this.count >= PENDING_ROWS_MAX) {
      this.dropped++;
      return;
    }
    let rows = this.pending.get(key);
    if (!rows) this.pending.set(key, (rows = []));
    rows.push(row);
    this.count++;
    this.writing ??= new Promise<void>((resolve) => setTimeout(resolve, ROWS_WRITE_DELAY_MS)).then(() =>
      this.writeAll(),
    );
  }

  /** Resolves once every row added so far is written (or counted as dropped). */
  flush(): Promise<void> {
    return this.writing ?? Promise.resolve();
  }

  private async writeAll(): Promise<void> {
    try {
      while (this.pending.size > 0) {
        const batch = this.pending;
        this.pending = new Map();
        this.count = 0;
        await this.write(batch);
      }
    } finally {
      this.writing = undefined;
    }
  }
}
