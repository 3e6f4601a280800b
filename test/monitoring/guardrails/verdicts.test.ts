import { describe, expect, it } from 'vitest';
import {
  ERRORS,
  HEALTH_LENGTH,
  LATENCY_AT,
  OUTCOMES,
  REQUESTS,
  REWARD,
  REWARD_SQ,
} from '../../../src/monitoring/guardrails/health.js';
import { latencyBucket } from '../../../src/monitoring/guardrails/latency-buckets.js';
import { judge, without } from '../../../src/monitoring/guardrails/verdicts.js';

/** A health vector: `requests` answered in `ms` each, `errors` 5xx, Bernoulli rewards with `wins` of `outcomes`. */
function health(requests: number, errors: number, ms: number, outcomes = 0, wins = 0): Float64Array {
  const v = new Float64Array(HEALTH_LENGTH);
  v[REQUESTS] = requests;
  v[ERRORS] = errors;
  v[LATENCY_AT + latencyBucket(ms)] = requests - errors;
  v[OUTCOMES] = outcomes;
  v[REWARD] = wins;
  v[REWARD_SQ] = wins;
  return v;
}

const ALL = { checks: ['error_rate', 'latency', 'reward'] as const, minSamples: 200, confidence: 0.99 };

describe('guardrail verdicts', () => {
  it('wait until both sides have minSamples', () => {
    expect(judge(health(199, 150, 1), health(5000, 0, 1), ALL)).toEqual({ worse: false, waiting: true });
  });

  it('find a higher error rate with confidence, not a difference within the noise', () => {
    const v = judge(health(500, 40, 1), health(5000, 50, 1), ALL);
    expect(v).toMatchObject({ worse: true, check: 'error_rate', details: { errorRate: 0.08 } });
    expect(judge(health(500, 7, 1), health(5000, 50, 1), ALL)).toEqual({ worse: false, waiting: true });
  });

  it('find a p99 more than 1.5 times the baseline, not 1.3 times, and only past 1000 answers a side', () => {
    expect(judge(health(1000, 0, 16), health(5000, 0, 10), ALL)).toMatchObject({ worse: true, check: 'latency' });
    expect(judge(health(1000, 0, 13), health(5000, 0, 10), ALL).worse).toBe(false);
    expect(judge(health(999, 0, 40), health(5000, 0, 10), ALL)).toEqual({ worse: false, waiting: true });
  });

  it('find a lower mean reward with confidence (Welch), not a small sample of it', () => {
    expect(judge(health(500, 0, 1, 400, 40), health(5000, 0, 1, 4000, 800), ALL)).toMatchObject({
      worse: true,
      check: 'reward',
      details: { meanReward: 0.1, baselineMeanReward: 0.2 },
    });
    expect(judge(health(500, 0, 1, 400, 76), health(5000, 0, 1, 4000, 800), ALL).worse).toBe(false);
    // Only the checks asked for are judged.
    const errorsOnly = { ...ALL, checks: ['error_rate'] as const };
    expect(judge(health(500, 0, 1, 400, 40), health(5000, 0, 1, 4000, 800), errorsOnly)).toEqual({
      worse: false,
      waiting: false,
    });
  });

  it('leave out what an enable set aside', () => {
    const v = health(300, 200, 1);
    const out = without(v, Array.from(health(250, 200, 1)));
    expect([out[REQUESTS], out[ERRORS]]).toEqual([50, 0]);
    expect(judge(out, health(5000, 0, 1), ALL)).toEqual({ worse: false, waiting: true });
  });
});
