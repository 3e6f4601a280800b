/**
 * The admin plane's state as a store keeps it: the ports the admin room owns and the stores fill
 * in — embedded (files in the state dir: src/state/embedded/audit-log.ts, src/state/embedded/route-store.ts,
 * src/state/embedded/live-state.ts) or shared by every replica (Redis: src/state/redis/control.ts). Neutral:
 * it imports no store and no HTTP. server.ts builds the stores and hands them to the admin plane.
 */
import type { LivePointer, Peers } from '../registry/lifecycle.js';
import type { Registry } from '../registry/registry.js';
import type { RouteSpec } from '../routing/route-spec.js';
import type { AuditTrail, LocalAuditTrail } from './audit-chain.js';
import type { LivePointerStore, LocalPointerStore } from './live-pointers.js';
import type { LocalRouteStore, RouteTableStore } from './route-table-store.js';

/**
 * Serialises admin operations: two deploys never race (Triton's server#7018 loaded a model twice
 * that way). Redis mode puts a lock with a fencing token behind the same call (src/state/redis/lock.ts),
 * so admin operations are serialised across replicas too.
 */
export interface AdminLocking {
  run<T>(work: () => Promise<T>): Promise<T>;
}

/** This process's admin operations, one at a time. */
export class AdminLock implements AdminLocking {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export interface RouteSaver {
  /** `record`, when given, is saved in the same write (the edit's audit entry). */
  save(routes: ReadonlyMap<string, RouteSpec>, record?: unknown): void | Promise<void>;
}

/**
 * The admin plane's state in this process's state directory: everything in embedded mode; in Redis
 * mode what it started from and the copy it keeps of the shared state (the seed of an empty store).
 */
export interface LocalAdminState {
  /** This process's admin operations, one at a time (Redis mode: the shared lock replaces it). */
  readonly lock: AdminLocking;
  readonly pointers: LocalPointerStore;
  readonly routes: LocalRouteStore;
  readonly audit: LocalAuditTrail;
}

/** One replica's load state as it last reported it (Redis mode). */
export interface ReplicaLoad {
  readonly replica: string;
  readonly workers: number;
  /** Per model: the live version there, and how many workers have each version loaded. */
  readonly models: Readonly<Record<string, { live: string; loaded: Readonly<Record<string, number>> }>>;
}

/** Redis mode: the admin plane's state, shared by every replica (src/state/redis/control.ts). */
export interface SharedControl {
  readonly lock: AdminLocking;
  readonly audit: AuditTrail;
  readonly pointers: LivePointerStore;
  readonly routes: RouteTableStore;
  readonly peers: Peers;
  replicas(): readonly ReplicaLoad[];
  /** True for the first replica to report `event` (events every replica sees, audited once). */
  firstToReport(event: string): Promise<boolean>;
  /** Reads the shared state (seeding it from this replica's when there is none), applies it, then follows it. */
  start(bound: ControlBinding): Promise<void>;
  close(): Promise<void>;
}

export interface ControlBinding {
  readonly registry: Registry;
  /** What this replica has loaded, for its heartbeats. */
  readonly engine: { readonly workers: number; isLoaded(key: string): boolean };
  /** What the shared documents mean here (src/admin/shared-follower.ts). */
  readonly follower: SharedFollowing;
}

/** A live pointer as shared; `intent`: the id of the audit intent of the change that wrote it (none when seeded). */
export interface SharedPointer extends LivePointer {
  readonly token: number;
  readonly intent?: string;
}
export interface SharedRoutes {
  readonly fileHash: string | null;
  readonly routes: Record<string, unknown>;
  readonly token: number;
  readonly intent?: string;
}
/** The shared store's side of a routes-file takeover: its lock, its audit trail, its routes. */
export interface SharedWriter {
  readonly lock: AdminLocking;
  readonly audit: Required<Pick<AuditTrail, 'appendWith'>>;
  readonly routes: RouteSaver;
}
export type PrepareOutcome = { ok: true } | { ok: false; error: string };

/** Applies the shared documents a store hears of to this replica, in arrival order. */
export interface SharedFollowing {
  /** The models whose pointers this replica follows. */
  models(): string[];
  /** What this replica would seed an empty store with (token 0: any change since wins). */
  seeds(): { pointers: SharedPointer[]; routes: SharedRoutes };
  /** The shared routes for this replica's routes file (`intent`: the change's audit intent id). */
  routesDoc(routes: ReadonlyMap<string, RouteSpec>, token: number, intent?: string): SharedRoutes;
  /** A pointer or the routes this replica wrote itself: applied already, kept locally. */
  wrotePointer(pointer: LivePointer, token: number): void;
  wroteRoutes(routes: ReadonlyMap<string, RouteSpec>, token: number): void;
  pointer(pointer: SharedPointer): Promise<void>;
  routes(doc: SharedRoutes, atStart: boolean, writer: SharedWriter): Promise<void>;
  /** Another replica deploys `model`/`version`: load it here and say whether this copy matches. */
  prepare(model: string, version: string, sha256: string): Promise<PrepareOutcome>;
  /** Resolves once every application queued so far is done. */
  drain(): Promise<unknown>;
}
