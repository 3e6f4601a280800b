/**
 * Triton's extensions that its tools read, on the data plane (no token, like model metadata):
 * `GET /v2/models/{m}[/versions/{v}]/config`, `GET /v2/models[/{m}[/versions/{v}]]/stats` and
 * `POST /v2/repository/index`. The shapes are protocol/triton.ts's; load and unload are admin
 * actions (admin/admin-routes.ts).
 */
import { CroupierError } from '../errors.js';
import type { Gateway } from '../scoring/gateway.js';
import { isId } from '../registry/manifest.js';
import { compareVersions, type ModelVersion } from '../registry/repository.js';
import {
  modelConfig,
  modelStatistics,
  optionalJsonObject,
  parseIndexRequest,
  type IndexEntry,
} from '../protocol/triton.js';
import type { OpenExchange } from './data-plane.js';
import type { Exchange } from './exchange.js';
import type { UwsHandler } from './routes.js';

const sortedVersions = (versions: Iterable<ModelVersion>): ModelVersion[] =>
  [...versions].sort((a, b) => compareVersions(a.version, b.version));

/**
 * Reads a body that may be empty or come without a Content-Type (as tritonclient sends it) in the
 * contract's order: 413 (declared), 415 for a type that is not JSON, 413 (counted), 400.
 */
export function readOptionalJson(ex: Exchange, limit: number, onBody: (body: Record<string, unknown>) => void): void {
  const json = ex.contentType === '' || ex.isJson();
  const notJson = (): void =>
    ex.fail(
      new CroupierError('unsupported_media_type', `content type must be application/json, got "${ex.contentType}"`),
    );
  if (!json && ex.contentLength >= 0 && ex.contentLength <= limit) return notJson();
  ex.readBody(limit, (body) => {
    if (!json) return notJson();
    let value: Record<string, unknown>;
    try {
      value = optionalJsonObject(body);
    } catch (e) {
      return ex.fail(e);
    }
    onBody(value);
  });
}

export interface TritonDeps {
  readonly gateway: Gateway;
  readonly bodyLimit: number;
}

export function tritonHandlers(open: OpenExchange, deps: TritonDeps) {
  const { gateway } = deps;
  const { registry, engine } = gateway;

  /** The model and version in the path (404 when either is unknown); a route's name answers `route`. */
  const target = (
    ex: Exchange,
    name: string,
    versionName: string | undefined,
    routes: boolean,
  ): { version: ModelVersion; route?: string } | undefined => {
    if (!isId(name) || (versionName !== undefined && !isId(versionName))) {
      ex.fail(new CroupierError('model_not_found', 'no such model or version'));
      return undefined;
    }
    if (!registry.model(name)) {
      const route = routes && versionName === undefined ? gateway.router.get(name) : undefined;
      const first = route && registry.resolve(route.arms[0]!.model, route.arms[0]!.version);
      if (first) return { version: first, route: name };
      ex.fail(new CroupierError('model_not_found', `no model named "${name}"`));
      return undefined;
    }
    try {
      return { version: gateway.version(name, versionName) };
    } catch (e) {
      ex.fail(e);
      return undefined;
    }
  };

  const config =
    (withVersion: boolean): UwsHandler =>
    (res, req) => {
      const ex = open(res, req, 'v2');
      const found = target(ex, req.getParameter(0) ?? '', withVersion ? (req.getParameter(1) ?? '') : undefined, true);
      if (!found) return;
      const { version, route } = found;
      const body = modelConfig({
        name: route ?? version.model,
        version,
        limits: engine.batchLimits(version),
        instances: engine.isInline(version.key) ? 1 : engine.workers,
        ...(route ? { platform: 'croupier_route' } : {}),
      });
      ex.send(200, JSON.stringify(body));
    };

  /** `versions` in the order given (by model, then version). */
  const statsOf = (versions: readonly ModelVersion[], loadedOnly: boolean): string =>
    JSON.stringify({
      model_stats: versions
        .filter((v) => !loadedOnly || engine.isLoaded(v.key))
        .map((v) => modelStatistics(v, engine.stats(v.key))),
    });

  /** Statistics of every loaded version; of one model's loaded versions; or of one version. */
  const stats =
    (withName: boolean, withVersion: boolean): UwsHandler =>
    (res, req) => {
      const ex = open(res, req, 'v2');
      if (!withName) {
        const models = [...registry.models.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
        return ex.send(
          200,
          statsOf(
            models.flatMap((m) => sortedVersions(m.versions.values())),
            true,
          ),
        );
      }
      const name = req.getParameter(0) ?? '';
      const found = target(ex, name, withVersion ? (req.getParameter(1) ?? '') : undefined, false);
      if (!found) return;
      ex.send(
        200,
        withVersion
          ? statsOf([found.version], false)
          : statsOf(sortedVersions(registry.model(name)!.versions.values()), true),
      );
    };

  const index = (): IndexEntry[] => {
    const entries: IndexEntry[] = [];
    for (const m of [...registry.models.values()].sort((a, b) => (a.name < b.name ? -1 : 1)))
      for (const v of sortedVersions(m.versions.values())) {
        const ready = engine.isLoaded(v.key);
        entries.push({
          name: m.name,
          version: v.version,
          state: ready ? 'READY' : 'UNAVAILABLE',
          reason: ready ? '' : `unloaded; POST /v2/repository/models/${m.name}/load serves it again`,
        });
      }
    for (const r of registry.refused)
      if (!registry.model(r.model)?.versions.has(r.version))
        entries.push({
          name: r.model,
          version: r.version === '*' ? '' : r.version,
          state: 'UNAVAILABLE',
          reason: r.reason,
        });
    return entries;
  };

  const repositoryIndex: UwsHandler = (res, req) => {
    const ex = open(res, req, 'v2');
    readOptionalJson(ex, deps.bodyLimit, (body) => {
      let readyOnly: boolean;
      try {
        readyOnly = parseIndexRequest(body).readyOnly;
      } catch (e) {
        return ex.fail(e);
      }
      const entries = index();
      ex.send(200, JSON.stringify(readyOnly ? entries.filter((e) => e.state === 'READY') : entries));
    });
  };

  return {
    modelConfig: config(false),
    versionConfig: config(true),
    allStats: stats(false, false),
    modelStats: stats(true, false),
    versionStats: stats(true, true),
    repositoryIndex,
  };
}
