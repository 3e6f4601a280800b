/**
 * Training rows in embedded mode: `<state dir>/dataset/<route>/<YYYY-MM-DD>.ndjson`, one file per
 * route and UTC day of the join, written by the row-log machinery every per-day log shares
 * (day-files.ts: batches behind the answer, no fsync, whole days dropped past the retention, torn
 * lines never served).
 */
import type { Logger } from '../../log.js';
import { rowLine, type TrainingRow } from '../../retrain/dataset-row.js';
import type { TrainingRows, TrainingRowsOptions } from '../training-rows.js';
import { DayFiles } from './day-files.js';

export class EmbeddedTrainingRows implements TrainingRows {
  private readonly files: DayFiles<TrainingRow>;

  constructor(stateDir: string, options: TrainingRowsOptions, log: Logger) {
    this.files = new DayFiles(
      stateDir,
      { folder: 'dataset', line: rowLine, what: 'dataset: training rows' },
      options,
      log,
    );
  }

  get dropped(): number {
    return this.files.dropped;
  }

  append(row: TrainingRow): void {
    this.files.append(row.route, row.outcomeAtMs, row);
  }

  read(route: string, fromMs: number, pageRows: number): AsyncIterable<string[]> {
    return this.files.read(route, fromMs, pageRows);
  }

  flush(): Promise<void> {
    return this.files.flush();
  }

  close(): Promise<void> {
    return this.files.close();
  }
}
