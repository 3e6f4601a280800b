/**
 * The credit script against ArmStats: Redis mode must learn exactly what embedded mode learns
 * (discounting by half-life included), and count each decision once.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ArmStats } from '../../src/routing/arm-stats.js';
import { outcomesKey, settledKey, statsKey } from '../../src/state/redis/keys.js';
import { scripts } from '../../src/state/redis/stats.js';
import { describeRedis, startRedis, type TestRedis } from '../helpers/redis.js';

describeRedis('the credit script', () => {
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

  const credit = (
    route: string,
    id: string,
    arm: string,
    version: string,
    reward: number,
    atMs: number,
    halfLifeMs: number,
    minId = '0-0',
  ) =>
    scripts(client).croupierCredit(
      statsKey(route),
      settledKey(route, id),
      outcomesKey(route),
      id,
      arm,
      version,
      reward,
      atMs,
      halfLifeMs,
      60_000,
      minId,
      'fraud',
      '1',
      0.5,
      atMs - 10,
      '',
    );

  it('matches ArmStats.credit, in and out of order, with a half-life', async () => {
    const local = new ArmStats('fraud@1');
    const halfLife = 10_000;
    const events: [number, number][] = [
      [1, 1_000],
      [0, 6_000],
      [1, 20_000],
      [1, 12_000],
      [0.5, 30_000],
      [0, 29_000],
    ];
    let i = 0;
    for (const [reward, at] of events) {
      local.credit(reward, at, halfLife);
      expect(await credit('r1', `d${i++}`, 'champion', 'fraud@1', reward, at, halfLife)).toBe(1);
    }
    const h = await client.hgetall(statsKey('r1'));
    expect(Number(h['champion:n'])).toBeCloseTo(local.n, 12);
    expect(Number(h['champion:sum'])).toBeCloseTo(local.sum, 12);
    expect(Number(h['champion:sumSq'])).toBeCloseTo(local.sumSq, 12);
    expect(Number(h['champion:rewards'])).toBeCloseTo(local.rewardTotal, 12);
    expect(Number(h['champion:atMs'])).toBe(local.atMs);
  });

  it('counts a decision once and does not credit an arm that serves another version by now', async () => {
    expect(await credit('r2', 'x', 'a', 'fraud@1', 1, 1_000, 0)).toBe(1);
    expect(await credit('r2', 'x', 'a', 'fraud@1', 1, 1_001, 0)).toBe(0);
    expect(await credit('r2', 'y', 'a', 'fraud@2', 1, 1_002, 0)).toBe(2);
    const h = await client.hgetall(statsKey('r2'));
    expect(h['a:n']).toBe('1');
    expect(await client.xlen(outcomesKey('r2'))).toBe(2);
  });
});
