/**
 * Training rows in Redis mode: one stream per route (`croupier:{route:R}:dataset`), so every
 * replica appends to, and reads, the same dataset. Each row is appended once, by the replica whose
 * credit script counted its outcome (the dedupe runs there), in one pipeline per turn, behind the
 * outcome's answer (see state/training-rows.ts for what that costs on a crash). Every append trims
 * the stream by age (`XADD … MINID`); reads page through it with XRANGE, one page at a time.
 *
 * Entry ids are the join time on this replica's clock (`<ms>-*`), so that a range read and the
 * trim agree with the rows' own times; when another replica's clock ran ahead and the stream's top
 * id is already later, Redis's own next id is taken instead (a few ms off, never an error).
 */
import type { Logger } from '../../log.js';
import { rowLine, type TrainingRow } from '../../retrain/dataset-row.js';
import { PendingRows, type TrainingRows, type TrainingRowsOptions } from '../training-rows.js';
import { batch } from './batch.js';
import type { RedisClient, RedisLink } from './connection.js';
import { datasetKey } from './keys.js';

/**
 * KEYS[1] the route's dataset stream; ARGV[1] the trim's MINID, ARGV[2] the join time (ms),
 * ARGV[3..] rows. Returns how many were appended.
 */
const APPEND = `
for i = 3, #ARGV do
  local ok = redis.pcall('XADD', KEYS[1], 'MINID', ARGV[1], ARGV[2] .. '-*', 'row', ARGV[i])
  if type(ok) == 'table' and ok.err then redis.call('XADD', KEYS[1], 'MINID', ARGV[1], '*', 'row', ARGV[i]) end
end
return #ARGV - 2
`;

/**
 * How far before `fromMs` a read starts: a replica whose clock is behind appends ids that much
 * later than its rows' times at most (the caller filters by the rows' own times).
 */
const CLOCK_SKEW_MS = 60_000;

type DatasetClient = RedisClient & {
  croupierDatasetAppend(key: string, ...args: (string | number)[]): Promise<number>;
};

function withScript(client: RedisClient): DatasetClient {
  const c = client as DatasetClient;
  if (typeof c.croupierDatasetAppend !== 'function')
    client.defineCommand('croupierDatasetAppend', { numberOfKeys: 1, lua: APPEND });
  return c;
}

export class RedisTrainingRows implements TrainingRows {
  private readonly retentionMs: number;
  private readonly now: () => number;
  /** Rows waiting for the next pipeline, by route. */
  private readonly pending = new PendingRows((byRoute) => this.write(byRoute));
  /** Whether the last write failed (logged once per outage, not per row). */
  private failing = false;

  constructor(
    private readonly link: RedisLink,
    options: TrainingRowsOptions,
    private readonly log: Logger,
  ) {
    this.retentionMs = options.retentionMs;
    this.now = options.now ?? Date.now;
  }

  get dropped(): number {
    return this.pending.dropped;
  }

  append(row: TrainingRow): void {
    this.pending.add(row.route, row);
  }

  flush(): Promise<void> {
    return this.pending.flush();
  }

  async close(): Promise<void> {
    await this.flush();
  }

  async *read(route: string, fromMs: number, pageRows: number): AsyncIterable<string[]> {
    const key = datasetKey(route);
    const oldest = Math.max(fromMs, this.now() - this.retentionMs);
    let start = String(Math.max(0, oldest - CLOCK_SKEW_MS));
    for (;;) {
      const entries = (await this.link.client.xrange(key, start, '+', 'COUNT', pageRows)) as [string, string[]][];
      if (entries.length === 0) return;
      const page: string[] = [];
      for (const [, fields] of entries) {
        for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'row') page.push(fields[i + 1]!);
      }
      yield page;
      if (entries.length < pageRows) return;
      start = `(${entries.at(-1)![0]}`;
    }
  }

  /** One pipeline: an append script per route and join time. */
  private async write(byRoute: Map<string, TrainingRow[]>): Promise<void> {
    const client = withScript(this.link.client);
    const minId = String(Math.max(0, this.now() - this.retentionMs));
    const calls: { rows: number; call: (c: DatasetClient) => Promise<number> }[] = [];
    for (const [route, rows] of byRoute) {
      const key = datasetKey(route);
      // Rows of one route, grouped by join time (a turn's outcomes share one or two).
      let i = 0;
      while (i < rows.length) {
        const at = rows[i]!.outcomeAtMs;
        const lines: string[] = [];
        while (i < rows.length && rows[i]!.outcomeAtMs === at) lines.push(rowLine(rows[i++]!));
        calls.push({ rows: lines.length, call: (c) => c.croupierDatasetAppend(key, minId, at, ...lines) });
      }
    }
    let results: (number | Error)[];
    try {
      results = await batch(
        client,
        calls.map((c) => c.call),
      );
    } catch (e) {
      results = calls.map(() => (e instanceof Error ? e : new Error(String(e))));
    }
    let lost = 0;
    let error: Error | undefined;
    for (let j = 0; j < calls.length; j++) {
      const r = results[j];
      if (r instanceof Error) {
        lost += calls[j]!.rows;
        error = r;
      }
    }
    this.pending.dropped += lost;
    if (error && !this.failing)
      this.log.error(
        { err: error.message, rows: lost },
        'dataset: training rows not written to Redis (more may follow)',
      );
    this.failing = error !== undefined;
  }
}
