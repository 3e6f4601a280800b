/**
 * The outcome log in embedded mode: `<state dir>/outcomes/<route>/<YYYY-MM-DD>.ndjson`, one file per
 * route and UTC day of the outcome, written like training rows (day-files.ts: in batches behind the
 * answer, without fsync, whole days dropped past CROUPIER_DATASET_DAYS, torn lines never served).
 *
 * A line is small and written by hand (this runs once per accepted outcome; the line is made off
 * the outcome's path, when the batch is written): `{"d":decidedMs,"o":outcomeMs,"a":"arm",
 * "p":propensity,"r":reward,"x":[context…]}`, `x` only on contextual routes.
 */
import type { Logger } from '../../log.js';
import type { LoggedOutcome, OutcomeLog } from '../outcome-log.js';
import type { TrainingRowsOptions } from '../training-rows.js';
import { DayFiles } from './day-files.js';

/** An outcome's line: every number is finite (the verdict ladder and the context reader checked them), and an arm name is an id (no character JSON escapes). */
export function outcomeLine(o: LoggedOutcome): string {
  const x = o.context === undefined ? '' : `,"x":[${o.context.join(',')}]`;
  return `{"d":${o.decidedMs},"o":${o.outcomeMs},"a":"${o.arm}","p":${o.propensity},"r":${o.reward}${x}}`;
}

interface Line {
  d?: unknown;
  o?: unknown;
  a?: unknown;
  p?: unknown;
  r?: unknown;
  x?: unknown;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The outcome of a line; undefined for a line that is not one (torn by a crash). */
export function parseOutcomeLine(text: string): LoggedOutcome | undefined {
  let l: Line;
  try {
    l = JSON.parse(text) as Line;
  } catch {
    return undefined;
  }
  if (typeof l !== 'object' || l === null) return undefined;
  const { d, o, a, p, r, x } = l;
  if (!finite(d) || !finite(o) || typeof a !== 'string' || !finite(p) || !finite(r)) return undefined;
  if (x === undefined) return { decidedMs: d, outcomeMs: o, arm: a, propensity: p, reward: r };
  if (!Array.isArray(x) || !x.every(finite)) return undefined;
  return { decidedMs: d, outcomeMs: o, arm: a, propensity: p, reward: r, context: x as number[] };
}

export class EmbeddedOutcomeLog implements OutcomeLog {
  private readonly files: DayFiles<LoggedOutcome>;

  constructor(stateDir: string, options: TrainingRowsOptions, log: Logger) {
    this.files = new DayFiles(
      stateDir,
      { folder: 'outcomes', line: outcomeLine, what: 'outcome log: outcomes' },
      options,
      log,
    );
  }

  get dropped(): number {
    return this.files.dropped;
  }

  append(route: string, outcome: LoggedOutcome): void {
    this.files.append(route, outcome.outcomeMs, outcome);
  }

  async *read(route: string, fromMs: number, pageRows: number): AsyncIterable<LoggedOutcome[]> {
    // A day's file holds rows older than `fromMs` or the retention: they are skipped here.
    const oldest = Math.max(fromMs, this.files.keptFromMs());
    for await (const lines of this.files.read(route, fromMs, pageRows)) {
      const page: LoggedOutcome[] = [];
      for (const line of lines) {
        const o = parseOutcomeLine(line);
        if (o !== undefined && o.outcomeMs >= oldest) page.push(o);
      }
      if (page.length > 0) yield page;
    }
  }

  flush(): Promise<void> {
    return this.files.flush();
  }

  close(): Promise<void> {
    return this.files.close();
  }
}
