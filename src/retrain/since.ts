/**
 * How far back a dataset reaches: `since=7d` (also `h` and `m`), or an ISO time. One parser for the
 * admin endpoint and the CLI, so both refuse the same text with the same words.
 */
import { CroupierError } from '../errors.js';

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000 };
/** Ten years: any retention a server could have. */
const MAX_MS = 3650 * 86_400_000;

/** The time (ms since the epoch) `since` names, as seen at `nowMs`; throws a 400 naming `since`. */
export function sinceMs(since: string, nowMs: number): number {
  const m = /^(\d{1,7})([dhm])$/.exec(since);
  if (m) {
    const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
    if (ms > 0 && ms <= MAX_MS) return nowMs - ms;
  } else if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(since)) {
    const t = Date.parse(since);
    if (Number.isFinite(t)) return t;
  }
  throw new CroupierError(
    'invalid_request',
    `since must be a duration like 7d, 24h or 30m (at most 3650d) or an ISO time, got ${JSON.stringify(since.slice(0, 40))}`,
  );
}
