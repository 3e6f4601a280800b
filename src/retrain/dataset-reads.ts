/**
 * What GET /admin/routes/{route}/dataset streams: the kept training rows of a route whose decision
 * was made since `since`, as NDJSON, one page of rows per piece, the next page read only when the
 * response has taken the last (the admin room writes it with backpressure: http/exchange.ts).
 */
import { CroupierError } from '../errors.js';
import type { TrainingRows } from '../state/training-rows.js';
import { decisionTimeOf, outcomeTimeOf } from './dataset-row.js';
import { sinceMs } from './since.js';

/** Rows read and written per piece. */
export const DATASET_PAGE_ROWS = 1000;

/** The routes as the dataset sees them (the router). */
export interface DatasetRoutes {
  /** undefined: no such route; else whether it keeps training rows now. */
  logsFeatures(route: string): boolean | undefined;
}

export class DatasetReads {
  constructor(
    private readonly rows: TrainingRows,
    private readonly routes: DatasetRoutes,
    private readonly retentionMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Checks the route and `since` at once (404 route_not_found, 400 naming `since`), then gives the
   * body's pieces. A route that does not log features and kept no row answers 409 when the first
   * piece is asked for, saying how to start keeping them.
   */
  open(route: string, since: string): AsyncIterator<Buffer> {
    const logs = this.routes.logsFeatures(route);
    if (logs === undefined) throw new CroupierError('route_not_found', `no such route: ${route}`);
    const fromMs = sinceMs(since, this.now());
    return this.pieces(route, fromMs, logs);
  }

  private async *pieces(route: string, fromMs: number, logs: boolean): AsyncGenerator<Buffer> {
    const keptFromMs = this.now() - this.retentionMs;
    let any = false;
    for await (const page of this.rows.read(route, fromMs, DATASET_PAGE_ROWS)) {
      let text = '';
      for (const line of page) {
        if (decisionTimeOf(line) >= fromMs && outcomeTimeOf(line) >= keptFromMs) text += `${line}\n`;
      }
      if (text === '') continue;
      any = true;
      yield Buffer.from(text, 'utf8');
    }
    if (!any && !logs)
      throw new CroupierError(
        'conflict',
        `route ${route} keeps no training rows: set "logFeatures": true in its spec (PUT /admin/routes/${route}) to keep them from now on`,
      );
  }
}
