/**
 * Embedded state in CROUPIER_STATE_DIR: a snapshot plus the journal generations written since.
 * At start the snapshot and journals are replayed, then compacted at once; afterwards compaction
 * runs when the journal grows or its oldest records pass the shortest feedback window. Compacting
 * switches to a new journal generation and writes a snapshot in the same turn, then removes the
 * older generations once the snapshot is durable; replay is idempotent, so a crash in between is
 * harmless.
 */
import { open } from 'node:fs/promises';
import type { Logger } from '../../log.js';
import { Journal } from './journal.js';
import {
  journalFile,
  journalGenerations,
  readJsonLines,
  removeJournalsBefore,
  SNAPSHOT_FILE,
  withFirst,
  writeSnapshot,
  type SnapshotPart,
} from './snapshot.js';
import { join } from 'node:path';

/** What is kept in the state directory, seen from the state layer. */
export interface StateContent {
  /**
   * Lines that rebuild the whole state as it is in this turn; may drop what is past its window.
   * They may be produced lazily, while later records are already journaled.
   */
  snapshot(nowMs: number): Iterable<SnapshotPart>;
  /** Applies one record, from the snapshot (`fromSnapshot`) or from a journal. */
  replay(record: unknown, fromSnapshot: boolean): void;
  /** Records older than this are worth compacting away (the shortest feedback window). */
  horizonMs(): number;
}

export interface EmbeddedStateOptions {
  readonly checkEveryMs?: number;
  readonly compactBytes?: number;
}

interface SnapshotHeader {
  journal: number;
  takenMs: number;
}

export class EmbeddedState {
  readonly dir: string;
  readonly journal: Journal;
  private generation: number;
  private readonly content: StateContent;
  private readonly log: Logger;
  private readonly compactBytes: number;
  private lastCompactMs = Date.now();
  /** The last snapshot's size: the journal may grow to twice that before compacting pays. */
  private snapshotBytes = 0;
  private compacting: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    dir: string,
    journal: Journal,
    generation: number,
    content: StateContent,
    log: Logger,
    options: EmbeddedStateOptions,
  ) {
    this.dir = dir;
    this.journal = journal;
    this.generation = generation;
    this.content = content;
    this.log = log;
    this.compactBytes = options.compactBytes ?? 64 * 1024 * 1024;
    this.timer = setInterval(() => this.maybeCompact(), options.checkEveryMs ?? 30_000).unref();
  }

  /** Replays what the directory holds into `content`, then starts a fresh generation. */
  static async open(
    dir: string,
    content: StateContent,
    log: Logger,
    options: EmbeddedStateOptions = {},
  ): Promise<EmbeddedState> {
    const bad = (file: string) => (line: number) => log.warn({ file, line }, 'state: skipped an unreadable line');
    const snapshotFile = join(dir, SNAPSHOT_FILE);
    const [header, ...records] = readJsonLines(snapshotFile, bad(snapshotFile));
    const from = (header as SnapshotHeader | undefined)?.journal ?? 0;
    for (const r of records) content.replay(r, true);
    const generations = journalGenerations(dir);
    let replayed = 0;
    for (const g of generations) {
      if (g < from) continue;
      const file = journalFile(dir, g);
      for (const r of readJsonLines(file, bad(file))) {
        content.replay(r, false);
        replayed++;
      }
    }
    if (records.length + replayed > 0)
      log.info({ snapshotRecords: records.length, journalRecords: replayed }, 'state restored');
    const generation = Math.max(from, generations.at(-1) ?? 0) + 1;
    const journal = await Journal.open(journalFile(dir, generation));
    const state = new EmbeddedState(dir, journal, generation, content, log, options);
    await state.persistSnapshot(generation, content.snapshot(Date.now()));
    return state;
  }

  /** Switches to a new journal generation and writes a snapshot of the state at that moment. */
  compact(): Promise<void> {
    this.compacting ??= (async () => {
      try {
        const generation = this.generation + 1;
        const next = await open(journalFile(this.dir, generation), 'a');
        // Same turn: what the snapshot holds and what the new generation holds do not overlap.
        const lines = this.content.snapshot(Date.now());
        const closed = this.journal.rotate(next);
        this.generation = generation;
        await closed;
        await this.persistSnapshot(generation, lines);
      } finally {
        this.compacting = undefined;
      }
    })();
    return this.compacting;
  }

  private async persistSnapshot(generation: number, lines: Iterable<SnapshotPart>): Promise<void> {
    const header: SnapshotHeader = { journal: generation, takenMs: Date.now() };
    this.snapshotBytes = await writeSnapshot(this.dir, withFirst(JSON.stringify(header), lines));
    await removeJournalsBefore(this.dir, generation);
    this.lastCompactMs = header.takenMs;
  }

  private maybeCompact(): void {
    if (this.journal.bytes === 0 || this.compacting) return;
    if (
      this.journal.bytes < Math.max(this.compactBytes, 2 * this.snapshotBytes)
      && Date.now() - this.lastCompactMs < this.content.horizonMs()
    )
      return;
    this.compact().catch((e: unknown) => this.log.error({ err: e }, 'state: compaction failed'));
  }

  /** Writes and syncs what is buffered; the next start replays it. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    if (this.compacting) await this.compacting.catch(() => undefined);
    await this.journal.close();
  }
}
