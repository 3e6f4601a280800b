/**
 * The TrainingRows port's contract, run against both stores: files under a state directory and a
 * Redis stream per route (a real redis-server). Rows come back in the order they were joined, in
 * pages, per route; rows past the retention (an injected clock) are gone; two stores on the same
 * Redis keep one dataset.
 */
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { type TrainingRow, rowLine } from '../../src/retrain/dataset-row.js';
import { DatasetReads } from '../../src/retrain/dataset-reads.js';
import { EmbeddedTrainingRows } from '../../src/state/embedded/training-rows.js';
import { connectRedis, type RedisLink } from '../../src/state/redis/connection.js';
import { RedisTrainingRows } from '../../src/state/redis/training-rows.js';
import { datasetKey } from '../../src/state/redis/keys.js';
import type { TrainingRows } from '../../src/state/training-rows.js';
import { redisAvailable, redisPlan, startRedis, type TestRedis } from '../helpers/redis.js';

const log = createLogger('silent');
const DAY = 86_400_000;
const T0 = Date.parse('2026-06-01T12:00:00.000Z');

interface Implementation {
  readonly name: string;
  setUp(): Promise<void>;
  /** A store on the shared state (the same directory, or the same Redis), with its own clock. */
  open(now: () => number): Promise<TrainingRows>;
  /** Rows of `route` the state holds, however a read would filter them. */
  held(route: string): Promise<number>;
  tearDown(): Promise<void>;
}

const embedded = (): Implementation => {
  let dir = '';
  return {
    name: 'embedded',
    setUp: async () => {
      dir = mkdtempSync(join(tmpdir(), 'croupier-rows-'));
    },
    open: async (now) => new EmbeddedTrainingRows(dir, { retentionMs: 30 * DAY, now }, log),
    held: async (route) => {
      const at = join(dir, 'dataset', route);
      let n = 0;
      for (const f of readdirSync(at)) n += readFileSync(join(at, f), 'utf8').split('\n').filter(Boolean).length;
      return n;
    },
    tearDown: async () => rmSync(dir, { recursive: true, force: true }),
  };
};

const redis = (): Implementation => {
  let server: TestRedis | undefined;
  const links: RedisLink[] = [];
  return {
    name: 'redis',
    setUp: async () => {
      server = await startRedis();
    },
    open: async (now) => {
      const config = { url: server!.url, sentinels: undefined, clusterNodes: undefined, name: undefined };
      const link = await connectRedis(config, log, new Metrics());
      links.push(link);
      return new RedisTrainingRows(link, { retentionMs: 30 * DAY, now }, log);
    },
    held: (route) => links[0]!.client.xlen(datasetKey(route)),
    tearDown: async () => {
      for (const link of links) await link.close();
      await server?.stop();
    },
  };
};

function row(n: number, atMs: number, route = 'r'): TrainingRow {
  return {
    decision: `d${n}`,
    atMs: atMs - 1000,
    route,
    arm: 'champion',
    model: 'm',
    version: '1',
    propensity: 0.5,
    score: n / 100,
    features: { amount: n, country: 'FR' },
    reward: n % 2,
    label: n % 2 === 1,
    outcomeAtMs: atMs,
  };
}

async function readAll(store: TrainingRows, route: string, fromMs = 0, page = 1000): Promise<string[][]> {
  const pages: string[][] = [];
  for await (const p of store.read(route, fromMs, page)) pages.push(p);
  return pages;
}

const plan = redisPlan(redisAvailable(), process.env.CI === 'true');
const implementations = plan === 'run' ? [embedded(), redis()] : [embedded()];
if (plan === 'fail')
  it('needs redis-server (CI=true: Redis tests fail instead of skipping)', () => {
    throw new Error('redis-server is not installed; under CI=true Redis tests must run');
  });

describe.each(implementations)('TrainingRows contract: $name', (impl) => {
  beforeAll(() => impl.setUp());
  afterAll(() => impl.tearDown());

  it('gives back the rows of a route in the order they were joined, in pages, apart from other routes', async () => {
    const store = await impl.open(() => T0);
    for (let n = 0; n < 25; n++) store.append(row(n, T0 + n, 'paged'));
    store.append(row(99, T0, 'other'));
    await store.flush();
    const pages = await readAll(store, 'paged', 0, 10);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(pages.flat()).toEqual(Array.from({ length: 25 }, (_, n) => rowLine(row(n, T0 + n, 'paged'))));
    expect((await readAll(store, 'other')).flat()).toEqual([rowLine(row(99, T0, 'other'))]);
    expect(await readAll(store, 'never-written')).toEqual([]);
    expect(store.dropped).toBe(0);
    await store.close();
  });

  it('drops rows past the retention: a reader at that time sees only the younger ones', async () => {
    let now = T0;
    const store = await impl.open(() => now);
    store.append(row(1, T0, 'kept'));
    store.append(row(2, T0 + 1, 'kept'));
    await store.flush();
    now = T0 + 31 * DAY;
    store.append(row(3, now, 'kept'));
    await store.flush();
    // The old rows are gone from the state, not only filtered out of reads.
    expect(await impl.held('kept')).toBe(1);
    expect((await readAll(store, 'kept')).flat()).toEqual([rowLine(row(3, now, 'kept'))]);
    // What the endpoint serves for since=60d at that time: the same.
    const reads = new DatasetReads(store, { logsFeatures: () => true }, 30 * DAY, () => now);
    const served: string[] = [];
    for (let it = reads.open('kept', '60d'), r = await it.next(); !r.done; r = await it.next())
      served.push(r.value.toString('utf8'));
    expect(served.join('')).toBe(`${rowLine(row(3, now, 'kept'))}\n`);
    await store.close();
  });

  it('two stores on the same state keep one dataset', async () => {
    const a = await impl.open(() => T0);
    const b = await impl.open(() => T0);
    a.append(row(1, T0 + 1, 'shared'));
    await a.flush();
    b.append(row(2, T0 + 2, 'shared'));
    await b.flush();
    const fromA = (await readAll(a, 'shared')).flat();
    expect(fromA).toEqual([rowLine(row(1, T0 + 1, 'shared')), rowLine(row(2, T0 + 2, 'shared'))]);
    expect((await readAll(b, 'shared')).flat()).toEqual(fromA);
    await a.close();
    await b.close();
  });
});

describe('EmbeddedTrainingRows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'croupier-rows-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('never serves a line torn by a crash, and starts the next row on a line of its own', async () => {
    const day = join(dir, 'dataset', 'torn');
    mkdirSync(day, { recursive: true });
    const whole = rowLine(row(1, T0, 'torn'));
    appendFileSync(join(day, '2026-06-01.ndjson'), `${whole}\n${whole.slice(0, 40)}`);
    const store = new EmbeddedTrainingRows(dir, { retentionMs: 30 * DAY, now: () => T0 }, log);
    store.append(row(2, T0 + 5, 'torn'));
    await store.flush();
    const reads = new DatasetReads(store, { logsFeatures: () => true }, 30 * DAY, () => T0);
    let text = '';
    for (let it = reads.open('torn', '7d'), r = await it.next(); !r.done; r = await it.next())
      text += r.value.toString('utf8');
    expect(text).toBe(`${whole}\n${rowLine(row(2, T0 + 5, 'torn'))}\n`);
    expect(readdirSync(day)).toEqual(['2026-06-01.ndjson']);
  });
});
