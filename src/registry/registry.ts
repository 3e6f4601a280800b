/**
 * The models being served: every good version from the repository, and each model's live pointer.
 * Resolving `live` happens here, once per request, when an arm is chosen.
 */
import type { ModelVersion, RefusedVersion, RepositoryScan } from './repository.js';
import { compareVersions } from './repository.js';

/** Rollbacks can go back this many steps; older history is dropped. */
export const HISTORY_LIMIT = 50;

export interface ServedModel {
  readonly name: string;
  readonly versions: Map<string, ModelVersion>;
  /** Moves only through `Registry.point` (deploys and rollbacks: lifecycle.ts; saved pointers at start). */
  readonly live: ModelVersion;
  /** Versions that were live before, newest last (for rollback). */
  readonly history: readonly string[];
}

/** What the registry itself may change: every ServedModel is one of these. */
interface PointedModel extends ServedModel {
  live: ModelVersion;
  readonly history: string[];
}

export class Registry {
  readonly models = new Map<string, ServedModel>();
  readonly refused: RefusedVersion[] = [];

  constructor(scan: RepositoryScan) {
    this.refused.push(...scan.refused);
    for (const [name, scanned] of scan.models) {
      const versions = new Map(scanned.versions);
      const liveName = scanned.liveFile ?? [...versions.keys()].sort(compareVersions).at(-1)!;
      this.models.set(name, { name, versions, live: versions.get(liveName)!, history: [] });
    }
  }

  /** The one writer of a live pointer and its history. */
  point(model: ServedModel, live: ModelVersion, history: readonly string[]): void {
    const m = model as PointedModel;
    m.live = live;
    m.history.splice(0, m.history.length, ...history);
  }

  /** A version that failed to load at start: no longer served; a model left without versions goes. */
  refuse(version: ModelVersion, reason: string): void {
    this.refused.push({ model: version.model, version: version.version, reason });
    const m = this.models.get(version.model);
    if (!m) return;
    m.versions.delete(version.version);
    if (m.versions.size === 0) this.models.delete(version.model);
    else if (m.live === version)
      this.point(m, m.versions.get([...m.versions.keys()].sort(compareVersions).at(-1)!)!, m.history);
  }

  model(name: string): ServedModel | undefined {
    return this.models.get(name);
  }

  /** `version` may be "live". */
  resolve(model: string, version: string): ModelVersion | undefined {
    const m = this.models.get(model);
    if (!m) return undefined;
    return version === 'live' ? m.live : m.versions.get(version);
  }

  /** Whether a route may name this model and version ("live" or an id), for route validation. */
  lookup(model: string, version: string): 'ok' | 'no_model' | 'no_version' {
    const m = this.models.get(model);
    if (!m) return 'no_model';
    return version === 'live' || m.versions.has(version) ? 'ok' : 'no_version';
  }

  allVersions(): ModelVersion[] {
    return [...this.models.values()].flatMap((m) => [...m.versions.values()]);
  }
}
