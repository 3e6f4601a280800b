/**
 * The audit chain in Redis (Redis mode): entries are JSON strings in the list
 * `croupier:{control}:audit` (entry N at index N-1) and `croupier:{control}:audit-head` holds
 * "<seq> <hash>" of the last one. An append is a compare-and-set on that head in one script:
 * the entry links to the head this replica last saw, and if another replica appended meanwhile the
 * script refuses, answers the new head, and the entry is rebuilt on it. So two replicas can never
 * fork the chain, and `croupier audit verify` checks the same hashes as in embedded mode.
 *
 * A live change or route edit is audited write-ahead (`appendWith`): its intent — the entry's
 * fields and time — is saved in `croupier:{control}:intents` before the change, the change names
 * it, and the append that records it deletes the intent in the same script. An intent left behind
 * by a crash is completed or voided by any replica (change-intents.ts): the pointer and its
 * entry live in different Cluster slots, so this stands in for one atomic write.
 */
import { randomBytes } from 'node:crypto';
import { chainEntry, GENESIS, type AuditEntry, type AuditFields, type AuditTrail } from '../audit-chain.js';
import { controlKey, type RedisClient } from './connection.js';
import { unavailable } from './lock.js';

/** KEYS: list, head, intents. ARGV: head seen, entry, new head, genesis head, intent id ('' for none). 0: the intent is gone. */
const APPEND = `
local head = redis.call('GET', KEYS[2]) or ARGV[4]
if head ~= ARGV[1] then return head end
if ARGV[5] ~= '' and redis.call('HEXISTS', KEYS[3], ARGV[5]) == 0 then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
if ARGV[5] ~= '' then redis.call('HDEL', KEYS[3], ARGV[5]) end
return 1`;
const START = `0 ${GENESIS}`;
/**
 * Appends racing with other replicas: give up (the action is still answered, the failure logged)
 * after this long. A time, not a count of attempts: a replica whose own appends queue up wins each
 * race while its queue lasts (its next append reaches Redis before the loser's retry), so the loser
 * waits out a burst of any length, which 20 attempts did not.
 */
const GIVE_UP_MS = 5000;

/** A change's audit entry before it is chained: saved ahead of the change, which names it by `id`. */
export interface ChangeIntent {
  readonly id: string;
  readonly time: string;
  readonly fields: AuditFields;
}

export const INTENTS_KEY = controlKey('intents');

export class RedisAuditLog implements AuditTrail {
  private readonly client: RedisClient;
  private readonly list = controlKey('audit');
  private readonly headKey = controlKey('audit-head');
  private head = START;
  private writes: Promise<unknown> = Promise.resolve();

  constructor(client: RedisClient) {
    this.client = client;
  }

  /** Appends in this replica's order; resolves once Redis has the entry. */
  append(fields: AuditFields): Promise<AuditEntry> {
    return this.queued(() => this.appendNow(fields, undefined)) as Promise<AuditEntry>;
  }

  /**
   * Write-ahead: hands `save` the intent (saved with the change, see control.ts), and once the
   * change is in Redis appends its entry, deleting the intent in the same script. When `save`
   * rejects, nothing is appended (the refusal is audited by the caller).
   */
  appendWith(fields: AuditFields, save: (record: unknown) => void | Promise<void>): Promise<AuditEntry | undefined> {
    const intent: ChangeIntent = { id: randomBytes(12).toString('hex'), time: new Date().toISOString(), fields };
    return Promise.resolve(save(intent)).then(() => this.complete(intent));
  }

  /**
   * Appends the entry of a pending intent (with its time), as it is or with `fields`; undefined when
   * the intent is no longer pending (another replica completed or voided it first).
   */
  complete(intent: ChangeIntent, fields: AuditFields = intent.fields): Promise<AuditEntry | undefined> {
    return this.queued(() => this.appendNow(fields, intent));
  }

  private queued(append: () => Promise<AuditEntry | undefined>): Promise<AuditEntry | undefined> {
    const written = this.writes.then(append);
    this.writes = written.catch(() => undefined);
    return written;
  }

  private async appendNow(fields: AuditFields, intent: ChangeIntent | undefined): Promise<AuditEntry | undefined> {
    const deadline = Date.now() + GIVE_UP_MS;
    for (let attempts = 1; ; attempts++) {
      const [seqText, prev] = this.head.split(' ') as [string, string];
      const entry = chainEntry(Number(seqText) + 1, prev, fields, intent?.time);
      const next = `${entry.seq} ${entry.hash}`;
      let answer: unknown;
      try {
        answer = await this.client.eval(
          APPEND,
          3,
          this.list,
          this.headKey,
          INTENTS_KEY,
          this.head,
          JSON.stringify(entry),
          next,
          START,
          intent?.id ?? '',
        );
      } catch (e) {
        throw unavailable(e, 'append to the audit chain');
      }
      if (answer === 1) {
        this.head = next;
        return entry;
      }
      if (answer === 0) return undefined;
      this.head = String(answer);
      if (Date.now() > deadline)
        throw unavailable(
          new Error(`the head moved ${attempts} times in a row, for ${GIVE_UP_MS / 1000} s`),
          'append to the audit chain',
        );
    }
  }

  /** The newest `limit` entries with seq < `before`, oldest first (entry N is at index N-1). */
  async read(limit: number, before: number | undefined): Promise<AuditEntry[]> {
    await this.writes;
    let texts: string[];
    try {
      if (before === undefined) {
        texts = await this.client.lrange(this.list, -limit, -1);
      } else {
        // Entries past the newest do not exist: `before` beyond them reads the newest, as a file does.
        const end = Math.min(before - 2, (await this.client.llen(this.list)) - 1);
        if (end < 0) return [];
        texts = await this.client.lrange(this.list, Math.max(0, end - limit + 1), end);
      }
    } catch (e) {
      throw unavailable(e, 'read the audit chain');
    }
    return texts.map((t) => JSON.parse(t) as AuditEntry);
  }

  async close(): Promise<void> {
    await this.writes;
  }
}
