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
  /** Cores used by autocannon (this process) and by the server during the run. */
  clientCores: number;
  serverCores: number | null;
}

export async function runFixedRate(url: string, body: string, rate: number, durationS: number,
  connections: number, serverPid: number | undefined): Promise<FixedRateResult> {
  const startedAt = performance.now();
  const clientBefore = process.cpuUsage();
  const serverBefore = cpuSnapshot(serverPid);
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
  const client = process.cpuUsage(clientBefore);
  const wallUs = (performance.now() - startedAt) * 1000;
  return {
    rate,
    achievedRps: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    clientCores: (client.user + client.system) / wallUs,
    serverCores: cpuSince(serverBefore, serverPid).serverCores,
  };
}
