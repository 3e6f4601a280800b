// Fixed-rate latency: autocannon at a set overall request rate, reporting p50/p99 and errors.
import autocannon from 'autocannon';

export interface FixedRateResult {
  rate: number;
  achievedRps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

export async function runFixedRate(url: string, body: string, rate: number, durationS: number,
  connections: number): Promise<FixedRateResult> {
  const r = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: durationS,
    overallRate: rate,
    timeout: 10,
  });
  return {
    rate,
    achievedRps: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
  };
}
