/** Group commit: concurrent commits share fsyncs, and everything acknowledged is in the file. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Journal } from '../../src/state/journal.js';

const dir = mkdtempSync(join(tmpdir(), 'croupier-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('acknowledges 1,000 concurrent commits with far fewer fsyncs', async () => {
  const file = join(dir, 'j.jsonl');
  const journal = await Journal.open(file);
  let syncs = 0;
  const fh = (journal as unknown as { fh: { datasync(): Promise<void> } }).fh;
  const datasync = fh.datasync.bind(fh);
  fh.datasync = () => { syncs++; return datasync(); };
  await Promise.all(Array.from({ length: 1000 }, (_, i) => {
    journal.append({ keepOnRotate: true, line: () => JSON.stringify({ i }) });
    return journal.commit();
  }));
  expect(syncs).toBeGreaterThan(0);
  expect(syncs).toBeLessThan(50);
  expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1000);
  await journal.close();
});
