/**
 * Puts a checked release into the repository without ever exposing a half-written folder: its
 * files, already fsynced in a staging folder inside the models directory (`<models>/.incoming/…`;
 * dot folders are never scanned), are moved to `<staging>/<model>/<version>`, re-checked there like
 * any version (off the main thread), and only then renamed into `<models>/<model>/<version>`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir } from './atomic-file.js';
import { checkVersion } from './version-check.js';

export interface InstalledVersion {
  readonly dir: string;
  /** Takes the version back out of the repository (its load failed). */
  remove(): void;
}

/** A release's files in `dir`, a folder inside the staging folder `root` (which the caller removes). */
export interface StagedFiles {
  readonly root: string;
  readonly dir: string;
}

export async function installVersion(
  modelsDir: string,
  model: string,
  version: string,
  staged: StagedFiles,
): Promise<InstalledVersion> {
  const finalDir = join(modelsDir, model, version);
  if (existsSync(finalDir)) throw new Error(`version folder ${model}/${version} already exists`);
  const staging = join(staged.root, model, version);
  await mkdir(join(staged.root, model));
  await rename(staged.dir, staging);
  fsyncDir(staging);
  await checkVersion(staged.root, model, version);
  await rename(staging, finalDir);
  fsyncDir(join(modelsDir, model));
  return {
    dir: finalDir,
    remove() {
      const trash = join(modelsDir, '.incoming', `removed-${randomBytes(8).toString('hex')}`);
      renameSync(finalDir, trash);
      rmSync(trash, { recursive: true, force: true });
    },
  };
}

/**
 * Removes staging folders that a crash mid-upload or mid-install left in `<models>/.incoming`.
 * Only folders untouched for `olderThanMs`: a models directory shared by replicas may hold another
 * replica's upload in progress. Returns the names removed.
 */
export function sweepStaging(modelsDir: string, olderThanMs = 60 * 60_000, now = Date.now()): string[] {
  const incoming = join(modelsDir, '.incoming');
  let names: string[];
  try {
    names = readdirSync(incoming);
  } catch {
    return [];
  }
  return names.filter((name) => {
    const path = join(incoming, name);
    try {
      if (now - statSync(path).mtimeMs < olderThanMs) return false;
      rmSync(path, { recursive: true, force: true });
      return true;
    } catch {
      return false;
    }
  });
}
