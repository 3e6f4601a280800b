/**
 * The routes a process starts with: the saved admin edits, unless the routes file changed since the
 * table was saved (an operator edited it on purpose: it replaces them), or the saved edits no
 * longer parse against the models served.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseRouteSpec, type ModelLookup, type RouteSpec } from '../routing/route-spec.js';
import type { SavedRouteTable } from '../state/route-table-store.js';

export interface RoutesAtStart {
  readonly specs: Map<string, RouteSpec>;
  /** Why the routes file replaced saved edits, when it did (for the audit trail). */
  readonly appliedFile: { reason: string; fileHash: string | null } | undefined;
  /** True when the file's routes are the ones to save (nothing was saved, or the file replaced it). */
  readonly fromFile: boolean;
}

export function routesFileHash(file: string | undefined): string | null {
  if (!file) return null;
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export function chooseRoutesAtStart(
  saved: SavedRouteTable | undefined,
  fileHash: string | null,
  fromFile: Map<string, RouteSpec>,
  lookup: ModelLookup,
): RoutesAtStart {
  if (!saved) return { specs: fromFile, appliedFile: undefined, fromFile: true };
  let reason: string;
  if (saved.fileHash !== fileHash) reason = 'the routes file changed since it was last applied';
  else {
    try {
      const specs = new Map<string, RouteSpec>();
      for (const [name, raw] of Object.entries(saved.routes)) specs.set(name, parseRouteSpec(name, raw, lookup));
      return { specs, appliedFile: undefined, fromFile: false };
    } catch (e) {
      reason = `saved route edits are no longer valid (${(e as Error).message})`;
    }
  }
  return { specs: fromFile, appliedFile: { reason, fileHash }, fromFile: true };
}
