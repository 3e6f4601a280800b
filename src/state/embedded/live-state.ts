/**
 * Persists each model's live pointer and history in `<stateDir>/live.json`, so a restart serves
 * what was deployed, not what the repository's LIVE file says. Written atomically after every swap.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LivePointer } from '../../registry/lifecycle.js';
import { writeFileAtomic } from '../../registry/atomic-file.js';
import type { Registry } from '../../registry/registry.js';
import type { LocalPointerStore, SavedPointers } from '../live-pointers.js';

interface LiveRecord {
  live: string;
  sha256: string;
  history: string[];
}

interface LiveDocument {
  models: Record<string, LiveRecord>;
  /**
   * The audit entry of the last change, written in the same atomic write as the change (embedded
   * mode): a crash cannot leave the change saved and its entry missing (audit-log.ts, complete).
   */
  audit?: unknown;
}

export class LiveState implements LocalPointerStore {
  readonly file: string;

  constructor(stateDir: string) {
    this.file = join(stateDir, 'live.json');
  }

  private document(): LiveDocument | undefined {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return undefined;
    }
    let doc: LiveDocument;
    try {
      doc = JSON.parse(text) as LiveDocument;
    } catch (e) {
      throw new Error(`${this.file}: ${(e as Error).message}`);
    }
    if (typeof doc !== 'object' || doc === null || typeof doc.models !== 'object' || doc.models === null)
      throw new Error(`${this.file} is not a live-state document`);
    return doc;
  }

  async read(models: readonly string[]): Promise<SavedPointers> {
    const doc = this.document();
    if (!doc) return { pointers: [] };
    const pointers: LivePointer[] = [];
    for (const model of models) {
      const record = Object.hasOwn(doc.models, model) ? doc.models[model] : undefined;
      if (typeof record !== 'object' || record === null) continue;
      pointers.push({
        model,
        live: String(record.live),
        sha256: String(record.sha256),
        history: Array.isArray(record.history) ? record.history.map(String) : [],
      });
    }
    return { pointers, record: doc.audit };
  }

  /**
   * Saves every model's pointer, with `audit` (the change's audit entry) when given; throws when the
   * state cannot be written (the caller keeps the old live).
   */
  save(registry: Registry, override?: LivePointer, audit?: unknown): void {
    const doc: LiveDocument = { models: {} };
    if (audit !== undefined) doc.audit = audit;
    for (const m of registry.models.values())
      doc.models[m.name] = { live: m.live.version, sha256: m.live.sha256, history: [...m.history] };
    if (override)
      doc.models[override.model] = { live: override.live, sha256: override.sha256, history: [...override.history] };
    writeFileAtomic(this.file, JSON.stringify(doc, null, 2) + '\n');
  }
}
