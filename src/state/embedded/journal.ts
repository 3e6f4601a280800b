/**
 * An append-only journal of JSON lines with group commit. Records are buffered. A commit starts a
 * sync round, or joins the next one while SYNCS_IN_FLIGHT are running: what is buffered is written
 * (a plain write to the page cache, on this thread: a few microseconds, where a round trip through
 * the thread pool cost the loop a wake-up and, under load, half a millisecond of waiting) and one
 * fdatasync goes to the thread pool. Up to SYNCS_IN_FLIGHT syncs run at once (the disk overlaps
 * them), so a commit waits for its own sync rather than for the tail of an earlier one; rounds are
 * acknowledged in order, so an acknowledged round never outruns an earlier one that failed.
 * Records that need no acknowledgement (decisions) are written within `lingerMs` by a background
 * write, and never wait for an fsync of their own.
 *
 * Decisions come from a source rather than one record at a time: the store writes the lines of the
 * decisions made since it was last asked straight into the journal's bytes, when a write begins or
 * before any other record goes in (so records keep their order), not once per prediction.
 */
import { writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Bytes } from '../bytes.js';

export interface JournalRecord {
  /** The record as one JSON line, without the newline. */
  line(): string;
  /**
   * Whether the record must still be written after the journal rotates, if it was not written
   * before. Records that a snapshot carries and that replay cannot repeat harmlessly (resets) are
   * dropped; the others are kept: outcomes (acknowledged), and decisions (the source's), because an
   * outcome acknowledged after the rotation needs its decision durable before the snapshot is.
   */
  readonly keepOnRotate: boolean;
}

/** Produces records on demand (see the top of this file). */
export interface JournalSource {
  /** Writes the records produced since the last call, as newline-terminated lines. */
  drainInto(out: Bytes): void;
}

/** Syncs in flight at once: on the bench machine's disk two concurrent fdatasyncs give ~1.7x the syncs/s of one. */
const SYNCS_IN_FLIGHT = 2;

/** The commits that share one sync round: one promise for all of them. */
class Round {
  resolve: () => void = () => undefined;
  reject: (e: Error) => void = () => undefined;
  readonly done = new Promise<void>((resolve, reject) => {
    this.resolve = resolve;
    this.reject = reject;
  });
}

export class Journal {
  /** Bytes written to the current file. */
  bytes = 0;
  /** The first error the disk gave; from then on every commit fails (fsync errors are not retried). */
  failed: Error | undefined;
  private fh: FileHandle;
  /** Lines not yet written, newline-terminated, in order; `spare` is the other buffer, free while no background write is in flight. */
  private pending = new Bytes();
  private spare: Bytes | undefined = new Bytes();
  private source: JournalSource | undefined;
  /** Where in `pending` the records that a rotation drops are, as [start, end) pairs. */
  private dropOnRotate: number[] = [];
  /** The commits waiting for a sync to start (all in SYNCS_IN_FLIGHT are busy); they share the next round. */
  private next: Round | undefined;
  private syncs = 0;
  /** Settles when the last round started is acknowledged (never rejects). */
  private acknowledged: Promise<void> = Promise.resolve();
  /** The background write in flight (records no one waits for). */
  private writing: Promise<void> | undefined;
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
    this.pullSource();
    const start = this.pending.length;
    this.pending.writeString(line + '\n');
    if (!record.keepOnRotate) this.dropOnRotate.push(start, this.pending.length);
    this.poke();
  }

  /** Takes records from `source` from now on (kept on rotation, like outcomes: see `keepOnRotate`). */
  attachSource(source: JournalSource): void {
    this.source = source;
  }

  /** Brings the source's records in now: before it overwrites ones it has not handed over. */
  pullSource(): void {
    this.source?.drainInto(this.pending);
  }

  /** Has what is buffered (or the source has) written within `lingerMs`. */
  poke(): void {
    if (this.timer === undefined && this.writing === undefined)
      this.timer = setTimeout(this.writeInBackground, this.lingerMs).unref();
  }

  /**
   * Resolves when every record appended so far is durable. The sync starts at once when it may;
   * callers commit once for many records (the feedback path: once a turn).
   */
  commit(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    const round = (this.next ??= new Round());
    this.startRound();
    return round.done;
  }

  /** Writes what is buffered and syncs it for the commits waiting, if a sync may start now. */
  private readonly startRound = (): void => {
    const round = this.next;
    if (round === undefined || this.syncs >= SYNCS_IN_FLIGHT || this.writing !== undefined) return;
    this.next = undefined;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const fh = this.fh;
    const synced = this.writeBuffered(fh)
      .then(() => fh.datasync())
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    this.syncs++;
    this.acknowledged = this.acknowledge(round, synced, this.acknowledged);
  };

  /** Settles a round once its sync and every earlier round's are done: an earlier failure fails it too. */
  private async acknowledge(round: Round, synced: Promise<Error | undefined>, earlier: Promise<void>): Promise<void> {
    const error = await synced;
    await earlier;
    this.syncs--;
    if (error) this.failed ??= error;
    if (this.failed) round.reject(this.failed);
    else round.resolve();
    this.startRound();
  }

  /** Writes what is buffered, now, on this thread. Resolves at once; rejects with the disk's error. */
  private async writeBuffered(fh: FileHandle): Promise<void> {
    if (this.failed) throw this.failed;
    this.pullSource();
    this.dropOnRotate.length = 0;
    const data = this.pending.view();
    try {
      for (let at = 0; at < data.length; ) at += writeSync(fh.fd, data, at);
    } catch (e) {
      this.failed ??= e as Error;
      throw e;
    } finally {
      this.bytes += data.length;
      this.pending.clear();
    }
  }

  /** Writes what is buffered through the thread pool, for records no one waits for. */
  private readonly writeInBackground = (): void => {
    this.timer = undefined;
    this.pullSource();
    // After a disk error nothing more is written: drop what comes in rather than hold it.
    if (this.failed) {
      this.pending.clear();
      this.dropOnRotate.length = 0;
    }
    if (this.writing !== undefined || this.next !== undefined || this.pending.length === 0) return;
    const data = this.pending;
    this.pending = this.spare ?? new Bytes();
    this.spare = undefined;
    this.dropOnRotate.length = 0;
    this.writing = this.fh
      .write(data.view())
      .then(
        ({ bytesWritten }) => {
          this.bytes += bytesWritten;
        },
        (e: unknown) => {
          this.failed ??= e as Error;
        },
      )
      .finally(() => {
        data.clear();
        this.spare = data;
        this.writing = undefined;
        if (this.next !== undefined) this.startRound();
        else if (this.pending.length > 0) this.poke();
      });
  };

  /**
   * Continues in a new file from now on; records not yet written go to it, but for those a rotation
   * drops (see `keepOnRotate`). Call it in the same turn as taking the snapshot. Resolves when the
   * old file is synced and closed.
   */
  async rotate(next: FileHandle): Promise<void> {
    const old = this.fh;
    const writing = this.writing;
    this.fh = next;
    this.bytes = 0;
    this.pullSource();
    this.dropRotated();
    // A decision written to the old file in the background has had no sync; an outcome for it
    // acknowledged from the new file would outlive it if the machine failed before the snapshot is
    // durable. So later rounds are acknowledged only once the old file is synced (a disk error
    // there fails the journal, like any sync's).
    const oldSynced = Promise.resolve(writing)
      .then(() => old.datasync())
      .then(
        () => undefined,
        (e: unknown) => {
          this.failed ??= e as Error;
        },
      );
    this.acknowledged = Promise.all([this.acknowledged, oldSynced]).then(() => undefined);
    // Writes and syncs in flight may still be on the old file; later ones take the new one.
    await this.settled();
    await oldSynced;
    await old.close();
  }

  /** Removes from `pending` the records a rotation drops. */
  private dropRotated(): void {
    const drop = this.dropOnRotate;
    if (drop.length === 0) return;
    const all = Buffer.from(this.pending.view());
    this.pending.clear();
    let from = 0;
    for (let i = 0; i < drop.length; i += 2) {
      this.pending.write(all.subarray(from, drop[i]));
      from = drop[i + 1]!;
    }
    this.pending.write(all.subarray(from));
    drop.length = 0;
  }

  /** Writes and syncs what is buffered, then closes the file. */
  async close(): Promise<void> {
    this.pullSource();
    if (this.pending.length > 0 && !this.failed) await this.commit().catch(() => undefined);
    await this.settled();
    await this.fh.close();
  }

  /** Resolves once no write or sync is in flight or waiting to start. */
  private async settled(): Promise<void> {
    while (this.writing !== undefined || this.syncs > 0 || this.next !== undefined) {
      await this.writing;
      await this.next?.done.catch(() => undefined);
      await this.acknowledged;
    }
  }
}
