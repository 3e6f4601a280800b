/**
 * The guardrail state port's contract, against both implementations: embedded (a file in the state
 * dir, read again by a new instance as a restart would) and Redis (a real redis-server). A disable
 * or an enable happens once however many replicas try; a watch is ended once, and only if it is
 * still the watch of that version.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileGuardState } from '../../src/state/embedded/guard-state.js';
import type { DeployWatch, GuardState } from '../../src/state/guard-state.js';
import { RedisGuardState } from '../../src/state/redis/guard-state.js';
import { describeRedis, redisAvailable, redisPlan, startRedis, type TestRedis } from '../helpers/redis.js';

interface Implementation {
  readonly name: string;
  setUp(): Promise<void>;
  /** A fresh instance on the same state (embedded: what a restart reads; Redis: another replica). */
  open(): GuardState;
  tearDown(): Promise<void>;
}

const embedded = (): Implementation => {
  let dir = '';
  return {
    name: 'embedded',
    setUp: async () => {
      dir = mkdtempSync(join(tmpdir(), 'croupier-guard-'));
    },
    open: () => new FileGuardState(dir),
    tearDown: async () => rmSync(dir, { recursive: true, force: true }),
  };
};

const redis = (): Implementation => {
  let server: TestRedis | undefined;
  let client: Redis;
  return {
    name: 'redis',
    setUp: async () => {
      server = await startRedis();
      client = new Redis(server.url);
    },
    open: () => new RedisGuardState(client),
    tearDown: async () => {
      client?.disconnect();
      await server?.stop();
    },
  };
};

const plan = redisPlan(redisAvailable(), process.env.CI === 'true');
const implementations = plan === 'run' ? [embedded(), redis()] : [embedded()];
if (plan !== 'run') describeRedis('the guardrail state contract: redis', () => it('runs', () => undefined));

const watch = (version: string, previous: string): DeployWatch => ({
  model: 'fraud',
  version,
  previous,
  startedMs: 1_000,
  untilMs: 1_000 + 30 * 60_000,
  checks: ['error_rate', 'reward'],
  minSamples: 500,
  confidence: 0.99,
});

describe.each(implementations)('the guardrail state contract: $name', (impl) => {
  beforeAll(() => impl.setUp());
  afterAll(() => impl.tearDown());

  it('disables an arm once, keeps it disabled across instances, and enables it once', async () => {
    const a = impl.open();
    expect(await a.disable('r', 'challenger', 'error rate 0.5 vs 0.01', 10)).toBe(true);
    expect(await impl.open().disable('r', 'challenger', 'again', 20)).toBe(false);
    expect(await impl.open().arms()).toEqual([
      { route: 'r', arm: 'challenger', disabled: true, reason: 'error rate 0.5 vs 0.01', atMs: 10 },
    ]);
    expect(await impl.open().enable('r', 'champion', 'alice', 30)).toBe(false);
    expect(await a.enable('r', 'challenger', 'alice', 40)).toBe(true);
    expect(await impl.open().enable('r', 'challenger', 'bob', 50)).toBe(false);
    expect(await impl.open().arms()).toEqual([
      { route: 'r', arm: 'challenger', disabled: false, reason: 'alice', atMs: 40 },
    ]);
    // Enabled arms can be disabled again (after fresh samples).
    expect(await impl.open().disable('r', 'challenger', 'reward', 60)).toBe(true);
  });

  it('keeps one watch per model, and ends it once, only for its version', async () => {
    const s = impl.open();
    await s.watch(watch('2', '1'));
    await s.watch(watch('3', '2'));
    expect(await impl.open().watches()).toEqual([watch('3', '2')]);
    expect(await impl.open().endWatch('fraud', '2')).toBe(false);
    expect(await s.endWatch('fraud', '3')).toBe(true);
    expect(await s.endWatch('fraud', '3')).toBe(false);
    expect(await impl.open().endWatch('fraud', '3')).toBe(false);
    expect(await impl.open().watches()).toEqual([]);
  });
});

describe('embedded guardrail state', () => {
  it('starts empty from an unreadable file, and writes a good one after', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'croupier-guard-'));
    try {
      writeFileSync(join(dir, 'guardrails.json'), '{"version": 1, "arms": [');
      const s = new FileGuardState(dir);
      expect(await s.arms()).toEqual([]);
      expect(await s.disable('r', 'b', 'x', 1)).toBe(true);
      expect((await new FileGuardState(dir).arms()).map((a) => a.arm)).toEqual(['b']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
