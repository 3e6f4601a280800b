/**
 * What croupier_build_info says: the package version, the Node.js version, and the git revision
 * when the package runs from a checkout (read from .git's files once at start: no `git` process).
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  readonly version: string;
  readonly node: string;
  /** The commit (hex), or "" when not known (an installed package, an image without .git). */
  readonly revision: string;
}

/** The package root: two levels up from src/metrics/ (and from dist/metrics/). */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMMIT = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The git directory of a checkout at `root`: .git itself, or where a worktree's .git file points. */
function gitDir(root: string): string | undefined {
  const dotGit = join(root, '.git');
  try {
    if (statSync(dotGit).isDirectory()) return dotGit;
  } catch {
    return undefined;
  }
  const pointer = /^gitdir: (.+)$/.exec(read(dotGit) ?? '');
  return pointer ? resolve(root, pointer[1]!) : undefined;
}

/** HEAD's commit in a checkout at `root`, or "" (no checkout, or a layout this does not know). */
export function gitRevision(root: string = ROOT): string {
  const dir = gitDir(root);
  if (!dir) return '';
  const head = read(join(dir, 'HEAD')) ?? '';
  const ref = /^ref: (refs\/[\w./-]+)$/.exec(head)?.[1];
  if (!ref) return COMMIT.test(head) ? head : '';
  if (ref.includes('..')) return '';
  // A worktree keeps its HEAD; branches live in the common directory.
  const common = resolve(dir, read(join(dir, 'commondir')) ?? '.');
  for (const base of [dir, common]) {
    const loose = read(join(base, ref));
    if (loose !== undefined && COMMIT.test(loose)) return loose;
  }
  const packed = read(join(common, 'packed-refs')) ?? '';
  for (const line of packed.split('\n')) {
    const [sha, name] = line.split(' ');
    if (name === ref && sha !== undefined && COMMIT.test(sha)) return sha;
  }
  return '';
}

export function buildInfo(): BuildInfo {
  const pkg = createRequire(import.meta.url)(join(ROOT, 'package.json')) as { version: string };
  return { version: pkg.version, node: process.version, revision: gitRevision() };
}
