/**
 * The DecisionLog port's contract, run against both stores: the embedded one (ring + journal in a
 * state directory) and Redis mode's (a real redis-server). A decision recorded through the store's
 * sink is judged by the one feedback core: counted once, then a duplicate; forged, unknown and
 * expired ids; a bad reward leaves it waiting; the arm is credited; a restart on the same state
 * (directory or Redis) keeps what was counted.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DecisionIds } from '../../src/feedback/decision-id.js';
import type { FeedbackStore } from '../../src/feedback/decision-log.js';
import { EmbeddedDecisionLog } from '../../src/state/embedded/embedded-log.js';
import { Feedback, type Verdict } from '../../src/feedback/feedback.js';
import type { OutcomeResult } from '../../src/feedback/outcome.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/metrics.js';
import type { FeedbackEvent, MalformedEvent } from '../../src/protocol/feedback.js';
import { connectRedis, type RedisLink } from '../../src/state/redis/connection.js';
import { RedisDecisionLog } from '../../src/state/redis/outcomes.js';
import type { Registry } from '../../src/registry/registry.js';
import type { ModelVersion } from '../../src/registry/repository.js';
import { parseRouteSpec } from '../../src/routing/route-spec.js';
import { Router } from '../../src/routing/router.js';
import { describeRedis, redisAvailable, redisPlan, startRedis, until, type TestRedis } from '../helpers/redis.js';

const WINDOW_S = 3600;
const log = createLogger('silent');
const version = { model: 'm', version: '1', key: 'm@1', sha256: 'a'.repeat(64) } as ModelVersion;
const registry = { resolve: () => version } as unknown as Registry;

/** One store under test: opened on the state it was opened on before (a restart), closed after. */
interface Implementation {
  readonly name: string;
  setUp(): Promise<void>;
  open(router: Router, ids: DecisionIds): Promise<FeedbackStore>;
  tearDown(): Promise<void>;
}

const embedded = (): Implementation => {
  let dir = '';
  return {
    name: 'embedded',
    setUp: async () => {
      dir = mkdtempSync(join(tmpdir(), 'croupier-log-'));
    },
    open: (router, ids) => EmbeddedDecisionLog.open({ stateDir: dir, decisionsMax: 1000, router, ids, log }),
    tearDown: async () => rmSync(dir, { recursive: true, force: true }),
  };
};

const redis = (): Implementation => {
  let server: TestRedis | undefined;
  let dir = '';
  const links: RedisLink[] = [];
  return {
    name: 'redis',
    setUp: async () => {
      server = await startRedis();
      dir = mkdtempSync(join(tmpdir(), 'croupier-log-'));
    },
    open: async (router, ids) => {
      const config = { url: server!.url, sentinels: undefined, clusterNodes: undefined, name: undefined };
      const link = await connectRedis(config, log, new Metrics());
      links.push(link);
      return RedisDecisionLog.open({ stateDir: dir, decisionsMax: 1000, router, ids, log, link, registry });
    },
    tearDown: async () => {
      for (const link of links) await link.close();
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

const plan = redisPlan(redisAvailable(), process.env.CI === 'true');
const implementations = plan === 'run' ? [embedded(), redis()] : [embedded()];
// Without redis-server: skipped with the reason, or failed under CI=true.
if (plan !== 'run') describeRedis('the DecisionLog contract: redis', () => it('runs', () => undefined));

const outcome = (decision: string, reward: number): FeedbackEvent => ({ decision, reward, label: undefined });

/** A store opened for a describe block (closed after it), with the one feedback core judging against it. */
function harness(impl: Implementation) {
  const ids = new DecisionIds(randomBytes(32));
  const counted: string[] = [];
  let router: Router;
  let store: FeedbackStore;
  let feedback: Feedback;

  /** Opens the store on its state (again, after `close`: a restart). */
  const open = async (): Promise<void> => {
    const arms = [{ name: 'a', model: 'm', version: '1' }];
    const spec = parseRouteSpec('r', { policy: 'thompson', feedbackWindow: WINDOW_S, arms }, () => 'ok');
    router = new Router(registry, new Map([['r', spec]]));
    store = await impl.open(router, ids);
    feedback = new Feedback(ids, store, router, {
      feedback: (route: string, arm: string, result: OutcomeResult) => counted.push(`${route}/${arm}/${result}`),
    });
  };

  beforeAll(async () => {
    await impl.setUp();
    await open();
  });
  afterEach(() => {
    counted.length = 0;
  });
  afterAll(async () => {
    await store?.close(0);
    await impl.tearDown();
  });

  return {
    ids,
    /** Route/arm/result of each verdict the core counted (the metrics' view). */
    counted,
    router: () => router,
    restart: async (): Promise<void> => {
      await store.close(0);
      await open();
    },
    /** A decision recorded through the store's sink, once the store lets its answer go. */
    decide: async (): Promise<string> => {
      const id = ids.mint();
      const pick = router.pick(router.get('r')!, undefined);
      await new Promise<void>((answer) => store.decisions.decided(id, ids.mintedAtMs, pick, 1, undefined, { answer }));
      return id;
    },
    judge: (events: (FeedbackEvent | MalformedEvent)[], nowMs?: number): Promise<Verdict[]> =>
      new Promise((verdicts, failed) => feedback.receive(events, { verdicts, failed }, nowMs)),
  };
}

describe.each(implementations)('the DecisionLog contract: $name', (impl) => {
  const { ids, counted, router, restart, decide, judge } = harness(impl);

  it('counts an outcome once: the repeat, in the same batch or later, is a duplicate', async () => {
    const id = await decide();
    expect((await judge([outcome(id, 1), outcome(id, 1)])).map((v) => v.result)).toEqual(['accepted', 'duplicate']);
    expect(await judge([outcome(id, 0)])).toEqual([
      { result: 'duplicate', message: 'an outcome for this decision was already counted' },
    ]);
    expect(counted).toEqual(['r/a/accepted', 'r/a/duplicate', 'r/a/duplicate']);
    // The arm learned from it (Redis mode: once this replica re-read the shared statistics).
    await until('the arm to be credited', async () => router().get('r')!.stats[0]!.n === 1, 2000);
  });

  it('tells forged, never-held and expired ids apart, with the same codes and messages', async () => {
    const genuine = ids.mint();
    const forged = genuine.slice(0, -1) + (genuine.endsWith('A') ? 'B' : 'A');
    // Genuine, never recorded, and older than Redis mode's catch-up grace (younger answers 503 there).
    const unknown = ids.mint(Date.now() - 60_000);
    const expired = ids.mint(Date.now() - 2 * WINDOW_S * 1000);
    const malformed = { malformed: '"reward" must be a finite number' };
    expect(await judge([outcome(forged, 1), outcome(unknown, 1), outcome(expired, 1), malformed])).toEqual([
      {
        result: 'unknown',
        code: 'decision_not_found',
        message: 'no such decision (the id is not one this gateway issued)',
      },
      { result: 'unknown', code: 'decision_not_found', message: 'no such decision (unknown, or no longer held)' },
      { result: 'expired', code: 'decision_expired', message: 'the decision is past its feedback window' },
      { result: 'invalid', code: 'invalid_request', message: '"reward" must be a finite number' },
    ]);
    expect(counted).toEqual(['unknown//unknown', 'unknown//unknown', 'unknown//expired', 'unknown//invalid']);
  });

  it("judges a decision past its route's window expired, and a bad reward invalid, leaving it waiting", async () => {
    const id = await decide();
    expect(await judge([outcome(id, 1)], Date.now() + (WINDOW_S + 1) * 1000)).toEqual([
      { result: 'expired', code: 'decision_expired', message: 'the decision is past its feedback window' },
    ]);
    expect(await judge([outcome(id, 1.5)])).toEqual([
      { result: 'invalid', code: 'reward_out_of_range', message: 'reward 1.5 is outside [0, 1] on a Bernoulli route' },
    ]);
    expect((await judge([outcome(id, 0.5)]))[0]!.result).toBe('accepted');
    expect(counted).toEqual(['r/a/expired', 'r/a/invalid', 'r/a/accepted']);
  });

  it('keeps what was counted across a restart on the same state', async () => {
    const settled = await decide();
    const waiting = await decide();
    expect((await judge([outcome(settled, 1)]))[0]!.result).toBe('accepted');
    await restart();
    const after = await judge([outcome(settled, 1), outcome(waiting, 1)]);
    expect(after.map((v) => v.result)).toEqual(['duplicate', 'accepted']);
  });
});

describeRedis('Redis mode behind the port: a decision not in Redis yet', () => {
  const { ids, decide, judge } = harness(redis());

  it('answers 503 with Retry-After for its request only; other requests are judged', async () => {
    const written = await decide();
    // Genuine and young, never written: the replica that made it may still be writing it.
    const onItsWay = ids.mint();
    // Both requests arrive together (Redis mode judges each on its own: its round trips overlap).
    const [waiting, judged] = await Promise.allSettled([
      judge([outcome(written, 0), outcome(onItsWay, 1)]),
      judge([outcome(written, 1)]),
    ]);
    expect(waiting).toMatchObject({ status: 'rejected', reason: { code: 'state_unavailable', retryAfter: 2 } });
    // Nothing of the refused request was counted: the same outcome in the other request is.
    expect(judged).toMatchObject({ status: 'fulfilled', value: [{ result: 'accepted' }] });
  });
});
