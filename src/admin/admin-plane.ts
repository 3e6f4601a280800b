/**
 * The admin room as the server sees it: restores live pointers and route edits at start, builds the
 * admin API once the engine and router exist, and registers it on a listener.
 */
import type { TemplatedApp } from 'uWebSockets.js';
import type { Config } from '../config/config.js';
import { CroupierError } from '../errors.js';
import type { OpenExchange } from '../http/data-plane.js';
import type { Logger } from '../log.js';
import { ModelLifecycle, type SwapKind, type VersionLoader } from '../registry/lifecycle.js';
import { LiveState } from '../registry/live-state.js';
import type { Registry, ServedModel } from '../registry/registry.js';
import type { RouteSpec } from '../routing/route-spec.js';
import type { Router } from '../routing/router.js';
import { AdminActions } from './admin-actions.js';
import { AdminRoutes } from './admin-routes.js';
import { AuditLog } from './audit-log.js';
import { AdminAuth } from './auth.js';
import { RouteStore } from './route-store.js';

/** What the admin plane needs to see of the inference engine and the metrics. */
export interface AdminEngine extends VersionLoader {
  readonly workers: number;
  isLoaded(key: string): boolean;
  isInline(key: string): boolean;
}
export interface SwapMetrics {
  modelsChanged(registry: Registry): void;
  swap(model: string, kind: SwapKind): void;
}

export class AdminPlane {
  readonly audit: AuditLog;
  readonly liveState: LiveState;
  readonly routeStore: RouteStore;
  private readonly config: Config;
  private readonly registry: Registry;
  private readonly log: Logger;
  private routes: AdminRoutes | undefined;

  /** Call right after the repository scan, before versions are loaded: saved live pointers win. */
  constructor(config: Config, registry: Registry, log: Logger) {
    this.config = config;
    this.registry = registry;
    this.log = log;
    this.liveState = new LiveState(config.stateDir);
    this.liveState.restore(registry, log);
    this.audit = new AuditLog(config.stateDir);
    this.routeStore = new RouteStore(config.stateDir);
  }

  /** The routes to start with: saved admin edits, unless the routes file changed (that is audited). */
  async routesAtStart(routesFile: string | undefined, fromFile: Map<string, RouteSpec>): Promise<Map<string, RouteSpec>> {
    const start = this.routeStore.restore(routesFile, fromFile, (m, v) => this.registry.lookup(m, v));
    if (start.appliedFile) {
      this.log.warn({ reason: start.appliedFile.reason, file: routesFile }, 'routes file applied over saved route edits');
      await this.audit.append({ actor: null, action: 'routes.apply-file', target: routesFile ?? null, after: { fileHash: start.appliedFile.fileHash, routes: [...fromFile.keys()] }, result: 'ok', status: null, error: null, before: start.appliedFile.reason });
    }
    return start.specs;
  }

  attach(engine: AdminEngine, router: Router, metrics: SwapMetrics): void {
    const changed = (m: ServedModel, kind: SwapKind | undefined): void => {
      metrics.modelsChanged(this.registry);
      if (kind) metrics.swap(m.name, kind);
    };
    const lifecycle = new ModelLifecycle(this.registry, this.config.modelsDir, engine, this.liveState, changed);
    const actions = new AdminActions({ registry: this.registry, engine, lifecycle, router, routes: this.routeStore, modelsDir: this.config.modelsDir });
    this.routes = new AdminRoutes(actions, new AdminAuth(this.config.adminTokens), this.audit, this.log, this.config.bodyLimit);
    // A deploy behind `live` restarts the statistics of the arms that follow it: the auditor sees that too.
    router.observers.push({
      armRestarted: (route, arm, from, to) => {
        void this.audit.append({ actor: null, action: 'routes.arm-restart', target: `${route}/${arm}`, before: from, after: to, result: 'ok', status: null });
      },
    });
  }

  /** Admin routes on the data-plane listener (registered before its catch-all). */
  readonly register = (app: TemplatedApp, open: OpenExchange): void => {
    if (!this.routes) throw new Error('AdminPlane.attach was not called');
    this.routes.register(app, open);
  };

  /** Admin routes on their own listener (CROUPIER_ADMIN_PORT): anything else is 404. */
  registerStandalone(app: TemplatedApp, open: OpenExchange): void {
    this.register(app, open);
    app.any('/*', (res, req) => open(res, req, 'v1').fail(new CroupierError('not_found', 'this listener serves only /admin')));
  }

  close(): Promise<void> {
    return this.audit.close();
  }
}
