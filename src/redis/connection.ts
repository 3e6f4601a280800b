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
import type { RedisConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import { ConfigError } from '../errors.js';

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
  onChange(fn: (up: boolean) => void): void;
  close(): Promise<void>;
}

export const KEY_PREFIX = 'croupier:';
/** How long start-up waits for the first answer before giving up. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Per-command timeout: a dead connection costs a command at most this long. */
export const COMMAND_TIMEOUT_MS = 250;

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
      redisOptions: { commandTimeout: COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 1, connectTimeout: 2_000 },
    };
    return new Cluster(config.clusterNodes.map(hostPort), options);
  }
  if (config.sentinels) {
    return new Redis({ ...COMMON, sentinels: config.sentinels.map(hostPort), name: config.name });
  }
  return new Redis(config.url!, COMMON);
}

class Link implements RedisLink {
  readonly prefix = KEY_PREFIX;
  private up = false;
  private readonly listeners: ((up: boolean) => void)[] = [];
  private sub: RedisClient | undefined;
  private closed = false;

  constructor(readonly client: RedisClient, private readonly config: RedisConfig, private readonly log: Logger, metrics: Metrics) {
    metrics.redisUp(() => (this.up ? 1 : 0));
    client.on('ready', () => this.set(true));
    client.on('close', () => this.set(false));
    client.on('end', () => this.set(false));
    client.on('error', (err: Error) => {
      // ioredis emits an error per failed reconnect; one line per state change is enough.
      if (this.up) log.warn({ err: err.message }, 'redis error');
    });
  }

  private set(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    if (!this.closed) {
      if (up) this.log.info({ redis: describe(this.config) }, 'redis connected');
      else this.log.warn({ redis: describe(this.config) }, 'redis connection lost; retrying in the background');
    }
    for (const fn of this.listeners) {
      try {
        fn(up);
      } catch (err) {
        this.log.error({ err }, 'redis state listener failed');
      }
    }
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
      const sub: RedisClient = this.client instanceof Cluster
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
  const onError = (err: Error): void => { lastError = err.message; };
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
        timer = setTimeout(() => reject(new ConfigError(
          `Redis did not answer within ${CONNECT_TIMEOUT_MS / 1000} s at ${describe(config)}${lastError ? ` (${lastError})` : ''}; check CROUPIER_REDIS_URL / CROUPIER_REDIS_SENTINELS / CROUPIER_REDIS_CLUSTER_NODES`,
        )), CONNECT_TIMEOUT_MS);
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
