/**
 * An append-only journal of JSON lines with group commit. Records are buffered; a background
 * writer appends them in batches. `commit()` resolves once everything appended before it is on disk
 * (fdatasync): one fsync is in flight at a time, and every commit that arrives meanwhile rides on
 * the next one, so many outcomes share one fsync. Records that need no acknowledgement (decisions)
 * are written within `lingerMs` but never wait for an fsync of their own.
 *
 * Decisions come from a source rather than one record at a time: the store writes the lines of the
 * decisions made since it was last asked straight into the journal's bytes, when a write begins or
 * before any other record goes in (so records keep their order), not once per prediction.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Bytes } from './bytes.js';

export interface JournalRecord {
  /** The record as one JSON line, without the newline. */
  line(): string;
  /**
   * Whether the record must still be written after the journal rotates. Records whose effect a
   * snapshot already carries (decisions, resets) are dropped; acknowledged ones (outcomes) are not.
   */
  readonly keepOnRotate: boolean;
}

/** Produces records on demand (see the top of this file). */
export interface JournalSource {
  /** Writes the records produced since the last call, as newline-terminated lines. */
  drainInto(out: Bytes): void;
}

interface Waiter {
  resolve(): void;
  reject(e: Error): void;
}

export class Journal {
  /** Bytes written to the current file. */
  bytes = 0;
  /** The first error the disk gave; from then on every commit fails (fsync errors are not retried). */
  failed: Error | undefined;
  private fh: FileHandle;
  /** Lines not yet written, newline-terminated, in order; `spare` is the other buffer, free while no write is in flight. */
  private pending = new Bytes();
  private spare: Bytes | undefined = new Bytes();
  private source: JournalSource | undefined;
  /** Those of them that must survive a rotation. */
  private kept: string[] = [];
  private waiters: Waiter[] = [];
  private running: Promise<void> | undefined;
  private round: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly lingerMs: number;

  private constructor(fh: FileHandle, bytes: number, lingerMs: number) {
    this.fh = fh;
    this.bytes = bytes;
    this.lingerMs = lingerMs;
  }

  static async open(file: string, lingerMs = 50): Promise<Journal> {
    const fh = await open(file, 'a');
    return new Journal(fh, (await fh.stat()).size, lingerMs);
  }

  /** Buffers a record; it reaches the file within `lingerMs` (no fsync of its own). */
  append(record: JournalRecord): void {
    const line = record.line();
    if (record.keepOnRotate) this.kept.push(line);
    this.pullSource();
    this.pending.writeString(line + '\n');
    this.poke();
  }

  /** Takes records from `source` from now on (records a snapshot carries: dropped on rotation if not yet written). */
  attachSource(source: JournalSource): void {
    this.source = source;
  }

  /** Brings the source's records in now: before it overwrites ones it has not handed over. */
  pullSource(): void {
    this.source?.drainInto(this.pending);
  }

  /** Has what is buffered (or the source has) written within `lingerMs`. */
  poke(): void {
    if (this.timer === undefined && this.running === undefined) this.timer = setTimeout(this.kick, this.lingerMs).unref();
  }

  /** Resolves when every record appended so far is durable. */
  commit(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.kick();
    });
  }

  private readonly kick = (): void => {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined; }
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
      this.pullSource();
      if (this.pending.length > 0 || this.waiters.length > 0) this.kick();
    });
  };

  private async drain(): Promise<void> {
    for (;;) {
      this.pullSource();
      if (this.pending.length === 0 && this.waiters.length === 0) break;
      const data = this.pending;
      const waiters = this.waiters;
      this.pending = this.spare ?? new Bytes();
      this.spare = undefined;
      this.kept = [];
      this.waiters = [];
      this.round = this.writeRound(this.fh, data.view(), waiters);
      await this.round;
      data.clear();
      this.spare = data;
    }
    this.round = undefined;
  }

  /** One write (and, if anyone waits, one fsync) of a batch to one file. Never rejects. */
  private async writeRound(fh: FileHandle, data: Buffer, waiters: Waiter[]): Promise<void> {
    try {
      if (this.failed) throw this.failed;
      if (data.length > 0) {
        await fh.write(data);
        this.bytes += data.length;
      }
      if (waiters.length > 0) await fh.datasync();
      for (const w of waiters) w.resolve();
    } catch (e) {
      this.failed ??= e as Error;
      for (const w of waiters) w.reject(this.failed);
    }
  }

  /**
   * Continues in a new file from now on; records not yet written that a snapshot carries are
   * dropped. Call it in the same turn as taking the snapshot. Resolves when the old file is closed.
   */
  async rotate(next: FileHandle): Promise<void> {
    const old = this.fh;
    this.fh = next;
    this.bytes = 0;
    this.pullSource();
    this.pending.clear();
    for (const line of this.kept) this.pending.writeString(line + '\n');
    // The round in flight (one at a time) may still be writing or syncing the old file; the next
    // round takes the new one.
    if (this.round) await this.round;
    await old.close();
  }

  /** Writes and syncs what is buffered, then closes the file. */
  async close(): Promise<void> {
    this.pullSource();
    if (this.pending.length > 0 && !this.failed) await this.commit().catch(() => undefined);
    while (this.running) await this.running;
    await this.fh.close();
  }
}
