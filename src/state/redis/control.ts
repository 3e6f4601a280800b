/**
 * The admin plane shared by every replica (Redis mode):
 *
 *   croupier:{model:M}:live      {live, sha256, history, token, intent}   model M's live pointer
 *   croupier:{model:M}:fence     newest fencing token that wrote it
 *   croupier:{control}:routes    {fileHash, routes, token}        every route's spec
 *   croupier:{control}:intents   id -> audit intent               changes whose entry is not appended yet
 *   croupier:{control}:events    pub/sub: pointer and route changes, prepare requests
 *
 * A change is written under the admin lock's fencing token by one script that refuses a stale
 * token and publishes the change; every replica applies what it hears at once, and re-reads the
 * whole state every second anyway (a message lost across a reconnect costs at most that). A
 * replica that starts later takes up the current state before it listens, and seeds the shared
 * state from its own files only where there is none yet (SET NX). A change made through the admin
 * API names its write-ahead audit intent, and every re-read settles intents left behind
 * (change-intents.ts), so no change stays unaudited when a replica dies half-way.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { CroupierError, isCroupierError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { crashAt, type LivePointer } from '../../registry/lifecycle.js';
import type { Registry } from '../../registry/registry.js';
import type { RouteSpec } from '../../routing/route-spec.js';
import type {
  ControlBinding,
  ReplicaLoad,
  SharedControl,
  SharedFollowing,
  SharedPointer,
  SharedRoutes,
} from '../admin-state.js';
import { RedisAuditLog, type ChangeIntent } from './audit.js';
import { ChangeIntents, type ChangeTarget } from './change-intents.js';
import { controlKey, modelKey, type RedisLink } from './connection.js';
import { ReplicaSet, type PrepareRequest } from './control-replicas.js';
import { RedisAdminLock, unavailable } from './lock.js';

/** Every replica re-reads the shared state this often. */
export const RESYNC_MS = 1_000;

/** Sets `key` and publishes, unless a newer fencing token has written it: answers -1, or the newer token. */
export const FENCED_WRITE = `
local seen = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) < seen then return seen end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return -1`;

type ControlEvent =
  | PrepareRequest
  | { t: 'live'; from: string; pointer: SharedPointer }
  | { t: 'routes'; from: string; doc: SharedRoutes };

export class RedisControl implements SharedControl {
  readonly lock: RedisAdminLock;
  readonly audit: RedisAuditLog;
  readonly peers: ReplicaSet;
  private readonly intents: ChangeIntents;
  private readonly link: RedisLink;
  private readonly log: Logger;
  private readonly channel = controlKey('events');
  private readonly routesKey = controlKey('routes');
  /** Applies what this replica hears; there from `start` on. */
  private follower: SharedFollowing | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** `self`: how this replica names itself to the others (one per process; tests run two in one). */
  constructor(link: RedisLink, log: Logger, self = `${hostname()}-${process.pid}`) {
    this.link = link;
    this.log = log;
    // The lock holder catches up with the shared state, and settles what a dead holder left half-done,
    // before it changes anything.
    this.lock = new RedisAdminLock(link.client, self, () => this.resync(false, true));
    this.audit = new RedisAuditLog(link.client);
    this.peers = new ReplicaSet(link.client, self, this.channel, log);
    this.intents = new ChangeIntents(link.client, this.audit, log);
  }

  replicas(): readonly ReplicaLoad[] {
    return this.peers.replicas();
  }

  /** A day-long marker per event; if Redis cannot say, report it (a duplicate beats a gap). */
  async firstToReport(event: string): Promise<boolean> {
    const key = controlKey(`reported:${createHash('sha256').update(event).digest('hex').slice(0, 32)}`);
    return this.link.client.set(key, this.peers.self, 'EX', 86_400, 'NX').then(
      (ok) => ok === 'OK',
      () => true,
    );
  }

  /** `record`: the change's audit intent (RedisAuditLog.appendWith), saved first and named by the pointer. */
  readonly pointers = {
    save: async (_registry: Registry, pointer: LivePointer, record?: unknown): Promise<void> => {
      const token = this.lock.fence();
      const intent = record as ChangeIntent | undefined;
      const shared: SharedPointer = {
        model: pointer.model,
        live: pointer.live,
        sha256: pointer.sha256,
        history: [...pointer.history],
        token,
        intent: intent?.id,
      };
      await this.writeAhead(intent, `model:${pointer.model}`, token, () =>
        this.fencedWrite(
          modelKey(pointer.model, 'live'),
          modelKey(pointer.model, 'fence'),
          token,
          JSON.stringify(shared),
          { t: 'live', from: this.peers.self, pointer: shared },
          `model ${pointer.model}'s live version`,
        ),
      );
      this.follower?.wrotePointer(pointer, token);
    },
    /** The shared pointers of `models` (one key each). */
    read: async (models: readonly string[]): Promise<{ pointers: SharedPointer[] }> => {
      const texts = await Promise.all(models.map((n) => this.link.client.get(modelKey(n, 'live'))));
      const pointers: SharedPointer[] = [];
      for (const text of texts) if (text) pointers.push(JSON.parse(text) as SharedPointer);
      return { pointers };
    },
  };

  readonly routes = {
    save: async (routes: ReadonlyMap<string, RouteSpec>, record?: unknown): Promise<void> => {
      const token = this.lock.fence();
      const intent = record as ChangeIntent | undefined;
      const doc = this.follower!.routesDoc(routes, token, intent?.id);
      await this.writeAhead(intent, 'routes', token, () =>
        this.fencedWrite(
          this.routesKey,
          controlKey('routes-fence'),
          token,
          JSON.stringify(doc),
          { t: 'routes', from: this.peers.self, doc },
          'the routes',
        ),
      );
      this.follower!.wroteRoutes(routes, token);
    },
    read: async (): Promise<SharedRoutes | undefined> => {
      const text = await this.link.client.get(this.routesKey);
      return text ? (JSON.parse(text) as SharedRoutes) : undefined;
    },
  };

  /**
   * The intent, then the change. A change refused by its fence drops its intent (the refusal is
   * audited on its own); one whose fate is unknown (Redis failed) leaves it to be settled.
   */
  private async writeAhead(
    intent: ChangeIntent | undefined,
    target: ChangeTarget,
    token: number,
    write: () => Promise<void>,
  ): Promise<void> {
    if (intent) {
      await this.intents.save(intent, target, token);
      crashAt('intent-saved');
    }
    try {
      await write();
    } catch (e) {
      if (intent && isCroupierError(e) && e.code === 'conflict') await this.intents.drop(intent);
      throw e;
    }
  }

  private async fencedWrite(
    key: string,
    fenceKey: string,
    token: number,
    value: string,
    event: ControlEvent,
    what: string,
  ): Promise<void> {
    let seen: unknown;
    try {
      seen = await this.link.client.eval(
        FENCED_WRITE,
        2,
        key,
        fenceKey,
        token,
        value,
        this.channel,
        JSON.stringify(event),
      );
    } catch (e) {
      throw unavailable(e, `save ${what}`);
    }
    if (seen !== -1) {
      throw new CroupierError(
        'conflict',
        `this change's admin lock expired and another replica changed ${what} since (fencing token ${token} < ${String(seen)}); nothing changed here, try again`,
      );
    }
  }

  async start(bound: ControlBinding): Promise<void> {
    const { follower } = bound;
    this.follower = follower;
    const { client } = this.link;
    const sub = this.link.subscriber();
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.onEvent(message);
    });
    try {
      await sub.subscribe(this.channel);
      // Seed what Redis does not have yet from this replica's state; what it has wins.
      const seeds = follower.seeds();
      await Promise.all(seeds.pointers.map((p) => client.set(modelKey(p.model, 'live'), JSON.stringify(p), 'NX')));
      await client.set(this.routesKey, JSON.stringify(seeds.routes), 'NX');
      await this.resync(true);
      await this.peers.start(bound.registry, bound.engine);
    } catch (e) {
      throw unavailable(e, 'read the shared state at start');
    }
    this.timer = setInterval(() => {
      if (this.link.isUp())
        void this.resync().catch((e: unknown) =>
          this.log.debug({ err: (e as Error).message }, 'shared state re-read failed'),
        );
    }, RESYNC_MS);
    this.timer.unref();
    this.link.onChange((up) => {
      if (up && this.follower) void this.resync().catch(() => undefined);
    });
  }

  /**
   * Reads every live pointer and the routes, applies what is newer than what this replica has, then
   * settles audit intents left behind (`holdingLock`: at once, see change-intents.ts).
   */
  async resync(atStart = false, holdingLock = false): Promise<void> {
    const follower = this.follower!;
    const [saved, routes] = await Promise.all([this.pointers.read(follower.models()), this.routes.read()]);
    const work = saved.pointers.map((p) => follower.pointer(p));
    if (routes) work.push(follower.routes(routes, atStart, this));
    await Promise.all(work);
    await this.intents.settle(holdingLock);
  }

  private onEvent(message: string): void {
    let event: ControlEvent;
    try {
      event = JSON.parse(message) as ControlEvent;
    } catch {
      return;
    }
    const follower = this.follower;
    if (!follower || event.from === this.peers.self) return;
    if (event.t === 'live') void follower.pointer(event.pointer);
    else if (event.t === 'routes') void follower.routes(event.doc, false, this);
    // Loads run beside pointer changes: a deploy waits for them.
    else if (event.t === 'prepare') void this.prepareHere(event, follower);
  }

  private async prepareHere(request: PrepareRequest, follower: SharedFollowing): Promise<void> {
    const outcome = await follower.prepare(request.model, request.version, request.sha256);
    if (!outcome.ok)
      this.log.error(
        { model: request.model, version: request.version, from: request.from, err: outcome.error },
        'cannot load a version another replica is deploying',
      );
    await this.peers
      .answer(request, outcome)
      .catch((e: unknown) => this.log.warn({ err: (e as Error).message }, 'cannot answer a prepare request'));
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.peers.close();
    await this.link
      .subscriber()
      .unsubscribe(this.channel)
      .catch(() => undefined);
    await this.follower?.drain();
  }
}
