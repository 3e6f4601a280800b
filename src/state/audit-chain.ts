/**
 * The audit trail's format, whoever stores it (a file, src/state/embedded/audit-log.ts, or a chain in Redis
 * shared by every replica, src/state/redis/audit.ts): entries are hash-chained — `hash` = sha256(prev +
 * canonical JSON of the entry without `hash`) — so an edited or deleted entry breaks the chain at
 * that point (`verifyAuditLog`).
 */
import { createHash } from 'node:crypto';

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
    return `{${Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export function entryHash(entry: Omit<AuditEntry, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...rest } = entry;
  return createHash('sha256').update(entry.prev).update(canonicalJson(rest)).digest('hex');
}

/** The entry after (`seq` - 1, `prev`) in a chain: the fields, the time (now), and the hash that links it. */
export function chainEntry(
  seq: number,
  prev: string,
  fields: AuditFields,
  time = new Date().toISOString(),
): AuditEntry {
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
    const fail = (reason: string): AuditVerdict => ({
      ok: false,
      entries: seq,
      head: prev,
      problem: { line: i + 1, reason },
    });
    let entry: AuditEntry;
    try {
      entry = JSON.parse(lines[i]!) as AuditEntry;
    } catch {
      return fail('not a JSON line');
    }
    if (entry.seq !== seq + 1)
      return fail(`sequence jumps from ${seq} to ${String(entry.seq)} (a line was deleted or moved)`);
    if (entry.prev !== prev)
      return fail('prev does not match the hash of the line before (a line was deleted, moved or edited)');
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
   * completes or voids an intent left behind (src/state/redis/change-intents.ts). Resolves with the entry,
   * or undefined when another replica completed it first.
   */
  appendWith?(fields: AuditFields, save: (record: unknown) => void | Promise<void>): Promise<AuditEntry | undefined>;
  read(limit: number, before: number | undefined): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

/** The trail in this process's state directory (embedded mode), which start-up can complete. */
export interface LocalAuditTrail extends AuditTrail {
  /**
   * At start-up, before any append: writes `saved` (the entry a change was saved with) if the
   * process stopped before it reached the trail. Answers the entry written, or undefined when the
   * trail had it.
   */
  complete(saved: AuditEntry): AuditEntry | undefined;
}
