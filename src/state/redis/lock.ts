/**
 * The admin lock across replicas (Redis mode), behind AdminLocking: changes are queued in this
 * process first, then each takes `croupier:{control}:lock` (SET NX PX, renewed while held) and,
 * in the same script, a fencing token (INCR). Writes to shared state carry the token and a script
 * refuses one older than the newest it has seen (src/state/redis/control.ts), so a holder whose lease
 * ran out while it was paused cannot overwrite what the next holder did. Release and renewal only
 * touch the lock while it still holds this holder's value.
 */
import { randomBytes } from 'node:crypto';
import { AdminLock, type AdminLocking } from '../admin-state.js';
import { CroupierError, isCroupierError } from '../../errors.js';
import { controlKey, type RedisClient } from './connection.js';

/** A holder that stops renewing (crashed, partitioned) loses the lock after this long. */
export const LOCK_LEASE_MS = 15_000;
/** How long a change waits for another replica's change to finish before answering 409. */
export const LOCK_WAIT_MS = 10_000;
const POLL_MS = 25;

const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local token = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. token, 'PX', ARGV[2])
  return token
end
return redis.call('GET', KEYS[1])`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Redis errors on the admin path become a coded 503 (retry), never an "internal". */
export function unavailable(e: unknown, what: string): CroupierError {
  if (isCroupierError(e)) return e;
  return new CroupierError(
    'state_unavailable',
    `shared state (Redis) cannot be reached to ${what}: ${(e as Error).message}`,
    { cause: e },
  );
}

export class RedisAdminLock implements AdminLocking {
  private readonly client: RedisClient;
  private readonly replica: string;
  private readonly local = new AdminLock();
  private readonly key = controlKey('lock');
  private readonly tokens = controlKey('lock-token');
  private held: { value: string; token: number } | undefined;
  /** Called with the lock held, before the change runs (the holder catches up with the shared state). */
  private readonly beforeWork: () => Promise<void>;

  constructor(client: RedisClient, replica: string, beforeWork: () => Promise<void> = () => Promise.resolve()) {
    this.client = client;
    this.replica = replica;
    this.beforeWork = beforeWork;
  }

  /** The fencing token of the change running now; shared-state writes carry it. */
  fence(): number {
    if (!this.held) throw new Error('a shared-state write outside the admin lock');
    return this.held.token;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    return this.local.run(async () => {
      await this.acquire();
      const renew = setInterval(() => void this.renew(), LOCK_LEASE_MS / 3);
      renew.unref();
      try {
        await this.beforeWork();
        return await work();
      } finally {
        clearInterval(renew);
        await this.release();
      }
    });
  }

  private async acquire(): Promise<void> {
    const value = `${this.replica} ${randomBytes(6).toString('hex')}`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    let holder = '';
    for (;;) {
      let answer: unknown;
      try {
        answer = await this.client.eval(ACQUIRE, 2, this.key, this.tokens, value, LOCK_LEASE_MS);
      } catch (e) {
        throw unavailable(e, 'take the admin lock');
      }
      if (typeof answer === 'number') {
        this.held = { value: `${value} ${answer}`, token: answer };
        return;
      }
      holder = typeof answer === 'string' ? answer.split(' ')[0]! : holder;
      if (Date.now() >= deadline) {
        throw new CroupierError(
          'conflict',
          `another admin change is running on replica ${holder || '(unknown)'} for more than ${LOCK_WAIT_MS / 1000} s; try again`,
        );
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  private async renew(): Promise<void> {
    const held = this.held;
    if (!held) return;
    await this.client.eval(RENEW, 1, this.key, held.value, LOCK_LEASE_MS).catch(() => undefined);
  }

  private async release(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    // If Redis is unreachable the lease runs out on its own.
    if (held) await this.client.eval(RELEASE, 1, this.key, held.value).catch(() => undefined);
  }
}
