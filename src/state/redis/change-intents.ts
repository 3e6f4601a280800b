/**
 * Write-ahead audit intents of live changes and route edits (Redis mode, issue 12-8). A change is
 * three writes: its intent (`croupier:{control}:intents`, field = intent id), then the pointer or
 * routes document naming the intent (`"intent": id`, under the fencing token), then the audit entry,
 * which deletes the intent in the same script (audit.ts). The pointer (`{model:M}`) and the chain
 * (`{control}`) are in different Cluster slots, so no one script can write both; a replica killed
 * between two of the writes leaves an intent, and any replica settles it at its next re-read:
 *
 * - the document names the intent: the change was made, so its entry is appended (as it was meant);
 * - it does not: the change never happened, and cannot any more — the target's fence is raised past
 *   the intent's token in the same script that checks, so a paused writer's late write is refused —
 *   and a `failed` entry says so. A replica holding the admin lock settles this at once (a holder
 *   that left an intent is gone); others only once the intent has been pending VOID_AFTER_MS by
 *   their own clock, since a live holder writes its pointer right after its intent.
 *
 * So the chain and the live state agree again within about a second of any replica running.
 */
import type { Logger } from '../../log.js';
import { INTENTS_KEY, type ChangeIntent, type RedisAuditLog } from './audit.js';
import { controlKey, modelKey, type RedisClient } from './connection.js';
import { unavailable } from './lock.js';

/** How long an intent whose change is not in Redis may be pending before a replica without the lock voids it. */
export const VOID_AFTER_MS = 5_000;

/** What a change is to: one model's live pointer, or the routes. */
export type ChangeTarget = `model:${string}` | 'routes';

interface PendingIntent extends ChangeIntent {
  readonly target: ChangeTarget;
  /** The fencing token of the change: a void raises the target's fence past it. */
  readonly token: number;
}

/** KEYS: the target document, its fence. ARGV: `"intent":"<id>"`, the intent's token. 0: the change was made. */
const VOID = `
local doc = redis.call('GET', KEYS[1])
if doc and string.find(doc, ARGV[1], 1, true) then return 0 end
local floor = tonumber(ARGV[2]) + 1
if tonumber(redis.call('GET', KEYS[2]) or '0') < floor then redis.call('SET', KEYS[2], floor) end
return 1`;

const VOIDED = {
  code: 'internal',
  message: 'the replica making this change stopped before the change was saved; nothing changed',
};

export function targetKeys(target: ChangeTarget): { doc: string; fence: string } {
  if (target === 'routes') return { doc: controlKey('routes'), fence: controlKey('routes-fence') };
  const model = target.slice('model:'.length);
  return { doc: modelKey(model, 'live'), fence: modelKey(model, 'fence') };
}

export class ChangeIntents {
  private readonly client: RedisClient;
  private readonly audit: RedisAuditLog;
  private readonly log: Logger;
  /** When this replica first saw each pending intent whose change is not in Redis. */
  private readonly firstSeen = new Map<string, number>();

  constructor(client: RedisClient, audit: RedisAuditLog, log: Logger) {
    this.client = client;
    this.audit = audit;
    this.log = log;
  }

  /** Saves `intent` before its change (which must carry `intent: intent.id`). */
  async save(intent: ChangeIntent, target: ChangeTarget, token: number): Promise<void> {
    const pending: PendingIntent = { ...intent, target, token };
    try {
      await this.client.hset(INTENTS_KEY, intent.id, JSON.stringify(pending));
    } catch (e) {
      throw unavailable(e, 'save the audit intent of the change');
    }
  }

  /** Forgets an intent whose change was refused (the refusal is audited by itself). */
  async drop(intent: ChangeIntent): Promise<void> {
    await this.client.hdel(INTENTS_KEY, intent.id).catch(() => undefined);
  }

  /**
   * Settles every pending intent: completes those whose change was made, voids the others (at once
   * when `holdingLock`, else after VOID_AFTER_MS). Rejects with state_unavailable when Redis fails.
   */
  async settle(holdingLock: boolean): Promise<void> {
    try {
      const all = await this.client.hgetall(INTENTS_KEY);
      for (const id of this.firstSeen.keys()) if (!(id in all)) this.firstSeen.delete(id);
      for (const [id, text] of Object.entries(all)) await this.settleOne(id, text, holdingLock);
    } catch (e) {
      throw unavailable(e, 'settle an interrupted change');
    }
  }

  private async settleOne(id: string, text: string, holdingLock: boolean): Promise<void> {
    let intent: PendingIntent;
    try {
      intent = JSON.parse(text) as PendingIntent;
      if (intent.id !== id || typeof intent.token !== 'number' || !intent.fields) throw new Error('not an intent');
    } catch {
      this.log.error({ intent: id }, 'unreadable audit intent dropped');
      await this.client.hdel(INTENTS_KEY, id);
      return;
    }
    const keys = targetKeys(intent.target);
    const named = `"intent":"${id}"`;
    const doc = await this.client.get(keys.doc);
    let made = doc?.includes(named);
    if (!made) {
      const seen = this.firstSeen.get(id) ?? Date.now();
      this.firstSeen.set(id, seen);
      if (!holdingLock && Date.now() - seen < VOID_AFTER_MS) return;
      made = (await this.client.eval(VOID, 2, keys.doc, keys.fence, named, intent.token)) === 0;
    }
    this.firstSeen.delete(id);
    const { action, target } = intent.fields;
    if (made) {
      const entry = await this.audit.complete(intent);
      if (entry)
        this.log.warn(
          { seq: entry.seq, action, target },
          'audit entry of a change was missing (the replica making it stopped before writing it); written now',
        );
    } else {
      const entry = await this.audit.complete(intent, {
        ...intent.fields,
        result: 'failed',
        status: null,
        error: VOIDED,
      });
      if (entry)
        this.log.warn(
          { seq: entry.seq, action, target },
          'a change was interrupted before it was saved (the replica making it stopped); nothing changed, audited as failed',
        );
    }
  }
}
