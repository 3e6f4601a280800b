/**
 * The outcome log in Redis mode: the route's outcomes stream (`outcomesKey`), which the credit
 * script (stats.ts) writes in the same step as it counts an outcome, so `append` has nothing to do
 * and every replica reads the same log. Entries carry decision, arm, model, version, reward,
 * propensity, decidedMs, credited, label, and on contextual routes `context` (a JSON array text);
 * the entry id's milliseconds are when the outcome was counted (Redis's clock). Reads page through
 * the stream with XRANGE from `fromMs`, one page at a time. The stream's retention is the credit
 * script's trim (at least 7 days), not CROUPIER_DATASET_DAYS.
 */
import type { LoggedOutcome, OutcomeLog } from '../outcome-log.js';
import type { RedisLink } from './connection.js';
import { outcomesKey } from './keys.js';

/** The outcome of a stream entry; undefined for an entry that is not one (no arm, a bad number). */
export function entryOutcome(id: string, fields: readonly string[]): LoggedOutcome | undefined {
  let arm: string | undefined;
  let reward = NaN;
  let propensity = NaN;
  let decidedMs = NaN;
  let context: number[] | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const v = fields[i + 1]!;
    switch (fields[i]) {
      case 'arm':
        arm = v;
        break;
      case 'reward':
        reward = Number(v);
        break;
      case 'propensity':
        propensity = Number(v);
        break;
      case 'decidedMs':
        decidedMs = Number(v);
        break;
      case 'context':
        context = parseContext(v);
        if (context === undefined) return undefined;
        break;
    }
  }
  const outcomeMs = Number.parseInt(id, 10);
  if (arm === undefined || !Number.isFinite(reward) || !Number.isFinite(propensity) || !Number.isFinite(decidedMs))
    return undefined;
  const o = { decidedMs, outcomeMs, arm, propensity, reward };
  return context === undefined ? o : { ...o, context };
}

function parseContext(text: string): number[] | undefined {
  try {
    const x = JSON.parse(text) as unknown;
    return Array.isArray(x) && x.every((v) => typeof v === 'number' && Number.isFinite(v))
      ? (x as number[])
      : undefined;
  } catch {
    return undefined;
  }
}

export class RedisOutcomeLog implements OutcomeLog {
  readonly dropped = 0;

  constructor(private readonly link: RedisLink) {}

  /** The credit script wrote the entry with the count: nothing to do. */
  append(): void {}

  async *read(route: string, fromMs: number, pageRows: number): AsyncIterable<LoggedOutcome[]> {
    const key = outcomesKey(route);
    let start = String(Math.max(0, Math.floor(fromMs)));
    for (;;) {
      const entries = (await this.link.client.xrange(key, start, '+', 'COUNT', pageRows)) as [string, string[]][];
      if (entries.length === 0) return;
      const page: LoggedOutcome[] = [];
      for (const [id, fields] of entries) {
        const o = entryOutcome(id, fields);
        if (o !== undefined) page.push(o);
      }
      if (page.length > 0) yield page;
      if (entries.length < pageRows) return;
      start = `(${entries.at(-1)![0]}`;
    }
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
