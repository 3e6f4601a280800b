/**
 * A real Redis Sentinel set for failover tests: one master, `replicas` replicas (1 by default) and three sentinels
 * (`redis-server --sentinel`), each on a free loopback port with its own temp directory, killed at
 * the end. Down-after is 1 s, so a stalled or dead master is replaced within a few seconds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort, redisNode, type RedisNode } from './redis.js';

export const MASTER_NAME = 'croupier';
export const DOWN_AFTER_MS = 1_000;

export type TestNode = RedisNode;

export interface TestSentinelSet {
  /** `127.0.0.1:port,…` for CROUPIER_REDIS_SENTINELS. */
  sentinels: string;
  name: string;
  nodes: TestNode[];
  /** The node the sentinels name as master now. */
  master(): Promise<TestNode>;
  /** A client on the current master (closed by stop()). */
  masterClient(): Promise<Redis>;
  /** SENTINEL FAILOVER: a planned switchover, the old master alive throughout. */
  switchover(): Promise<void>;
  /** Resolves once every sentinel names a master other than `port` and it answers as master. */
  waitForNewMaster(port: number, timeoutMs: number): Promise<TestNode>;
  /** Resolves once the current master has a replica that acknowledges its writes (WAIT 1). */
  waitForSyncedReplica(timeoutMs: number): Promise<void>;
  /** Resolves once `port` replicates from the current master and is in sync. */
  waitForReplica(port: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

function client(port: number): Redis {
  const c = new Redis({
    host: '127.0.0.1',
    port,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 100,
    connectTimeout: 1_000,
    commandTimeout: 1_000,
    lazyConnect: true,
  });
  c.on('error', () => undefined);
  return c;
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch {
      /* not yet */
    }
    await sleep(50);
  }
  throw new Error(`sentinel set: timed out after ${timeoutMs} ms waiting for ${what}`);
}

export async function startSentinelSet(replicas = 1): Promise<TestSentinelSet> {
  const dir = mkdtempSync(join(tmpdir(), 'croupier-sentinel-'));
  /** The sentinels. */
  const procs: ChildProcess[] = [];
  const clients: Redis[] = [];
  const run = (args: string[]): ChildProcess => {
    const p = spawn('redis-server', args, { stdio: 'ignore' });
    procs.push(p);
    return p;
  };
  const node = async (name: string, extra: string[]): Promise<TestNode> =>
    redisNode(join(dir, name), await freePort(), extra);
  const master = await node('m', []);
  const nodes = [master];
  for (let i = 0; i < replicas; i++) nodes.push(await node(`r${i}`, ['--replicaof', '127.0.0.1', String(master.port)]));
  const sentinelPorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    sentinelPorts.push(port);
    const conf = join(dir, `sentinel-${i}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${MASTER_NAME} ${DOWN_AFTER_MS}`,
        `sentinel failover-timeout ${MASTER_NAME} 5000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
      ].join('\n') + '\n',
    );
    run([conf, '--sentinel']);
  }
  const sentinel = (i: number): Redis => {
    const c = client(sentinelPorts[i]!);
    clients.push(c);
    return c;
  };
  const sentinels = sentinelPorts.map((_, i) => sentinel(i));

  const byPort = (port: number): TestNode => nodes.find((n) => n.port === port)!;
  const named = async (): Promise<number[]> =>
    Promise.all(
      sentinels.map(async (s) =>
        Number(((await s.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as string[])[1]),
      ),
    );
  const role = async (port: number): Promise<string> => {
    const c = client(port);
    try {
      return ((await c.call('ROLE')) as unknown[])[0] as string;
    } finally {
      c.disconnect();
    }
  };
  const set: TestSentinelSet = {
    sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
    name: MASTER_NAME,
    nodes,
    async master() {
      return byPort((await named())[0]!);
    },
    async masterClient() {
      const m = await set.master();
      const c = client(m.port);
      clients.push(c);
      return c;
    },
    async switchover() {
      await sentinels[0]!.call('SENTINEL', 'FAILOVER', MASTER_NAME);
    },
    async waitForNewMaster(port, timeoutMs) {
      return until(
        'a new master',
        async () => {
          const ports = await named();
          if (ports.some((p) => p === port || p !== ports[0])) return undefined;
          return (await role(ports[0]!)) === 'master' ? byPort(ports[0]!) : undefined;
        },
        timeoutMs,
      );
    },
    async waitForSyncedReplica(timeoutMs) {
      await until(
        'the master to have a replica in sync',
        async () => {
          const c = client((await set.master()).port);
          try {
            await c.set('croupier-test:sync', String(Date.now()));
            return (await c.wait(1, 200)) >= 1 ? true : undefined;
          } finally {
            c.disconnect();
          }
        },
        timeoutMs,
      );
    },
    async waitForReplica(port, timeoutMs) {
      await until(
        `node ${port} to replicate in sync`,
        async () => {
          const c = client(port);
          try {
            const info = await c.info('replication');
            return /role:slave/.test(info) && /master_link_status:up/.test(info) ? true : undefined;
          } finally {
            c.disconnect();
          }
        },
        timeoutMs,
      );
    },
    async stop() {
      for (const c of clients) c.disconnect();
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      await Promise.all([
        ...nodes.map((n) => n.kill()),
        ...procs.map((p) =>
          p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.once('exit', r)),
        ),
      ]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    // Ready: the replica in sync, every sentinel naming the master and knowing the replica and the
    // two other sentinels (a failover needs a quorum and a replica to promote).
    for (const r of nodes.slice(1)) await set.waitForReplica(r.port, 15_000);
    await until(
      'the sentinels to know each other and the replica',
      async () => {
        for (const s of sentinels) {
          const m = (await s.call('SENTINEL', 'master', MASTER_NAME)) as string[];
          const f = (k: string): string => m[m.indexOf(k) + 1]!;
          if (f('num-other-sentinels') !== '2' || f('num-slaves') !== String(replicas)) return undefined;
        }
        return true;
      },
      20_000,
    );
  } catch (err) {
    await set.stop();
    throw err;
  }
  return set;
}
