/**
 * Files of the embedded state: journal generations and the snapshot that makes older ones
 * redundant. A snapshot is written atomically (temp file, fsync, rename, fsync of the directory), so
 * a crash leaves either the old snapshot and its journals or the new one, never half of one.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export const SNAPSHOT_FILE = 'snapshot.jsonl';
const JOURNAL = /^journal-(\d{6,})\.jsonl$/;

export function journalFile(dir: string, generation: number): string {
  return join(dir, `journal-${String(generation).padStart(6, '0')}.jsonl`);
}

/** Generations of journal files present, oldest first. */
export function journalGenerations(dir: string): number[] {
  return readdirSync(dir)
    .flatMap((f) => {
      const m = JOURNAL.exec(f);
      return m ? [Number(m[1])] : [];
    })
    .sort((a, b) => a - b);
}

/** Through the thread pool: unlinking a journal of 100 MB held the event loop for 7 ms here. */
export async function removeJournalsBefore(dir: string, generation: number): Promise<void> {
  for (const g of journalGenerations(dir)) if (g < generation) await unlink(journalFile(dir, g));
}

/**
 * Parsed JSON lines of a file. A torn last line (a crash mid-append) is skipped; a bad line
 * elsewhere is reported through `onBad` and skipped, so one damaged record cannot stop a start.
 */
export function readJsonLines(file: string, onBad: (lineNo: number) => void): unknown[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: unknown[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      if (i < lines.length - 1) onBad(i + 1);
    }
  }
  return out;
}

/** Part of a snapshot: a string is one line; bytes are whole lines, each ending in a newline. */
export type SnapshotPart = string | Buffer;

/**
 * Writes `lines` as the new snapshot, atomically and durably; returns its size in bytes. Lines are
 * taken and written in slices, awaiting each write, so a large snapshot neither becomes one giant
 * string nor holds the event loop for long.
 */
export async function writeSnapshot(dir: string, lines: Iterable<SnapshotPart>): Promise<number> {
  const target = join(dir, SNAPSHOT_FILE);
  const temp = `${target}.tmp`;
  const fh = await open(temp, 'w', 0o600);
  let bytes = 0;
  try {
    let chunk = '';
    let n = 0;
    for (const line of lines) {
      if (typeof line !== 'string') {
        if (chunk !== '') bytes += (await fh.write(chunk)).bytesWritten;
        chunk = '';
        bytes += (await fh.write(line)).bytesWritten;
        continue;
      }
      chunk += line + '\n';
      if (++n % 10_000 === 0) {
        bytes += (await fh.write(chunk)).bytesWritten;
        chunk = '';
      }
    }
    if (chunk !== '') bytes += (await fh.write(chunk)).bytesWritten;
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(temp, target);
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
  return bytes;
}

/** `first`, then the lines of `rest`, lazily. */
export function* withFirst(first: string, rest: Iterable<SnapshotPart>): Generator<SnapshotPart> {
  yield first;
  yield* rest;
}
