/**
 * The two shapes a person writes for guardrails, validated once with messages that name the key:
 * a route's `guardrails` (routing/route-spec.ts calls parseGuardrails) and a deploy's `watch`
 * (admin/admin-actions.ts calls parseWatch).
 */

export const CHECKS = ['error_rate', 'latency', 'reward'] as const;
export type Check = (typeof CHECKS)[number];

export interface GuardrailSpec {
  /** The arm every other arm is compared with; never disabled. */
  readonly champion: string;
  readonly checks: readonly Check[];
  readonly minSamples: number;
  readonly confidence: number;
}

export interface WatchSpec {
  readonly minutes: number;
  readonly checks: readonly Check[];
  readonly minSamples: number;
  readonly confidence: number;
}

export const MIN_SAMPLES_DEFAULT = 500;
export const CONFIDENCE_DEFAULT = 0.99;
/** A watch is at most a day: the windows keep 24 h, and the hour before the deploy must still be there. */
const WATCH_MINUTES_MAX = 1_380;

/** Thrown with a message naming the key; callers wrap it in their own error (a route's, a 400). */
export class GuardrailSpecError extends Error {}

function object(raw: unknown, where: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new GuardrailSpecError(`${where} must be an object`);
  return raw as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, keys: readonly string[], where: string): void {
  for (const k of Object.keys(o))
    if (!keys.includes(k)) throw new GuardrailSpecError(`${where}: unknown key "${k}" (known: ${keys.join(', ')})`);
}

function checks(raw: unknown, where: string): Check[] {
  if (raw === undefined) return [...CHECKS];
  if (!Array.isArray(raw) || raw.length === 0 || raw.some((c) => !CHECKS.includes(c as Check)))
    throw new GuardrailSpecError(`${where}.checks must list one or more of ${CHECKS.join(', ')}`);
  return [...new Set(raw as Check[])];
}

function count(raw: unknown, where: string, min: number, max: number, fallback: number): number {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < min || raw > max)
    throw new GuardrailSpecError(`${where} must be a whole number from ${min} to ${max}`);
  return raw;
}

function confidence(raw: unknown, where: string): number {
  if (raw === undefined) return CONFIDENCE_DEFAULT;
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0.5 || raw >= 1)
    throw new GuardrailSpecError(`${where}.confidence must be a number in [0.5, 1)`);
  return raw;
}

/** A route's `guardrails`; `arms`: the route's arm names (the champion must be one). */
export function parseGuardrails(raw: unknown, arms: readonly string[], where: string): GuardrailSpec {
  const at = `${where} guardrails`;
  const g = object(raw, at);
  onlyKeys(g, ['champion', 'checks', 'minSamples', 'confidence'], at);
  if (typeof g.champion !== 'string' || !arms.includes(g.champion))
    throw new GuardrailSpecError(`${at}.champion must name one of the route's arms (${arms.join(', ')})`);
  return {
    champion: g.champion,
    checks: checks(g.checks, at),
    minSamples: count(g.minSamples, `${at}.minSamples`, 2, 1e9, MIN_SAMPLES_DEFAULT),
    confidence: confidence(g.confidence, at),
  };
}

/** A deploy body's `watch`. */
export function parseWatch(raw: unknown): WatchSpec {
  const w = object(raw, 'watch');
  onlyKeys(w, ['minutes', 'checks', 'minSamples', 'confidence'], 'watch');
  if (w.minutes === undefined) throw new GuardrailSpecError('watch.minutes is required (how long to watch)');
  return {
    minutes: count(w.minutes, 'watch.minutes', 1, WATCH_MINUTES_MAX, 30),
    checks: checks(w.checks, 'watch'),
    minSamples: count(w.minSamples, 'watch.minSamples', 2, 1e9, MIN_SAMPLES_DEFAULT),
    confidence: confidence(w.confidence, 'watch'),
  };
}
