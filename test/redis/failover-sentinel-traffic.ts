/**
 * The client side of the Sentinel failover tests (issue 13): predictions on each Croupier replica
 * with their outcomes posted to the other, while a fault runs, then every outcome refused with 503
 * posted again as Retry-After says; and what Redis counted, to hold against what was acknowledged.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { redisUp } from '../helpers/redis.js';
import type { TestSentinelSet } from '../helpers/sentinel.js';
import { demoRow, postJson } from '../helpers/server.js';

const ROUTE = 'fraud-scoring';
const STREAM = `croupier:{route:${ROUTE}}:outcomes`;
const STATS = `croupier:{route:${ROUTE}}:stats`;

/** A Croupier replica as the client sees it; `restarting` ones may be away (the client goes elsewhere). */
export interface Replica {
  url: string;
  restarting?: boolean;
}

export interface Run {
  predictions: number;
  /** Predictions answered other than 200 (or not at all) by a replica that stayed up. */
  failedPredictions: (number | string)[];
  /** Requests a restarting replica turned away (refused connection or 503), sent to another replica. */
  turnedAway: number;
  acknowledged: Set<string>;
  refused: string[];
  notFound: string[];
  other: (number | string)[];
  redisUpDipped: boolean;
}

/** What Redis holds: outcomes in the route's stream, and the arms' pulls and rewards. */
interface Counted {
  decisions: Set<string>;
  pulls: number;
  rewards: number;
}

/** A status, or the reason a request got no answer (a replica down refuses connections). */
async function post(url: string, body: unknown): Promise<{ status: number | string; json?: unknown }> {
  try {
    const res = await postJson(url, body);
    return { status: res.status, json: res.status === 200 ? await res.json() : await res.text() };
  } catch (err) {
    return { status: ((err as Error).cause as { code?: string } | undefined)?.code ?? (err as Error).message };
  }
}

async function upOrAway(r: Replica): Promise<number | undefined> {
  try {
    return await redisUp(r.url);
  } catch {
    return undefined;
  }
}

/**
 * Traffic both ways between `replicas[0]` (which stays up) and `replicas[1]` while `fault` runs,
 * then until both report Redis up again; then every refused outcome is retried on `replicas[0]`.
 */
async function underTraffic(replicas: [Replica, Replica], fault: () => Promise<void>): Promise<Run> {
  const run: Run = {
    predictions: 0,
    failedPredictions: [],
    turnedAway: 0,
    acknowledged: new Set(),
    refused: [],
    notFound: [],
    other: [],
    redisUpDipped: false,
  };
  let running = true;
  let seed = 0;
  /** Sends to `first`, or to the other replica when a restarting `first` turns the request away. */
  const send = async (first: Replica, path: string, body: unknown): ReturnType<typeof post> => {
    const answer = await post(`${first.url}${path}`, body);
    if (!first.restarting || answer.status === 200 || answer.status === 202) return answer;
    if (answer.status !== 503 && typeof answer.status !== 'string') return answer;
    run.turnedAway++;
    return post(`${replicas.find((r) => r !== first)!.url}${path}`, body);
  };
  const worker = async (from: Replica, to: Replica): Promise<void> => {
    while (running) {
      const p = await send(from, `/v1/predict/${ROUTE}`, { features: demoRow(seed++) });
      run.predictions++;
      if (p.status !== 200) {
        run.failedPredictions.push(p.status);
        await sleep(5);
        continue;
      }
      const { decision } = p.json as { decision: string };
      const { status } = await send(to, '/v1/feedback', { decision, reward: 1 });
      if (status === 202 || status === 200) run.acknowledged.add(decision);
      else if (status === 503 || typeof status === 'string') run.refused.push(decision);
      else if (status === 404) run.notFound.push(decision);
      else run.other.push(status);
      await sleep(5);
    }
  };
  const [a, b] = replicas;
  const bothUp = async (): Promise<boolean> => (await upOrAway(a)) === 1 && (await upOrAway(b)) === 1;
  const watch = (async () => {
    while (running) {
      if ((await upOrAway(a)) === 0 || (await upOrAway(b)) === 0) run.redisUpDipped = true;
      await sleep(50);
    }
  })();
  const traffic = Promise.all([worker(a, b), worker(b, a), worker(a, b), worker(b, a)]);
  await sleep(500);
  await fault();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && !(await bothUp())) await sleep(100);
  await sleep(1_000);
  running = false;
  await Promise.all([traffic, watch]);

  // A client honouring Retry-After: every refused outcome is posted again until it is taken; one
  // still refused after 20 s counts as `other`.
  for (const decision of run.refused) {
    const end = Date.now() + 20_000;
    let status = (await post(`${a.url}/v1/feedback`, { decision, reward: 1 })).status;
    while (status === 503 && Date.now() < end) {
      await sleep(200);
      status = (await post(`${a.url}/v1/feedback`, { decision, reward: 1 })).status;
    }
    if (status === 202 || status === 200) run.acknowledged.add(decision);
    else if (status === 404) run.notFound.push(decision);
    else run.other.push(status);
  }
  return run;
}

async function counted(master: Redis): Promise<Counted> {
  const entries = await master.xrange(STREAM, '-', '+');
  const stats = await master.hgetall(STATS);
  const total = (field: string): number =>
    Object.entries(stats)
      .filter(([k]) => k.endsWith(`:${field}`))
      .reduce((s, [, v]) => s + Number(v), 0);
  const decisions = new Set(entries.map(([, f]) => f[f.indexOf('decision') + 1]!));
  return { decisions, pulls: total('pulls'), rewards: total('rewards') };
}

/**
 * No prediction failed on a replica that stayed up, every acknowledged outcome is in Redis (in
 * the stream, and in the arms' rewards: one per outcome, every reward is 1), and no genuine
 * decision answered 404. `before` is what Redis counted before the run.
 */
function check(name: string, run: Run, before: Counted, after: Counted): void {
  const lost = [...run.acknowledged].filter((d) => !after.decisions.has(d));
  const rewards = after.rewards - before.rewards;
  const pulls = after.pulls - before.pulls;
  const answered = run.predictions - run.failedPredictions.length;
  console.log(
    [
      `${name}: ${run.predictions} predictions (${run.failedPredictions.length} failed, ${pulls} pulls counted for ${answered} answered)`,
      `${run.turnedAway} requests turned away by a restarting replica and sent to the other`,
      `${run.acknowledged.size} outcomes acknowledged, ${rewards} counted in the arm statistics`,
      `${run.refused.length} refused with 503 and retried, ${lost.length} lost, ${run.notFound.length} answered 404`,
      `croupier_redis_up dipped: ${run.redisUpDipped}`,
    ].join(', '),
  );
  expect(run.failedPredictions).toEqual([]);
  expect(run.other).toEqual([]);
  expect(run.notFound).toEqual([]);
  expect(lost).toEqual([]);
  expect(rewards).toBe(run.acknowledged.size);
  // Each answered prediction's pull counted once: none lost with a decision, none counted twice by a retried write.
  expect(pulls).toBe(answered);
  expect(run.acknowledged.size).toBeGreaterThan(50);
}

/** Runs `fault` under traffic (see underTraffic) and checks what Redis counted against what was acknowledged. */
export async function underFault(
  set: TestSentinelSet,
  name: string,
  replicas: [Replica, Replica],
  fault: () => Promise<void>,
): Promise<Run> {
  const before = await counted(await set.masterClient());
  const run = await underTraffic(replicas, fault);
  check(name, run, before, await counted(await set.masterClient()));
  return run;
}
