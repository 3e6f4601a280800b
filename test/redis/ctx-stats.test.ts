/**
 * Contextual routes' linear sums in Redis (state/redis/linear.ts), at the script level: the credit
 * script must add exactly what a LinearStats credited locally adds (bit for bit, so that every
 * replica fits the same θ), once per decision, only for the version the arm serves, and every
 * restart of an arm (PULL, DECIDE, a first credit) or of the route (RESET) must clear them.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LinearStats } from '../../src/routing/contextual/linear-stats.js';
import { decisionKey, outcomesKey, pulledKey, settledKey, statsKey } from '../../src/state/redis/keys.js';
import { applyLinear, contextArgs, linearField, splitFields, unpackStored } from '../../src/state/redis/linear.js';
import { scripts } from '../../src/state/redis/stats.js';
import { describeRedis, startRedis, type TestRedis } from '../helpers/redis.js';

/** A seeded uniform source (mulberry32), so a failure can be replayed. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Contexts with awkward doubles: tiny, large, negative, thirds (not exact in binary), and zeros. */
function context(rnd: () => number, k: number): Float64Array {
  const x = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    const u = rnd();
    x[i] = i % 4 === 0 ? u / 3 : i % 4 === 1 ? (u - 0.5) * 1e6 : i % 4 === 2 ? (u < 0.3 ? 0 : u * 1e-7) : -u;
  }
  return x;
}

/** The stored sums as `LinearStats.pack()` lays them out (their length tells the feature count). */
function unpacked(bytes: Buffer): Float64Array {
  const doubles = bytes.length / 8;
  for (let k = 0; k <= 64; k++) {
    const out = unpackStored(bytes, k);
    if (out) return out;
  }
  throw new Error(`${doubles} doubles are no stored form`);
}

describeRedis('contextual linear sums in the credit script', () => {
  let redis: TestRedis;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  const credit = (route: string, id: string, arm: string, version: string, reward: number, x?: Float64Array) =>
    scripts(client).croupierCredit(
      statsKey(route),
      settledKey(route, id),
      outcomesKey(route),
      id,
      arm,
      version,
      reward,
      1_000,
      0,
      60_000,
      '0-0',
      'fraud',
      version.split('@')[1]!,
      0.25,
      900,
      '',
      ...(x ? contextArgs(x) : []),
    );
  const linearOf = async (route: string, arm: string) => client.hgetBuffer(statsKey(route), linearField(arm));

  it('sums contexts exactly as a LinearStats credited locally with the same outcomes', async () => {
    const rnd = seeded(19);
    const local = new LinearStats(8);
    for (let i = 0; i < 200; i++) {
      const x = context(rnd, 8);
      const reward = i % 3 === 0 ? rnd() : i % 3 === 1 ? 1 : 0;
      local.credit(x, reward);
      expect(await credit('r1', `d${i}`, 'a', 'fraud@1', reward, x)).toBe(1);
    }
    const bytes = await linearOf('r1', 'a');
    expect(bytes).not.toBeNull();
    // Bit for bit (toEqual compares with Object.is): not merely close.
    expect(unpacked(bytes!)).toEqual(local.pack());
    // And what a replica's re-read makes of the hash (hgetallBuffer → LinearStats).
    const split = splitFields(await client.hgetallBuffer(statsKey('r1')));
    expect(split.fields['a:n']).toBe('200');
    const seen = new LinearStats(8);
    expect(applyLinear(seen, split.linear.get('a'))).toEqual({ changed: true, corrupt: false });
    expect(seen.pack()).toEqual(local.pack());
    expect(applyLinear(seen, split.linear.get('a'))).toEqual({ changed: false, corrupt: false });
  });

  it('adds nothing for a duplicate, another version, or a decision without a context; the stream keeps the context', async () => {
    const x = Float64Array.of(0.5, 1, 0);
    expect(await credit('r2', 'x', 'a', 'fraud@1', 1, x)).toBe(1);
    const once = await linearOf('r2', 'a');
    expect(await credit('r2', 'x', 'a', 'fraud@1', 1, x)).toBe(0);
    expect(await credit('r2', 'y', 'a', 'fraud@2', 1, x)).toBe(2);
    expect(await credit('r2', 'z', 'a', 'fraud@1', 1)).toBe(1);
    expect(await linearOf('r2', 'a')).toEqual(once);
    expect(unpacked(once!)[0]).toBe(1);
    const entries = await client.xrange(outcomesKey('r2'), '-', '+');
    const field = (e: [string, string[]]) => {
      const i = e[1].indexOf('context');
      return i < 0 ? undefined : e[1][i + 1];
    };
    expect(entries.map(field)).toEqual(['[0.5,1,0]', '[0.5,1,0]', undefined]);
  });

  it('restarts sums of another length or holding non-finite numbers instead of adding to them', async () => {
    await client.hset(statsKey('r3'), 'a:version', 'fraud@1', linearField('a'), Buffer.alloc(8 * 7));
    const x = Float64Array.of(2, 3);
    expect(await credit('r3', 'p', 'a', 'fraud@1', 1, x)).toBe(1);
    const fresh = new LinearStats(2);
    fresh.credit(x, 1);
    expect(unpacked((await linearOf('r3', 'a'))!)).toEqual(fresh.pack());
    const stored = (await linearOf('r3', 'a'))!;
    const poisoned = Buffer.from(stored);
    poisoned.writeDoubleLE(Number.NaN, 8 * 3);
    await client.hset(statsKey('r3'), linearField('a'), poisoned);
    // The re-read takes it as empty (and says it is corrupt) ...
    const seen = new LinearStats(2);
    seen.credit(x, 1);
    expect(applyLinear(seen, poisoned)).toEqual({ changed: true, corrupt: true });
    expect(seen.n).toBe(0);
    expect(applyLinear(new LinearStats(3), stored)).toEqual({
      changed: false,
      corrupt: true,
    });
    // ... and the next credit starts it again.
    expect(await credit('r3', 'q', 'a', 'fraud@1', 1, x)).toBe(1);
    expect(unpacked((await linearOf('r3', 'a'))!)).toEqual(fresh.pack());
  });

  it('clears an arm when it starts serving another version (PULL, DECIDE) and a route on RESET', async () => {
    const x = Float64Array.of(1, 2);
    for (const arm of ['a', 'b', 'c']) expect(await credit('r4', `${arm}1`, arm, 'fraud@1', 1, x)).toBe(1);
    const s = scripts(client);
    // PULL (Cluster) of the same version keeps the sums; of another, clears them.
    expect(await s.croupierPull(statsKey('r4'), pulledKey('r4', 'p1'), 'a', 'fraud@1', 1, 60_000)).toBe(1);
    expect(await linearOf('r4', 'a')).not.toBeNull();
    expect(await s.croupierPull(statsKey('r4'), pulledKey('r4', 'p2'), 'a', 'fraud@2', 1, 60_000)).toBe(1);
    expect(await linearOf('r4', 'a')).toBeNull();
    // DECIDE: one decision of arm b serving version 2.
    const line = '{"d":"q"}';
    expect(await s.croupierDecide(2, decisionKey('q'), statsKey('r4'), 1, line, 60_000, 1, 1, 'b', 'fraud@2')).toBe(1);
    expect(await linearOf('r4', 'b')).toBeNull();
    expect(await client.hget(statsKey('r4'), 'b:version')).toBe('fraud@2');
    expect(await linearOf('r4', 'c')).not.toBeNull();
    // The credit of arm b's version-2 decision starts from nothing.
    expect(await credit('r4', 'b2', 'b', 'fraud@2', 0.5, x)).toBe(1);
    expect(unpacked((await linearOf('r4', 'b'))!)[0]).toBe(1);
    await s.croupierReset(statsKey('r4'));
    const after = await client.hgetall(statsKey('r4'));
    expect(Object.keys(after).filter((f) => f.endsWith(':linear'))).toEqual([]);
    expect(after['c:version']).toBe('fraud@1');
    expect(after['c:n']).toBe('0');
  });
});
