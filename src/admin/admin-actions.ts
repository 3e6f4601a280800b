/**
 * What each admin call does, without HTTP: every action answers an Outcome (status, body, and
 * what the audit log records about it). Errors are CroupierErrors; admin-routes audits those too.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CroupierError } from '../errors.js';
import type { Registry } from '../registry/registry.js';
import { crashAt, type Commit, type ModelLifecycle, type Swap } from '../registry/lifecycle.js';
import { isId } from '../registry/manifest.js';
import { compareVersions } from '../registry/repository.js';
import { parseLoadRequest, parseUnloadRequest } from '../protocol/triton.js';
import { installVersion } from '../registry/version-install.js';
import { parseRouteSpec, RouteSpecError } from '../routing/route-spec.js';
import type { Router } from '../routing/router.js';
import type { AuditFields } from '../state/audit-chain.js';
import { nameTooLong } from './names.js';
import { packRelease } from './release.js';
import { receiveRelease, type StagedRelease } from './release-upload.js';
import type { ReplicaLoad, RouteSaver } from '../state/admin-state.js';
import { GuardrailSpecError, parseWatch, type WatchSpec } from '../monitoring/guardrails/guardrail-spec.js';

/** The guardrails' side of the admin API (monitoring/guardrails/guardrails.ts). */
export interface GuardControls {
  /** Enables an arm a guardrail disabled; its reason, or undefined when it was not disabled. */
  enable(route: string, arm: string, by: string): Promise<string | undefined>;
  /** Watches a deploy that made `version` live in place of `previous`; when the watch ends. */
  watch(model: string, version: string, previous: string, spec: WatchSpec): Promise<number>;
}

export interface Outcome {
  readonly status: number;
  readonly body: unknown;
  readonly audit: Pick<AuditFields, 'result'> & Partial<Pick<AuditFields, 'before' | 'after' | 'sha256'>>;
  /** The audit entry's write, when it was saved with the change itself (embedded mode): not recorded again. */
  readonly recorded?: Promise<unknown>;
}

/**
 * Records an outcome's audit fields with the change (AuditTrail.appendWith, bound to the call): `save`
 * writes the change with the record, and is awaited before the change applies here (Redis mode's is async).
 */
export type Seal = (
  audit: Outcome['audit'] & { status: number },
  save: (record: unknown) => void | Promise<void>,
) => Promise<unknown>;

export interface AdminDeps {
  readonly registry: Registry;
  readonly engine: {
    readonly workers: number;
    isLoaded(key: string): boolean;
    isInline(key: string): boolean;
    unload(key: string): Promise<void>;
  };
  readonly lifecycle: ModelLifecycle;
  readonly router: Router;
  readonly routes: RouteSaver;
  readonly modelsDir: string;
  /** Redis mode: what every live replica has loaded and serves, from their heartbeats. */
  readonly replicas?: () => readonly ReplicaLoad[];
  /** Guardrails (arm enables, watched deploys); absent: a deploy's `watch` is refused. */
  readonly guards?: () => GuardControls | undefined;
}

function swapOutcome(swap: Swap): Outcome {
  const body = {
    model: swap.model,
    live: swap.after.version,
    previous: swap.before.version,
    changed: swap.changed,
    sha256: swap.after.sha256,
    history: swap.history,
  };
  return { status: 200, body, audit: swapAudit(swap), recorded: swap.recorded };
}

function swapAudit(swap: Swap): Outcome['audit'] {
  return {
    result: swap.changed ? 'ok' : 'noop',
    before: swap.before.version,
    after: swap.after.version,
    sha256: swap.after.sha256,
  };
}

/** The lifecycle's Commit for a swap: its audit entry, sealed with the pointer. */
const sealSwap = (seal: Seal | undefined): Commit | undefined =>
  seal ? (swap, save) => seal({ ...swapAudit(swap), status: 200 }, save) : undefined;

export class AdminActions {
  private readonly deps: AdminDeps;

  constructor(deps: AdminDeps) {
    this.deps = deps;
  }

  models(): unknown {
    const { registry, engine } = this.deps;
    const replicas = this.deps.replicas?.();
    const models = [...registry.models.values()].map((m) => ({
      name: m.name,
      live: m.live.version,
      history: [...m.history],
      versions: [...m.versions.values()]
        .sort((a, b) => compareVersions(a.version, b.version))
        .map((v) => ({
          version: v.version,
          sha256: v.sha256,
          created: v.manifest.created,
          live: v === m.live,
          // A version is usable only once every worker has it: the engine tracks "all", not each.
          // Small versions run on the main thread instead (inference/inline.ts).
          runs: engine.isInline(v.key) ? 'inline' : 'workers',
          workers: { loaded: engine.isLoaded(v.key) ? engine.workers : 0, of: engine.workers },
          ...(replicas
            ? {
                replicas: replicas.map((r) => ({
                  replica: r.replica,
                  loaded: r.models[m.name]?.loaded[v.version] ?? 0,
                  of: r.workers,
                })),
              }
            : {}),
        })),
      ...(replicas
        ? { replicas: replicas.map((r) => ({ replica: r.replica, live: r.models[m.name]?.live ?? null })) }
        : {}),
    }));
    return { models, refused: registry.refused };
  }

  /** A version packed as `croupier pack` packs it (manifest, model file, SHA256SUMS); 404 for an unknown one. */
  release(model: string, version: string): Buffer {
    const m = this.deps.lifecycle.model(model);
    const v = isId(version) ? m.versions.get(version) : undefined;
    if (!v) throw new CroupierError('version_not_found', `model "${model}" has no version "${version.slice(0, 64)}"`);
    return packRelease(v.dir).archive;
  }

  /** Throws model_not_found (404) before a body is read. */
  modelExists(model: string): void {
    this.deps.lifecycle.model(model);
  }

  deploy(model: string, body: unknown, seal?: Seal): Promise<Outcome> {
    const version = (body as { version?: unknown } | null)?.version;
    if ((typeof version !== 'string' || version === '') && !Number.isInteger(version)) {
      return Promise.reject(new CroupierError('invalid_request', 'send {"version": "<version>"}'));
    }
    const tooLong = nameTooLong('version', String(version));
    if (tooLong) return Promise.reject(tooLong);
    const rawWatch = (body as { watch?: unknown }).watch;
    let watch: WatchSpec | undefined;
    try {
      watch = rawWatch === undefined ? undefined : parseWatch(rawWatch);
    } catch (e) {
      if (e instanceof GuardrailSpecError) return Promise.reject(new CroupierError('invalid_request', e.message));
      return Promise.reject(e);
    }
    const guards = watch ? this.deps.guards?.() : undefined;
    if (watch && !guards)
      return Promise.reject(new CroupierError('conflict', 'deploy watches are not running on this server'));
    return this.deps.lifecycle.deploy(model, String(version), sealSwap(seal)).then(async (swap) => {
      const outcome = swapOutcome(swap);
      // Only a deploy that replaced a version is watched: a no-op has nothing to compare with.
      if (!watch || !guards || !swap.changed) return outcome;
      const until = await guards.watch(swap.model, swap.after.version, swap.before.version, watch);
      const shown = { ...watch, until: new Date(until).toISOString() };
      return { ...outcome, body: { ...(outcome.body as object), watch: shown } };
    });
  }

  /** `POST /admin/routes/{route}/arms/{arm}/enable`: a person gives a disabled arm its traffic back. */
  async enableArm(route: string, arm: string, by: string): Promise<Outcome> {
    const r = this.deps.router.get(route);
    if (!r) throw new CroupierError('route_not_found', `no route named "${route.slice(0, 64)}"`);
    if (r.armIndex(arm) < 0)
      throw new CroupierError('arm_not_found', `route "${route}" has no arm named "${arm.slice(0, 64)}"`);
    const guards = this.deps.guards?.();
    const reason = guards ? await guards.enable(route, arm, by) : undefined;
    if (reason === undefined)
      return { status: 200, body: { route, arm, enabled: true, changed: false }, audit: { result: 'noop' } };
    return {
      status: 200,
      body: { route, arm, enabled: true, changed: true },
      audit: { result: 'ok', before: `disabled: ${reason}`, after: 'enabled' },
    };
  }

  rollback(model: string, seal?: Seal): Promise<Outcome> {
    return this.deps.lifecycle.rollback(model, sealSwap(seal)).then(swapOutcome);
  }

  /** Unpacks and checks an uploaded release into a staging folder, as the body arrives (release-upload.ts). */
  receive(body: Readable): Promise<StagedRelease> {
    return receiveRelease(body, this.deps.modelsDir);
  }

  /** Installs a received release and loads it; never makes it live. The staging folder goes either way. */
  async push(model: string, release: StagedRelease): Promise<Outcome> {
    try {
      return await this.install(model, release);
    } finally {
      await release.discard();
    }
  }

  private async install(model: string, release: StagedRelease): Promise<Outcome> {
    const m = this.deps.lifecycle.model(model);
    if (release.model !== m.name)
      throw new CroupierError('invalid_request', `the release is for model "${release.model}", not "${m.name}"`);
    if (m.versions.has(release.version) || existsSync(join(this.deps.modelsDir, m.name, release.version))) {
      throw new CroupierError(
        'conflict',
        `model "${m.name}" already has version "${release.version}"; versions are immutable, push a new version`,
      );
    }
    let installed;
    try {
      installed = await installVersion(this.deps.modelsDir, m.name, release.version, release);
    } catch (e) {
      throw new CroupierError(
        'model_invalid',
        `${m.name} version ${release.version} is refused: ${(e as Error).message}`,
      );
    }
    try {
      await this.deps.lifecycle.addVersion(m.name, release.version);
    } catch (e) {
      installed.remove();
      throw e;
    }
    const body = {
      model: m.name,
      version: release.version,
      sha256: release.sha256,
      loaded: true,
      live: m.live.version,
    };
    return { status: 201, body, audit: { result: 'ok', after: release.version, sha256: release.sha256 } };
  }

  /**
   * Triton's `POST /v2/repository/models/{m}/load`: a deploy of `parameters.version`, else of the
   * newest version in the model's folder (as Triton serves its highest version), then the model's
   * other versions that an unload took out are loaded again. A live version that was unloaded is
   * loaded (re-checked on disk) before anything else.
   */
  async load(model: string, body: unknown, seal?: Seal): Promise<Outcome> {
    const { lifecycle, engine } = this.deps;
    const m = lifecycle.model(model);
    const version = parseLoadRequest(body).version ?? this.newestOnDisk(m.name) ?? m.live.version;
    const tooLong = nameTooLong('version', version);
    if (tooLong) throw tooLong;
    const reloaded: string[] = [];
    if (version === m.live.version && !engine.isLoaded(m.live.key)) {
      await lifecycle.prepareHere(m.name, version);
      reloaded.push(version);
    }
    const swap = await lifecycle.deploy(m.name, version, sealSwap(seal));
    const failed: { version: string; reason: string }[] = [];
    for (const v of [...m.versions.values()].sort((a, b) => compareVersions(a.version, b.version))) {
      if (engine.isLoaded(v.key)) continue;
      try {
        await lifecycle.prepareHere(m.name, v.version);
        reloaded.push(v.version);
      } catch (e) {
        failed.push({ version: v.version, reason: (e as Error).message });
      }
    }
    const outcome = swapOutcome(swap);
    return {
      ...outcome,
      body: { ...(outcome.body as object), loaded: reloaded, ...(failed.length > 0 ? { failed } : {}) },
      audit:
        reloaded.length > 0 && !swap.changed
          ? { ...outcome.audit, result: 'ok', before: 'unloaded', after: version }
          : outcome.audit,
    };
  }

  /**
   * The highest numbered version folder of a model on disk (it may not be loaded yet: a load checks
   * it); Triton looks at numbered folders only. A model whose versions all have names: the last.
   */
  private newestOnDisk(model: string): string | undefined {
    let names: string[];
    try {
      names = readdirSync(join(this.deps.modelsDir, model), { withFileTypes: true })
        .filter((e) => e.isDirectory() && isId(e.name))
        .map((e) => e.name);
    } catch {
      return undefined;
    }
    const numbered = names.filter((n) => /^\d+$/.test(n));
    return (numbered.length > 0 ? numbered : names).sort(compareVersions).at(-1);
  }

  /**
   * Triton's `POST /v2/repository/models/{m}/unload`: every version of the model leaves the
   * workers once its batches are done; its requests then answer 503 not_ready until a load. Refused
   * (409) while a route serves the model, and in Redis mode, where every replica serves the same.
   */
  async unload(model: string, body: unknown): Promise<Outcome> {
    parseUnloadRequest(body);
    const { lifecycle, engine, router } = this.deps;
    const m = lifecycle.model(model);
    if (this.deps.replicas)
      throw new CroupierError(
        'conflict',
        'unload takes a model out of one replica only; in Redis mode every replica serves the same models, so it is refused',
      );
    const serving = [...router.routes.values()]
      .filter((r) => r.arms.some((a) => a.model === m.name))
      .map((r) => r.name);
    if (serving.length > 0)
      throw new CroupierError(
        'conflict',
        `model "${m.name}" serves route${serving.length > 1 ? 's' : ''} ${serving.join(', ')}; change ${serving.length > 1 ? 'them' : 'it'} (PUT /admin/routes/{route}) before unloading`,
      );
    const loaded = [...m.versions.values()]
      .filter((v) => engine.isLoaded(v.key))
      .sort((a, b) => compareVersions(a.version, b.version));
    await Promise.all(loaded.map((v) => engine.unload(v.key)));
    const unloaded = loaded.map((v) => v.version);
    return {
      status: 200,
      body: { model: m.name, unloaded },
      audit: { result: unloaded.length > 0 ? 'ok' : 'noop', before: unloaded, after: [] },
    };
  }

  routes(): unknown {
    return { routes: Object.fromEntries([...this.deps.router.routes].map(([name, route]) => [name, route.spec])) };
  }

  async putRoute(name: string, raw: unknown, seal?: Seal): Promise<Outcome> {
    const { router, registry } = this.deps;
    let spec;
    try {
      spec = parseRouteSpec(name, raw, (model, version) => registry.lookup(model, version));
    } catch (e) {
      if (e instanceof RouteSpecError) throw new CroupierError('invalid_request', e.message);
      throw e;
    }
    // A model taken out of service (Triton's unload) would answer every request of the route 503.
    for (const arm of spec.arms) {
      const v = registry.resolve(arm.model, arm.version);
      if (v && !this.deps.engine.isLoaded(v.key))
        throw new CroupierError(
          'conflict',
          `model "${arm.model}" version ${v.version} is unloaded; load it (POST /v2/repository/models/${arm.model}/load) before routing to it`,
        );
    }
    const before = router.get(name)?.spec ?? null;
    const next = new Map([...router.routes].map(([n, r]) => [n, r.spec]));
    next.set(name, spec);
    // Saved first: a route change that would not survive a restart is not made. With a seal, its
    // audit entry is in the same write (embedded mode).
    const audit: Outcome['audit'] = { result: 'ok', before, after: spec };
    let recorded: Promise<unknown> | undefined;
    if (seal) {
      // biome-ignore lint/complexity/noUselessUndefinedInitialization: TypeScript wants it assigned; the callback sets it
      let saved: void | Promise<void> = undefined;
      recorded = seal({ ...audit, status: 200 }, (record) => (saved = this.deps.routes.save(next, record)));
      recorded.catch(() => undefined);
      await saved;
    } else await this.deps.routes.save(next);
    crashAt('routes-saved');
    router.set(name, spec);
    // Sums over other features would be read as these: a contextual route choosing on a changed
    // context starts learning again (in Redis mode for every replica, as an admin reset does).
    const relearns =
      before?.context !== undefined
      && spec.context !== undefined
      && before.context.join('\u0000') !== spec.context.join('\u0000');
    if (relearns) router.reset(name);
    return { status: 200, body: { route: name, spec, ...(relearns ? { reset: true } : {}) }, audit, recorded };
  }

  async resetRoute(name: string): Promise<Outcome> {
    if (!this.deps.router.reset(name))
      throw new CroupierError('route_not_found', `no route named "${name.slice(0, 64)}"`);
    return { status: 200, body: { route: name, reset: true }, audit: { result: 'ok' } };
  }
}
