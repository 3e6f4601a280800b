/**
 * The OutcomeLog port's contract, run against both stores: day files under a state directory
 * (written by `append`) and the route's outcomes stream in a real Redis (written as the credit
 * script writes it: XADD with its fields). Outcomes come back oldest first, in pages, per route,
 * from a time on, with their context on contextual routes; an entry that is not an outcome (a line
 * torn by a crash, a field that is not a number) is skipped, never served as one.
 */
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { EmbeddedOutcomeLog, outcomeLine } from '../../src/state/embedded/outcome-log.js';
import type { LoggedOutcome, OutcomeLog } from '../../src/state/outcome-log.js';
import { connectRedis, type RedisLink } from '../../src/state/redis/connection.js';
import { outcomesKey } from '../../src/state/redis/keys.js';
import { RedisOutcomeLog } from '../../src/state/redis/outcome-log.js';
import { redisAvailable, redisPlan, startRedis, type TestRedis } from '../helpers/redis.js';

const log = createLogger('silent');
const DAY = 86_400_000;
const T0 = Date.parse('2026-06-01T12:00:00.000Z');

interface Implementation {
  readonly name: string;
  setUp(): Promise<void>;
  open(now: () => number): Promise<OutcomeLog>;
  /** Keeps `outcomes` of `route` the way the running server does in this mode. */
  keep(store: OutcomeLog, route: string, outcomes: readonly LoggedOutcome[]): Promise<void>;
  /** Adds, after what is kept, something that is not an outcome (a torn line, a bad field). */
  spoil(route: string, atMs: number): Promise<void>;
  tearDown(): Promise<void>;
}

const embedded = (): Implementation => {
  let dir = '';
  return {
    name: 'embedded',
    setUp: async () => {
      dir = mkdtempSync(join(tmpdir(), 'croupier-outcomes-'));
    },
    open: async (now) => new EmbeddedOutcomeLog(dir, { retentionMs: 30 * DAY, now }, log),
    keep: async (store, route, outcomes) => {
      for (const o of outcomes) store.append(route, o);
      await store.flush();
    },
    spoil: async (route, atMs) => {
      const at = join(dir, 'outcomes', route);
      mkdirSync(at, { recursive: true });
      appendFileSync(join(at, `${new Date(atMs).toISOString().slice(0, 10)}.ndjson`), '{"d":1,"o":2,"a":"x","p":0.');
    },
    tearDown: async () => rmSync(dir, { recursive: true, force: true }),
  };
};

const redis = (): Implementation => {
  let server: TestRedis | undefined;
  let link: RedisLink | undefined;
  return {
    name: 'redis',
    setUp: async () => {
      server = await startRedis();
      const config = { url: server.url, sentinels: undefined, clusterNodes: undefined, name: undefined };
      link = await connectRedis(config, log, new Metrics());
    },
    open: async () => new RedisOutcomeLog(link!),
    keep: async (store, route, outcomes) => {
      for (const o of outcomes) {
        // What the credit script writes (stats.ts), `context` on contextual routes; the id's ms is the outcome time.
        const fields = ['decision', `d${o.decidedMs}`, 'arm', o.arm, 'model', 'm', 'version', '1'];
        fields.push('reward', String(o.reward), 'propensity', String(o.propensity), 'decidedMs', String(o.decidedMs));
        fields.push('credited', '1', 'label', '1');
        if (o.context) fields.push('context', JSON.stringify(o.context));
        await link!.client.xadd(outcomesKey(route), `${o.outcomeMs}-*`, ...fields);
        store.append(route, o); // a no-op here: it must not write a second entry
      }
      await store.flush();
    },
    spoil: async (route, atMs) => {
      await link!.client.xadd(
        outcomesKey(route),
        `${atMs}-*`,
        'arm',
        'x',
        'reward',
        '1',
        'propensity',
        'n/a',
        'decidedMs',
        '1',
      );
    },
    tearDown: async () => {
      await link?.close();
      await server?.stop();
    },
  };
};

function outcome(n: number, atMs: number, context?: number[]): LoggedOutcome {
  const o = {
    decidedMs: atMs - 500,
    outcomeMs: atMs,
    arm: n % 3 === 0 ? 'a' : 'b',
    propensity: 0.25 + (n % 3) / 4,
    reward: n % 2,
  };
  return context ? { ...o, context } : o;
}

async function readAll(store: OutcomeLog, route: string, fromMs = 0, page = 1000): Promise<LoggedOutcome[][]> {
  const pages: LoggedOutcome[][] = [];
  for await (const p of store.read(route, fromMs, page)) pages.push(p);
  return pages;
}

const plan = redisPlan(redisAvailable(), process.env.CI === 'true');
const implementations = plan === 'run' ? [embedded(), redis()] : [embedded()];
if (plan === 'fail')
  it('needs redis-server (CI=true: Redis tests fail instead of skipping)', () => {
    throw new Error('redis-server is not installed; under CI=true Redis tests must run');
  });

describe.each(implementations)('OutcomeLog contract: $name', (impl) => {
  beforeAll(() => impl.setUp());
  afterAll(() => impl.tearDown());

  it('gives back the outcomes of a route oldest first, in pages, apart from other routes', async () => {
    const store = await impl.open(() => T0 + DAY);
    const kept = Array.from({ length: 25 }, (_, n) => outcome(n, T0 + n));
    await impl.keep(store, 'paged', kept);
    await impl.keep(store, 'other', [outcome(99, T0)]);
    const pages = await readAll(store, 'paged', 0, 10);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(pages.flat()).toEqual(kept);
    expect((await readAll(store, 'other')).flat()).toEqual([outcome(99, T0)]);
    expect(await readAll(store, 'never-written')).toEqual([]);
    expect(store.dropped).toBe(0);
    await store.close();
  });

  it('keeps a contextual route’s context vector with each outcome, exactly', async () => {
    const store = await impl.open(() => T0 + DAY);
    const kept = [outcome(1, T0, [0.5, 1, 0]), outcome(2, T0 + 1, [-1.25, 1e-9, 123456.789])];
    await impl.keep(store, 'contextual', kept);
    expect((await readAll(store, 'contextual')).flat()).toEqual(kept);
    await store.close();
  });

  it('reads from a time on: outcomes before `fromMs` are not served', async () => {
    const store = await impl.open(() => T0 + DAY);
    await impl.keep(store, 'since', [outcome(1, T0), outcome(2, T0 + 60_000), outcome(3, T0 + 120_000)]);
    expect((await readAll(store, 'since', T0 + 60_000)).flat()).toEqual([
      outcome(2, T0 + 60_000),
      outcome(3, T0 + 120_000),
    ]);
    await store.close();
  });

  it('skips what is not an outcome, and goes on with the outcomes after it (a crash, then a restart)', async () => {
    const before = await impl.open(() => T0 + DAY);
    await impl.keep(before, 'spoilt', [outcome(1, T0)]);
    await before.close();
    await impl.spoil('spoilt', T0 + 1);
    const after = await impl.open(() => T0 + DAY);
    await impl.keep(after, 'spoilt', [outcome(2, T0 + 2)]);
    expect((await readAll(after, 'spoilt')).flat()).toEqual([outcome(1, T0), outcome(2, T0 + 2)]);
    await after.close();
  });
});

describe('EmbeddedOutcomeLog', () => {
  const dir = mkdtempSync(join(tmpdir(), 'croupier-outcomes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('drops days past CROUPIER_DATASET_DAYS: their file goes, and a read at that time sees only the younger outcomes', async () => {
    let now = T0;
    const store = new EmbeddedOutcomeLog(dir, { retentionMs: 30 * DAY, now: () => now }, log);
    store.append('kept', outcome(1, T0));
    await store.flush();
    now = T0 + 31 * DAY;
    store.append('kept', outcome(2, now));
    await store.flush();
    expect(readdirSync(join(dir, 'outcomes', 'kept'))).toEqual([new Date(now).toISOString().slice(0, 10) + '.ndjson']);
    expect((await readAll(store, 'kept')).flat()).toEqual([outcome(2, now)]);
  });

  it('writes a compact line per outcome', () => {
    expect(outcomeLine(outcome(1, T0, [0.5, 1]))).toBe(`{"d":${T0 - 500},"o":${T0},"a":"b","p":0.5,"r":1,"x":[0.5,1]}`);
    expect(outcomeLine(outcome(3, T0))).toBe(`{"d":${T0 - 500},"o":${T0},"a":"a","p":0.25,"r":1}`);
  });
});
