/**
 * Keeps route edits made through the admin API across restarts, in `<stateDir>/routes-state.json`,
 * together with the sha256 of the routes file they started from. At start the routes file wins
 * when it changed since it was last applied (an operator edited it on purpose); otherwise the
 * admin edits stand.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../registry/atomic-file.js';
import { parseRouteSpec, type ModelLookup, type RouteSpec } from '../../routing/route-spec.js';
import type { RouteSaver } from '../admin-state.js';

interface RoutesStateDocument {
  fileHash: string | null;
  routes: Record<string, unknown>;
  /** The audit entry of the last admin edit, saved in the same atomic write (see LiveState's). */
  audit?: unknown;
}

export interface RoutesAtStart {
  readonly specs: Map<string, RouteSpec>;
  /** Why the routes file was applied over saved edits, when it was (for the audit log). */
  readonly appliedFile: { reason: string; fileHash: string | null } | undefined;
}

export function fileHash(file: string | undefined): string | null {
  if (!file) return null;
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Where route edits are saved before they apply: this file, or the shared state (Redis mode). */
export class RouteStore implements RouteSaver {
  readonly file: string;
  private routesFileHash: string | null = null;

  constructor(stateDir: string) {
    this.file = join(stateDir, 'routes-state.json');
  }

  private read(): RoutesStateDocument | undefined {
    try {
      const doc = JSON.parse(readFileSync(this.file, 'utf8')) as RoutesStateDocument;
      return typeof doc === 'object' && doc !== null && typeof doc.routes === 'object' && doc.routes !== null
        ? doc
        : undefined;
    } catch {
      return undefined;
    }
  }

  /** Chooses the routes to start with: saved edits, or the routes file (and saves that choice). */
  restore(routesFile: string | undefined, fromFile: Map<string, RouteSpec>, lookup: ModelLookup): RoutesAtStart {
    this.routesFileHash = fileHash(routesFile);
    const saved = this.read();
    let reason: string | undefined;
    if (!saved) reason = undefined;
    else if (saved.fileHash !== this.routesFileHash) reason = 'the routes file changed since it was last applied';
    else {
      try {
        const specs = new Map<string, RouteSpec>();
        for (const [name, raw] of Object.entries(saved.routes)) specs.set(name, parseRouteSpec(name, raw, lookup));
        return { specs, appliedFile: undefined };
      } catch (e) {
        reason = `saved route edits are no longer valid (${(e as Error).message})`;
      }
    }
    this.save(fromFile);
    return { specs: fromFile, appliedFile: saved ? { reason: reason!, fileHash: this.routesFileHash } : undefined };
  }

  /** The sha256 of the routes file applied at start (null without one). */
  get appliedFileHash(): string | null {
    return this.routesFileHash;
  }

  save(routes: ReadonlyMap<string, RouteSpec>, record?: unknown): void {
    const doc: RoutesStateDocument = { fileHash: this.routesFileHash, routes: Object.fromEntries(routes) };
    if (record !== undefined) doc.audit = record;
    writeFileAtomic(this.file, JSON.stringify(doc, null, 2) + '\n');
  }

  /** The audit entry saved with the last edit (start-up completes the audit log with it). */
  savedRecord(): unknown {
    return this.read()?.audit;
  }

  /** Replaces the saved entry by the one the audit log got, so it is not completed twice. */
  replaceRecord(record: unknown): void {
    const doc = this.read();
    if (doc) writeFileAtomic(this.file, JSON.stringify({ ...doc, audit: record }, null, 2) + '\n');
  }
}
