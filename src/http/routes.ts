/**
 * The route table: every HTTP route once — method, path, and what answers it: a data-plane handler
 * (by name; http/data-plane.ts and http/feedback-endpoint.ts write them) or an admin action (checked
 * for cross-site and token, and audited, by admin/admin-routes.ts). `registerRoutes` makes the uWS
 * routes and the 405s (with Allow) from it; the catch-all 404s follow them.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT';
export type UwsHandler = (res: HttpResponse, req: HttpRequest) => void;

interface Declaration {
  readonly method: Method;
  readonly path: string;
  /** The data-plane handler that answers it. */
  readonly data?: string;
  /** The admin action it is (the audit log's `action`); admin routes need a token. */
  readonly admin?: string;
  /** What the first path parameter of an admin route names (checked, and audited as the target). */
  readonly names?: 'model' | 'route';
  /** An admin POST that only reads (a viewer token may call it, like every GET). */
  readonly reads?: true;
  /** A read only an admin token may make (a viewer's answers 403): it hands out request data. */
  readonly adminOnly?: true;
}

export const ROUTES = [
  { method: 'POST', path: '/v1/predict/:route', data: 'predict' },
  { method: 'POST', path: '/v1/feedback', data: 'feedback' },
  { method: 'GET', path: '/metrics', data: 'metrics' },
  { method: 'GET', path: '/v2', data: 'server' },
  { method: 'GET', path: '/v2/health/live', data: 'live' },
  { method: 'HEAD', path: '/v2/health/live', data: 'live' },
  { method: 'GET', path: '/v2/health/ready', data: 'ready' },
  { method: 'HEAD', path: '/v2/health/ready', data: 'ready' },
  { method: 'GET', path: '/v2/models/:name', data: 'modelMetadata' },
  { method: 'GET', path: '/v2/models/:name/versions/:version', data: 'versionMetadata' },
  { method: 'GET', path: '/v2/models/:name/ready', data: 'modelReady' },
  { method: 'HEAD', path: '/v2/models/:name/ready', data: 'modelReady' },
  { method: 'GET', path: '/v2/models/:name/versions/:version/ready', data: 'versionReady' },
  { method: 'HEAD', path: '/v2/models/:name/versions/:version/ready', data: 'versionReady' },
  { method: 'POST', path: '/v2/models/:name/infer', data: 'modelInfer' },
  { method: 'POST', path: '/v2/models/:name/versions/:version/infer', data: 'versionInfer' },
  // Triton's extensions that its tools need (http/triton.ts); load and unload are admin actions.
  { method: 'GET', path: '/v2/models/:name/config', data: 'modelConfig' },
  { method: 'GET', path: '/v2/models/:name/versions/:version/config', data: 'versionConfig' },
  { method: 'GET', path: '/v2/models/stats', data: 'allStats' },
  { method: 'GET', path: '/v2/models/:name/stats', data: 'modelStats' },
  { method: 'GET', path: '/v2/models/:name/versions/:version/stats', data: 'versionStats' },
  { method: 'POST', path: '/v2/repository/index', data: 'repositoryIndex' },
  { method: 'POST', path: '/v2/repository/models/:model/load', admin: 'repository.load', names: 'model' },
  { method: 'POST', path: '/v2/repository/models/:model/unload', admin: 'repository.unload', names: 'model' },
  { method: 'GET', path: '/admin/models', admin: 'models.list' },
  { method: 'POST', path: '/admin/models/:model/deploy', admin: 'deploy', names: 'model' },
  { method: 'POST', path: '/admin/models/:model/rollback', admin: 'rollback', names: 'model' },
  { method: 'POST', path: '/admin/models/:model/versions', admin: 'push', names: 'model' },
  // A version as a release archive (`croupier retrain` reads the live version's manifest and model).
  { method: 'GET', path: '/admin/models/:model/versions/:version/release', admin: 'release.read', names: 'model' },
  { method: 'GET', path: '/admin/routes', admin: 'routes.list' },
  { method: 'PUT', path: '/admin/routes/:route', admin: 'routes.put', names: 'route' },
  { method: 'POST', path: '/admin/routes/:route/reset', admin: 'routes.reset', names: 'route' },
  { method: 'GET', path: '/admin/routes/:route/dataset', admin: 'dataset.read', names: 'route', adminOnly: true },
  { method: 'POST', path: '/admin/routes/:route/arms/:arm/enable', admin: 'arms.enable', names: 'route' },
  // Off-policy evaluation: a POST for its body, but it only reads (viewers may call it).
  { method: 'POST', path: '/admin/routes/:route/ope', admin: 'ope.read', names: 'route', reads: true },
  { method: 'GET', path: '/admin/audit', admin: 'audit.read' },
  { method: 'GET', path: '/admin/whoami', admin: 'whoami' },
  { method: 'GET', path: '/admin/monitor', admin: 'monitor.read' },
  { method: 'GET', path: '/admin/monitor/series', admin: 'monitor.series' },
  { method: 'POST', path: '/admin/report', admin: 'report' },
] as const satisfies readonly Declaration[];

type Declared = (typeof ROUTES)[number];
export type DataHandlerName = Extract<Declared, { data: string }>['data'];
export type AdminAction = Extract<Declared, { admin: string }>['admin'];

const DECLARED: readonly Declaration[] = ROUTES;
type DataRoute = Declaration & { readonly data: DataHandlerName };
type AdminRoute = Declaration & { readonly admin: AdminAction };
export const DATA_ROUTES = DECLARED.filter((r) => r.data !== undefined) as readonly DataRoute[];
export const ADMIN_ROUTES = DECLARED.filter((r) => r.admin !== undefined) as readonly AdminRoute[];

export interface BoundRoute {
  readonly method: Method;
  readonly path: string;
  readonly handler: UwsHandler;
}

const UWS_METHOD = { GET: 'get', HEAD: 'head', POST: 'post', PUT: 'put' } as const;

/** Each path with the methods it takes, as an Allow header says them (`GET, POST`). */
export function allowedMethods(routes: readonly { method: Method; path: string }[]): Map<string, string> {
  const allow = new Map<string, string>();
  for (const r of routes) allow.set(r.path, allow.has(r.path) ? `${allow.get(r.path)}, ${r.method}` : r.method);
  return allow;
}

/**
 * Registers each handler itself with uWS (no wrapper, no lookup per request), then, on each of their
 * paths, `notAllowed(path, allow)` for any other method.
 */
export function registerRoutes(
  app: TemplatedApp,
  routes: readonly BoundRoute[],
  notAllowed: (path: string, allow: string) => UwsHandler,
): void {
  for (const r of routes) app[UWS_METHOD[r.method]](r.path, r.handler);
  for (const [path, allow] of allowedMethods(routes)) app.any(path, notAllowed(path, allow));
}
