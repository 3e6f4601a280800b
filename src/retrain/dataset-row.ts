/**
 * A training row: one decision of a route with `logFeatures`, joined with the outcome the verdict
 * ladder accepted for it. The server keeps each as one NDJSON line (the same text it streams at
 * GET /admin/routes/{route}/dataset), keys in a fixed order, so that the time fields can be read
 * back without parsing the line (a dataset is read a million lines at a time).
 */

export interface TrainingRow {
  readonly decision: string;
  /** When the decision was made (ms since the epoch). */
  readonly atMs: number;
  readonly route: string;
  readonly arm: string;
  readonly model: string;
  readonly version: string;
  readonly propensity: number;
  /** The monitored score of the decision's first row (NaN: the version has no `monitor`). */
  readonly score: number;
  /** The request's features by name (feedback/training-join.ts names the features of array requests). */
  readonly features: Readonly<Record<string, unknown>>;
  readonly reward: number;
  /** The outcome's label as posted (undefined: none). */
  readonly label: unknown;
  /** When the outcome was accepted (ms since the epoch). */
  readonly outcomeAtMs: number;
}

/** The row as the NDJSON line the server keeps and streams (no newline). */
export function rowLine(r: TrainingRow): string {
  return JSON.stringify({
    decision: r.decision,
    at: new Date(r.atMs).toISOString(),
    route: r.route,
    arm: r.arm,
    model: r.model,
    version: r.version,
    propensity: r.propensity,
    score: Number.isFinite(r.score) ? r.score : null,
    features: r.features,
    reward: r.reward,
    label: r.label === undefined ? null : r.label,
    outcomeAt: new Date(r.outcomeAtMs).toISOString(),
  });
}

/** A row line as the export reads it back. */
export interface RowJson {
  readonly decision: string;
  readonly at: string;
  readonly route: string;
  readonly arm: string;
  readonly model: string;
  readonly version: string;
  readonly propensity: number;
  readonly score: number | null;
  readonly features: Readonly<Record<string, unknown>>;
  readonly reward: number;
  readonly label: unknown;
  readonly outcomeAt: string;
}

const AT = '","at":"';
const OUTCOME_AT = '"outcomeAt":"';
/** An ISO time as toISOString writes it for years 0000 to 9999. */
const ISO_LENGTH = 24;
/** `"outcomeAt":"<ISO>"}`: how every complete line ends. */
const TAIL = OUTCOME_AT.length + ISO_LENGTH + 2;

/** When the decision of a kept line was made (NaN: not a complete row line). */
export function decisionTimeOf(line: string): number {
  const i = line.indexOf(AT);
  return i < 0 ? NaN : Date.parse(line.slice(i + AT.length, i + AT.length + ISO_LENGTH));
}

/**
 * When the outcome of a kept line was accepted; NaN when the line is not complete (a write torn
 * by a crash leaves a line that does not end with its outcome time: it is skipped, never served).
 */
export function outcomeTimeOf(line: string): number {
  const at = line.length - TAIL;
  if (at < 0 || !line.endsWith('"}') || !line.startsWith(OUTCOME_AT, at)) return NaN;
  return Date.parse(line.slice(at + OUTCOME_AT.length, line.length - 2));
}
