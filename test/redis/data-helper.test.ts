import { expect, it } from 'vitest';
import { describeRedis, redisAvailable, redisPlan, startRedis } from '../helpers/redis.js';

it('a missing redis-server skips locally but fails under CI=true', () => {
  expect(redisPlan(false, false)).toBe('skip');
  expect(redisPlan(false, true)).toBe('fail');
  expect(redisPlan(true, true)).toBe('run');
  expect(redisPlan(true, false)).toBe('run');
  expect(redisAvailable('redis-server-that-does-not-exist')).toBe(false);
});

describeRedis('test redis helper', () => {
  it('starts, survives a SIGKILL + restart with its AOF, and stops', async () => {
    const redis = await startRedis();
    const { Redis } = await import('ioredis');
    const c = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    c.on('error', () => undefined);
    await c.connect();
    await c.set('k', 'v');
    redis.kill();
    await redis.restart();
    // the AOF (appendfsync always) kept the write
    await expect(c.get('k')).resolves.toBe('v');
    c.disconnect();
    await redis.stop();
  });
});
