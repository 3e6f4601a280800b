/**
 * The audit trail: one JSON line per admin action, accepted or refused (anonymous refusals at a
 * bounded rate, refusals.ts), in `<stateDir>/audit.log`.
 * Entries are hash-chained (src/state/audit-chain.ts). Appends are ordered in memory and each is
 * fdatasync'ed before the action's answer goes out.
 */
import { closeSync, fdatasync, fdatasyncSync, fstatSync, openSync, readSync, write, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  chainEntry,
  entryHash,
  GENESIS,
  type AuditEntry,
  type AuditFields,
  type LocalAuditTrail,
} from '../audit-chain.js';
import { lastEntrySync, readTail } from './audit-tail.js';

export class AuditLog implements LocalAuditTrail {
  readonly file: string;
  private readonly fd: number;
  private seq = 0;
  private head = GENESIS;
  private writes: Promise<unknown> = Promise.resolve();

  constructor(stateDir: string) {
    this.file = join(stateDir, 'audit.log');
    this.fd = openSync(this.file, 'a+', 0o600);
    const size = fstatSync(this.fd).size;
    // Continue the chain from the last readable line (read from the end: start-up does not read the
    // whole log); `verify` reports any break before it.
    const last = lastEntrySync<AuditEntry>(this.fd, size);
    if (last && typeof last.hash === 'string') {
      this.seq = last.seq;
      this.head = last.hash;
    }
    // A line cut short by a crash is ended, so the next entry starts a line of its own.
    const end = Buffer.alloc(1);
    if (size > 0 && readSync(this.fd, end, 0, 1, size - 1) === 1 && end[0] !== 0x0a) writeSync(this.fd, '\n');
  }

  /** Appends an entry; resolves once it is on disk. */
  append(fields: AuditFields): Promise<AuditEntry> {
    return this.appendWith(fields, () => undefined);
  }

  appendWith(fields: AuditFields, save: (entry: AuditEntry) => void): Promise<AuditEntry> {
    const entry = chainEntry(this.seq + 1, this.head, fields);
    // Synchronous: no other entry can take this place in the chain meanwhile.
    save(entry);
    this.seq = entry.seq;
    this.head = entry.hash;
    const line = Buffer.from(JSON.stringify(entry) + '\n');
    const written = this.writes.then(
      () =>
        new Promise<void>((resolve, reject) => {
          write(this.fd, line, (err) => (err ? reject(err) : fdatasync(this.fd, (e) => (e ? reject(e) : resolve()))));
        }),
    );
    this.writes = written.catch(() => undefined);
    return written.then(() => entry);
  }

  /**
   * At start-up, before any append: writes `saved` — the entry a change was saved with — if the
   * process stopped before it reached the log. It is written as it was when it links to the log's
   * last entry; otherwise (entries before it were lost with the crash) the same record is chained
   * onto the log's end. Answers the entry written, or undefined when the log had it.
   */
  complete(saved: AuditEntry): AuditEntry | undefined {
    if (saved.seq <= this.seq) return undefined;
    const { seq: _s, time, prev, hash: _h, ...fields } = saved;
    const entry =
      saved.seq === this.seq + 1 && prev === this.head && entryHash(saved) === saved.hash
        ? saved
        : chainEntry(this.seq + 1, this.head, fields, time);
    writeSync(this.fd, JSON.stringify(entry) + '\n');
    fdatasyncSync(this.fd);
    this.seq = entry.seq;
    this.head = entry.hash;
    return entry;
  }

  /** The newest `limit` entries with seq < `before`, oldest first: read from the end, in chunks. */
  async read(limit: number, before: number | undefined): Promise<AuditEntry[]> {
    await this.writes;
    return readTail<AuditEntry>(this.file, limit, before);
  }

  async close(): Promise<void> {
    await this.writes;
    closeSync(this.fd);
  }
}
