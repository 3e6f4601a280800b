/**
 * Each model's live pointer and rollback history as a store keeps them: the port the lifecycle
 * saves through before a pointer moves (src/registry/lifecycle.ts), read back when a process starts.
 * Embedded: `<stateDir>/live.json` (src/state/embedded/live-state.ts); Redis mode: one key per
 * model, shared by every replica (src/state/redis/control.ts). Neutral: it imports no store and no HTTP.
 */
import type { LivePointer, LivePointers } from '../registry/lifecycle.js';
import type { Registry } from '../registry/registry.js';

export interface SavedPointers {
  /** One per model the store has a pointer for; history oldest first, as it was saved. */
  readonly pointers: readonly LivePointer[];
  /** What the last change was saved with (embedded: its audit entry; see AuditTrail.appendWith). */
  readonly record?: unknown;
}

export interface LivePointerStore extends LivePointers {
  /** The saved pointers of `models` (a model never saved is absent); rejects when the state is unreadable. */
  read(models: readonly string[]): Promise<SavedPointers>;
}

/** This process's own copy: embedded mode's store, and what a Redis-mode replica seeds an empty store with. */
export interface LocalPointerStore extends LivePointerStore {
  /** Saves every model's pointer as `registry` serves it, `override` for the one about to move. */
  save(registry: Registry, override?: LivePointer, record?: unknown): void;
}
