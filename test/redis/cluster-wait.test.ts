/**
 * The Cluster failover data bug (CI: CLUSTER FAILOVER under load; feedback refused with 503 for over
 * 90 s, genuine decisions answered 404, pulls counted in the next test). Reproduced under load: a
 * decision held when its write failed (MOVED: the failover had moved its slot) was not written again
 * for 43 s. Catch-up had finished its loop and was sending the pull counts left over; the catchUp()
 * the new decision asked for was handed that finishing run, which never looked at it. And each write
 * now travels with its WAIT in one pipeline (src/state/redis/acked.ts): a WAIT on a connection that
 * ran no write acknowledges writes no replica has.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Decision } from '../../src/feedback/decision.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { writeAcked } from '../../src/state/redis/acked.js';
import { connectRedis, type RedisLink } from '../../src/state/redis/connection.js';
import { RedisDecisions } from '../../src/state/redis/decisions.js';
import { decisionKey, statsKey } from '../../src/state/redis/keys.js';
import { type ClusterNode, startCluster, type TestCluster } from '../helpers/cluster.js';
import { describeRedis, until } from '../helpers/redis.js';

const ROUTE = 'fraud-scoring';

describeRedis(
  'Redis Cluster: decisions held while Redis fails are written, and acknowledged only by replicas that have them',
  () => {
    let cluster: TestCluster;
    let link: RedisLink;
    let frozen: ClusterNode | undefined;

    beforeAll(async () => {
      cluster = await startCluster();
      const config = {
        url: undefined,
        sentinels: undefined,
        clusterNodes: cluster.nodes.split(','),
        name: undefined,
        waitReplicas: 1,
      };
      link = await connectRedis(config, createLogger('silent'), new Metrics());
    }, 60_000);

    afterAll(async () => {
      frozen?.signal('SIGCONT');
      await link?.close();
      await cluster?.stop();
    });

    let seq = 0;
    const decision = (): Decision =>
      new Decision(
        `wait-test-${seq++}`,
        Date.now(),
        ROUTE,
        'champion',
        'fraud',
        '1',
        'fraud@1',
        'sha',
        1,
        1,
        undefined,
        undefined,
        Number.NaN,
        undefined,
      );
    /** A decision whose key is on another shard than `node`'s. */
    const elsewhere = async (node: ClusterNode): Promise<Decision> => {
      for (;;) {
        const d = decision();
        if ((await cluster.masterOf(await cluster.slot(decisionKey(d.id)))) !== node) return d;
      }
    };
    const freeze = (node: ClusterNode): void => {
      frozen = node;
      node.signal('SIGSTOP');
    };
    const thaw = (): void => {
      frozen?.signal('SIGCONT');
      frozen = undefined;
    };

    it('a decision held while catch-up sends its last pull counts is written (a lost wake-up held it for 43 s)', async () => {
      const decisions = new RedisDecisions(link, createLogger('silent'), 1_000, () => 3_600_000, 65_536);
      const stats = await cluster.masterOf(await cluster.slot(statsKey(ROUTE)));
      // The statistics' replica stops: pull counts are made but not acknowledged, so kept for later.
      freeze(await cluster.replicaOf(stats));
      decisions.restore([await elsewhere(stats)]);
      await decisions.catchUp();
      expect(decisions.pending).toBe(0);
      expect(decisions.unackedPulls).toBe(1);

      // A run that has only the pull count to send; a decision is held as it starts (a write that
      // failed on MOVED while the slots moved) and asks for catch-up.
      const run = decisions.catchUp();
      const late = await elsewhere(stats);
      decisions.restore([late]);
      await run;
      await until('the late decision to be written', async () => !decisions.holds(late.id), 5_000);

      thaw();
      await until(
        'the pull counts to be acknowledged',
        async () => {
          await decisions.catchUp();
          return decisions.unackedPulls === 0;
        },
        15_000,
      );
      await decisions.close(Date.now() + 1_000);
    }, 60_000);

    it('a write and its WAIT go together: not acknowledged while the replica is stopped, acknowledged after', async () => {
      const key = `${decisionKey('wait-test-pair')}`;
      const master = await cluster.masterOf(await cluster.slot(key));
      freeze(await cluster.replicaOf(master));
      const set = [(c: RedisLink['client']) => c.set(key, 'x', 'PX', 60_000)];
      const stopped = await writeAcked(link.client, set, 1);
      expect(stopped.results).toEqual(['OK']);
      expect(stopped.acked).toBe(false);
      expect(stopped.error?.message).toMatch(/WAIT: 0 of 1/);
      thaw();
      await until('the write to be acknowledged', async () => (await writeAcked(link.client, set, 1)).acked, 15_000);
    }, 60_000);
  },
);
