/** Group commit: concurrent commits share fsyncs, and everything acknowledged is in the file. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Journal } from '../../src/state/embedded/journal.js';

const dir = mkdtempSync(join(tmpdir(), 'croupier-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('acknowledges 1,000 concurrent commits with far fewer fsyncs', async () => {
  const file = join(dir, 'j.jsonl');
  const journal = await Journal.open(file);
  let syncs = 0;
  const fh = (journal as unknown as { fh: { datasync(): Promise<void> } }).fh;
  const datasync = fh.datasync.bind(fh);
  fh.datasync = () => {
    syncs++;
    return datasync();
  };
  await Promise.all(
    Array.from({ length: 1000 }, (_, i) => {
      journal.append({ keepOnRotate: true, line: () => JSON.stringify({ i }) });
      return journal.commit();
    }),
  );
  expect(syncs).toBeGreaterThan(0);
  expect(syncs).toBeLessThan(50);
  expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1000);
  await journal.close();
});

it('syncs two rounds at once but acknowledges them in order: a failed sync fails the rounds after it', async () => {
  const journal = await Journal.open(join(dir, 'k.jsonl'));
  const fh = (journal as unknown as { fh: { datasync(): Promise<void> } }).fh;
  const datasync = fh.datasync.bind(fh);
  let syncs = 0;
  // The disk fails the first sync, late; the second succeeds at once.
  fh.datasync = () =>
    syncs++ === 0 ? new Promise((_, reject) => setTimeout(() => reject(new Error('EIO: first sync')), 30)) : datasync();
  const settled: string[] = [];
  const record = (i: number) => ({ keepOnRotate: true, line: () => JSON.stringify({ i }) });
  journal.append(record(1));
  const first = journal.commit().then(
    () => settled.push('first ok'),
    () => settled.push('first failed'),
  );
  await new Promise((r) => setImmediate(r));
  journal.append(record(2));
  const second = journal.commit().then(
    () => settled.push('second ok'),
    () => settled.push('second failed'),
  );
  await Promise.all([first, second]);
  expect(syncs).toBe(2);
  expect(settled).toEqual(['first failed', 'second failed']);
  await expect(journal.commit()).rejects.toThrow('EIO: first sync');
  await journal.close();
});
