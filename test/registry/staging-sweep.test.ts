/** Staging folders left by a crash mid-upload are removed at start, but never another replica's upload in progress. */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { sweepStaging } from '../../src/registry/version-install.js';

let models: string;
afterEach(() => rmSync(models, { recursive: true, force: true }));

it('removes staging folders older than the limit and keeps fresh ones', () => {
  models = mkdtempSync(join(tmpdir(), 'croupier-sweep-'));
  const incoming = join(models, '.incoming');
  for (const name of ['stale', 'fresh']) {
    mkdirSync(join(incoming, name, 'upload'), { recursive: true });
    writeFileSync(join(incoming, name, 'upload', 'model.onnx'), Buffer.alloc(1024));
  }
  const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60_000);
  utimesSync(join(incoming, 'stale'), twoHoursAgo, twoHoursAgo);
  expect(sweepStaging(models)).toEqual(['stale']);
  expect(readdirSync(incoming)).toEqual(['fresh']);
});

it('does nothing when there is no staging folder', () => {
  models = mkdtempSync(join(tmpdir(), 'croupier-sweep-'));
  expect(sweepStaging(models)).toEqual([]);
});
