/**
 * How a replica follows the admin state it shares with the others (Redis mode), whatever carries
 * it: pointer and route documents arrive (published or re-read) and are applied here in arrival
 * order, older news than what was applied is ignored, and what applies is kept in the local files
 * a replica seeds an empty store with. The store adapter (src/state/redis/control.ts) only moves the
 * documents; what they mean to this replica is decided here.
 */
import { isCroupierError } from '../errors.js';
import type { Logger } from '../log.js';
import type { LivePointer, ModelLifecycle } from '../registry/lifecycle.js';
import type { Registry } from '../registry/registry.js';
import { parseRouteSpec, type RouteSpec } from '../routing/route-spec.js';
import type { Router } from '../routing/router.js';
import type {
  PrepareOutcome,
  RouteSaver,
  SharedFollowing,
  SharedPointer,
  SharedRoutes,
  SharedWriter,
} from '../state/admin-state.js';
import { canonicalJson } from '../state/audit-chain.js';

/** What the follower changes here. */
export interface FollowerBinding {
  readonly registry: Registry;
  readonly lifecycle: ModelLifecycle;
  readonly router: Router;
  /** The sha256 of the routes file this replica started from (null without one). */
  readonly routesFileHash: string | null;
}

/** This replica's own copy of the shared state (embedded: live.json, routes-state.json), kept best effort. */
export interface LocalCopy {
  readonly pointers: { save(registry: Registry, override?: LivePointer): void };
  readonly routes: RouteSaver;
}

export class SharedFollower implements SharedFollowing {
  private readonly bound: FollowerBinding;
  private readonly local: LocalCopy;
  private readonly log: Logger;
  /** The newest token applied here, per model and for the routes: older news is ignored. */
  private readonly applied = new Map<string, number>();
  /** Applications in arrival order, one at a time (a load may take a while). */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly reported = new Set<string>();

  constructor(bound: FollowerBinding, local: LocalCopy, log: Logger) {
    this.bound = bound;
    this.local = local;
    this.log = log;
  }

  /** What this replica would seed an empty store with (token 0: any change since wins). */
  seeds(): { pointers: SharedPointer[]; routes: SharedRoutes } {
    const { registry, router, routesFileHash } = this.bound;
    return {
      pointers: [...registry.models.values()].map((m) => ({
        model: m.name,
        live: m.live.version,
        sha256: m.live.sha256,
        history: [...m.history],
        token: 0,
      })),
      routes: {
        fileHash: routesFileHash,
        routes: Object.fromEntries([...router.routes].map(([n, r]) => [n, r.spec])),
        token: 0,
      },
    };
  }

  /** The models whose pointers this replica follows. */
  models(): string[] {
    return [...this.bound.registry.models.keys()];
  }

  /** The shared routes for this replica's routes file (`intent`: the change's audit intent id). */
  routesDoc(routes: ReadonlyMap<string, RouteSpec>, token: number, intent?: string): SharedRoutes {
    return { fileHash: this.bound.routesFileHash, routes: Object.fromEntries(routes), token, intent };
  }

  /** A pointer or the routes this replica wrote itself: applied already, kept locally. */
  wrotePointer(pointer: LivePointer, token: number): void {
    this.applied.set(`model:${pointer.model}`, token);
    this.saveLocally(() => this.local.pointers.save(this.bound.registry, pointer));
  }

  wroteRoutes(routes: ReadonlyMap<string, RouteSpec>, token: number): void {
    this.applied.set('routes', token);
    this.saveLocally(() => this.local.routes.save(routes));
  }

  pointer(pointer: SharedPointer): Promise<void> {
    return this.enqueue(() => this.follow(pointer));
  }

  /**
   * The shared routes. At start, a routes file that differs from the one they came from means the
   * operator changed it on purpose (a new ConfigMap): it replaces them, as in embedded mode.
   */
  routes(doc: SharedRoutes, atStart: boolean, writer: SharedWriter): Promise<void> {
    if (atStart && doc.fileHash !== this.bound.routesFileHash) return this.applyRoutesFile(doc, writer);
    return this.enqueue(() => this.applyRoutes(doc));
  }

  /** Another replica deploys `model`/`version`: load it here and say whether this copy matches. */
  async prepare(model: string, version: string, sha256: string): Promise<PrepareOutcome> {
    let outcome: PrepareOutcome;
    try {
      const loaded = await this.bound.lifecycle.prepareHere(model, version);
      outcome =
        loaded.sha256 === sha256
          ? { ok: true }
          : { ok: false, error: `its copy has sha256 ${loaded.sha256}, not ${sha256}` };
    } catch (e) {
      const missing = isCroupierError(e) && (e.code === 'version_not_found' || e.code === 'model_not_found');
      outcome = {
        ok: false,
        error: (e as Error).message + (missing ? ' (is CROUPIER_MODELS_DIR a volume every replica shares?)' : ''),
      };
    }
    return outcome;
  }

  /** Resolves once every application queued so far is done. */
  drain(): Promise<unknown> {
    return this.queue;
  }

  private enqueue(apply: () => Promise<void>): Promise<void> {
    const done = this.queue
      .then(apply)
      .catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'cannot apply a shared-state change'));
    this.queue = done;
    return done;
  }

  private async follow(pointer: SharedPointer): Promise<void> {
    const { lifecycle, registry } = this.bound;
    const key = `model:${pointer.model}`;
    if (!registry.model(pointer.model) || pointer.token < (this.applied.get(key) ?? 0)) return;
    try {
      if (await lifecycle.follow(pointer)) {
        this.log.info(
          { model: pointer.model, live: pointer.live, token: pointer.token },
          'live version changed by another replica',
        );
        this.saveLocally(() => this.local.pointers.save(registry));
      }
      this.applied.set(key, pointer.token);
      this.reported.delete(key);
    } catch (e) {
      // Reported once per pointer, tried again on every re-read (the files may appear on a shared volume).
      const what = `${key}@${pointer.live}`;
      if (!this.reported.has(what))
        this.log.error(
          { model: pointer.model, version: pointer.live, err: (e as Error).message },
          'cannot serve the shared live version; keeping the current one',
        );
      this.reported.add(what);
    }
  }

  private async applyRoutes(doc: SharedRoutes): Promise<void> {
    const { registry, router } = this.bound;
    if (doc.token < (this.applied.get('routes') ?? 0)) return;
    const specs = new Map<string, RouteSpec>();
    for (const [name, raw] of Object.entries(doc.routes)) {
      try {
        specs.set(
          name,
          parseRouteSpec(name, raw, (m, v) => registry.lookup(m, v)),
        );
      } catch (e) {
        const what = `route:${name}:${canonicalJson(raw)}`;
        if (!this.reported.has(what))
          this.log.error(
            { route: name, err: (e as Error).message },
            'cannot apply the shared route here; keeping the current one',
          );
        this.reported.add(what);
        const current = router.get(name)?.spec;
        if (current) specs.set(name, current);
      }
    }
    this.applied.set('routes', doc.token);
    if (this.setRoutes(specs)) {
      this.log.info({ token: doc.token }, 'routes changed by another replica');
      this.saveLocally(() => this.local.routes.save(specs));
    }
  }

  /** Makes the router serve exactly `specs`; routes whose spec did not change keep their state. */
  private setRoutes(specs: ReadonlyMap<string, RouteSpec>): boolean {
    const { router } = this.bound;
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

  private async applyRoutesFile(doc: SharedRoutes, writer: SharedWriter): Promise<void> {
    const { router, routesFileHash } = this.bound;
    const specs = new Map([...router.routes].map(([n, r]) => [n, r.spec]));
    await writer.lock.run(async () => {
      await writer.audit.appendWith(
        {
          actor: null,
          action: 'routes.apply-file',
          target: null,
          before: { fileHash: doc.fileHash },
          after: { fileHash: routesFileHash, routes: [...specs.keys()] },
          result: 'ok',
          status: null,
          error: null,
        },
        (intent) => writer.routes.save(specs, intent),
      );
      // The catch-up before the change applied the old shared routes here: put the file's back.
      this.setRoutes(specs);
    });
    this.log.warn(
      { fileHash: routesFileHash },
      'routes file differs from the one the shared routes came from; it replaces them',
    );
  }

  /** Best effort: the local files are only what a replica seeds an empty store with. */
  private saveLocally(write: () => void): void {
    try {
      write();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'cannot keep a local copy of the shared state');
    }
  }
}
