/**
 * Whether a candidate (a challenger arm, or a newly deployed version) is worse than its baseline
 * (the champion, or the version it replaced), from two health vectors (health.ts): error rate by a
 * one-sided two-proportion test, reward by a one-sided Welch test, latency by p99 above 1.5× the
 * baseline's. A check is judged only once both sides have `minSamples` (requests for errors,
 * answers for latency — at least LATENCY_MIN_SAMPLES —, outcomes for reward); until then it waits.
 */
import { meanBelow, proportionAbove } from '../statistics.js';
import type { Check } from './guardrail-spec.js';
import { ERRORS, LATENCY_AT, OUTCOMES, REQUESTS, REWARD, REWARD_SQ } from './health.js';
import { latencyQuantile } from './latency-buckets.js';

/** Latency: worse when the candidate's p99 is more than this many times the baseline's. */
export const LATENCY_RATIO = 1.5;
/**
 * Latency is judged on at least this many answers a side, whatever `minSamples`: a p99 of a few
 * hundred is the slowest few requests (a garbage collection, a cold cache), and two arms of the
 * same model differed by 4× in tests with 150 answers each.
 */
export const LATENCY_MIN_SAMPLES = 1_000;

export interface Judgement {
  readonly checks: readonly Check[];
  readonly minSamples: number;
  readonly confidence: number;
}

export type Verdict =
  | { readonly worse: true; readonly check: Check; readonly reason: string; readonly details: Record<string, number> }
  | { readonly worse: false; readonly waiting: boolean };

const round = (x: number): number => Math.round(x * 10_000) / 10_000;

/** Subtracts `offset` (the counts an enable left out) from `v`, never below zero. */
export function without(v: Float64Array, offset: readonly number[] | undefined): Float64Array {
  if (!offset) return v;
  const out = v.slice();
  for (let i = 0; i < out.length && i < offset.length; i++) out[i] = Math.max(0, out[i]! - (offset[i] ?? 0));
  return out;
}

export function judge(candidate: Float64Array, baseline: Float64Array, j: Judgement): Verdict {
  const alpha = 1 - j.confidence;
  let waiting = false;
  for (const check of j.checks) {
    if (check === 'error_rate') {
      const n = candidate[REQUESTS]!;
      const m = baseline[REQUESTS]!;
      if (n < j.minSamples || m < j.minSamples) {
        waiting = true;
        continue;
      }
      const e = candidate[ERRORS]!;
      const f = baseline[ERRORS]!;
      const p = proportionAbove(e, n, f, m);
      if (p < alpha)
        return {
          worse: true,
          check,
          reason: `error rate ${round(e / n)} (${e} of ${n}) vs ${round(f / m)} (${f} of ${m}), p = ${p.toExponential(2)}`,
          details: { errorRate: round(e / n), baselineErrorRate: round(f / m), requests: n, pValue: p },
        };
    } else if (check === 'latency') {
      const n = candidate[REQUESTS]! - candidate[ERRORS]!;
      const m = baseline[REQUESTS]! - baseline[ERRORS]!;
      const least = Math.max(j.minSamples, LATENCY_MIN_SAMPLES);
      if (n < least || m < least) {
        waiting = true;
        continue;
      }
      const p99 = latencyQuantile(candidate, 0.99, LATENCY_AT)!;
      const base = latencyQuantile(baseline, 0.99, LATENCY_AT)!;
      if (p99 > LATENCY_RATIO * base)
        return {
          worse: true,
          check,
          reason: `p99 latency ${round(p99)} ms vs ${round(base)} ms (more than ${LATENCY_RATIO}×)`,
          details: { p99Ms: round(p99), baselineP99Ms: round(base), requests: n },
        };
    } else {
      const n = candidate[OUTCOMES]!;
      const m = baseline[OUTCOMES]!;
      if (n < j.minSamples || m < j.minSamples) {
        waiting = true;
        continue;
      }
      const c = { n, sum: candidate[REWARD]!, sumSq: candidate[REWARD_SQ]! };
      const b = { n: m, sum: baseline[REWARD]!, sumSq: baseline[REWARD_SQ]! };
      const p = meanBelow(c, b);
      if (p < alpha)
        return {
          worse: true,
          check,
          reason: `mean reward ${round(c.sum / n)} (${n} outcomes) vs ${round(b.sum / m)} (${m}), p = ${p.toExponential(2)}`,
          details: { meanReward: round(c.sum / n), baselineMeanReward: round(b.sum / m), outcomes: n, pValue: p },
        };
    }
  }
  return { worse: false, waiting };
}
