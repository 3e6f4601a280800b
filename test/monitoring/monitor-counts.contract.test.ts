/**
 * The MonitorCounts port's contract, against both stores: the embedded one (memory + a snapshot in
 * the state directory) and Redis mode's (minute and hour hashes in a real redis-server). Windows
 * are exact sums of the minutes they cover, whatever hour boundaries they cross; a restart keeps
 * them; Redis adds what every replica applied.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { minuteOf } from '../../src/monitoring/minute-window.js';
import type { Delta, MonitorCounts, SeriesKey } from '../../src/monitoring/monitor-counts.js';
import { seededRng } from '../../src/routing/sampling.js';
import { EmbeddedMonitorCounts } from '../../src/state/embedded/monitor-counts.js';
import { connectRedis, type RedisLink } from '../../src/state/redis/connection.js';
import { RedisMonitorCounts } from '../../src/state/redis/monitor-counts.js';
import { redisAvailable, redisPlan, startRedis, type TestRedis } from '../helpers/redis.js';

const log = createLogger('silent');

interface Implementation {
  readonly name: string;
  setUp(): Promise<void>;
  /** A store on the state opened before, if any (a restart, or another replica in Redis mode). */
  open(): Promise<MonitorCounts>;
  tearDown(): Promise<void>;
}

const embedded = (): Implementation => {
  let dir = '';
  return {
    name: 'embedded',
    setUp: async () => {
      dir = mkdtempSync(join(tmpdir(), 'croupier-monitor-'));
    },
    open: async () => EmbeddedMonitorCounts.open(dir, log),
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
    open: async () => {
      const config = { url: server!.url, sentinels: undefined, clusterNodes: undefined, name: undefined };
      const link = await connectRedis(config, log, new Metrics());
      links.push(link);
      return new RedisMonitorCounts(link);
    },
    tearDown: async () => {
      for (const link of links) await link.close();
      await server?.stop();
    },
  };
};

const plan = redisPlan(redisAvailable(), process.env.CI === 'true');
const implementations = plan === 'run' ? [embedded(), redis()] : [embedded()];
if (plan === 'fail')
  throw new Error('redis-server is not installed, and CI=true: the Redis half of this contract must run');

const arm: SeriesKey = { scope: 'route', name: 'fraud-scoring', series: 'arm:champion' };
const drift: SeriesKey = { scope: 'model', name: 'fraud', series: 'drift:2' };

/** Deltas over the last day (what both stores keep), and the same sums kept by hand. */
function traffic(seed: number, now: number, n: number) {
  const rng = seededRng(seed);
  const deltas: Delta[] = [];
  const byMinute = new Map<string, Map<number, number[]>>();
  for (let i = 0; i < n; i++) {
    const key = rng() < 0.5 ? arm : drift;
    const minute = now - Math.floor(rng() * 1_440);
    const amounts = new Float64Array(4);
    amounts[Math.floor(rng() * 4)] = Math.round(rng() * 100) / 4;
    deltas.push({ key, minute, amounts });
    const m = byMinute.get(key.series) ?? new Map<number, number[]>();
    byMinute.set(key.series, m);
    const v = m.get(minute) ?? [0, 0, 0, 0];
    m.set(
      minute,
      v.map((x, j) => x + amounts[j]!),
    );
  }
  const expected = (key: SeriesKey, last: number, minutes: number) => {
    const out = [0, 0, 0, 0];
    for (const [m, v] of byMinute.get(key.series) ?? []) {
      if (m > last || m <= last - minutes) continue;
      for (const [j, x] of v.entries()) out[j]! += x;
    }
    return out;
  };
  const minutesOf = (key: SeriesKey, first: number, last: number) =>
    [...(byMinute.get(key.series) ?? [])].filter(([m]) => m >= first && m <= last).sort((a, b) => a[0] - b[0]);
  return { deltas, expected, minutesOf };
}

for (const impl of implementations) {
  describe(`MonitorCounts contract: ${impl.name}`, () => {
    beforeAll(() => impl.setUp(), 30_000);
    afterAll(() => impl.tearDown());

    const now = minuteOf(Date.now());
    const world = traffic(1, now, 2_000);

    it('a window is the exact sum of its minutes, across hour boundaries, for 1 h, 24 h and odd lengths', async () => {
      const store = await impl.open();
      // In several calls, as the domain applies them once a second.
      for (let i = 0; i < world.deltas.length; i += 250) await store.apply(world.deltas.slice(i, i + 250));
      const rng = seededRng(2);
      for (let i = 0; i < 40; i++) {
        const last = now - Math.floor(rng() * 200);
        const minutes = [1, 59, 60, 61, 119, 180, 1_000, 1_440][i % 8]!;
        const keys = [arm, drift];
        const sums = await store.sums(keys, last, Math.min(minutes, 1_440 - (now - last)), 4);
        for (const [j, k] of keys.entries()) {
          const want = world.expected(k, last, Math.min(minutes, 1_440 - (now - last)));
          for (const [n, x] of sums[j]!.entries()) expect(x, `${k.series} ${last} ${minutes}`).toBeCloseTo(want[n]!, 6);
        }
      }
      await store.close();
    });

    it('lists a series minute by minute, oldest first, only minutes with data', async () => {
      const store = await impl.open();
      const got = await store.minutes(arm, now - 90, now, 4);
      const want = world.minutesOf(arm, now - 90, now);
      expect(got.map(([m]) => m)).toEqual(want.map(([m]) => m));
      for (const [i, [, v]] of got.entries())
        for (const [n, x] of v.entries()) expect(x).toBeCloseTo(want[i]![1][n]!, 6);
      await store.close();
    });

    it('a series never written sums to zeros of the asked length', async () => {
      const store = await impl.open();
      const [v] = await store.sums([{ scope: 'route', name: 'nobody', series: 'arm:x' }], now, 60, 3);
      expect([...v!]).toEqual([0, 0, 0]);
      expect(await store.minutes({ scope: 'route', name: 'nobody', series: 'arm:x' }, now - 5, now, 3)).toEqual([]);
      await store.close();
    });

    it('after a restart (a new store on the same state) the windows are what they were', async () => {
      const store = await impl.open();
      const [day] = await store.sums([drift], now, 1_440, 4);
      const want = world.expected(drift, now, 1_440);
      for (const [n, x] of day!.entries()) expect(x).toBeCloseTo(want[n]!, 6);
      await store.close();
    });

    it('after a restart every minute of every series is exactly what it was, bit for bit', async () => {
      const store = await impl.open();
      const before = [await store.minutes(arm, now - 1_439, now, 4), await store.minutes(drift, now - 1_439, now, 4)];
      await store.close();
      const again = await impl.open();
      const after = [await again.minutes(arm, now - 1_439, now, 4), await again.minutes(drift, now - 1_439, now, 4)];
      expect(after[0]!.length + after[1]!.length).toBeGreaterThan(1_000);
      expect(after).toEqual(before);
      await again.close();
    });
  });
}

describe.runIf(plan === 'run')('MonitorCounts in Redis mode: replicas', () => {
  const impl = redis();
  beforeAll(() => impl.setUp(), 30_000);
  afterAll(() => impl.tearDown());

  it('two replicas applying at once read the same windows, the sum of both', async () => {
    const [a, b] = [await impl.open(), await impl.open()];
    const now = minuteOf(Date.now());
    const key: SeriesKey = { scope: 'route', name: 'r', series: 'arm:a' };
    const one = (x: number) => ({ key, minute: now, amounts: Float64Array.of(x, 0.5) });
    await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).apply([one(1)])));
    const [fromA] = await a.sums([key], now, 60, 2);
    const [fromB] = await b.sums([key], now, 60, 2);
    expect([...fromA!]).toEqual([50, 25]);
    expect([...fromB!]).toEqual([50, 25]);
  });
});

describe('MonitorCounts, embedded: a snapshot that cannot be read', () => {
  it('is set aside with an error logged, and the windows start empty instead of the server failing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'croupier-monitor-'));
    try {
      writeFileSync(join(dir, 'monitor.json'), '{"version": 1, "series": [{"key": 3}]}');
      const store = EmbeddedMonitorCounts.open(dir, log);
      const [v] = await store.sums([arm], minuteOf(Date.now()), 60, 2);
      expect([...v!]).toEqual([0, 0]);
      expect(readdirSync(dir).some((f) => f.startsWith('monitor.json.unreadable-'))).toBe(true);
      await store.apply([{ key: arm, minute: minuteOf(Date.now()), amounts: Float64Array.of(1, 2) }]);
      await store.close();
      const again = EmbeddedMonitorCounts.open(dir, log);
      expect([...(await again.sums([arm], minuteOf(Date.now()), 60, 2))[0]!]).toEqual([1, 2]);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
