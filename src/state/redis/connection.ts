/**
 * One Redis connection per replica, shared by the data plane (decisions, statistics, outcomes) and
 * the control plane (versions, routes, lock, audit). Nothing on the predict path may wait on a dead
 * connection: the offline queue is off, every command has a timeout, and a lost connection is
 * retried forever in the background while `isUp()` says false (and `croupier_redis_up` 0).
 *
 * Keys are hash-tagged so multi-key scripts work on Cluster:
 *   croupier:{route:R}:…   everything about route R
 *   croupier:{model:M}:…   everything about model M
 *   croupier:{control}:…   the admin plane
 */
import { Redis, Cluster, type RedisOptions, type ClusterOptions } from 'ioredis';
import type { RedisConfig } from '../../config/config.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics/metrics.js';
import { ConfigError } from '../../errors.js';

export type RedisClient = Redis | Cluster;

export interface RedisLink {
  /** Commands; offline queue off; per-call timeout. */
  readonly client: RedisClient;
  /** 'croupier:' — keys look like croupier:{route:NAME}:stats. */
  readonly prefix: string;
  /** A lazily created duplicate connection for SUBSCRIBE. */
  subscriber(): RedisClient;
  /** Last known state; drives croupier_redis_up. */
  isUp(): boolean;
  /** The socket is open and Redis answered its ready check (writes may still fail). */
  isConnected(): boolean;
  onChange(fn: (up: boolean) => void): void;
  /** A command failed: health is down until a write succeeds; a timeout drops the connection. */
  failed(err: unknown): void;
  /** A write succeeded (and reached the replicas it had to, see waitReplicas). */
  wrote(): void;
  /** Replicas a write must reach before it counts as done (`WAIT`); 0 = the master's answer. */
  readonly waitReplicas: number;
  close(): Promise<void>;
}

export const KEY_PREFIX = 'croupier:';
/** How long start-up waits for the first answer before giving up. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Per-command timeout: a dead connection costs a command at most this long. */
export const COMMAND_TIMEOUT_MS = 250;
/** How long a WAIT may take: under the command timeout, so a lagging replica is a failed write, not a dropped connection. */
export const WAIT_TIMEOUT_MS = 150;
/** How often a write is tried while writes fail on an open connection. */
export const PROBE_MS = 500;

/** The error ioredis rejects a timed-out command with. */
export function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Command timed out';
}

export function routeKey(route: string, suffix: string): string {
  return `${KEY_PREFIX}{route:${route}}:${suffix}`;
}
export function modelKey(model: string, suffix: string): string {
  return `${KEY_PREFIX}{model:${model}}:${suffix}`;
}
export function controlKey(suffix: string): string {
  return `${KEY_PREFIX}{control}:${suffix}`;
}

const COMMON: RedisOptions = {
  enableOfflineQueue: false,
  commandTimeout: COMMAND_TIMEOUT_MS,
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000,
  // Reconnect forever, quickly at first, never slower than every second: decisions held during an
  // outage are written, and feedback accepted again, as soon as Redis is back.
  retryStrategy: (times: number) => Math.min(50 * times, 1_000),
  // A demoted master answers writes with READONLY: reconnect (through Sentinel: to the new master).
  // The command itself fails (1, not 2): it is retried by whoever sent it, not re-sent blindly.
  reconnectOnError: (err: Error) => (err.message.includes('READONLY') ? 1 : false),
  lazyConnect: true,
};

function describe(config: RedisConfig): string {
  if (config.clusterNodes) return `cluster ${config.clusterNodes.join(',')}`;
  if (config.sentinels) return `sentinels ${config.sentinels.join(',')} (master ${config.name})`;
  return (config.url ?? '').replace(/\/\/[^@/]*@/, '//***@');
}

function hostPort(hp: string): { host: string; port: number } {
  const colon = hp.lastIndexOf(':');
  return { host: hp.slice(0, colon), port: Number(hp.slice(colon + 1)) };
}

function createClient(config: RedisConfig): RedisClient {
  if (config.clusterNodes) {
    const options: ClusterOptions = {
      enableOfflineQueue: false,
      clusterRetryStrategy: (times: number) => Math.min(50 * times, 1_000),
      lazyConnect: true,
      redisOptions: {
        commandTimeout: COMMAND_TIMEOUT_MS,
        maxRetriesPerRequest: 1,
        connectTimeout: 2_000,
        reconnectOnError: COMMON.reconnectOnError,
      },
    };
    return new Cluster(config.clusterNodes.map(hostPort), options);
  }
  if (config.sentinels) {
    // failoverDetector: Sentinel's +switch-master drops the connection at once, even when the old
    // master is alive and keeps answering (a switchover, a stall); without it writes go on to the
    // old master until Sentinel demotes it, and are discarded at its resync.
    return new Redis({
      ...COMMON,
      sentinels: config.sentinels.map(hostPort),
      name: config.name,
      failoverDetector: true,
    });
  }
  return new Redis(config.url!, COMMON);
}

class Link implements RedisLink {
  readonly prefix = KEY_PREFIX;
  private up = false;
  private connected = false;
  /** Since when writes fail on the open connection (0: they succeed). */
  private failingSinceMs = 0;
  private probing: NodeJS.Timeout | undefined;
  private readonly listeners: ((up: boolean) => void)[] = [];
  private sub: RedisClient | undefined;
  private closed = false;

  constructor(
    readonly client: RedisClient,
    private readonly config: RedisConfig,
    private readonly log: Logger,
    metrics: Metrics,
  ) {
    this.waitReplicas = config.waitReplicas ?? 0;
    metrics.redisUp(() => (this.up ? 1 : 0));
    client.on('ready', () => this.connection(true));
    client.on('close', () => this.connection(false));
    client.on('end', () => this.connection(false));
    client.on('error', (err: Error) => {
      // ioredis emits an error per failed reconnect; one line per state change is enough.
      if (this.up) log.warn({ err: err.message }, 'redis error');
    });
  }

  readonly waitReplicas: number;

  private connection(connected: boolean): void {
    this.connected = connected;
    // A new connection (perhaps to a new master) starts healthy; its first failed write says otherwise.
    if (connected) this.failingSinceMs = 0;
    this.update();
  }

  failed(err: unknown): void {
    if (this.closed) return;
    if (isTimeout(err) && this.client.status === 'ready') {
      if (this.client instanceof Cluster) {
        // A shard's master may have stalled or died and its replica taken over: ask the cluster
        // which node serves which slot now. Reconnecting every node instead would stop the healthy
        // shards too, and left ioredis' Cluster for good in a state that is not ready (issue 13).
        this.client.refreshSlotsCache();
      } else {
        // A stalled master keeps its socket open; Sentinel may have promoted another meanwhile.
        this.log.warn({ redis: describe(this.config) }, 'redis command timed out; reconnecting');
        this.client.disconnect(true);
      }
    }
    if (this.failingSinceMs === 0) {
      this.failingSinceMs = Date.now();
      if (this.connected)
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'redis writes failing');
    }
    this.update();
  }

  wrote(): void {
    if (this.failingSinceMs === 0) return;
    this.failingSinceMs = 0;
    this.update();
  }

  private update(): void {
    this.set(this.connected && this.failingSinceMs === 0);
    const probe = this.connected && this.failingSinceMs > 0 && !this.closed;
    if (probe && !this.probing) {
      this.probing = setInterval(() => void this.probe(), PROBE_MS);
      this.probing.unref();
    } else if (!probe && this.probing) {
      clearInterval(this.probing);
      this.probing = undefined;
    }
  }

  /** One write, as the data plane writes (with WAIT when configured), to learn when writes work again. */
  private async probe(): Promise<void> {
    try {
      const key = `${KEY_PREFIX}{control}:probe`;
      const value = String(Date.now());
      const n = this.waitReplicas;
      if (n === 0) await this.client.set(key, value, 'PX', 60_000);
      else {
        // One pipeline: on Cluster the WAIT must leave on the SET's own connection (acked.ts says why).
        const answers = await this.client.pipeline().set(key, value, 'PX', 60_000).wait(n, WAIT_TIMEOUT_MS).exec();
        const [set, wait] = answers ?? [];
        if (!set || set[0] || !wait || wait[0] || (wait[1] as number) < n)
          throw set?.[0] ?? wait?.[0] ?? new Error(`WAIT: fewer than ${n} replicas acknowledged`);
      }
      this.wrote();
    } catch (err) {
      this.failed(err);
    }
  }

  private set(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    if (!this.closed) {
      if (up) this.log.info({ redis: describe(this.config) }, 'redis connected');
      else
        this.log.warn(
          { redis: describe(this.config) },
          'redis down (connection lost or writes failing); retrying in the background',
        );
    }
    for (const fn of this.listeners) {
      try {
        fn(up);
      } catch (err) {
        this.log.error({ err }, 'redis state listener failed');
      }
    }
  }

  isConnected(): boolean {
    return this.connected;
  }

  isUp(): boolean {
    return this.up;
  }

  onChange(fn: (up: boolean) => void): void {
    this.listeners.push(fn);
  }

  subscriber(): RedisClient {
    if (!this.sub) {
      // Subscriptions are re-sent by ioredis on reconnect; the offline queue is allowed here so a
      // SUBSCRIBE issued while Redis is down waits for the connection instead of failing.
      const sub: RedisClient =
        this.client instanceof Cluster
          ? this.client.duplicate(undefined, { enableOfflineQueue: true, lazyConnect: false })
          : this.client.duplicate({ enableOfflineQueue: true, lazyConnect: false, commandTimeout: undefined });
      sub.on('error', () => undefined);
      this.sub = sub;
      return sub;
    }
    return this.sub;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.probing);
    const quit = async (c: RedisClient): Promise<void> => {
      try {
        if (this.up) await c.quit();
        else c.disconnect();
      } catch {
        c.disconnect();
      }
    };
    if (this.sub) await quit(this.sub);
    await quit(this.client);
  }
}

/**
 * Connects and waits for the first answer (PING). Redis that never answers at start is a start-up
 * error with a clear message; after that, outages only degrade (see RedisLink.isUp).
 */
export async function connectRedis(config: RedisConfig, log: Logger, metrics: Metrics): Promise<RedisLink> {
  const client = createClient(config);
  const link = new Link(client, config, log, metrics);
  let timer: NodeJS.Timeout | undefined;
  let lastError = '';
  const onError = (err: Error): void => {
    lastError = err.message;
  };
  client.on('error', onError);
  try {
    await Promise.race([
      (async () => {
        await client.connect().catch(() => undefined);
        // connect() may reject on the first attempt while retries continue; wait for 'ready'.
        if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', () => resolve()));
        await client.ping();
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new ConfigError(
                `Redis did not answer within ${CONNECT_TIMEOUT_MS / 1000} s at ${describe(config)}${lastError ? ` (${lastError})` : ''}; check CROUPIER_REDIS_URL / CROUPIER_REDIS_SENTINELS / CROUPIER_REDIS_CLUSTER_NODES`,
              ),
            ),
          CONNECT_TIMEOUT_MS,
        );
        timer.unref();
      }),
    ]);
  } catch (err) {
    client.disconnect();
    throw err;
  } finally {
    clearTimeout(timer);
    client.off('error', onError);
  }
  return link;
}
