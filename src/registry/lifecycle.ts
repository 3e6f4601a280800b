/**
 * Deploy, rollback and newly added versions: every change of a live pointer goes through here.
 * A version is re-checked on disk (manifest, sha256, ONNX structure) and loaded and warmed in every
 * worker before the pointer moves; the move itself is one assignment, after the new state is saved,
 * so a failure at any step leaves the live version exactly as it was. With several replicas (Redis
 * mode) the other replicas load and warm the version too before anything flips (`Peers`), and the
 * new pointer is saved to the shared state, which tells them to flip.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CroupierError, isCroupierError } from '../errors.js';
import { isId } from './manifest.js';
import { HISTORY_LIMIT, type Registry, type ServedModel } from './registry.js';
import type { ModelVersion } from './repository.js';
import { checkVersion } from './version-check.js';

export type SwapKind = 'deploy' | 'rollback';
/** Why a version did not load: refused by the checks, by ONNX Runtime, or by another replica. */
export type LoadFailure = 'invalid' | 'runtime' | 'replica';

/** Loads and warms a version in every worker (the inference engine). */
export interface VersionLoader {
  load(version: ModelVersion): Promise<unknown>;
}

/**
 * Where live pointers are saved before they move: a local file, or the shared state (Redis mode).
 * `record`, when given, is saved in the same write (the change's audit entry).
 */
export interface LivePointers {
  save(registry: Registry, override: LivePointer, record?: unknown): void | Promise<void>;
}

/**
 * Records a change as it is saved (the admin API's audit entry): calls `save` with the record, once
 * and synchronously, so the pointer and its record are one write (embedded mode), or the record is
 * a write-ahead intent the pointer names (Redis mode: `save` resolves once both are in Redis);
 * answers the record's own write.
 */
export type Commit = (swap: Swap, save: (record: unknown) => void | Promise<void>) => Promise<unknown>;

/**
 * Test hook for issue 12-8: `CROUPIER_TEST_CRASH_AT=live-saved` (or `routes-saved`) kills the
 * process the moment a new live pointer (a route edit) is saved, before anything else happens;
 * `intent-saved` (Redis mode) the moment a change's write-ahead audit intent is saved, before the
 * change. Read once at start; unset, it does nothing.
 */
const CRASH_AT = process.env.CROUPIER_TEST_CRASH_AT;
export function crashAt(point: 'live-saved' | 'routes-saved' | 'intent-saved'): void {
  if (CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}

export interface LivePointer {
  readonly model: string;
  readonly live: string;
  readonly sha256: string;
  readonly history: readonly string[];
}

/** The other replicas (Redis mode): each loads and warms a version, or the change is refused. */
export interface Peers {
  /** Resolves once every live replica has the version loaded; rejects naming one that cannot. */
  prepare(version: ModelVersion): Promise<void>;
}

export interface Swap {
  readonly model: string;
  readonly kind: SwapKind;
  readonly before: ModelVersion;
  readonly after: ModelVersion;
  /** False for a deploy of the version already live (a no-op). */
  readonly changed: boolean;
  readonly history: readonly string[];
  /** Time spent checking, loading and warming, then flipping (ms). */
  readonly prepareMs: number;
  readonly flipMs: number;
  /** The write of the change's record, when a Commit made one. */
  readonly recorded?: Promise<unknown>;
}

export class ModelLifecycle {
  private readonly registry: Registry;
  private readonly modelsDir: string;
  private readonly loader: VersionLoader;
  private readonly state: LivePointers;
  private readonly peers: Peers | undefined;
  /** Called after every change of what is served (metrics); `kind` undefined = a version was added. */
  private readonly changed: (model: ServedModel, kind: SwapKind | undefined) => void;
  /** Called when a version fails to load here or on another replica (metrics). */
  private readonly loadFailed: ((model: string, reason: LoadFailure) => void) | undefined;

  constructor(
    registry: Registry,
    modelsDir: string,
    loader: VersionLoader,
    state: LivePointers,
    changed: (model: ServedModel, kind: SwapKind | undefined) => void,
    peers?: Peers,
    loadFailed?: (model: string, reason: LoadFailure) => void,
  ) {
    this.registry = registry;
    this.modelsDir = modelsDir;
    this.loader = loader;
    this.state = state;
    this.changed = changed;
    this.peers = peers;
    this.loadFailed = loadFailed;
  }

  model(name: string): ServedModel {
    const m = isId(name) ? this.registry.model(name) : undefined;
    if (!m) throw new CroupierError('model_not_found', `no model named "${name.slice(0, 64)}"`);
    return m;
  }

  async deploy(modelName: string, versionName: string, commit?: Commit): Promise<Swap> {
    const started = performance.now();
    const m = this.model(modelName);
    const before = m.live;
    if (versionName === before.version) {
      return {
        model: m.name,
        kind: 'deploy',
        before,
        after: before,
        changed: false,
        history: [...m.history],
        prepareMs: 0,
        flipMs: 0,
      };
    }
    const target = await this.prepare(m, versionName);
    const history = [...m.history, before.version].slice(-HISTORY_LIMIT);
    return this.flip(m, target, history, 'deploy', started, commit);
  }

  async rollback(modelName: string, commit?: Commit): Promise<Swap> {
    const started = performance.now();
    const m = this.model(modelName);
    const previous = m.history.at(-1);
    if (previous === undefined)
      throw new CroupierError('conflict', `model "${m.name}" has no earlier live version to roll back to`);
    const target = await this.prepare(m, previous);
    return this.flip(m, target, m.history.slice(0, -1), 'rollback', started, commit);
  }

  /** Registers a version whose files were just put in the repository (a pushed release). */
  async addVersion(modelName: string, versionName: string): Promise<ModelVersion> {
    const m = this.model(modelName);
    if (m.versions.has(versionName))
      throw new CroupierError('conflict', `model "${m.name}" already has version "${versionName}"`);
    return this.prepare(m, versionName);
  }

  /**
   * Another replica's deploy asks this one to load and warm a version (Redis mode): checked and
   * loaded here only; the pointer does not move.
   */
  prepareHere(modelName: string, versionName: string): Promise<ModelVersion> {
    return this.prepare(this.model(modelName), versionName, false);
  }

  /**
   * Follows a pointer another replica saved in the shared state: loads the version here if it is
   * not yet, then flips. False when it is what is served already.
   */
  async follow(pointer: LivePointer): Promise<boolean> {
    const m = this.model(pointer.model);
    const sameHistory =
      m.history.length === pointer.history.length && m.history.every((v, i) => v === pointer.history[i]);
    if (m.live.version === pointer.live && sameHistory) return false;
    const target = m.live.version === pointer.live ? m.live : await this.prepare(m, pointer.live, false);
    if (target.sha256 !== pointer.sha256)
      throw new CroupierError(
        'model_invalid',
        `${m.name} version ${pointer.live} has sha256 ${target.sha256} here, ${pointer.sha256} where it was deployed`,
      );
    const kind = m.history.includes(pointer.live) && pointer.history.length < m.history.length ? 'rollback' : 'deploy';
    const changed = m.live !== target;
    this.registry.point(m, target, pointer.history);
    if (changed) this.changed(m, kind);
    return true;
  }

  /**
   * Checks the version on disk and loads it in every worker (and, unless `everywhere` is false, on
   * every other replica); throws without changing anything served.
   */
  private async prepare(m: ServedModel, versionName: string, everywhere = true): Promise<ModelVersion> {
    const known = m.versions.get(versionName);
    if (!known && (!isId(versionName) || !existsSync(join(this.modelsDir, m.name, versionName)))) {
      throw new CroupierError('version_not_found', `model "${m.name}" has no version "${versionName.slice(0, 64)}"`);
    }
    let fresh: ModelVersion;
    try {
      fresh = await checkVersion(this.modelsDir, m.name, versionName);
    } catch (e) {
      this.loadFailed?.(m.name, 'invalid');
      throw new CroupierError('model_invalid', `${m.name} version ${versionName} is refused: ${(e as Error).message}`);
    }
    // Versions are immutable: the bytes that were checked and loaded are the ones that may go live.
    if (known && fresh.sha256 !== known.sha256) {
      this.loadFailed?.(m.name, 'invalid');
      throw new CroupierError(
        'model_invalid',
        `${m.name} version ${versionName} changed on disk since it was loaded (sha256 ${known.sha256} -> ${fresh.sha256}); publish a new version instead`,
      );
    }
    const version = known ?? fresh;
    const here = this.loader.load(version).then(
      () => undefined,
      (e: unknown) => {
        throw new CroupierError(
          'model_invalid',
          `${m.name} version ${versionName} failed to load or warm up: ${(e as Error).message}`,
        );
      },
    );
    // The other replicas load it at the same time (Redis mode); their refusal names them.
    const there =
      everywhere && this.peers
        ? this.peers.prepare(version).catch((e: unknown) => {
            if (isCroupierError(e) && e.code !== 'model_invalid') throw e;
            throw new CroupierError(
              'model_invalid',
              `${m.name} version ${versionName} cannot go live on every replica, nothing changed: ${(e as Error).message}`,
            );
          })
        : undefined;
    const [local, peers] = await Promise.allSettled([here, there]);
    if (local.status === 'rejected') {
      this.loadFailed?.(m.name, 'runtime');
      throw local.reason;
    }
    if (peers.status === 'rejected') {
      if (isCroupierError(peers.reason) && peers.reason.code === 'model_invalid') this.loadFailed?.(m.name, 'replica');
      throw peers.reason;
    }
    if (!known) {
      m.versions.set(version.version, version);
      this.changed(m, undefined);
    }
    return version;
  }

  private async flip(
    m: ServedModel,
    target: ModelVersion,
    history: string[],
    kind: SwapKind,
    started: number,
    commit?: Commit,
  ): Promise<Swap> {
    const before = m.live;
    const flipStarted = performance.now();
    const pointer: LivePointer = { model: m.name, live: target.version, sha256: target.sha256, history };
    const swap: Swap = {
      model: m.name,
      kind,
      before,
      after: target,
      changed: true,
      history,
      prepareMs: flipStarted - started,
      flipMs: 0,
    };
    let recorded: Promise<unknown> | undefined;
    try {
      if (commit) {
        // biome-ignore lint/complexity/noUselessUndefinedInitialization: TypeScript wants it assigned; the callback sets it
        let saved: void | Promise<void> = undefined;
        recorded = commit(swap, (record) => (saved = this.state.save(this.registry, pointer, record)));
        // Its failure is the admin API's to report (after the answer is built); never unhandled here.
        recorded.catch(() => undefined);
        // Redis mode: the pointer is in Redis before it moves here (embedded: saved already).
        await saved;
      } else {
        await this.state.save(this.registry, pointer);
      }
      crashAt('live-saved');
    } catch (e) {
      if (isCroupierError(e)) throw e;
      throw new CroupierError('internal', `cannot save the live state, nothing changed: ${(e as Error).message}`, {
        cause: e,
      });
    }
    // The request path resolves `live` when it picks an arm: batches already queued finish on `before`.
    this.registry.point(m, target, history);
    const flipMs = performance.now() - flipStarted;
    this.changed(m, kind);
    return { ...swap, flipMs, recorded };
  }
}
