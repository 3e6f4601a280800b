/**
 * Persists each model's live pointer and history in `<stateDir>/live.json`, so a restart serves
 * what was deployed, not what the repository's LIVE file says. Written atomically after every swap.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import { writeFileAtomic } from '../../registry/atomic-file.js';
import { HISTORY_LIMIT, type Registry } from '../../registry/registry.js';

interface LiveRecord {
  live: string;
  sha256: string;
  history: string[];
}

interface LiveDocument {
  models: Record<string, LiveRecord>;
  /**
   * The audit entry of the last change, written in the same atomic write as the change (embedded
   * mode): a crash cannot leave the change saved and its entry missing (admin/audit-log.ts, complete).
   */
  audit?: unknown;
}

export class LiveState {
  readonly file: string;

  constructor(stateDir: string) {
    this.file = join(stateDir, 'live.json');
  }

  private read(): LiveDocument | undefined {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return undefined;
    }
    const doc = JSON.parse(text) as LiveDocument;
    if (typeof doc !== 'object' || doc === null || typeof doc.models !== 'object' || doc.models === null)
      throw new Error(`${this.file} is not a live-state document`);
    return doc;
  }

  /**
   * Sets each model's live version and history from the saved state. A saved version that is no
   * longer served (removed or refused) is skipped with a warning: the repository's choice stands.
   */
  restore(registry: Registry, log: Logger): { audit: unknown } {
    let doc: LiveDocument | undefined;
    try {
      doc = this.read();
    } catch (e) {
      log.error(
        { file: this.file, err: (e as Error).message },
        'live state unreadable; using the repository LIVE files',
      );
      return { audit: undefined };
    }
    if (!doc) return { audit: undefined };
    for (const [name, record] of Object.entries(doc.models)) {
      const model = registry.model(name);
      if (!model) continue;
      const live = model.versions.get(String(record.live));
      if (!live) {
        log.warn(
          { model: name, version: record.live },
          'saved live version is no longer served; keeping the repository choice',
        );
        continue;
      }
      if (live.sha256 !== record.sha256)
        log.warn(
          { model: name, version: record.live, saved: record.sha256, now: live.sha256 },
          'live version changed on disk since it was deployed',
        );
      registry.point(
        model,
        live,
        Array.isArray(record.history) ? record.history.map(String).slice(-HISTORY_LIMIT) : [],
      );
    }
    return { audit: doc.audit };
  }

  /**
   * Saves every model's pointer, with `audit` (the change's audit entry) when given; throws when the
   * state cannot be written (the caller keeps the old live).
   */
  save(
    registry: Registry,
    override?: { model: string; live: string; sha256: string; history: readonly string[] },
    audit?: unknown,
  ): void {
    const doc: LiveDocument = { models: {} };
    if (audit !== undefined) doc.audit = audit;
    for (const m of registry.models.values())
      doc.models[m.name] = { live: m.live.version, sha256: m.live.sha256, history: [...m.history] };
    if (override)
      doc.models[override.model] = { live: override.live, sha256: override.sha256, history: [...override.history] };
    writeFileAtomic(this.file, JSON.stringify(doc, null, 2) + '\n');
  }
}
