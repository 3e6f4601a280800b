/**
 * Issue 13: a Redis Sentinel set (one master, one replica, three sentinels, down-after 1 s), two
 * Croupier replicas with CROUPIER_REDIS_WAIT_REPLICAS=1, predictions on each with their outcomes
 * posted to the other. Through a planned switchover, a master stalled past down-after (its
 * replica promoted, the old master woken a second later and demoted) and a master killed while its
 * replica lagged: no prediction fails, no acknowledged (2xx)
 * outcome is lost, and no genuine decision answers 404 — feedback answers 503 meanwhile, and a
 * client that retries as Retry-After says gets every outcome counted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeRedis, redisUp } from '../helpers/redis.js';
import { startSentinelSet, type TestSentinelSet } from '../helpers/sentinel.js';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

const ROUTE = 'fraud-scoring';
const STREAM = `croupier:{route:${ROUTE}}:outcomes`;

interface Run {
  predictions: number;
  failedPredictions: number[];
  acknowledged: Set<string>;
  refused: string[];
  notFound: string[];
  other: number[];
  redisUpDipped: boolean;
}

describeRedis('Redis Sentinel failover: no acknowledged outcome lost', () => {
  let set: TestSentinelSet;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    set = await startSentinelSet();
    const env = { CROUPIER_REDIS_SENTINELS: set.sentinels, CROUPIER_REDIS_NAME: set.name, CROUPIER_REDIS_WAIT_REPLICAS: '1', CROUPIER_LOG_LEVEL: 'warn' };
    [a, b] = await Promise.all([startTestServer(env), startTestServer(env)]);
  }, 60_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await set?.stop();
  });

  /** Traffic both ways while `fault` runs, then until both replicas are up again; then 503s retried. */
  async function underTraffic(fault: () => Promise<void>): Promise<Run> {
    const run: Run = { predictions: 0, failedPredictions: [], acknowledged: new Set(), refused: [], notFound: [], other: [], redisUpDipped: false };
    let running = true;
    let seed = 0;
    const feedback = async (to: TestServer, decision: string): Promise<number> => {
      const res = await postJson(`${to.url}/v1/feedback`, { decision, reward: 1 });
      await res.text();
      return res.status;
    };
    const worker = async (from: TestServer, to: TestServer): Promise<void> => {
      while (running) {
        const p = await postJson(`${from.url}/v1/predict/${ROUTE}`, { features: demoRow(seed++) });
        run.predictions++;
        if (p.status !== 200) { run.failedPredictions.push(p.status); await p.text(); continue; }
        const { decision } = (await p.json()) as { decision: string };
        const status = await feedback(to, decision);
        if (status === 202 || status === 200) run.acknowledged.add(decision);
        else if (status === 503) run.refused.push(decision);
        else if (status === 404) run.notFound.push(decision);
        else run.other.push(status);
        await sleep(5);
      }
    };
    const watch = (async () => {
      while (running) {
        if ((await redisUp(a.url)) === 0 || (await redisUp(b.url)) === 0) run.redisUpDipped = true;
        await sleep(50);
      }
    })();
    const traffic = Promise.all([worker(a, b), worker(b, a), worker(a, b), worker(b, a)]);
    await sleep(500);
    await fault();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && ((await redisUp(a.url)) !== 1 || (await redisUp(b.url)) !== 1)) await sleep(100);
    await sleep(1_000);
    running = false;
    await Promise.all([traffic, watch]);

    // A client honouring Retry-After: every refused outcome is posted again until it is taken.
    for (const decision of run.refused) {
      const end = Date.now() + 20_000;
      let status = await feedback(a, decision);
      while (status === 503 && Date.now() < end) { await sleep(200); status = await feedback(a, decision); }
      if (status === 202 || status === 200) run.acknowledged.add(decision);
      else if (status === 404) run.notFound.push(decision);
      else run.other.push(status);
    }
    return run;
  }

  async function counted(): Promise<Set<string>> {
    const c = await set.masterClient();
    const entries = await c.xrange(STREAM, '-', '+');
    return new Set(entries.map(([, f]) => f[f.indexOf('decision') + 1]!));
  }

  function check(name: string, run: Run, inRedis: Set<string>): void {
    const lost = [...run.acknowledged].filter((d) => !inRedis.has(d));
    console.log(`${name}: ${run.predictions} predictions (${run.failedPredictions.length} failed), ${run.acknowledged.size} outcomes acknowledged, ${run.refused.length} refused with 503 and retried, ${lost.length} lost, ${run.notFound.length} answered 404, croupier_redis_up dipped: ${run.redisUpDipped}`);
    expect(run.failedPredictions).toEqual([]);
    expect(run.other).toEqual([]);
    expect(run.notFound).toEqual([]);
    expect(lost).toEqual([]);
    expect(run.acknowledged.size).toBeGreaterThan(50);
  }

  it('a planned switchover (SENTINEL FAILOVER) loses no acknowledged outcome', async () => {
    const old = await set.master();
    const run = await underTraffic(async () => {
      await set.switchover();
      await set.waitForNewMaster(old.port, 15_000);
    });
    check('switchover', run, await counted());
  }, 90_000);

  it('a master stalled past its failover (SIGSTOP; its replica promoted) loses no acknowledged outcome, and health dips', async () => {
    await set.waitForSyncedReplica(30_000);
    const old = await set.master();
    const run = await underTraffic(async () => {
      old.signal('SIGSTOP');
      try {
        await set.waitForNewMaster(old.port, 15_000);
        await sleep(1_000);
      } finally {
        old.signal('SIGCONT');
      }
    });
    check('stall', run, await counted());
    expect(run.redisUpDipped).toBe(true);
  }, 90_000);

  it('a master killed (kill -9) while its replica lags loses no acknowledged outcome', async () => {
    await set.waitForSyncedReplica(30_000);
    const old = await set.master();
    const replica = set.nodes.find((n) => n !== old)!;
    const run = await underTraffic(async () => {
      // The replica falls behind (stopped 300 ms), then the master dies with what it did not send.
      replica.signal('SIGSTOP');
      await sleep(300);
      old.signal('SIGKILL');
      replica.signal('SIGCONT');
      await set.waitForNewMaster(old.port, 15_000);
      // The old master comes back (from its AOF) and Sentinel makes it the new master's replica.
      await old.restart();
    });
    check('kill', run, await counted());
  }, 90_000);
});
