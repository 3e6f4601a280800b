/**
 * Puts a checked release into the repository without ever exposing a half-written folder: files go
 * to `<models>/.incoming/<random>/<model>/<version>` (dot folders are never scanned), are fsynced and
 * re-checked there like any version, and only then renamed into `<models>/<model>/<version>`.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir } from './atomic-file.js';
import { loadVersion } from './repository.js';

export interface InstalledVersion {
  readonly dir: string;
  /** Takes the version back out of the repository (its load failed). */
  remove(): void;
}

export function installVersion(modelsDir: string, model: string, version: string, files: ReadonlyMap<string, Buffer>): InstalledVersion {
  const finalDir = join(modelsDir, model, version);
  if (existsSync(finalDir)) throw new Error(`version folder ${model}/${version} already exists`);
  const incoming = join(modelsDir, '.incoming');
  const stagingRoot = join(incoming, randomBytes(8).toString('hex'));
  const staging = join(stagingRoot, model, version);
  mkdirSync(staging, { recursive: true });
  try {
    for (const [name, data] of files) {
      const fd = openSync(join(staging, name), 'wx', 0o644);
      try {
        writeSync(fd, data);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    fsyncDir(staging);
    loadVersion(stagingRoot, model, version);
    renameSync(staging, finalDir);
    fsyncDir(join(modelsDir, model));
  } finally {
    rmSync(stagingRoot, { recursive: true, force: true });
  }
  return {
    dir: finalDir,
    remove() {
      const trash = join(incoming, `removed-${randomBytes(8).toString('hex')}`);
      renameSync(finalDir, trash);
      rmSync(trash, { recursive: true, force: true });
    },
  };
}
