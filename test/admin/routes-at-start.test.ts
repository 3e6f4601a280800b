/**
 * The routes a process starts with (src/admin/routes-at-start.ts), whichever store saved the table:
 * the routes file when nothing was saved; the saved edits while the file is the one they started
 * from; the file, with the reason for the audit trail, when it changed or the edits no longer parse.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseRoutesAtStart, routesFileHash } from '../../src/admin/routes-at-start.js';
import { Registry } from '../../src/registry/registry.js';
import { scanRepository } from '../../src/registry/repository.js';
import { parseRouteSpec } from '../../src/routing/route-spec.js';
import { writeRepository } from '../helpers/admin-state.js';

const models = writeRepository();
const registry = new Registry(scanRepository(models));
const lookup = (m: string, v: string) => registry.lookup(m, v);
const raw = (version: string) => ({ policy: 'fixed', arms: [{ name: 'a', model: 'm', version }] });
const fromFile = new Map([['main', parseRouteSpec('main', raw('live'), lookup)]]);
const HASH = 'a'.repeat(64);

afterAll(() => rmSync(models, { recursive: true, force: true }));

describe('chooseRoutesAtStart', () => {
  it("takes the file's routes, to be saved, when nothing was saved", () => {
    expect(chooseRoutesAtStart(undefined, HASH, fromFile, lookup)).toEqual({
      specs: fromFile,
      appliedFile: undefined,
      fromFile: true,
    });
  });

  it('keeps the saved edits while the routes file is the one they started from', () => {
    const start = chooseRoutesAtStart(
      { fileHash: HASH, routes: { main: raw('2'), added: raw('3') } },
      HASH,
      fromFile,
      lookup,
    );
    expect(start.fromFile).toBe(false);
    expect(start.appliedFile).toBeUndefined();
    expect([...start.specs.keys()]).toEqual(['main', 'added']);
    expect(start.specs.get('main')).toMatchObject({ arms: [{ version: '2' }] });
  });

  it('applies the routes file over saved edits when it changed, saying so', () => {
    const start = chooseRoutesAtStart(
      { fileHash: 'b'.repeat(64), routes: { added: raw('3') } },
      HASH,
      fromFile,
      lookup,
    );
    expect(start).toEqual({
      specs: fromFile,
      fromFile: true,
      appliedFile: { reason: 'the routes file changed since it was last applied', fileHash: HASH },
    });
  });

  it('applies the routes file when the saved edits no longer parse (a version gone), naming the route', () => {
    const start = chooseRoutesAtStart({ fileHash: HASH, routes: { gone: raw('9') } }, HASH, fromFile, lookup);
    expect(start.specs).toBe(fromFile);
    expect(start.fromFile).toBe(true);
    expect(start.appliedFile?.reason).toMatch(/^saved route edits are no longer valid \(.*gone.*\)$/);
  });
});

describe('routesFileHash', () => {
  it("is null without a routes file, else the sha256 of the file's bytes", () => {
    const dir = mkdtempSync(join(tmpdir(), 'croupier-routes-'));
    try {
      const file = join(dir, 'routes.json');
      writeFileSync(file, '{"routes":{}}\n');
      expect(routesFileHash(undefined)).toBeNull();
      expect(routesFileHash(file)).toBe(createHash('sha256').update('{"routes":{}}\n').digest('hex'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
