/**
 * The admin lock's fencing token and the audit chain's compare-and-set, against a real Redis: a
 * holder whose lease ran out cannot overwrite what the next holder wrote, changes on two "replicas"
 * never overlap, and appends racing from two replicas make one chain, not a fork.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyAuditLog } from '../../src/state/audit-chain.js';
import { createLogger } from '../../src/log.js';
import { INTENTS_KEY, RedisAuditLog, type ChangeIntent } from '../../src/state/redis/audit.js';
import { ChangeIntents } from '../../src/state/redis/change-intents.js';
import { controlKey, modelKey } from '../../src/state/redis/connection.js';
import { FENCED_WRITE } from '../../src/state/redis/control.js';
import { RedisAdminLock } from '../../src/state/redis/lock.js';
import { describeRedis, startRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
let client: Redis;

describeRedis('Redis admin lock and audit chain', () => {
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { enableOfflineQueue: true });
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  const write = (token: number, value: string): Promise<unknown> =>
    client.eval(
      FENCED_WRITE,
      2,
      modelKey('m', 'live'),
      modelKey('m', 'fence'),
      token,
      value,
      controlKey('events'),
      '{}',
    );

  it('refuses a write from a holder whose lease ran out once a newer holder wrote', async () => {
    const first = new RedisAdminLock(client, 'replica-a');
    const second = new RedisAdminLock(client, 'replica-b');
    await first.run(async () => {
      const stale = first.fence();
      expect(await write(stale, 'a-1')).toBe(-1);
      // The lease runs out while replica-a is paused (a GC pause, a partition): replica-b takes over.
      await client.del(controlKey('lock'));
      await second.run(async () => {
        expect(second.fence()).toBeGreaterThan(stale);
        expect(await write(second.fence(), 'b-1')).toBe(-1);
      });
      expect(await write(stale, 'a-2')).toBe(stale + 1);
    });
    expect(await client.get(modelKey('m', 'live'))).toBe('b-1');
  });

  it('serialises changes across replicas: they never overlap', async () => {
    const locks = [new RedisAdminLock(client, 'replica-a'), new RedisAdminLock(client, 'replica-b')];
    let inside = 0;
    let most = 0;
    const tokens: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        locks[i % 2]!.run(async () => {
          inside++;
          most = Math.max(most, inside);
          tokens.push(locks[i % 2]!.fence());
          await new Promise((r) => setTimeout(r, 5));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(tokens).toEqual([...tokens].sort((x, y) => x - y));
    // Released: nothing left holding it.
    expect(await client.exists(controlKey('lock'))).toBe(0);
  });

  it('appends racing from two replicas make one chain that verifies', async () => {
    const logs = [new RedisAuditLog(client), new RedisAuditLog(client)];
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        logs[i % 2]!.append({
          actor: `r${i % 2}`,
          action: 'deploy',
          target: 'm',
          result: 'ok',
          status: 200,
          after: String(i),
        }),
      ),
    );
    const texts = await client.lrange(controlKey('audit'), 0, -1);
    expect(texts).toHaveLength(60);
    const verdict = verifyAuditLog(texts.join('\n'));
    expect(verdict).toMatchObject({ ok: true, entries: 60 });
    const newest = await logs[1]!.read(10, undefined);
    expect(newest.map((e) => e.seq)).toEqual([51, 52, 53, 54, 55, 56, 57, 58, 59, 60]);
    expect((await logs[0]!.read(5, 3)).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('settles audit intents: a change its pointer names is audited once, even by two replicas at once; one it does not is voided, and its late write refused', async () => {
    await client.del(controlKey('audit'), controlKey('audit-head'), INTENTS_KEY);
    const logs = [new RedisAuditLog(client), new RedisAuditLog(client)];
    const settlers = logs.map((l) => new ChangeIntents(client, l, createLogger('silent')));
    const intent = (id: string, target: string): ChangeIntent => ({
      id,
      time: new Date(1_000).toISOString(),
      fields: { actor: 'admin', action: 'deploy', target, before: '1', after: '2', result: 'ok', status: 200 },
    });
    const pointer = (model: string, token: number, id: string): Promise<unknown> =>
      client.eval(
        FENCED_WRITE,
        2,
        modelKey(model, 'live'),
        modelKey(model, 'fence'),
        token,
        JSON.stringify({ live: '2', token, intent: id }),
        controlKey('events'),
        '{}',
      );

    // Made: the intent, then the pointer naming it; the writer died before its entry.
    await settlers[0]!.save(intent('made', 'm2'), 'model:m2', 5);
    expect(await pointer('m2', 5, 'made')).toBe(-1);
    await Promise.all(settlers.map((s) => s.settle(false)));
    // Never made: the writer died (or stalled) between its intent and its pointer.
    await settlers[0]!.save(intent('lost', 'm3'), 'model:m3', 7);
    await settlers[1]!.settle(false);
    expect(await client.hexists(INTENTS_KEY, 'lost'), 'not voided before VOID_AFTER_MS without the lock').toBe(1);
    await settlers[1]!.settle(true);
    expect(await pointer('m3', 7, 'lost'), "the stalled writer's late write is refused").toBe(8);

    const chain = (await client.lrange(controlKey('audit'), 0, -1)).map(
      (t) => JSON.parse(t) as { target: string; result: string; time: string },
    );
    expect(chain.map((e) => [e.target, e.result])).toEqual([
      ['m2', 'ok'],
      ['m3', 'failed'],
    ]);
    expect(chain[0]!.time).toBe(new Date(1_000).toISOString());
    expect(verifyAuditLog((await client.lrange(controlKey('audit'), 0, -1)).join('\n'))).toMatchObject({
      ok: true,
      entries: 2,
    });
    expect(await client.hlen(INTENTS_KEY)).toBe(0);
  });

  it('answers state_unavailable (503, retry) at once when Redis is gone, never hangs an admin change', async () => {
    const link = new Redis(redis.url, {
      enableOfflineQueue: false,
      commandTimeout: 250,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 100,
    });
    link.on('error', () => undefined);
    await new Promise((r) => link.once('ready', r));
    redis.kill();
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    const lock = new RedisAdminLock(link, 'replica-a');
    await expect(lock.run(async () => 'changed')).rejects.toMatchObject({ code: 'state_unavailable', status: 503 });
    await expect(
      new RedisAuditLog(link).append({ actor: null, action: 'deploy', target: 'm', result: 'ok', status: 200 }),
    ).rejects.toMatchObject({ code: 'state_unavailable' });
    expect(performance.now() - started).toBeLessThan(1000);
    link.disconnect();
    await redis.restart();
  });
});
