/**
 * Issue 13's failover drill, whatever the Redis topology: four clients predict on one of two Croupier
 * replicas and post each outcome (reward 1) to the other, both ways, while `fault` runs and until both
 * replicas see Redis up again; then every outcome refused with 503 is posted again, as Retry-After
 * says, until it is taken. `expectNothingLost` checks a run against the outcomes Redis counted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { redisUp, until } from './redis.js';
import { demoRow, postJson, type TestServer } from './server.js';

export const ROUTE = 'fraud-scoring';
/** The route's outcome stream: one entry per counted outcome. */
export const STREAM = `croupier:{route:${ROUTE}}:outcomes`;

export interface FailoverRun {
  predictions: number;
  failedPredictions: number[];
  worstPredictMs: number;
  acknowledged: Set<string>;
  /** Outcomes answered 503 during the fault (each then retried). */
  refused: string[];
  /** From the first 503 to the last, retries included (ms): how long feedback was refused. */
  refusedWindowMs: number;
  notFound: string[];
  other: number[];
  redisUpDipped: boolean;
}

async function feedback(to: TestServer, decision: string): Promise<number> {
  const res = await postJson(`${to.url}/v1/feedback`, { decision, reward: 1 });
  await res.text();
  return res.status;
}

export async function underTraffic(a: TestServer, b: TestServer, fault: () => Promise<void>): Promise<FailoverRun> {
  const run: FailoverRun = {
    predictions: 0,
    failedPredictions: [],
    worstPredictMs: 0,
    acknowledged: new Set(),
    refused: [],
    refusedWindowMs: 0,
    notFound: [],
    other: [],
    redisUpDipped: false,
  };
  let running = true;
  let seed = 0;
  let firstRefusedMs = 0;
  const judged = (decision: string, status: number): void => {
    if (status === 503) {
      firstRefusedMs ||= Date.now();
      run.refusedWindowMs = Date.now() - firstRefusedMs;
    } else if (status === 202 || status === 200) run.acknowledged.add(decision);
    else if (status === 404) run.notFound.push(decision);
    else run.other.push(status);
  };
  const worker = async (from: TestServer, to: TestServer): Promise<void> => {
    while (running) {
      const started = performance.now();
      const p = await postJson(`${from.url}/v1/predict/${ROUTE}`, { features: demoRow(seed++) });
      run.predictions++;
      if (p.status !== 200) {
        run.failedPredictions.push(p.status);
        await p.text();
        continue;
      }
      const { decision } = (await p.json()) as { decision: string };
      run.worstPredictMs = Math.max(run.worstPredictMs, performance.now() - started);
      const status = await feedback(to, decision);
      judged(decision, status);
      if (status === 503) run.refused.push(decision);
      await sleep(5);
    }
  };
  const bothUp = async (): Promise<boolean> => (await redisUp(a.url)) === 1 && (await redisUp(b.url)) === 1;
  const watch = (async () => {
    while (running) {
      if (!(await bothUp())) run.redisUpDipped = true;
      await sleep(50);
    }
  })();
  const traffic = Promise.all([worker(a, b), worker(b, a), worker(a, b), worker(b, a), watch]);
  try {
    await sleep(500);
    await fault();
    // After a kill -9 under Sentinel, up to ~20 s: the old master restarts, is made a replica, resyncs.
    await until('both replicas to see Redis up', bothUp, 30_000);
    await sleep(1_000);
  } catch (err) {
    for (const s of [a, b]) console.log(JSON.stringify(s.logs.slice(-15)));
    throw err;
  } finally {
    running = false;
    await traffic;
  }

  // A client honouring Retry-After: every refused outcome is posted again until it is taken (eight
  // at a time: thousands at once would stall the servers on this machine).
  const queue = [...run.refused];
  const retrier = async (): Promise<void> => {
    for (let decision = queue.shift(); decision !== undefined; decision = queue.shift()) {
      const end = Date.now() + 20_000;
      let status = await feedback(a, decision);
      while (status === 503 && Date.now() < end) {
        judged(decision, status);
        await sleep(200);
        status = await feedback(a, decision);
      }
      if (status === 503) run.other.push(status);
      else judged(decision, status);
    }
  };
  await Promise.all(Array.from({ length: 8 }, retrier));
  return run;
}

/** The decisions of the route's outcome stream entries (XRANGE). */
export function countedIn(entries: [string, string[]][]): Set<string> {
  return new Set(entries.map(([, f]) => f[f.indexOf('decision') + 1]!));
}

export function expectNothingLost(name: string, run: FailoverRun, counted: Set<string>): void {
  const lost = [...run.acknowledged].filter((d) => !counted.has(d));
  console.log(
    `${name}: ${run.predictions} predictions (${run.failedPredictions.length} failed, worst `
      + `${Math.round(run.worstPredictMs)} ms), ${run.acknowledged.size} outcomes acknowledged, ${run.refused.length} `
      + `refused with 503 over ${run.refusedWindowMs} ms and retried, ${lost.length} lost, ${run.notFound.length} `
      + `answered 404, croupier_redis_up dipped: ${run.redisUpDipped}`,
  );
  expect(run.failedPredictions).toEqual([]);
  expect(run.other).toEqual([]);
  expect(run.notFound).toEqual([]);
  expect(lost).toEqual([]);
  expect(run.acknowledged.size).toBeGreaterThan(50);
}
