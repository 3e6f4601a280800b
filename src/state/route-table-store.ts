/**
 * The route table as a store keeps it: every route's spec, saved before an edit applies, and the
 * sha256 of the routes file the table started from (a start with a different file replaces the
 * saved edits: src/admin/routes-at-start.ts). Embedded: `<stateDir>/routes-state.json`
 * (src/state/embedded/route-store.ts); Redis mode: one document shared by every replica
 * (src/state/redis/control.ts). Neutral: it imports no store and no HTTP.
 */
import type { RouteSpec } from '../routing/route-spec.js';
import type { RouteSaver } from './admin-state.js';

export interface SavedRouteTable {
  /** sha256 of the routes file the table started from; null when there was none. */
  readonly fileHash: string | null;
  /** Each route's spec as saved (parsed again, against the models served, by whoever reads it). */
  readonly routes: Readonly<Record<string, unknown>>;
  /** What the last edit was saved with (embedded: its audit entry; see AuditTrail.appendWith). */
  readonly record?: unknown;
}

export interface RouteTableStore extends RouteSaver {
  /** The table saved last; undefined when none was (or, embedded, when it cannot be read). */
  read(): Promise<SavedRouteTable | undefined>;
}

/** This process's own copy: embedded mode's store, and what a Redis-mode replica seeds an empty store with. */
export interface LocalRouteStore extends RouteTableStore {
  /** Saves `routes` as a table that starts from the routes file hashed `fileHash`; later saves keep that hash. */
  saveFromFile(fileHash: string | null, routes: ReadonlyMap<string, RouteSpec>): void;
  save(routes: ReadonlyMap<string, RouteSpec>, record?: unknown): void;
  /** Replaces the record saved with the last edit (start-up completed the audit trail with another copy). */
  replaceRecord(record: unknown): void;
}
