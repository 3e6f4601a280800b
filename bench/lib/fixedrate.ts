// Fixed-rate latency: autocannon at a set overall request rate, reporting p50/p99 and errors.
// autocannon runs in this (orchestrator) process, so we also report how much CPU it used: near
// 1.0 core means the client, not the server, is setting the latency.
import autocannon from 'autocannon';
import { cpuSince, cpuSnapshot } from './cpu.js';

export interface FixedRateResult {
  rate: number;
  achievedRps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /**
   * p50 and p99 of every 2xx response time, unrounded: autocannon's own histogram keeps whole
   * milliseconds (and corrects for coordinated omission), too coarse for a sub-millisecond difference.
   */
  responseP50Ms: number | null;
  responseP99Ms: number | null;
  /** Cores used by autocannon (this process) and by the server during the run. */
  clientCores: number;
  serverCores: number | null;
}

/** `nextBody`, when given, makes each request's body (e.g. the outcome of a different decision each time). */
export async function runFixedRate(
  url: string,
  body: string,
  rate: number,
  durationS: number,
  connections: number,
  serverPid: number | undefined,
  nextBody?: () => string,
): Promise<FixedRateResult> {
  const startedAt = performance.now();
  const clientBefore = process.cpuUsage();
  const serverBefore = cpuSnapshot(serverPid);
  const times: number[] = [];
  const r = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    ...(nextBody ? { requests: [{ setupRequest: (req) => ({ ...req, body: nextBody() }) }] } : {}),
    connections,
    duration: durationS,
    overallRate: rate,
    timeout: 10,
  }).on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) times.push(ms);
  });
  times.sort((a, b) => a - b);
  const percentile = (p: number): number | null =>
    times.length === 0 ? null : times[Math.min(times.length - 1, Math.floor(times.length * p))]!;
  const client = process.cpuUsage(clientBefore);
  const wallUs = (performance.now() - startedAt) * 1000;
  return {
    rate,
    achievedRps: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    responseP50Ms: percentile(0.5),
    responseP99Ms: percentile(0.99),
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    clientCores: (client.user + client.system) / wallUs,
    serverCores: cpuSince(serverBefore, serverPid).serverCores,
  };
}
