/**
 * Issue 13, Redis Cluster: three masters, three replicas (node timeout 1 s), two Croupier replicas
 * with CROUPIER_REDIS_WAIT_REPLICAS=1, predictions on each with their outcomes posted to the other.
 * Through a planned failover of the shard holding the route's keys (CLUSTER FAILOVER), that shard's
 * master killed while its replica lags (the replica promoted by the cluster), and a resharding that
 * moves the slots of every Croupier key with a hash tag (route, models, control) and a hundred more
 * to other masters under traffic (ASK, then MOVED): no prediction fails, no acknowledged (2xx)
 * outcome is lost (the outcome stream and the arms' rewards count exactly the acknowledged ones, the
 * pulls exactly the answered predictions: a pull count is sent again until its node's replica has
 * it, under an id that makes it count once), and no genuine decision answers 404 — feedback answers 503 meanwhile, and a client
 * that retries as Retry-After says gets every outcome counted. The traffic and the counting are in
 * ../helpers/failover-traffic.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { STREAM, stopTraffic, underFault } from '../helpers/failover-traffic.js';
import { describeRedis } from '../helpers/redis.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describeRedis('Redis Cluster failover and resharding: no acknowledged outcome lost', () => {
  let cluster: TestCluster;
  let reader: Cluster;
  let a: TestServer;
  let b: TestServer;
  let routeSlot: number;

  beforeAll(async () => {
    cluster = await startCluster();
    const env = {
      CROUPIER_REDIS_CLUSTER_NODES: cluster.nodes,
      CROUPIER_REDIS_WAIT_REPLICAS: '1',
      CROUPIER_LOG_LEVEL: 'warn',
    };
    [a, b] = await Promise.all([startTestServer(env), startTestServer(env)]);
    reader = new Cluster(cluster.nodes.split(',').map((hp) => ({ host: '127.0.0.1', port: Number(hp.split(':')[1]) })));
    reader.on('error', () => undefined);
    routeSlot = await cluster.slot(STREAM);
  }, 60_000);

  // A case that timed out must not leave its clients running into the next one.
  afterEach(stopTraffic);

  afterAll(async () => {
    reader?.disconnect();
    await a?.stop();
    await b?.stop();
    await cluster?.stop();
  });

  /** Runs `fault` under traffic, counts read through the Cluster client (see failover-traffic.ts). */
  const underClusterFault = (name: string, fault: () => Promise<void>): Promise<unknown> =>
    underFault(async () => reader, name, [a, b], fault);

  it("a planned failover of the route's shard (CLUSTER FAILOVER) loses no acknowledged outcome", async () => {
    const old = await cluster.masterOf(routeSlot);
    const replica = await cluster.replicaOf(old);
    await underClusterFault('cluster failover', async () => {
      await cluster.client(replica).call('CLUSTER', 'FAILOVER');
      await cluster.waitForNewMaster(routeSlot, old.port, 15_000);
    });
  }, 90_000);

  it("the route's master killed (kill -9) while its replica lags loses no acknowledged outcome", async () => {
    const old = await cluster.masterOf(routeSlot);
    const replica = await cluster.replicaOf(old);
    await cluster.waitForSyncedReplica(old, 15_000);
    await underClusterFault('kill -9', async () => {
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
    await cluster.waitForSyncedReplica(replica, 20_000);
  }, 90_000);

  it('a resharding of every hash-tagged slot Croupier uses, under traffic, loses no acknowledged outcome', async () => {
    const tagged = await cluster.slotsOf('croupier:{*');
    expect(tagged).toContain(routeSlot);
    // A hundred slots more, from another master's range: decision keys spread over every slot.
    const extra = Array.from({ length: 100 }, (_, i) => (routeSlot + 5_461 + i) % 16_384);
    const before = await cluster.masterOf(routeSlot);
    await underClusterFault('resharding', async () => {
      // Each slot to the next master after its own: every tagged slot changes hands.
      const masters = await cluster.masters();
      for (const s of [...tagged, ...extra]) {
        const from = masters.indexOf(await cluster.masterOf(s));
        await cluster.move([s], masters[(from + 1) % masters.length]!);
      }
    });
    expect((await cluster.masterOf(routeSlot)).port).not.toBe(before.port);
  }, 90_000);
});
