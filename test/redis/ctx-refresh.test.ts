/**
 * The 200 ms re-read of a contextual route's linear sums (state/redis/stats.ts + linear.ts): what
 * Redis summed arrives bit for bit in each arm's LinearStats, the route is recomputed only when the
 * sums changed, a corrupt field is taken as empty (and said so, once) without stopping the re-read,
 * a reset elsewhere empties them here, and a context-free route still costs one text HGETALL.
 */
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Registry } from '../../src/registry/registry.js';
import { scanRepository } from '../../src/registry/repository.js';
import { LinearStats } from '../../src/routing/contextual/linear-stats.js';
import { parseRouteSpec } from '../../src/routing/route-spec.js';
import { Router, type Route } from '../../src/routing/router.js';
import type { RedisClient, RedisLink } from '../../src/state/redis/connection.js';
import { outcomesKey, settledKey, statsKey } from '../../src/state/redis/keys.js';
import { contextArgs, linearField } from '../../src/state/redis/linear.js';
import { scripts, SharedStats } from '../../src/state/redis/stats.js';
import { describeRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { DEMO_MODELS } from '../helpers/server.js';

const registry = new Registry(scanRepository(DEMO_MODELS));
const lookup = (m: string, v: string) => registry.lookup(m, v);
const ARMS = [
  { name: 'one', model: 'fraud', version: '1' },
  { name: 'two', model: 'fraud', version: '2' },
];

/** A link to a real Redis that is up (what connectRedis gives, without its health machinery). */
function linkTo(client: Redis): RedisLink {
  return {
    client: client as unknown as RedisClient,
    prefix: 'croupier:',
    subscriber: () => client as unknown as RedisClient,
    isUp: () => true,
    isConnected: () => true,
    onChange: () => undefined,
    failed: (err) => {
      throw err;
    },
    wrote: () => undefined,
    waitReplicas: 0,
    close: async () => undefined,
  };
}

describeRedis('the statistics re-read on a contextual route', () => {
  let redis: TestRedis;
  let client: Redis;
  let router: Router;
  let shared: SharedStats;
  const touched: string[] = [];
  const warnings: string[] = [];
  let ids = 0;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    const ctx = parseRouteSpec('ctx', { policy: 'linucb', context: ['a', 'b', 'c'], arms: ARMS }, lookup);
    const plain = parseRouteSpec('plain', { policy: 'thompson', arms: ARMS }, lookup);
    router = new Router(
      registry,
      new Map([
        ['ctx', ctx],
        ['plain', plain],
      ]),
    );
    const touch = router.touch.bind(router);
    router.touch = (route: Route) => {
      touched.push(route.name);
      touch(route);
    };
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        warnings.push(chunk.toString('utf8'));
        done();
      },
    });
    shared = new SharedStats(linkTo(client), router, registry, createLogger('warn', sink));
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  const credit = (route: string, arm: string, reward: number, x?: Float64Array) => {
    const id = `d${ids++}`;
    const version = `fraud@${arm === 'one' ? 1 : 2}`;
    return scripts(client).croupierCredit(
      ...[statsKey(route), settledKey(route, id), outcomesKey(route), id, arm, version, reward, 1_000, 0],
      ...[60_000, '0-0', 'fraud', version.slice(6), 0.5, 900, ''],
      ...(x ? contextArgs(x) : []),
    );
  };
  const linear = (arm: number) => router.get('ctx')!.stats[arm]!.linear!;
  const refreshed = async () => {
    touched.length = 0;
    await shared.refresh();
    return [...touched].sort();
  };

  it('brings what Redis summed into each arm, bit for bit, and recomputes only on a change', async () => {
    const local = [new LinearStats(3), new LinearStats(3)];
    for (let i = 0; i < 30; i++) {
      const arm = i % 3 === 0 ? 1 : 0;
      const x = Float64Array.of(i / 7, i % 2, -1e-3 * i);
      const reward = (i * 0.37) % 1;
      local[arm]!.credit(x, reward);
      expect(await credit('ctx', ARMS[arm]!.name, reward, x)).toBe(1);
    }
    expect(await credit('plain', 'one', 1)).toBe(1);
    expect(await refreshed()).toEqual(['ctx', 'plain']);
    expect(linear(0).pack()).toEqual(local[0]!.pack());
    expect(linear(1).pack()).toEqual(local[1]!.pack());
    expect(router.get('plain')!.stats[0]!.n).toBe(1);
    // Nothing new in Redis: nothing to recompute.
    expect(await refreshed()).toEqual([]);
    expect(await credit('ctx', 'two', 1, Float64Array.of(1, 2, 3))).toBe(1);
    local[1]!.credit(Float64Array.of(1, 2, 3), 1);
    expect(await refreshed()).toEqual(['ctx']);
    expect(linear(1).pack()).toEqual(local[1]!.pack());
    // A change of the sums alone (the outcome statistics as they were) is a change too.
    const bytes = (await client.hgetBuffer(statsKey('ctx'), linearField('two')))!;
    bytes.writeDoubleLE(bytes.readDoubleLE(bytes.length - 8) + 1, bytes.length - 8);
    await client.hset(statsKey('ctx'), linearField('two'), bytes);
    expect(await refreshed()).toEqual(['ctx']);
    expect(linear(1).xr[3]).toBe(local[1]!.xr[3]! + 1);
  });

  it('sends one HGETALL per route, contextual or not', async () => {
    await client.config('RESETSTAT');
    await shared.refresh();
    const stats = await client.info('commandstats');
    expect(/cmdstat_hgetall:calls=(\d+)/.exec(stats)?.[1]).toBe('2');
    expect(stats).not.toMatch(/cmdstat_(hget|hmget|get):/);
  });

  it('takes a corrupt field as empty, says so once, and keeps re-reading the other arms', async () => {
    const before = linear(1).pack();
    await client.hset(statsKey('ctx'), linearField('one'), Buffer.from('not doubles'));
    expect(await refreshed()).toEqual(['ctx']);
    expect(linear(0).n).toBe(0);
    expect(linear(1).pack()).toEqual(before);
    await shared.refresh();
    expect(warnings.filter((w) => w.includes('linear statistics')).length).toBe(1);
    // The next credit starts the arm again.
    expect(await credit('ctx', 'one', 0.5, Float64Array.of(1, 1, 1))).toBe(1);
    const fresh = new LinearStats(3);
    fresh.credit(Float64Array.of(1, 1, 1), 0.5);
    await shared.refresh();
    expect(linear(0).pack()).toEqual(fresh.pack());
  });

  it('empties the sums after a reset another replica ran', async () => {
    await scripts(client).croupierReset(statsKey('ctx'));
    expect(await refreshed()).toEqual(['ctx']);
    expect([linear(0).n, linear(1).n]).toEqual([0, 0]);
    expect(linear(1).xx.every((v) => v === 0)).toBe(true);
  });
});
