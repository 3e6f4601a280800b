/**
 * Deploy, rollback and newly added versions: every change of a live pointer goes through here.
 * A version is re-checked on disk (manifest, sha256, ONNX structure) and loaded and warmed in every
 * worker before the pointer moves; the move itself is one assignment, after the new state is saved,
 * so a failure at any step leaves the live version exactly as it was.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CroupierError } from '../errors.js';
import { isId } from './manifest.js';
import { HISTORY_LIMIT, type LiveState } from './live-state.js';
import type { Registry, ServedModel } from './registry.js';
import { loadVersion, type ModelVersion } from './repository.js';

export type SwapKind = 'deploy' | 'rollback';

/** Loads and warms a version in every worker (the inference engine). */
export interface VersionLoader {
  load(version: ModelVersion): Promise<unknown>;
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
}

export class ModelLifecycle {
  private readonly registry: Registry;
  private readonly modelsDir: string;
  private readonly loader: VersionLoader;
  private readonly state: LiveState;
  /** Called after every change of what is served (metrics); `kind` undefined = a version was added. */
  private readonly changed: (model: ServedModel, kind: SwapKind | undefined) => void;

  constructor(registry: Registry, modelsDir: string, loader: VersionLoader, state: LiveState, changed: (model: ServedModel, kind: SwapKind | undefined) => void) {
    this.registry = registry;
    this.modelsDir = modelsDir;
    this.loader = loader;
    this.state = state;
    this.changed = changed;
  }

  model(name: string): ServedModel {
    const m = isId(name) ? this.registry.model(name) : undefined;
    if (!m) throw new CroupierError('model_not_found', `no model named "${name.slice(0, 64)}"`);
    return m;
  }

  async deploy(modelName: string, versionName: string): Promise<Swap> {
    const started = performance.now();
    const m = this.model(modelName);
    const before = m.live;
    if (versionName === before.version) {
      return { model: m.name, kind: 'deploy', before, after: before, changed: false, history: [...m.history], prepareMs: 0, flipMs: 0 };
    }
    const target = await this.prepare(m, versionName);
    const history = [...m.history, before.version].slice(-HISTORY_LIMIT);
    return this.flip(m, target, history, 'deploy', started);
  }

  async rollback(modelName: string): Promise<Swap> {
    const started = performance.now();
    const m = this.model(modelName);
    const previous = m.history.at(-1);
    if (previous === undefined) throw new CroupierError('conflict', `model "${m.name}" has no earlier live version to roll back to`);
    const target = await this.prepare(m, previous);
    return this.flip(m, target, m.history.slice(0, -1), 'rollback', started);
  }

  /** Registers a version whose files were just put in the repository (a pushed release). */
  async addVersion(modelName: string, versionName: string): Promise<ModelVersion> {
    const m = this.model(modelName);
    if (m.versions.has(versionName)) throw new CroupierError('conflict', `model "${m.name}" already has version "${versionName}"`);
    return this.prepare(m, versionName);
  }

  /** Checks the version on disk and loads it in every worker; throws without changing anything served. */
  private async prepare(m: ServedModel, versionName: string): Promise<ModelVersion> {
    const known = m.versions.get(versionName);
    if (!known && (!isId(versionName) || !existsSync(join(this.modelsDir, m.name, versionName)))) {
      throw new CroupierError('version_not_found', `model "${m.name}" has no version "${versionName.slice(0, 64)}"`);
    }
    let fresh: ModelVersion;
    try {
      fresh = loadVersion(this.modelsDir, m.name, versionName);
    } catch (e) {
      throw new CroupierError('model_invalid', `${m.name} version ${versionName} is refused: ${(e as Error).message}`);
    }
    // Versions are immutable: the bytes that were checked and loaded are the ones that may go live.
    if (known && fresh.sha256 !== known.sha256) {
      throw new CroupierError('model_invalid', `${m.name} version ${versionName} changed on disk since it was loaded (sha256 ${known.sha256} -> ${fresh.sha256}); publish a new version instead`);
    }
    const version = known ?? fresh;
    try {
      await this.loader.load(version);
    } catch (e) {
      throw new CroupierError('model_invalid', `${m.name} version ${versionName} failed to load or warm up: ${(e as Error).message}`);
    }
    if (!known) {
      m.versions.set(version.version, version);
      this.changed(m, undefined);
    }
    return version;
  }

  private flip(m: ServedModel, target: ModelVersion, history: string[], kind: SwapKind, started: number): Swap {
    const before = m.live;
    const flipStarted = performance.now();
    try {
      this.state.save(this.registry, { model: m.name, live: target.version, sha256: target.sha256, history });
    } catch (e) {
      throw new CroupierError('internal', `cannot save the live state, nothing changed: ${(e as Error).message}`, { cause: e });
    }
    // The request path resolves `live` when it picks an arm: batches already queued finish on `before`.
    m.live = target;
    m.history.splice(0, m.history.length, ...history);
    const flipMs = performance.now() - flipStarted;
    this.changed(m, kind);
    return { model: m.name, kind, before, after: target, changed: true, history, prepareMs: flipStarted - started, flipMs };
  }
}
