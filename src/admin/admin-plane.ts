/**
 * The admin room as the server sees it: restores live pointers and route edits at start, builds the
 * admin API once the engine and router exist, and registers it on a listener. It knows its state
 * only through ports (src/state/admin-state.ts): server.ts builds the stores. In Redis mode, from
 * `attach` on, the shared ones (lock, audit trail, live pointers, routes) replace the local pieces.
 */
import type client from 'prom-client';
import type { TemplatedApp } from 'uWebSockets.js';
import type { Config } from '../config/config.js';
import { CroupierError } from '../errors.js';
import type { OpenExchange } from '../http/data-plane.js';
import type { Logger } from '../log.js';
import { ModelLifecycle, type LoadFailure, type SwapKind, type VersionLoader } from '../registry/lifecycle.js';
import type { Registry, ServedModel } from '../registry/registry.js';
import { restorePointers } from '../registry/saved-pointers.js';
import type { RouteSpec } from '../routing/route-spec.js';
import type { Router } from '../routing/router.js';
import type { LocalAdminState, SharedControl } from '../state/admin-state.js';
import type { AuditEntry, AuditTrail } from '../state/audit-chain.js';
import { AdminActions, type GuardControls, type Outcome, type Seal } from './admin-actions.js';
import {
  AdminRoutes,
  type AdminMetrics,
  type AdminNotices,
  type DatasetSource,
  type OpeSource,
  type MonitorReads,
} from './admin-routes.js';
import { AdminAuth } from './auth.js';
import { RefusalThrottle } from './refusals.js';
import { chooseRoutesAtStart, routesFileHash } from './routes-at-start.js';
import { SharedFollower } from './shared-follower.js';

/** What the admin plane needs to see of the inference engine and the metrics. */
export interface AdminEngine extends VersionLoader {
  readonly workers: number;
  isLoaded(key: string): boolean;
  isInline(key: string): boolean;
  /** Takes a version out of every worker once its batches are done (Triton's unload). */
  unload(key: string): Promise<void>;
}
export interface SwapMetrics extends AdminMetrics {
  /** Where the admin plane registers its own series (croupier_admin_refused_total). */
  readonly registry: client.Registry;
  modelsChanged(registry: Registry): void;
  swap(model: string, kind: SwapKind): void;
  loadFailed(model: string, reason: LoadFailure): void;
}

const isEntry = (v: unknown): v is AuditEntry =>
  typeof v === 'object'
  && v !== null
  && typeof (v as AuditEntry).seq === 'number'
  && typeof (v as AuditEntry).hash === 'string'
  && typeof (v as AuditEntry).prev === 'string';

export class AdminPlane {
  audit: AuditTrail;
  private readonly local: LocalAdminState;
  private readonly config: Config;
  private readonly registry: Registry;
  private readonly log: Logger;
  /** The sha256 of the routes file this process started from (null without one). */
  private routesFileHash: string | null = null;
  private routes: AdminRoutes | undefined;
  private built: AdminActions | undefined;
  private attached:
    | {
        engine: AdminEngine;
        router: Router;
        metrics: SwapMetrics;
        monitor: MonitorReads | undefined;
        notices: AdminNotices | undefined;
        dataset: DatasetSource | undefined;
        guards: (() => GuardControls | undefined) | undefined;
        ope: OpeSource | undefined;
      }
    | undefined;
  /** Redis mode: the admin state every replica shares. */
  private readonly shared: SharedControl | undefined;
  /** Whether this replica has started following the shared state (it then closes it too). */
  private following = false;
  private refusals: RefusalThrottle | undefined;

  private constructor(
    config: Config,
    registry: Registry,
    log: Logger,
    local: LocalAdminState,
    shared: SharedControl | undefined,
  ) {
    this.config = config;
    this.registry = registry;
    this.log = log;
    this.local = local;
    this.shared = shared;
    this.audit = local.audit;
  }

  /**
   * Opens the admin plane on this process's stores (and, in Redis mode, the shared ones). Call right
   * after the repository scan, before versions are loaded: saved live pointers win.
   */
  static async open(
    config: Config,
    registry: Registry,
    log: Logger,
    local: LocalAdminState,
    shared?: SharedControl,
  ): Promise<AdminPlane> {
    const plane = new AdminPlane(config, registry, log, local, shared);
    try {
      await plane.restore();
    } catch (e) {
      await local.audit.close();
      throw e;
    }
    return plane;
  }

  private async restore(): Promise<void> {
    const { registry, log, local } = this;
    let record: unknown;
    try {
      const saved = await local.pointers.read([...registry.models.keys()]);
      restorePointers(registry, saved.pointers, log);
      record = saved.record;
    } catch (e) {
      log.error({ err: (e as Error).message }, 'live state unreadable; using the repository LIVE files');
    }
    // The last live change and the last route edit were each saved with its audit entry; a crash may
    // have stopped the append. Completed in chain order; a copy chained anew replaces the saved one,
    // so the next start does not add it again.
    const pending: [AuditEntry, (entry: AuditEntry) => void][] = [];
    if (isEntry(record)) pending.push([record, (entry) => local.pointers.save(registry, undefined, entry)]);
    const routesRecord = (await local.routes.read())?.record;
    if (isEntry(routesRecord)) pending.push([routesRecord, (entry) => local.routes.replaceRecord(entry)]);
    for (const [entry, replace] of pending.sort((a, b) => a[0].seq - b[0].seq)) {
      const written = local.audit.complete(entry);
      if (written)
        log.warn(
          { seq: written.seq, action: written.action, target: written.target },
          'audit entry of the last change was missing (the gateway stopped before writing it); written now',
        );
      if (written && written !== entry) replace(written);
    }
  }

  /** The routes to start with: saved admin edits, unless the routes file changed (that is audited). */
  async routesAtStart(
    routesFile: string | undefined,
    fromFile: Map<string, RouteSpec>,
  ): Promise<Map<string, RouteSpec>> {
    this.routesFileHash = routesFileHash(routesFile);
    const start = chooseRoutesAtStart(await this.local.routes.read(), this.routesFileHash, fromFile, (m, v) =>
      this.registry.lookup(m, v),
    );
    if (start.fromFile) this.local.routes.saveFromFile(this.routesFileHash, start.specs);
    if (start.appliedFile) {
      this.log.warn(
        { reason: start.appliedFile.reason, file: routesFile },
        'routes file applied over saved route edits',
      );
      await this.audit.append({
        actor: null,
        action: 'routes.apply-file',
        target: routesFile ?? null,
        after: { fileHash: start.appliedFile.fileHash, routes: [...fromFile.keys()] },
        result: 'ok',
        status: null,
        error: null,
        before: start.appliedFile.reason,
      });
    }
    return start.specs;
  }

  /**
   * Builds the admin API once the engine and router exist. Redis mode (before listening): live
   * pointers, routes, the admin lock and the audit chain become the shared ones, and this replica
   * takes up the current shared state.
   */
  async attach(
    engine: AdminEngine,
    router: Router,
    metrics: SwapMetrics,
    monitor?: MonitorReads,
    notices?: AdminNotices,
    dataset?: DatasetSource,
    /** Guardrails (built after the admin plane: hence a getter). */
    guards?: () => GuardControls | undefined,
    /** What POST /admin/routes/{route}/ope answers from (routing/ope/ope-reads.ts). */
    ope?: OpeSource,
  ): Promise<void> {
    this.attached = { engine, router, metrics, monitor, notices, dataset, guards, ope };
    // One table for the process, whichever audit trail is current (the local file, or Redis once shared).
    this.refusals = new RefusalThrottle(
      (fields) =>
        this.audit
          .append(fields)
          .catch((e: unknown) =>
            this.log.error({ err: (e as Error).message, action: fields.action }, 'audit log write failed'),
          ),
      metrics.registry,
    );
    // A deploy behind `live` restarts the statistics of the arms that follow it: the auditor sees that
    // too, once (in Redis mode every replica notices; the first to report it writes the entry).
    router.observers.push({
      armRestarted: (route, arm, from, to) => {
        const first = this.shared
          ? this.shared.firstToReport(`routes.arm-restart ${route}/${arm} ${from} ${to}`)
          : Promise.resolve(true);
        void first
          .then((yes) =>
            yes
              ? this.audit.append({
                  actor: null,
                  action: 'routes.arm-restart',
                  target: `${route}/${arm}`,
                  before: from,
                  after: to,
                  result: 'ok',
                  status: null,
                })
              : undefined,
          )
          .catch((e: unknown) => this.log.error({ err: (e as Error).message, route, arm }, 'audit log write failed'));
      },
    });
    if (!this.shared) {
      this.build();
      return;
    }
    await this.audit.close();
    this.audit = this.shared.audit;
    const lifecycle = this.build();
    const follower = new SharedFollower(
      { registry: this.registry, lifecycle, router, routesFileHash: this.routesFileHash },
      this.local,
      this.log,
    );
    this.following = true;
    await this.shared.start({ registry: this.registry, engine, follower });
  }

  private build(): ModelLifecycle {
    const { engine, router, metrics, monitor, notices, dataset, guards, ope } = this.attached!;
    const shared = this.shared;
    const changed = (m: ServedModel, kind: SwapKind | undefined): void => {
      metrics.modelsChanged(this.registry);
      if (kind) metrics.swap(m.name, kind);
    };
    const lifecycle = new ModelLifecycle(
      this.registry,
      this.config.modelsDir,
      engine,
      shared?.pointers ?? this.local.pointers,
      changed,
      shared?.peers,
      (model, reason) => metrics.loadFailed(model, reason),
    );
    const actions = new AdminActions({
      registry: this.registry,
      engine,
      lifecycle,
      router,
      routes: shared?.routes ?? this.local.routes,
      modelsDir: this.config.modelsDir,
      replicas: shared ? () => shared.replicas() : undefined,
      guards,
    });
    this.built = actions;
    this.routes = new AdminRoutes(
      actions,
      new AdminAuth(this.config.adminTokens),
      this.audit,
      this.log,
      this.config.bodyLimit,
      shared?.lock ?? this.local.lock,
      this.refusals!,
      metrics,
      monitor,
      notices,
      dataset,
      ope,
    );
    return lifecycle;
  }

  /** A change the gateway makes by itself, audited with `actor` (AdminRoutes.act): guardrails. */
  act(actor: string, action: string, target: string, work: (seal?: Seal) => Promise<Outcome>): Promise<Outcome> {
    if (!this.routes) throw new Error('AdminPlane.attach was not called');
    return this.routes.act(actor, action, target, work);
  }

  /** The admin actions (deploy, rollback, …) without HTTP, for `act`. */
  get actions(): AdminActions {
    if (!this.built) throw new Error('AdminPlane.attach was not called');
    return this.built;
  }

  /** Admin routes on the data-plane listener (registered before its catch-all). */
  readonly register = (app: TemplatedApp, open: OpenExchange): void => {
    if (!this.routes) throw new Error('AdminPlane.attach was not called');
    this.routes.register(app, open);
  };

  /** Admin routes on their own listener (CROUPIER_ADMIN_PORT): anything else is 404. */
  registerStandalone(app: TemplatedApp, open: OpenExchange): void {
    this.register(app, open);
    app.any('/*', (res, req) =>
      open(res, req, 'v1').fail(
        new CroupierError(
          'not_found',
          'this listener serves only the admin API (/admin, /v2/repository/models/{model}/load and unload)',
        ),
      ),
    );
  }

  async close(): Promise<void> {
    await this.refusals?.close();
    if (this.following) await this.shared?.close();
    await this.audit.close();
  }
}
