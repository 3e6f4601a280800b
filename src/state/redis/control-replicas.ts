/**
 * The replicas of one gateway (Redis mode): each writes a heartbeat every second — its score in
 * the sorted set `croupier:{control}:replicas` and its load state in `…:replica:<id>` (expiring) —
 * so every replica knows which others are alive and what they have loaded.
 *
 * Phase one of a two-phase deploy lives here too (`prepare`): the deploying replica publishes
 * "prepare model@version" and waits until every live replica has loaded and warmed it and said so
 * in `…:prepare:<id>`. A replica that cannot load it fails the deploy with its name in the error;
 * a replica whose heartbeat stops is not waited for; nothing waits longer than PREPARE_TIMEOUT_MS.
 */
import { randomBytes } from 'node:crypto';
import type { ReplicaLoad } from '../admin-state.js';
import type { Logger } from '../../log.js';
import type { Peers } from '../../registry/lifecycle.js';
import type { Registry } from '../../registry/registry.js';
import type { ModelVersion } from '../../registry/repository.js';
import { controlKey, type RedisClient } from './connection.js';
import { unavailable } from './lock.js';

export const HEARTBEAT_MS = 1_000;
/** A replica whose last heartbeat is older than this is gone: not shown, not waited for. */
export const REPLICA_STALE_MS = 3_000;
/** Longest wait for every replica to load and warm a version. */
export const PREPARE_TIMEOUT_MS = 10_000;
const POLL_MS = 25;

export interface PrepareRequest {
  readonly t: 'prepare';
  readonly id: string;
  readonly from: string;
  readonly model: string;
  readonly version: string;
  readonly sha256: string;
}

export class ReplicaSet implements Peers {
  readonly self: string;
  private readonly client: RedisClient;
  private readonly log: Logger;
  private readonly channel: string;
  private readonly zset = controlKey('replicas');
  private loadState: (() => ReplicaLoad) | undefined;
  private others: ReplicaLoad[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(client: RedisClient, self: string, channel: string, log: Logger) {
    this.client = client;
    this.self = self;
    this.channel = channel;
    this.log = log;
  }

  private recordKey(replica: string): string {
    return controlKey(`replica:${replica}`);
  }

  /** Starts the heartbeat (the first one before this resolves). */
  async start(registry: Registry, engine: { readonly workers: number; isLoaded(key: string): boolean }): Promise<void> {
    this.loadState = () => {
      const models: Record<string, { live: string; loaded: Record<string, number> }> = {};
      for (const m of registry.models.values()) {
        const loaded: Record<string, number> = {};
        for (const v of m.versions.values()) loaded[v.version] = engine.isLoaded(v.key) ? engine.workers : 0;
        models[m.name] = { live: m.live.version, loaded };
      }
      return { replica: this.self, workers: engine.workers, models };
    };
    await this.beat();
    this.timer = setInterval(() => void this.beat().catch(() => undefined), HEARTBEAT_MS);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    const now = Date.now();
    await Promise.all([
      this.client.zadd(this.zset, now, this.self),
      this.client.set(this.recordKey(this.self), JSON.stringify(this.loadState!()), 'PX', REPLICA_STALE_MS),
      this.client.zremrangebyscore(this.zset, '-inf', now - 60_000),
    ]);
    const alive = (await this.alive()).filter((r) => r !== this.self);
    const texts = alive.length ? await this.client.mget(...alive.map((r) => this.recordKey(r))) : [];
    this.others = texts.flatMap((t) => (t ? [JSON.parse(t) as ReplicaLoad] : []));
  }

  /** Replicas with a recent heartbeat (this one included once it has beaten). */
  async alive(): Promise<string[]> {
    return this.client.zrangebyscore(this.zset, Date.now() - REPLICA_STALE_MS, '+inf');
  }

  /** Every live replica's load state: this one now, the others as of their last heartbeat. */
  replicas(): ReplicaLoad[] {
    return this.loadState ? [this.loadState(), ...this.others] : [];
  }

  /** Phase one: every other live replica loads and warms `version`, or this rejects naming one that cannot. */
  async prepare(version: ModelVersion): Promise<void> {
    let waiting: string[];
    const id = randomBytes(8).toString('hex');
    const acks = controlKey(`prepare:${id}`);
    try {
      waiting = (await this.alive()).filter((r) => r !== this.self);
      if (waiting.length === 0) return;
      const request: PrepareRequest = {
        t: 'prepare',
        id,
        from: this.self,
        model: version.model,
        version: version.version,
        sha256: version.sha256,
      };
      await this.client.publish(this.channel, JSON.stringify(request));
    } catch (e) {
      throw unavailable(e, 'ask the other replicas to load the version');
    }
    const deadline = Date.now() + PREPARE_TIMEOUT_MS;
    let nextAliveCheck = Date.now() + 500;
    for (;;) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      let answers: Record<string, string>;
      try {
        answers = await this.client.hgetall(acks);
        if (Date.now() >= nextAliveCheck) {
          nextAliveCheck = Date.now() + 500;
          const alive = new Set(await this.alive());
          const gone = waiting.filter((r) => !alive.has(r) && !(r in answers));
          if (gone.length)
            this.log.warn(
              { replicas: gone, model: version.model, version: version.version },
              'replicas stopped beating during a deploy; not waiting for them',
            );
          waiting = waiting.filter((r) => alive.has(r) || r in answers);
        }
      } catch (e) {
        throw unavailable(e, "collect the other replicas' answers");
      }
      const failed = waiting.flatMap((r) => {
        const answer = answers[r] ? (JSON.parse(answers[r]) as { ok: boolean; error?: string }) : undefined;
        return answer && !answer.ok ? [`replica ${r} cannot load it: ${answer.error ?? 'unknown error'}`] : [];
      });
      if (failed.length) throw new Error(failed.join('; '));
      const missing = waiting.filter((r) => !(r in answers));
      if (missing.length === 0) return;
      if (Date.now() >= deadline)
        throw new Error(
          `replica ${missing.join(', ')} did not confirm it loaded the version within ${PREPARE_TIMEOUT_MS / 1000} s`,
        );
    }
  }

  /** Answers another replica's prepare request with this replica's outcome. */
  async answer(request: PrepareRequest, outcome: { ok: true } | { ok: false; error: string }): Promise<void> {
    const acks = controlKey(`prepare:${request.id}`);
    await this.client.hset(acks, this.self, JSON.stringify(outcome));
    await this.client.expire(acks, 60);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // Leaving at once, so a deploy started now does not wait for this replica.
    await Promise.all([this.client.zrem(this.zset, this.self), this.client.del(this.recordKey(this.self))]).catch(
      () => undefined,
    );
  }
}
