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
import { canonicalJson } from '../admin/audit-log.js';
import type { ReplicaLoad } from '../admin/admin-actions.js';
import type { ControlBinding, SharedControl } from '../admin/admin-plane.js';
import type { RouteStore } from '../admin/route-store.js';
import { CroupierError, isCroupierError } from '../errors.js';
import type { Logger } from '../log.js';
import { crashAt, type LivePointer } from '../registry/lifecycle.js';
import type { LiveState } from '../registry/live-state.js';
import type { Registry } from '../registry/registry.js';
import { parseRouteSpec, type RouteSpec } from '../routing/route-spec.js';
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

/** `intent`: the id of the audit intent of the change that wrote it (none when seeded). */
interface SharedPointer extends LivePointer { readonly token: number; readonly intent?: string }
interface SharedRoutes { readonly fileHash: string | null; readonly routes: Record<string, unknown>; readonly token: number; readonly intent?: string }
type ControlEvent = PrepareRequest | { t: 'live'; from: string; pointer: SharedPointer } | { t: 'routes'; from: string; doc: SharedRoutes };

export class RedisControl implements SharedControl {
  readonly lock: RedisAdminLock;
  readonly audit: RedisAuditLog;
  readonly peers: ReplicaSet;
  private readonly intents: ChangeIntents;
  private readonly link: RedisLink;
  private readonly log: Logger;
  private readonly local: { liveState: LiveState; routeStore: RouteStore };
  private readonly channel = controlKey('events');
  private readonly routesKey = controlKey('routes');
  private bound: ControlBinding | undefined;
  /** The newest token applied here, per model and for the routes: older news is ignored. */
  private readonly applied = new Map<string, number>();
  /** Applications in arrival order, one at a time (a load may take a while). */
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly reported = new Set<string>();

  constructor(link: RedisLink, local: { liveState: LiveState; routeStore: RouteStore }, log: Logger) {
    this.link = link;
    this.log = log;
    this.local = local;
    const self = `${hostname()}-${process.pid}`;
    this.lock = new RedisAdminLock(link.client, self);
    this.audit = new RedisAuditLog(link.client);
    this.peers = new ReplicaSet(link.client, self, this.channel, log);
    this.intents = new ChangeIntents(link.client, this.audit, log);
    // The lock holder catches up with the shared state, and settles what a dead holder left half-done,
    // before it changes anything.
    this.lock.beforeWork = () => this.resync(false, true);
  }

  replicas(): readonly ReplicaLoad[] {
    return this.peers.replicas();
  }

  /** A day-long marker per event; if Redis cannot say, report it (a duplicate beats a gap). */
  async firstToReport(event: string): Promise<boolean> {
    const key = controlKey(`reported:${createHash('sha256').update(event).digest('hex').slice(0, 32)}`);
    return this.link.client.set(key, this.peers.self, 'EX', 86_400, 'NX').then((ok) => ok === 'OK', () => true);
  }

  /** `record`: the change's audit intent (RedisAuditLog.appendWith), saved first and named by the pointer. */
  readonly pointers = {
    save: async (registry: Registry, pointer: LivePointer, record?: unknown): Promise<void> => {
      const token = this.lock.fence();
      const intent = record as ChangeIntent | undefined;
      const shared: SharedPointer = { model: pointer.model, live: pointer.live, sha256: pointer.sha256, history: [...pointer.history], token, intent: intent?.id };
      await this.writeAhead(intent, `model:${pointer.model}`, token, () => this.fencedWrite(modelKey(pointer.model, 'live'), modelKey(pointer.model, 'fence'), token, JSON.stringify(shared), { t: 'live', from: this.peers.self, pointer: shared }, `model ${pointer.model}'s live version`));
      this.applied.set(`model:${pointer.model}`, token);
      this.saveLocally(() => this.local.liveState.save(registry, pointer));
    },
  };

  readonly routes = {
    save: async (routes: ReadonlyMap<string, RouteSpec>, record?: unknown): Promise<void> => {
      const token = this.lock.fence();
      const intent = record as ChangeIntent | undefined;
      const doc: SharedRoutes = { fileHash: this.bound?.routesFileHash ?? null, routes: Object.fromEntries(routes), token, intent: intent?.id };
      await this.writeAhead(intent, 'routes', token, () => this.fencedWrite(this.routesKey, controlKey('routes-fence'), token, JSON.stringify(doc), { t: 'routes', from: this.peers.self, doc }, 'the routes'));
      this.applied.set('routes', token);
      this.saveLocally(() => this.local.routeStore.save(routes));
    },
  };

  /**
   * The intent, then the change. A change refused by its fence drops its intent (the refusal is
   * audited on its own); one whose fate is unknown (Redis failed) leaves it to be settled.
   */
  private async writeAhead(intent: ChangeIntent | undefined, target: ChangeTarget, token: number, write: () => Promise<void>): Promise<void> {
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

  private async fencedWrite(key: string, fenceKey: string, token: number, value: string, event: ControlEvent, what: string): Promise<void> {
    let seen: unknown;
    try {
      seen = await this.link.client.eval(FENCED_WRITE, 2, key, fenceKey, token, value, this.channel, JSON.stringify(event));
    } catch (e) {
      throw unavailable(e, `save ${what}`);
    }
    if (seen !== -1) {
      throw new CroupierError('conflict', `this change's admin lock expired and another replica changed ${what} since (fencing token ${token} < ${String(seen)}); nothing changed here, try again`);
    }
  }

  /** Best effort: the local files are only what a replica seeds an empty Redis with. */
  private saveLocally(write: () => void): void {
    try {
      write();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'cannot keep a local copy of the shared state');
    }
  }

  async start(bound: ControlBinding): Promise<void> {
    this.bound = bound;
    const { client } = this.link;
    const sub = this.link.subscriber();
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.onEvent(message);
    });
    try {
      await sub.subscribe(this.channel);
      // Seed what Redis does not have yet from this replica's state; what it has wins.
      await Promise.all([...bound.registry.models.values()].map((m) => {
        const seed: SharedPointer = { model: m.name, live: m.live.version, sha256: m.live.sha256, history: [...m.history], token: 0 };
        return client.set(modelKey(m.name, 'live'), JSON.stringify(seed), 'NX');
      }));
      const seedRoutes: SharedRoutes = { fileHash: bound.routesFileHash, routes: Object.fromEntries([...bound.router.routes].map(([n, r]) => [n, r.spec])), token: 0 };
      await client.set(this.routesKey, JSON.stringify(seedRoutes), 'NX');
      await this.resync(true);
      await this.peers.start(bound.registry, bound.engine);
    } catch (e) {
      throw unavailable(e, 'read the shared state at start');
    }
    this.timer = setInterval(() => {
      if (this.link.isUp()) void this.resync().catch((e: unknown) => this.log.debug({ err: (e as Error).message }, 'shared state re-read failed'));
    }, RESYNC_MS);
    this.timer.unref();
    this.link.onChange((up) => {
      if (up && this.bound) void this.resync().catch(() => undefined);
    });
  }

  /**
   * Reads every live pointer and the routes, applies what is newer than what this replica has, then
   * settles audit intents left behind (`holdingLock`: at once, see change-intents.ts).
   */
  async resync(atStart = false, holdingLock = false): Promise<void> {
    const bound = this.bound!;
    const { client } = this.link;
    const names = [...bound.registry.models.keys()];
    const [pointers, routes] = await Promise.all([
      Promise.all(names.map((n) => client.get(modelKey(n, 'live')))),
      client.get(this.routesKey),
    ]);
    const work: Promise<unknown>[] = pointers.map((text) => (text ? this.enqueue(() => this.follow(JSON.parse(text) as SharedPointer)) : Promise.resolve()));
    if (routes) {
      const doc = JSON.parse(routes) as SharedRoutes;
      if (atStart && doc.fileHash !== bound.routesFileHash) work.push(this.applyRoutesFile(doc));
      else work.push(this.enqueue(() => this.applyRoutes(doc)));
    }
    await Promise.all(work);
    await this.intents.settle(holdingLock);
  }

  private enqueue(apply: () => Promise<void>): Promise<void> {
    const done = this.queue.then(apply).catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'cannot apply a shared-state change'));
    this.queue = done;
    return done;
  }

  private onEvent(message: string): void {
    let event: ControlEvent;
    try {
      event = JSON.parse(message) as ControlEvent;
    } catch {
      return;
    }
    if (!this.bound || event.from === this.peers.self) return;
    if (event.t === 'live') void this.enqueue(() => this.follow(event.pointer));
    else if (event.t === 'routes') void this.enqueue(() => this.applyRoutes(event.doc));
    // Loads run beside pointer changes: a deploy waits for them.
    else if (event.t === 'prepare') void this.prepareHere(event);
  }

  private async prepareHere(request: PrepareRequest): Promise<void> {
    const { lifecycle } = this.bound!;
    let outcome: { ok: true } | { ok: false; error: string };
    try {
      const version = await lifecycle.prepareHere(request.model, request.version);
      outcome = version.sha256 === request.sha256
        ? { ok: true }
        : { ok: false, error: `its copy has sha256 ${version.sha256}, not ${request.sha256}` };
    } catch (e) {
      const missing = isCroupierError(e) && (e.code === 'version_not_found' || e.code === 'model_not_found');
      outcome = { ok: false, error: (e as Error).message + (missing ? ' (is CROUPIER_MODELS_DIR a volume every replica shares?)' : '') };
    }
    if (!outcome.ok) this.log.error({ model: request.model, version: request.version, from: request.from, err: outcome.error }, 'cannot load a version another replica is deploying');
    await this.peers.answer(request, outcome).catch((e: unknown) => this.log.warn({ err: (e as Error).message }, 'cannot answer a prepare request'));
  }

  private async follow(pointer: SharedPointer): Promise<void> {
    const { lifecycle, registry } = this.bound!;
    const key = `model:${pointer.model}`;
    if (!registry.model(pointer.model) || pointer.token < (this.applied.get(key) ?? 0)) return;
    try {
      if (await lifecycle.follow(pointer)) {
        this.log.info({ model: pointer.model, live: pointer.live, token: pointer.token }, 'live version changed by another replica');
        this.saveLocally(() => this.local.liveState.save(registry));
      }
      this.applied.set(key, pointer.token);
      this.reported.delete(key);
    } catch (e) {
      // Reported once per pointer, tried again on every re-read (the files may appear on a shared volume).
      const what = `${key}@${pointer.live}`;
      if (!this.reported.has(what)) this.log.error({ model: pointer.model, version: pointer.live, err: (e as Error).message }, 'cannot serve the shared live version; keeping the current one');
      this.reported.add(what);
    }
  }

  private async applyRoutes(doc: SharedRoutes): Promise<void> {
    const { registry } = this.bound!;
    if (doc.token < (this.applied.get('routes') ?? 0)) return;
    const specs = new Map<string, RouteSpec>();
    for (const [name, raw] of Object.entries(doc.routes)) {
      try {
        specs.set(name, parseRouteSpec(name, raw, (m, v) => registry.lookup(m, v)));
      } catch (e) {
        const what = `route:${name}:${canonicalJson(raw)}`;
        if (!this.reported.has(what)) this.log.error({ route: name, err: (e as Error).message }, 'cannot apply the shared route here; keeping the current one');
        this.reported.add(what);
        const current = this.bound!.router.get(name)?.spec;
        if (current) specs.set(name, current);
      }
    }
    this.applied.set('routes', doc.token);
    if (this.setRoutes(specs)) {
      this.log.info({ token: doc.token }, 'routes changed by another replica');
      this.saveLocally(() => this.local.routeStore.save(specs));
    }
  }

  /** Makes the router serve exactly `specs`; routes whose spec did not change keep their state. */
  private setRoutes(specs: ReadonlyMap<string, RouteSpec>): boolean {
    const { router } = this.bound!;
    let changed = false;
    for (const [name, spec] of specs) {
      const current = router.get(name)?.spec;
      if (!current || canonicalJson(current) !== canonicalJson(spec)) {
        router.set(name, spec);
        changed = true;
      }
    }
    for (const name of [...router.routes.keys()]) {
      if (!specs.has(name)) changed = router.delete(name) || changed;
    }
    return changed;
  }

  /**
   * This replica's routes file differs from the one the shared routes came from: the operator
   * changed it on purpose (a new ConfigMap), so it replaces the shared routes, as in embedded mode.
   */
  private async applyRoutesFile(doc: SharedRoutes): Promise<void> {
    const { router, routesFileHash } = this.bound!;
    const specs = new Map([...router.routes].map(([n, r]) => [n, r.spec]));
    await this.lock.run(async () => {
      await this.audit.appendWith({
        actor: null, action: 'routes.apply-file', target: null, before: { fileHash: doc.fileHash }, after: { fileHash: routesFileHash, routes: [...specs.keys()] },
        result: 'ok', status: null, error: null,
      }, (intent) => this.routes.save(specs, intent));
      // The catch-up before the change applied the old shared routes here: put the file's back.
      this.setRoutes(specs);
    });
    this.log.warn({ fileHash: routesFileHash }, 'routes file differs from the one the shared routes came from; it replaces them');
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.peers.close();
    await this.link.subscriber().unsubscribe(this.channel).catch(() => undefined);
    await this.queue;
  }
}
