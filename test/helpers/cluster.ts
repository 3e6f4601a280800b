/**
 * A real Redis Cluster for failover tests: three masters and three replicas (`redis-server
 * --cluster-enabled yes`, created with `redis-cli --cluster create --cluster-replicas 1`), each on a
 * free loopback port whose cluster bus port (+10000) is free too, in one temp directory removed at
 * the end. Node timeout 1 s, so a dead master's replica is promoted within a few seconds.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { redisNode, until, type RedisNode } from './redis.js';

export const NODE_TIMEOUT_MS = 1_000;

export interface ClusterNode extends RedisNode {
  /** This node's cluster id. */
  id: string;
}

export interface TestCluster {
  /** `127.0.0.1:port,…` of every node, for CROUPIER_REDIS_CLUSTER_NODES. */
  nodes: string;
  all: ClusterNode[];
  /** A plain client on one node (closed by stop()). */
  client(node: ClusterNode): Redis;
  /** The slot `key` hashes to (CLUSTER KEYSLOT). */
  slot(key: string): Promise<number>;
  /** The master serving `slot` now, as the surviving nodes agree. */
  masterOf(slot: number): Promise<ClusterNode>;
  /** The nodes that are masters now. */
  masters(): Promise<ClusterNode[]>;
  /** The replica of `master`. */
  replicaOf(master: ClusterNode): Promise<ClusterNode>;
  /** Resolves once every live node says a master other than `port` serves `slot`, and the cluster is ok. */
  waitForNewMaster(slot: number, port: number, timeoutMs: number): Promise<ClusterNode>;
  /** Resolves once `master` has a replica that acknowledges its writes (WAIT 1). */
  waitForSyncedReplica(master: ClusterNode, timeoutMs: number): Promise<void>;
  /** Moves `slots` from their master to `to`, keys included (SETSLOT IMPORTING / MIGRATING, MIGRATE, SETSLOT NODE). */
  move(slots: readonly number[], to: ClusterNode): Promise<void>;
  /** Every slot that holds a key matching `pattern` on some master. */
  slotsOf(pattern: string): Promise<number[]>;
  stop(): Promise<void>;
}

function listens(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (port + 10000) is free as well. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await listens(port)) && (await listens(port + 10_000))) {
      taken.add(port);
      return port;
    }
  }
}

interface SlotRange {
  from: number;
  to: number;
  port: number;
}

export async function startCluster(): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'croupier-cluster-'));
  const clients: Redis[] = [];
  const taken = new Set<number>();
  const all: ClusterNode[] = [];
  for (let i = 0; i < 6; i++) {
    const port = await freeClusterPort(taken);
    const node: ClusterNode = Object.assign(
      redisNode(join(dir, String(port)), port, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        String(NODE_TIMEOUT_MS),
        // A replica that lost its master a while ago may still be promoted (the test's lagging replica).
        '--cluster-replica-validity-factor',
        '0',
      ]),
      { id: '' },
    );
    all.push(node);
  }

  const client = (node: ClusterNode): Redis => {
    const c = new Redis({
      host: '127.0.0.1',
      port: node.port,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 100,
      connectTimeout: 1_000,
      commandTimeout: 2_000,
      lazyConnect: true,
    });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  const direct = new Map<number, Redis>();
  const on = (node: ClusterNode): Redis => {
    let c = direct.get(node.port);
    if (!c) direct.set(node.port, (c = client(node)));
    return c;
  };
  const byPort = (port: number): ClusterNode => all.find((n) => n.port === port)!;
  const live = (): ClusterNode[] => all.filter((n) => n.alive());
  const slots = async (node: ClusterNode): Promise<SlotRange[]> =>
    ((await on(node).call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][]).map(([from, to, [, port]]) => ({
      from,
      to,
      port,
    }));
  const servedBy = async (node: ClusterNode, slot: number): Promise<number | undefined> =>
    (await slots(node)).find((r) => r.from <= slot && slot <= r.to)?.port;
  const ok = async (node: ClusterNode): Promise<boolean> =>
    /cluster_state:ok/.test((await on(node).call('CLUSTER', 'INFO')) as string);

  const cluster: TestCluster = {
    nodes: all.map((n) => `127.0.0.1:${n.port}`).join(','),
    all,
    client,
    async slot(key) {
      return (await on(all[0]!).call('CLUSTER', 'KEYSLOT', key)) as number;
    },
    async masterOf(slot) {
      const port = await servedBy(live()[0]!, slot);
      if (port === undefined) throw new Error(`slot ${slot} is not served`);
      return byPort(port);
    },
    async masters() {
      const roles = await Promise.all(live().map(async (n) => ((await on(n).call('ROLE')) as string[])[0]));
      return live().filter((_, i) => roles[i] === 'master');
    },
    async replicaOf(master) {
      const lines = (await on(master).call('CLUSTER', 'REPLICAS', master.id)) as string[];
      const port = Number(/127\.0\.0\.1:(\d+)@/.exec(lines[0] ?? '')?.[1]);
      if (!port) throw new Error(`master ${master.port} has no replica`);
      return byPort(port);
    },
    async waitForNewMaster(slot, port, timeoutMs) {
      let master: ClusterNode | undefined;
      await until(
        `slot ${slot} to move off ${port}`,
        async () => {
          try {
            const ports = await Promise.all(live().map((n) => servedBy(n, slot)));
            const p = ports[0];
            if (p === undefined || p === port || ports.some((q) => q !== p)) return false;
            if (!(await Promise.all(live().map(ok))).every(Boolean)) return false;
            master = byPort(p);
            return true;
          } catch {
            return false;
          }
        },
        timeoutMs,
      );
      return master!;
    },
    async waitForSyncedReplica(master, timeoutMs) {
      await until(
        `master ${master.port} to have a replica in sync`,
        async () => {
          try {
            // A key in one of the master's own slots (any other answers MOVED).
            const mine = await slots(master);
            let key = '';
            for (let i = 0; !key; i++) {
              const s = await cluster.slot(`{sync-${i}}`);
              if (mine.some((r) => r.port === master.port && r.from <= s && s <= r.to)) key = `{sync-${i}}`;
            }
            await on(master).set(key, String(Date.now()));
            return (await on(master).wait(1, 200)) >= 1;
          } catch {
            return false;
          }
        },
        timeoutMs,
      );
    },
    async move(moving, to) {
      for (const slot of moving) {
        const from = await cluster.masterOf(slot);
        if (from === to) continue;
        await on(to).call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
        await on(from).call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id);
        for (;;) {
          const keys = (await on(from).call('CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
          if (keys.length === 0) break;
          await on(from).call('MIGRATE', '127.0.0.1', to.port, '', 0, 5_000, 'REPLACE', 'KEYS', ...keys);
        }
        // The new owner first (so that it stops answering ASK), then the old, then the others.
        await on(to).call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
        await on(from).call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
        for (const m of await cluster.masters()) {
          if (m !== to && m !== from) await on(m).call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
        }
      }
    },
    async slotsOf(pattern) {
      const found = new Set<number>();
      for (const n of await cluster.masters()) {
        let cursor = '0';
        do {
          const [next, keys] = await on(n).scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
          cursor = next;
          for (const k of keys) found.add(await cluster.slot(k));
        } while (cursor !== '0');
      }
      return [...found].sort((x, y) => x - y);
    },
    async stop() {
      for (const c of clients) c.disconnect();
      await Promise.all(all.map((n) => n.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    const answers = async (): Promise<boolean> =>
      (
        await Promise.all(
          all.map((n) =>
            on(n)
              .ping()
              .then(
                () => true,
                () => false,
              ),
          ),
        )
      ).every(Boolean);
    await until('the nodes to answer', answers, 15_000);
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...all.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    for (const n of all) n.id = (await on(n).call('CLUSTER', 'MYID')) as string;
    await until(
      'every node to see the cluster ok, with three masters and three replicas',
      async () => {
        for (const n of all) {
          const info = (await on(n).call('CLUSTER', 'INFO')) as string;
          if (!/cluster_state:ok/.test(info) || !/cluster_known_nodes:6/.test(info)) return false;
          const nodes = ((await on(n).call('CLUSTER', 'NODES')) as string).trim().split('\n');
          const flags = nodes.map((l) => l.split(' ')[2]!);
          if (flags.filter((f) => f.includes('slave')).length !== 3) return false;
          if (flags.some((f) => /fail|handshake/.test(f))) return false;
        }
        for (const m of await cluster.masters()) await cluster.waitForSyncedReplica(m, 15_000);
        return true;
      },
      30_000,
    );
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
