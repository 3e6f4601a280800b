/**
 * The AuditTrail port's contract, run against both stores: the embedded file (`<stateDir>/audit.log`)
 * and Redis mode's chain (a real redis-server). Entries get seq 1..n and one hash chain, also under
 * concurrent appends; `read(limit, before)` pages the same way; `appendWith` records nothing when
 * the save fails and the entry once when it succeeds; entries survive re-opening the store. Racing
 * appends from two replicas on one Redis: test/redis/control-fencing.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AuditEntry, type AuditFields, type AuditTrail, verifyAuditLog } from '../../src/state/audit-chain.js';
import { AuditLog } from '../../src/state/embedded/audit-log.js';
import { createLogger } from '../../src/log.js';
import { type ChangeIntent, RedisAuditLog } from '../../src/state/redis/audit.js';
import { ChangeIntents } from '../../src/state/redis/change-intents.js';
import { describeRedis, redisAvailable, redisPlan, startRedis, type TestRedis } from '../helpers/redis.js';

/** One store under test: `fresh` empties its state, `open` opens it on the state it has (again: a restart). */
interface Implementation {
  readonly name: string;
  setUp(): Promise<void>;
  fresh(): Promise<void>;
  open(): AuditTrail;
  /**
   * What a change's successful save does with the record `appendWith` hands it. Embedded: the record
   * is the entry itself, written with the change (nothing to do here). Redis: a write-ahead intent,
   * saved in Redis before the change (an intent not saved is not appended: another replica voided it).
   */
  keep(record: unknown): Promise<void>;
  tearDown(): Promise<void>;
}

const embedded = (): Implementation => {
  let dir = '';
  return {
    name: 'embedded',
    setUp: async () => undefined,
    fresh: async () => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = mkdtempSync(join(tmpdir(), 'croupier-audit-'));
    },
    open: () => new AuditLog(dir),
    keep: async () => undefined,
    tearDown: async () => rmSync(dir, { recursive: true, force: true }),
  };
};

const redis = (): Implementation => {
  let server: TestRedis | undefined;
  let client: Redis;
  let intents: ChangeIntents;
  return {
    name: 'redis',
    setUp: async () => {
      server = await startRedis();
      client = new Redis(server.url);
      intents = new ChangeIntents(client, new RedisAuditLog(client), createLogger('silent'));
    },
    fresh: async () => {
      await client.flushall();
    },
    open: () => new RedisAuditLog(client),
    keep: (record) => intents.save(record as ChangeIntent, 'model:m', 1),
    tearDown: async () => {
      client?.disconnect();
      await server?.stop();
    },
  };
};

const plan = redisPlan(redisAvailable(), process.env.CI === 'true');
const implementations = plan === 'run' ? [embedded(), redis()] : [embedded()];
// Without redis-server: skipped with the reason, or failed under CI=true.
if (plan !== 'run') describeRedis('the AuditTrail contract: redis', () => it('runs', () => undefined));

const fields = (i: number): AuditFields => ({
  actor: 'admin',
  action: 'deploy',
  target: 'm',
  before: String(i - 1),
  after: String(i),
  result: 'ok',
  status: 200,
});
const seqs = (entries: readonly AuditEntry[]): number[] => entries.map((e) => e.seq);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
/** The store's whole trail as the store reads it back, checked as `croupier audit verify` checks a log. */
const verify = async (trail: AuditTrail) =>
  verifyAuditLog((await trail.read(1000, undefined)).map((e) => JSON.stringify(e)).join('\n'));

describe.each(implementations)('the AuditTrail contract: $name', (impl) => {
  let trail: AuditTrail;
  beforeAll(() => impl.setUp());
  beforeEach(async () => {
    await impl.fresh();
    trail = impl.open();
    return () => trail.close();
  });
  afterAll(() => impl.tearDown());

  const appendAll = async (n: number): Promise<AuditEntry[]> => {
    const out: AuditEntry[] = [];
    for (let i = 1; i <= n; i++) out.push(await trail.append(fields(i)));
    return out;
  };

  it('appends in order with seq 1..n, each linked to the one before, and reads back what it answered', async () => {
    const appended = await appendAll(5);
    expect(seqs(appended)).toEqual(range(1, 5));
    expect(appended.map((e) => e.after)).toEqual(['1', '2', '3', '4', '5']);
    for (let i = 1; i < appended.length; i++) expect(appended[i]!.prev).toBe(appended[i - 1]!.hash);
    expect(await trail.read(10, undefined)).toEqual(appended);
    expect(await verify(trail)).toEqual({ ok: true, entries: 5, head: appended[4]!.hash });
  });

  it('pages with read(limit, before): the newest `limit` entries below `before`, oldest first', async () => {
    await appendAll(10);
    expect(seqs(await trail.read(3, undefined))).toEqual([8, 9, 10]);
    expect(seqs(await trail.read(3, 8))).toEqual([5, 6, 7]);
    expect(seqs(await trail.read(3, 3))).toEqual([1, 2]);
    expect(seqs(await trail.read(3, 1))).toEqual([]);
    expect(seqs(await trail.read(50, undefined))).toEqual(range(1, 10));
    expect(seqs(await trail.read(50, 11))).toEqual(range(1, 10));
    // Walking back page by page (as GET /admin/audit?before= does) meets every entry once.
    const seen: number[] = [];
    for (let page = await trail.read(4, undefined); page.length > 0; page = await trail.read(4, page[0]!.seq))
      seen.unshift(...seqs(page));
    expect(seen).toEqual(range(1, 10));
  });

  // `before` past the newest entry: the newest `limit` entries (all are below it). Redis once
  // counted `limit` back from index before-2 and answered only those that existed (here none).
  it('read(limit, before) with `before` past the newest entry', async () => {
    await appendAll(10);
    expect(seqs(await trail.read(3, 100))).toEqual([8, 9, 10]);
  });

  it('keeps seq and links consistent when appends are made concurrently', async () => {
    const appended = await Promise.all(range(1, 30).map((i) => trail.append(fields(i))));
    expect(seqs(appended)).toEqual(range(1, 30));
    expect(await verify(trail)).toMatchObject({ ok: true, entries: 30 });
  });

  it('appendWith: a save that throws records nothing; one that succeeds records the entry once', async () => {
    await trail.append(fields(1));
    const refused = new Error('the change could not be written');
    // Called as the admin plane does, inside an async function: both stores throw synchronously here.
    await expect(
      (async () =>
        trail.appendWith!(fields(2), () => {
          throw refused;
        }))(),
    ).rejects.toBe(refused);
    expect(seqs(await trail.read(10, undefined))).toEqual([1]);

    const records: unknown[] = [];
    const entry = await trail.appendWith!(fields(3), (record) => {
      records.push(record);
      return impl.keep(record);
    });
    expect(records).toHaveLength(1);
    expect(entry).toMatchObject({ seq: 2, after: '3' });
    const all = await trail.read(10, undefined);
    expect(all.map((e) => [e.seq, e.after])).toEqual([
      [1, '1'],
      [2, '3'],
    ]);
    expect(all[1]).toEqual(entry);
    expect(await verify(trail)).toMatchObject({ ok: true, entries: 2 });
  });

  it('keeps its entries across re-opening the store, and continues the chain', async () => {
    await appendAll(3);
    await trail.close();
    trail = impl.open();
    expect(seqs(await trail.read(10, undefined))).toEqual([1, 2, 3]);
    expect((await trail.append(fields(4))).seq).toBe(4);
    expect(await verify(trail)).toMatchObject({ ok: true, entries: 4 });
  });
});

// Differs by design: embedded's save is synchronous (it writes the change and its entry in one
// atomic write), so a promise it returns is not awaited. Redis mode's save may be async; a rejection
// records nothing either.
describeRedis('the AuditTrail contract: redis, an async save', () => {
  const impl = redis();
  beforeAll(async () => {
    await impl.setUp();
    await impl.fresh();
  });
  afterAll(() => impl.tearDown());

  it('appendWith: a save that rejects records nothing', async () => {
    const trail = impl.open();
    const refused = new Error('fenced out');
    await expect(trail.appendWith!(fields(1), async () => Promise.reject(refused))).rejects.toBe(refused);
    expect(await trail.read(10, undefined)).toEqual([]);
    expect((await trail.append(fields(2))).seq).toBe(1);
    await trail.close();
  });
});
