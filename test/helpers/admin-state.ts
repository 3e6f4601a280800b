/**
 * The admin plane's stores under test, assembled the way server.ts assembles them, for the contract
 * suites of the live-pointer and route-table ports (test/state/*.contract.test.ts). A replica is a
 * registry over a real model repository, the lifecycle (the one writer of live pointers), the
 * router, and admin actions, on one store:
 * - embedded: live.json and routes-state.json in a state directory, restored at start as the admin
 *   plane restores them (restorePointers, chooseRoutesAtStart);
 * - redis: the shared control on a real redis-server, followed at start as a replica follows it
 *   (SharedFollower), with its local copy in a directory of its own.
 * Versions load for real (an ONNX Runtime session each), so one that cannot load is refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminActions } from '../../src/admin/admin-actions.js';
import { chooseRoutesAtStart } from '../../src/admin/routes-at-start.js';
import { SharedFollower } from '../../src/admin/shared-follower.js';
import { loadSpec } from '../../src/inference/batcher.js';
import { createSession } from '../../src/inference/sessions.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { ModelLifecycle } from '../../src/registry/lifecycle.js';
import { Registry } from '../../src/registry/registry.js';
import type { ModelVersion } from '../../src/registry/repository.js';
import { scanRepository } from '../../src/registry/repository.js';
import { restorePointers } from '../../src/registry/saved-pointers.js';
import { parseRouteSpec, type RouteSpec } from '../../src/routing/route-spec.js';
import { Router } from '../../src/routing/router.js';
import { AdminLock, type AdminLocking } from '../../src/state/admin-state.js';
import { LiveState } from '../../src/state/embedded/live-state.js';
import { RouteStore } from '../../src/state/embedded/route-store.js';
import type { LivePointerStore } from '../../src/state/live-pointers.js';
import { connectRedis, type RedisLink } from '../../src/state/redis/connection.js';
import { RedisControl } from '../../src/state/redis/control.js';
import type { RouteTableStore } from '../../src/state/route-table-store.js';
import { tinyModel, writeVersion } from './onnx.js';
import { startRedis, type TestRedis } from './redis.js';

export const log = createLogger('silent');

/**
 * A repository of tiny models whose versions differ (bias = version, so each has its own sha256):
 * model `m` with versions 1..4, LIVE 1; model `n` with versions 1..2, LIVE 1.
 */
export function writeRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'croupier-models-'));
  for (const [model, versions] of [
    ['m', 4],
    ['n', 2],
  ] as const) {
    for (let v = 1; v <= versions; v++) writeVersion(dir, model, String(v), tinyModel({ bias: v }));
    writeFileSync(join(dir, model, 'LIVE'), '1\n');
  }
  return dir;
}

/** Loads a version for real (an ONNX Runtime session, created then released) and remembers it. */
class SessionLoader {
  readonly workers = 1;
  private readonly loaded = new Set<string>();

  async load(version: ModelVersion): Promise<void> {
    const { session } = await createSession(loadSpec(version), 1);
    await session.release();
    this.loaded.add(version.key);
  }

  isLoaded(key: string): boolean {
    return this.loaded.has(key);
  }

  isInline(): boolean {
    return false;
  }

  async unload(key: string): Promise<void> {
    this.loaded.delete(key);
  }
}

/** The routes file a replica starts with: its sha256 (as routesFileHash computes it) and its routes. */
export interface RoutesFile {
  readonly hash: string | null;
  readonly routes: Readonly<Record<string, unknown>>;
}

export interface AdminReplica {
  readonly registry: Registry;
  readonly lifecycle: ModelLifecycle;
  readonly router: Router;
  readonly actions: AdminActions;
  /** The ports under test. */
  readonly pointers: LivePointerStore;
  readonly routes: RouteTableStore;
  /** The admin lock admin changes run under (Redis: with the fencing token shared writes carry). */
  readonly lock: AdminLocking;
  close(): Promise<void>;
}

export interface AdminStateImplementation {
  readonly name: string;
  setUp(): Promise<void>;
  /** Empties the state: a new deployment. */
  fresh(): Promise<void>;
  /**
   * Starts a replica over `modelsDir` on the state as it is (after another closed: a restart), with
   * `file` as its routes file; `id` names it to the other replicas (Redis).
   */
  start(modelsDir: string, file?: RoutesFile, id?: string): Promise<AdminReplica>;
  tearDown(): Promise<void>;
}

const specsOf = (registry: Registry, routes: Readonly<Record<string, unknown>>): Map<string, RouteSpec> =>
  new Map(
    Object.entries(routes).map(([name, raw]) => [name, parseRouteSpec(name, raw, (m, v) => registry.lookup(m, v))]),
  );

function replica(
  registry: Registry,
  router: Router,
  modelsDir: string,
  loader: SessionLoader,
  pointers: LivePointerStore,
  routes: RouteTableStore,
  lock: AdminLocking,
  peers: RedisControl['peers'] | undefined,
  close: () => Promise<void>,
): AdminReplica {
  const lifecycle = new ModelLifecycle(registry, modelsDir, loader, pointers, () => undefined, peers);
  const actions = new AdminActions({ registry, engine: loader, lifecycle, router, routes, modelsDir });
  return { registry, lifecycle, router, actions, pointers, routes, lock, close };
}

export const embedded = (): AdminStateImplementation => {
  let dir = '';
  return {
    name: 'embedded',
    setUp: async () => undefined,
    fresh: async () => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = mkdtempSync(join(tmpdir(), 'croupier-state-'));
    },
    start: async (modelsDir, file) => {
      const registry = new Registry(scanRepository(modelsDir));
      const loader = new SessionLoader();
      const pointers = new LiveState(dir);
      restorePointers(registry, (await pointers.read([...registry.models.keys()])).pointers, log);
      const routes = new RouteStore(dir);
      const fileHash = file?.hash ?? null;
      const start = chooseRoutesAtStart(await routes.read(), fileHash, specsOf(registry, file?.routes ?? {}), (m, v) =>
        registry.lookup(m, v),
      );
      if (start.fromFile) routes.saveFromFile(fileHash, start.specs);
      await Promise.all(registry.allVersions().map((v) => loader.load(v)));
      const router = new Router(registry, start.specs);
      return replica(registry, router, modelsDir, loader, pointers, routes, new AdminLock(), undefined, async () => {
        router.stop();
      });
    },
    tearDown: async () => rmSync(dir, { recursive: true, force: true }),
  };
};

export const redis = (): AdminStateImplementation => {
  let server: TestRedis | undefined;
  const open: { link: RedisLink; control: RedisControl; local: string }[] = [];
  return {
    name: 'redis',
    setUp: async () => {
      server = await startRedis();
    },
    fresh: async () => {
      const config = { url: server!.url, sentinels: undefined, clusterNodes: undefined, name: undefined };
      const link = await connectRedis(config, log, new Metrics());
      await link.client.flushall();
      await link.close();
    },
    start: async (modelsDir, file, id = 'replica-a') => {
      const registry = new Registry(scanRepository(modelsDir));
      const loader = new SessionLoader();
      await Promise.all(registry.allVersions().map((v) => loader.load(v)));
      const fileHash = file?.hash ?? null;
      const router = new Router(registry, specsOf(registry, file?.routes ?? {}));
      const config = { url: server!.url, sentinels: undefined, clusterNodes: undefined, name: undefined };
      const link = await connectRedis(config, log, new Metrics());
      const control = new RedisControl(link, log, id);
      // Its own copy of the shared state, as a replica keeps one in its state directory.
      const local = mkdtempSync(join(tmpdir(), 'croupier-state-'));
      const opened = { link, control, local };
      open.push(opened);
      const r = replica(
        registry,
        router,
        modelsDir,
        loader,
        control.pointers,
        control.routes,
        control.lock,
        control.peers,
        async () => {
          open.splice(open.indexOf(opened), 1);
          router.stop();
          await control.close();
          await link.close();
          rmSync(local, { recursive: true, force: true });
        },
      );
      const follower = new SharedFollower(
        { registry, lifecycle: r.lifecycle, router, routesFileHash: fileHash },
        { pointers: new LiveState(local), routes: new RouteStore(local) },
        log,
      );
      await control.start({ registry, engine: loader, follower });
      return r;
    },
    tearDown: async () => {
      for (const o of [...open]) {
        await o.control.close();
        await o.link.close();
        rmSync(o.local, { recursive: true, force: true });
      }
      await server?.stop();
    },
  };
};
