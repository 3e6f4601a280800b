/**
 * The audit trail: one JSON line per admin action, accepted or refused (anonymous refusals at a
 * bounded rate, refusals.ts), in `<stateDir>/audit.log`.
 * Entries are hash-chained — `hash` = sha256(prev + canonical JSON of the entry without `hash`) —
 * so an edited or deleted line breaks the chain at that point (`verifyAuditLog`). Appends are
 * ordered in memory and each is fdatasync'ed before the action's answer goes out.
 */
import { createHash } from 'node:crypto';
import { closeSync, fdatasync, fdatasyncSync, fstatSync, openSync, readSync, write, writeSync } from 'node:fs';
import { join } from 'node:path';
import { lastEntrySync, readTail } from './audit-tail.js';

export const GENESIS = '0'.repeat(64);

export type AuditResult = 'ok' | 'noop' | 'refused' | 'failed';

export interface AuditFields {
  readonly actor: string | null;
  readonly action: string;
  readonly target: string | null;
  readonly before?: unknown;
  readonly after?: unknown;
  readonly result: AuditResult;
  /** HTTP status answered; null for events the gateway records by itself. */
  readonly status: number | null;
  readonly error?: { code: string; message: string } | null;
  /** sha256 of the model file that went live (or was added). */
  readonly sha256?: string | null;
}

export interface AuditEntry extends Required<AuditFields> {
  readonly seq: number;
  readonly time: string;
  readonly prev: string;
  readonly hash: string;
}

/** JSON with keys sorted at every level, so the hash does not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj).filter((k) => obj[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function entryHash(entry: Omit<AuditEntry, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...rest } = entry;
  return createHash('sha256').update(entry.prev).update(canonicalJson(rest)).digest('hex');
}

/** The entry after (`seq` - 1, `prev`) in a chain: the fields, the time (now), and the hash that links it. */
export function chainEntry(seq: number, prev: string, fields: AuditFields, time = new Date().toISOString()): AuditEntry {
  const body = {
    seq,
    time,
    actor: fields.actor,
    action: fields.action,
    target: fields.target,
    before: fields.before ?? null,
    after: fields.after ?? null,
    result: fields.result,
    status: fields.status,
    error: fields.error ?? null,
    sha256: fields.sha256 ?? null,
    prev,
  };
  return { ...body, hash: entryHash(body) };
}

export interface AuditVerdict {
  readonly ok: boolean;
  readonly entries: number;
  /** The hash of the last good entry: record it elsewhere to detect truncation later. */
  readonly head: string;
  readonly problem?: { line: number; reason: string };
}

/** Checks a whole audit log's text: sequence, links and hashes. Stops at the first break. */
export function verifyAuditLog(text: string): AuditVerdict {
  let prev = GENESIS;
  let seq = 0;
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const fail = (reason: string): AuditVerdict => ({ ok: false, entries: seq, head: prev, problem: { line: i + 1, reason } });
    let entry: AuditEntry;
    try {
      entry = JSON.parse(lines[i]!) as AuditEntry;
    } catch {
      return fail('not a JSON line');
    }
    if (entry.seq !== seq + 1) return fail(`sequence jumps from ${seq} to ${String(entry.seq)} (a line was deleted or moved)`);
    if (entry.prev !== prev) return fail('prev does not match the hash of the line before (a line was deleted, moved or edited)');
    if (entryHash(entry) !== entry.hash) return fail('hash does not match the content (the line was edited)');
    prev = entry.hash;
    seq = entry.seq;
  }
  return { ok: true, entries: seq, head: prev };
}

/** Where entries are appended and read: this file, or a chain in Redis shared by every replica. */
export interface AuditTrail {
  append(fields: AuditFields): Promise<AuditEntry>;
  /**
   * Makes the record of the change, hands it to `save` — which writes the change together with it —
   * then appends the entry; when `save` throws (or rejects), nothing is recorded. So a crash leaves
   * either neither or both. Embedded mode: the record is the entry itself, `save` writes it in one
   * atomic write, synchronously, and `complete` finishes the append at start-up. Redis mode: the
   * record is a write-ahead intent, `save` resolves once the change is in Redis, and any replica
   * completes or voids an intent left behind (src/redis/change-intents.ts). Resolves with the entry,
   * or undefined when another replica completed it first.
   */
  appendWith?(fields: AuditFields, save: (record: unknown) => void | Promise<void>): Promise<AuditEntry | undefined>;
  read(limit: number, before: number | undefined): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

export class AuditLog implements AuditTrail {
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
    const written = this.writes.then(() => new Promise<void>((resolve, reject) => {
      write(this.fd, line, (err) => (err ? reject(err) : fdatasync(this.fd, (e) => (e ? reject(e) : resolve()))));
    }));
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
    const entry = saved.seq === this.seq + 1 && prev === this.head && entryHash(saved) === saved.hash ? saved : chainEntry(this.seq + 1, this.head, fields, time);
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
