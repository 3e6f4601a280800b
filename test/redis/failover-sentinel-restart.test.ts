/**
 * Issue 13, "a replica restarted during a failover": a Redis Sentinel set (one master, one replica,
 * three sentinels), two Croupier replicas with CROUPIER_REDIS_WAIT_REPLICAS=1 — one in this process,
 * one a real `croupier serve` process — predictions on each with their outcomes posted to the other.
 * - The master is killed (kill -9) and, while Sentinel fails it over, the Croupier process is
 *   stopped (SIGTERM: it drains, journals what it could not write) and started again on the same
 *   state directory and port. While it is away the client sends its requests to the other replica.
 * - A planned switchover, and the demoted master — the new master's only replica, which WAIT 1
 *   needs — killed and restarted from its AOF while Sentinel reconfigures it.
 * Either way no prediction fails on a replica that stays up, every acknowledged outcome is counted
 * (in the outcome stream and the arms' rewards), and no genuine decision answers 404.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, it } from 'vitest';
import { type Replica, stopTraffic, underFault } from '../helpers/failover-traffic.js';
import { spawnCroupier, type Child } from '../helpers/process.js';
import { describeRedis, freePort } from '../helpers/redis.js';
import { startSentinelSet, type TestSentinelSet } from '../helpers/sentinel.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describeRedis('Redis Sentinel failover: a replica restarted during it loses no acknowledged outcome', () => {
  let set: TestSentinelSet;
  let a: TestServer;
  let b: Child;
  let env: Record<string, string>;
  let port: number;
  const stateDir = mkdtempSync(join(tmpdir(), 'croupier-restarted-'));
  const startB = (): Child =>
    spawnCroupier(['serve', '--port', String(port)], {
      ...env,
      CROUPIER_LOG_LEVEL: 'info',
      CROUPIER_STATE_DIR: stateDir,
    });

  beforeAll(async () => {
    set = await startSentinelSet();
    env = {
      CROUPIER_REDIS_SENTINELS: set.sentinels,
      CROUPIER_REDIS_NAME: set.name,
      CROUPIER_REDIS_WAIT_REPLICAS: '1',
      CROUPIER_LOG_LEVEL: 'warn',
      CROUPIER_DRAIN_TIMEOUT_MS: '1000',
    };
    port = await freePort();
    b = startB();
    [a] = await Promise.all([startTestServer(env), b.ready]);
  }, 60_000);

  const master = () => set.masterClient();

  // A case that timed out must not leave its clients running into the next one.
  afterEach(stopTraffic);

  afterAll(async () => {
    b?.proc.kill('SIGTERM');
    await b?.exited;
    await a?.stop();
    await set?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('a Croupier replica restarted (SIGTERM, same state directory) while a killed master fails over', async () => {
    const old = await set.master();
    const restarting: Replica = { url: `http://127.0.0.1:${port}`, restarting: true };
    await underFault(master, 'croupier restarted', [a, restarting], async () => {
      old.signal('SIGKILL');
      await sleep(300);
      b.proc.kill('SIGTERM');
      await b.exited;
      const journaled = b.stdout.some((l) => l.includes('journaled'));
      console.log(
        `the stopped replica ${journaled ? 'journaled held decisions' : 'wrote every held decision before it exited'}`,
      );
      b = startB();
      await set.waitForNewMaster(old.port, 15_000);
      // The old master comes back (from its AOF) as the new master's replica, which WAIT 1 needs.
      await old.restart();
      await b.ready;
    });
  }, 60_000);

  it('the Redis replica killed and restarted while a switchover reconfigures it', async () => {
    await set.waitForSyncedReplica(30_000);
    const old = await set.master();
    await underFault(master, 'redis replica restarted', [a, { url: `http://127.0.0.1:${port}` }], async () => {
      await set.switchover();
      await set.waitForNewMaster(old.port, 15_000);
      old.signal('SIGKILL');
      await old.restart();
      await set.waitForReplica(old.port, 15_000);
    });
  }, 60_000);
});
