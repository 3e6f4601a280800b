/**
 * Issue 13, Redis Cluster: three masters, three replicas (node timeout 1 s), two Croupier replicas
 * with CROUPIER_REDIS_WAIT_REPLICAS=1, predictions on each with their outcomes posted to the other.
 * Through a planned failover of the shard holding the route's keys (CLUSTER FAILOVER), that shard's
 * master killed while its replica lags (the replica promoted by the cluster), and a resharding that
 * moves the slots of every Croupier key with a hash tag (route, models, control) and a hundred more
 * to other masters under traffic (ASK, then MOVED): no prediction fails, no acknowledged (2xx)
 * outcome is lost, and no genuine decision answers 404 — feedback answers 503 meanwhile, and a
 * client that retries as Retry-After says gets every outcome counted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { describeRedis, redisUp, until } from '../helpers/redis.js';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

const ROUTE = 'fraud-scoring';
const STREAM = `croupier:{route:${ROUTE}}:outcomes`;

interface Run {
  predictions: number;
  failedPredictions: number[];
  worstPredictMs: number;
  acknowledged: Set<string>;
  refused: string[];
  notFound: string[];
  other: number[];
  /** From the first to the last feedback answered 503 during the fault (ms). */
  refusedWindowMs: number;
}

describeRedis('Redis Cluster failover and resharding: no acknowledged outcome lost', () => {
  let cluster: TestCluster;
  let reader: Cluster;
  let a: TestServer;
  let b: TestServer;
  let routeSlot: number;

  beforeAll(async () => {
    cluster = await startCluster();
    const env = { CROUPIER_REDIS_CLUSTER_NODES: cluster.nodes, CROUPIER_REDIS_WAIT_REPLICAS: '1', CROUPIER_LOG_LEVEL: 'warn' };
    [a, b] = await Promise.all([startTestServer(env), startTestServer(env)]);
    reader = new Cluster(cluster.nodes.split(',').map((hp) => ({ host: '127.0.0.1', port: Number(hp.split(':')[1]) })));
    reader.on('error', () => undefined);
    routeSlot = await cluster.slot(STREAM);
  }, 60_000);

  afterAll(async () => {
    reader?.disconnect();
    await a?.stop();
    await b?.stop();
    await cluster?.stop();
  });

  const feedback = async (to: TestServer, decision: string): Promise<number> => {
    const res = await postJson(`${to.url}/v1/feedback`, { decision, reward: 1 });
    await res.text();
    return res.status;
  };

  /** Traffic both ways while `fault` runs, then until both replicas are up again; then 503s retried. */
  async function underTraffic(fault: () => Promise<void>): Promise<Run> {
    const run: Run = { predictions: 0, failedPredictions: [], worstPredictMs: 0, acknowledged: new Set(), refused: [], notFound: [], other: [], refusedWindowMs: 0 };
    let running = true;
    let seed = 0;
    let firstRefusedMs = 0;
    const worker = async (from: TestServer, to: TestServer): Promise<void> => {
      while (running) {
        const started = performance.now();
        const p = await postJson(`${from.url}/v1/predict/${ROUTE}`, { features: demoRow(seed++) });
        run.predictions++;
        if (p.status !== 200) { run.failedPredictions.push(p.status); await p.text(); continue; }
        const { decision } = (await p.json()) as { decision: string };
        run.worstPredictMs = Math.max(run.worstPredictMs, performance.now() - started);
        const status = await feedback(to, decision);
        if (status === 202 || status === 200) run.acknowledged.add(decision);
        else if (status === 503) {
          run.refused.push(decision);
          firstRefusedMs ||= Date.now();
          run.refusedWindowMs = Date.now() - firstRefusedMs;
        } else if (status === 404) run.notFound.push(decision);
        else run.other.push(status);
        await sleep(5);
      }
    };
    const traffic = Promise.all([worker(a, b), worker(b, a), worker(a, b), worker(b, a)]);
    try {
      await sleep(500);
      await fault();
      await until('both replicas to see Redis up', async () => (await redisUp(a.url)) === 1 && (await redisUp(b.url)) === 1, 20_000);
      await sleep(1_000);
    } catch (err) {
      for (const s of [a, b]) console.log(JSON.stringify(s.logs.slice(-15)));
      throw err;
    } finally {
      running = false;
      await traffic;
    }

    // A client honouring Retry-After: every refused outcome is posted again until it is taken.
    const retries = run.refused;
    run.refused = [];
    await Promise.all(retries.map(async (decision) => {
      const end = Date.now() + 20_000;
      let status = await feedback(a, decision);
      while (status === 503 && Date.now() < end) { await sleep(200); status = await feedback(a, decision); }
      if (status === 202 || status === 200) run.acknowledged.add(decision);
      else if (status === 404) run.notFound.push(decision);
      else run.other.push(status);
    }));
    run.refused = retries;
    return run;
  }

  async function counted(): Promise<Set<string>> {
    const entries = await reader.xrange(STREAM, '-', '+');
    return new Set(entries.map(([, f]) => f[f.indexOf('decision') + 1]!));
  }

  async function check(name: string, run: Run): Promise<void> {
    const inRedis = await counted();
    const lost = [...run.acknowledged].filter((d) => !inRedis.has(d));
    console.log(`${name}: ${run.predictions} predictions (${run.failedPredictions.length} failed, worst ${Math.round(run.worstPredictMs)} ms), ${run.acknowledged.size} outcomes acknowledged, ${run.refused.length} refused with 503 over ${run.refusedWindowMs} ms and retried, ${lost.length} lost, ${run.notFound.length} answered 404`);
    expect(run.failedPredictions).toEqual([]);
    expect(run.other).toEqual([]);
    expect(run.notFound).toEqual([]);
    expect(lost).toEqual([]);
    expect(run.acknowledged.size).toBeGreaterThan(50);
  }

  it('a planned failover of the route\'s shard (CLUSTER FAILOVER on its replica) loses no acknowledged outcome', async () => {
    const old = await cluster.masterOf(routeSlot);
    const replica = await cluster.replicaOf(old);
    const run = await underTraffic(async () => {
      await cluster.client(replica).call('CLUSTER', 'FAILOVER');
      await cluster.waitForNewMaster(routeSlot, old.port, 15_000);
    });
    await check('cluster failover', run);
  }, 90_000);

  it('the route\'s master killed (kill -9) while its replica lags loses no acknowledged outcome', async () => {
    const old = await cluster.masterOf(routeSlot);
    const replica = await cluster.replicaOf(old);
    await cluster.waitForSyncedReplica(old, 15_000);
    const run = await underTraffic(async () => {
      // The replica falls behind: stopped, and cut off by its master (a stopped replica would still
      // find in its socket what the master sent meanwhile); 300 ms later the master dies with what
      // it could not send.
      replica.signal('SIGSTOP');
      await cluster.client(old).call('CLIENT', 'KILL', 'TYPE', 'replica');
      await sleep(300);
      old.signal('SIGKILL');
      replica.signal('SIGCONT');
      await cluster.waitForNewMaster(routeSlot, old.port, 20_000);
      // The old master comes back (from its AOF and nodes.conf) as the new master's replica.
      await old.restart();
    });
    await check('kill -9', run);
    await cluster.waitForSyncedReplica(replica, 20_000);
  }, 90_000);

  it('a resharding of every hash-tagged slot Croupier uses, under traffic, loses no acknowledged outcome', async () => {
    const tagged = await cluster.slotsOf('croupier:{*');
    expect(tagged).toContain(routeSlot);
    // A hundred slots more, from another master's range: decision keys spread over every slot.
    const extra = Array.from({ length: 100 }, (_, i) => (routeSlot + 5_461 + i) % 16_384);
    const run = await underTraffic(async () => {
      // Each slot to the next master after its own: every tagged slot changes hands.
      const masters = await cluster.masters();
      for (const s of [...tagged, ...extra]) {
        const from = masters.indexOf(await cluster.masterOf(s));
        await cluster.move([s], masters[(from + 1) % masters.length]!);
      }
    });
    await check('resharding', run);
  }, 90_000);
});
