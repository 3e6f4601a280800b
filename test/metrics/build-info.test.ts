/** croupier_build_info's revision, read from a checkout's .git without running git. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { gitRevision } from '../../src/metrics/build-info.js';

const A = 'a'.repeat(40);
const B = '0123456789abcdef0123456789abcdef01234567';
const dirs: string[] = [];
function checkout(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'croupier-build-info-'));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('reads a branch from a loose ref, then from packed-refs', () => {
  expect(gitRevision(checkout({ '.git/HEAD': 'ref: refs/heads/main\n', '.git/refs/heads/main': `${A}\n` }))).toBe(A);
  const packed = `# pack-refs with: peeled fully-peeled sorted\n${A} refs/heads/other\n${B} refs/heads/main\n`;
  expect(gitRevision(checkout({ '.git/HEAD': 'ref: refs/heads/main\n', '.git/packed-refs': packed }))).toBe(B);
});

it('reads a detached HEAD, and a worktree whose .git file points into the main repository', () => {
  expect(gitRevision(checkout({ '.git/HEAD': `${B}\n` }))).toBe(B);
  const root = checkout({
    'repo/.git/refs/heads/feature': `${A}\n`,
    'repo/.git/worktrees/wt/HEAD': 'ref: refs/heads/feature\n',
    'repo/.git/worktrees/wt/commondir': '../..\n',
    'wt/.git': 'gitdir: ../repo/.git/worktrees/wt\n',
  });
  expect(gitRevision(join(root, 'wt'))).toBe(A);
});

it('is empty without a checkout, or with a HEAD it does not understand (never a made-up label value)', () => {
  expect(gitRevision(checkout({}))).toBe('');
  expect(gitRevision(checkout({ '.git/HEAD': 'ref: refs/heads/gone\n' }))).toBe('');
  expect(gitRevision(checkout({ '.git/HEAD': 'garbage "with quotes"\n' }))).toBe('');
  expect(gitRevision(checkout({ '.git/HEAD': 'ref: refs/../../etc/passwd\n' }))).toBe('');
});
