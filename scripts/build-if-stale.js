// Builds dist/ when it is missing or older than any source file, so `npm start` never runs old code.
// Also vitest's globalSetup: tests load the compiled worker (and run the built CLI), so `npx vitest`
// after an edit to src/ must rebuild first, not only `npm test`.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = join(root, 'dist', '.build-stamp');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const t = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    if (t > newest) newest = t;
  }
  return newest;
}

/** Whether dist/ is missing or older than src/, the tsconfigs or the lockfile. */
export function isStale() {
  const sources = Math.max(
    newestMtime(join(root, 'src')),
    statSync(join(root, 'tsconfig.json')).mtimeMs,
    statSync(join(root, 'tsconfig.build.json')).mtimeMs,
    statSync(join(root, 'package-lock.json')).mtimeMs,
  );
  return !existsSync(stamp) || statSync(stamp).mtimeMs < sources;
}

export function buildIfStale() {
  if (!isStale()) return;
  process.stderr.write('croupier: building dist/ (sources changed)\n');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  // From scratch: a module moved or removed in src/ must not linger in dist/ (nor ship in the package).
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  writeFileSync(stamp, new Date().toISOString() + '\n');
}

/** vitest globalSetup (vitest.config.ts). */
export const setup = buildIfStale;

if (process.argv[1] === fileURLToPath(import.meta.url)) buildIfStale();
