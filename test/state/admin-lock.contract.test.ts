/**
 * The AdminLocking port's contract, run against both locks: the in-process one (embedded mode) and
 * Redis mode's (a real redis-server): `run` serialises work, a failing work in between included,
 * answers the work's value, and a work that fails rejects `run` and frees the lock. Two replicas on
 * one Redis, and the fencing token: test/redis/control-fencing.test.ts; here, a failure on one
 * replica frees the lock for the other.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminLock, type AdminLocking } from '../../src/state/admin-state.js';
import { controlKey } from '../../src/state/redis/connection.js';
import { LOCK_WAIT_MS, RedisAdminLock } from '../../src/state/redis/lock.js';
import { describeRedis, redisAvailable, redisPlan, startRedis, type TestRedis } from '../helpers/redis.js';

/** One lock under test; `lock(replica)`: a holder on its state (Redis: one per replica; in-process: the one lock). */
interface Implementation {
  readonly name: string;
  setUp(): Promise<void>;
  lock(replica: string): AdminLocking;
  tearDown(): Promise<void>;
}

const inProcess = (): Implementation => {
  const lock = new AdminLock();
  return { name: 'in-process', setUp: async () => undefined, lock: () => lock, tearDown: async () => undefined };
};

const redis = (): Implementation & { client(): Redis } => {
  let server: TestRedis | undefined;
  let client: Redis;
  return {
    name: 'redis',
    setUp: async () => {
      server = await startRedis();
      client = new Redis(server.url);
    },
    lock: (replica) => new RedisAdminLock(client, replica),
    client: () => client,
    tearDown: async () => {
      client?.disconnect();
      await server?.stop();
    },
  };
};

const plan = redisPlan(redisAvailable(), process.env.CI === 'true');
const implementations = plan === 'run' ? [inProcess(), redis()] : [inProcess()];
// Without redis-server: skipped with the reason, or failed under CI=true.
if (plan !== 'run') describeRedis('the AdminLocking contract: redis', () => it('runs', () => undefined));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(implementations)('the AdminLocking contract: $name', (impl) => {
  beforeAll(() => impl.setUp());
  afterAll(() => impl.tearDown());

  it('runs work one at a time, in call order, a failing work in between included, and answers each value', async () => {
    const lock = impl.lock('replica-a');
    let inside = 0;
    let most = 0;
    const started: number[] = [];
    const boom = new Error('deploy failed');
    const work = (i: number) => async (): Promise<number> => {
      started.push(i);
      inside++;
      most = Math.max(most, inside);
      await sleep(i % 3);
      inside--;
      if (i === 4) throw boom;
      return i * 10;
    };
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => lock.run(work(i))));
    expect(most).toBe(1);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : r.reason))).toEqual([
      0,
      10,
      20,
      30,
      boom,
      50,
      60,
      70,
    ]);
  });

  it('rejects run with the error of a work that throws, even synchronously, and frees the lock', async () => {
    const lock = impl.lock('replica-a');
    const boom = new Error('refused');
    await expect(
      lock.run(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    await expect(lock.run(async () => Promise.reject(boom))).rejects.toBe(boom);
    // Freed: the next work runs at once, on this holder and on another on the same state.
    const t0 = Date.now();
    expect(await lock.run(async () => 'next')).toBe('next');
    expect(await impl.lock('replica-b').run(async () => 'other')).toBe('other');
    expect(Date.now() - t0).toBeLessThan(LOCK_WAIT_MS / 2);
  });
});

describeRedis('the AdminLocking contract: redis, two replicas', () => {
  const impl = redis();
  beforeAll(() => impl.setUp());
  afterAll(() => impl.tearDown());

  it("a work failing on one replica frees the lock for the other's waiting work, which never overlaps it", async () => {
    const a = impl.lock('replica-a');
    const b = impl.lock('replica-b');
    const boom = new Error('deploy failed');
    const events: string[] = [];
    const failing = a.run(async () => {
      events.push('a in');
      await sleep(100);
      events.push('a out');
      throw boom;
    });
    await sleep(20);
    const waiting = b.run(async () => {
      events.push('b in');
      return 'b done';
    });
    await expect(failing).rejects.toBe(boom);
    const t0 = Date.now();
    expect(await waiting).toBe('b done');
    // Taken within its poll, not after the 15 s lease ran out (nor refused after LOCK_WAIT_MS).
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(events).toEqual(['a in', 'a out', 'b in']);
    expect(await impl.client().exists(controlKey('lock'))).toBe(0);
  });
});
