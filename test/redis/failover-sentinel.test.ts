/**
 * Issue 13: a Redis Sentinel set (one master, one replica, three sentinels, down-after 1 s), two
 * Croupier replicas with CROUPIER_REDIS_WAIT_REPLICAS=1, predictions on each with their outcomes
 * posted to the other. Through a planned switchover, a master stalled past down-after (its
 * replica promoted, the old master woken a second later and demoted) and a master killed while its
 * replica lagged: no prediction fails, no acknowledged (2xx) outcome is lost (the outcome stream
 * and the arms' rewards count exactly the acknowledged ones, the pulls exactly the answered
 * predictions), and no genuine decision answers 404 — feedback answers 503 meanwhile, and a client
 * that retries as Retry-After says gets every outcome counted. The traffic and the counting are in
 * ../helpers/failover-traffic.ts; failover-sentinel-restart.test.ts restarts a replica during a failover.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { stopTraffic, underFault } from '../helpers/failover-traffic.js';
import { describeRedis } from '../helpers/redis.js';
import { startSentinelSet, type TestSentinelSet } from '../helpers/sentinel.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describeRedis('Redis Sentinel failover: no acknowledged outcome lost', () => {
  let set: TestSentinelSet;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    set = await startSentinelSet();
    const env = {
      CROUPIER_REDIS_SENTINELS: set.sentinels,
      CROUPIER_REDIS_NAME: set.name,
      CROUPIER_REDIS_WAIT_REPLICAS: '1',
      CROUPIER_LOG_LEVEL: 'warn',
    };
    [a, b] = await Promise.all([startTestServer(env), startTestServer(env)]);
  }, 60_000);

  const master = () => set.masterClient();

  // A case that timed out must not leave its clients running into the next one.
  afterEach(stopTraffic);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await set?.stop();
  });

  it('a planned switchover (SENTINEL FAILOVER) loses no acknowledged outcome', async () => {
    const old = await set.master();
    await underFault(master, 'switchover', [a, b], async () => {
      await set.switchover();
      await set.waitForNewMaster(old.port, 15_000);
    });
  }, 90_000);

  it('a master stalled past its failover (SIGSTOP; its replica promoted) loses no acknowledged outcome, and health dips', async () => {
    await set.waitForSyncedReplica(30_000);
    const old = await set.master();
    const run = await underFault(master, 'stall', [a, b], async () => {
      old.signal('SIGSTOP');
      try {
        await set.waitForNewMaster(old.port, 15_000);
        await sleep(1_000);
      } finally {
        old.signal('SIGCONT');
      }
    });
    expect(run.redisUpDipped).toBe(true);
  }, 90_000);

  it('a master killed (kill -9) while its replica lags loses no acknowledged outcome', async () => {
    await set.waitForSyncedReplica(30_000);
    const old = await set.master();
    const replica = set.nodes.find((n) => n !== old)!;
    await underFault(master, 'kill', [a, b], async () => {
      // The replica falls behind for 300 ms, then the master dies with what it did not send. Stopped
      // alone, the replica would still find in its socket what the master sent meanwhile: its link
      // is cut too, so those writes never reach it.
      const client = await set.masterClient();
      replica.signal('SIGSTOP');
      await client.call('CLIENT', 'KILL', 'TYPE', 'replica');
      await sleep(300);
      old.signal('SIGKILL');
      replica.signal('SIGCONT');
      await set.waitForNewMaster(old.port, 15_000);
      // The old master comes back (from its AOF) and Sentinel makes it the new master's replica.
      await old.restart();
    });
  }, 90_000);
});
