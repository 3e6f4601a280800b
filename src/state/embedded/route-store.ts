/**
 * Keeps route edits made through the admin API across restarts, in `<stateDir>/routes-state.json`,
 * together with the sha256 of the routes file they started from (which start-up compares with the
 * routes file it reads: src/admin/routes-at-start.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../registry/atomic-file.js';
import type { RouteSpec } from '../../routing/route-spec.js';
import type { LocalRouteStore, SavedRouteTable } from '../route-table-store.js';

interface RoutesStateDocument {
  fileHash: string | null;
  routes: Record<string, unknown>;
  /** The audit entry of the last admin edit, saved in the same atomic write (see LiveState's). */
  audit?: unknown;
}

/** Where route edits are saved before they apply: this file, or the shared state (Redis mode). */
export class RouteStore implements LocalRouteStore {
  readonly file: string;
  /** The routes file hash the saved table started from, once read or saved. */
  private fileHash: string | null | undefined;

  constructor(stateDir: string) {
    this.file = join(stateDir, 'routes-state.json');
  }

  private document(): RoutesStateDocument | undefined {
    try {
      const doc = JSON.parse(readFileSync(this.file, 'utf8')) as RoutesStateDocument;
      return typeof doc === 'object' && doc !== null && typeof doc.routes === 'object' && doc.routes !== null
        ? doc
        : undefined;
    } catch {
      return undefined;
    }
  }

  async read(): Promise<SavedRouteTable | undefined> {
    const doc = this.document();
    if (!doc) return undefined;
    const fileHash = typeof doc.fileHash === 'string' ? doc.fileHash : null;
    this.fileHash = fileHash;
    return { fileHash, routes: doc.routes, record: doc.audit };
  }

  saveFromFile(fileHash: string | null, routes: ReadonlyMap<string, RouteSpec>): void {
    this.write({ fileHash, routes: Object.fromEntries(routes) });
    this.fileHash = fileHash;
  }

  save(routes: ReadonlyMap<string, RouteSpec>, record?: unknown): void {
    this.fileHash ??= this.document()?.fileHash ?? null;
    const doc: RoutesStateDocument = { fileHash: this.fileHash, routes: Object.fromEntries(routes) };
    if (record !== undefined) doc.audit = record;
    this.write(doc);
  }

  replaceRecord(record: unknown): void {
    const doc = this.document();
    if (doc) this.write({ ...doc, audit: record });
  }

  private write(doc: RoutesStateDocument): void {
    writeFileAtomic(this.file, JSON.stringify(doc, null, 2) + '\n');
  }
}
