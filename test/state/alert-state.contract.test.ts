/**
 * The alerting state ports' contract, against both implementations: embedded (this process is the
 * sole leader, states in its state dir, read again on restart) and Redis (a real redis-server: a SET NX PX lease, a shared hash).
 * Then two Redis-mode "replicas" — two Alerting instances on one Redis — evaluate the same rule:
 * only the leader sends, a new leader does not notify again, and the resolution is sent once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { Alerting } from '../../src/monitoring/alerts/alerting.js';
import { parseAlertsDocument } from '../../src/monitoring/alerts/alerts-config.js';
import { type AlertStates, type Leadership, SoleLeader } from '../../src/state/alert-state.js';
import { FileAlertStates } from '../../src/state/embedded/alert-states.js';
import { RedisAlertStates, RedisLeadership } from '../../src/state/redis/alert-state.js';
import { report } from '../monitoring/alerts/fixtures.js';
import { startWebhook, type Webhook } from '../helpers/receivers.js';
import { describeRedis, redisAvailable, redisPlan, startRedis, type TestRedis } from '../helpers/redis.js';

interface Implementation {
  readonly name: string;
  /** Whether two replicas can both lead (embedded: each process is its own fleet). */
  readonly shared: boolean;
  setUp(): Promise<void>;
  leadership(replica: string, leaseMs: number): Leadership;
  states(): AlertStates;
  tearDown(): Promise<void>;
}

const embedded = (): Implementation => {
  let dir = '';
  return {
    name: 'embedded',
    shared: false,
    setUp: async () => {
      dir = mkdtempSync(join(tmpdir(), 'croupier-alert-states-'));
    },
    leadership: () => new SoleLeader(),
    // A new instance on the same state dir: what a restart reads.
    states: () => new FileAlertStates(dir),
    tearDown: async () => rmSync(dir, { recursive: true, force: true }),
  };
};

const redis = (): Implementation & { client(): Redis } => {
  let server: TestRedis | undefined;
  let client: Redis;
  return {
    name: 'redis',
    shared: true,
    setUp: async () => {
      server = await startRedis();
      client = new Redis(server.url);
    },
    leadership: (replica, leaseMs) => new RedisLeadership(client, replica, leaseMs),
    states: () => new RedisAlertStates(client),
    client: () => client,
    tearDown: async () => {
      client?.disconnect();
      await server?.stop();
    },
  };
};

const plan = redisPlan(redisAvailable(), process.env.CI === 'true');
const implementations = plan === 'run' ? [embedded(), redis()] : [embedded()];
if (plan !== 'run') describeRedis('the alerting state contract: redis', () => it('runs', () => undefined));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(implementations)('the alerting state contract: $name', (impl) => {
  beforeAll(() => impl.setUp());
  afterAll(() => impl.tearDown());

  it('leads, keeps leading while it renews, and a second replica leads only once the first resigns or lapses', async () => {
    const a = impl.leadership('replica-a', 300);
    const b = impl.leadership('replica-b', 300);
    expect(await a.lead()).toBe(true);
    expect(await a.lead()).toBe(true);
    expect(await b.lead()).toBe(!impl.shared);
    await a.resign();
    expect(await b.lead()).toBe(true);
    expect(await a.lead()).toBe(!impl.shared);
    // b stops renewing (it crashed): its lease runs out and a takes over.
    await sleep(400);
    expect(await a.lead()).toBe(true);
    await a.resign();
    await b.resign();
  });

  it('keeps the last state of each rule, and claims a key once', async () => {
    const states = impl.states();
    const since = new Date().toISOString();
    await states.put({ rule: 'r1', state: 'firing', since, summary: 'drift' });
    await states.put({ rule: 'r2', state: 'firing', since, summary: 'srm' });
    await states.put({ rule: 'r1', state: 'resolved', since, summary: 'no drift' });
    const all = await impl.states().all();
    expect(all.get('r1')).toEqual({ rule: 'r1', state: 'resolved', since, summary: 'no drift' });
    expect(all.get('r2')?.state).toBe('firing');
    expect(await states.claim('report:2026-12-03')).toBe(true);
    expect(await impl.states().claim('report:2026-12-03')).toBe(false);
    expect(await states.claim('report:2026-12-04')).toBe(true);
  });
});

describe('embedded alert states', () => {
  it('start afresh from an unreadable file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'croupier-alert-states-'));
    try {
      writeFileSync(join(dir, 'alerts.json'), '{"states": [{"rule": ');
      const states = new FileAlertStates(dir);
      expect(await states.all()).toEqual(new Map());
      await states.put({ rule: 'r', state: 'firing', since: 'now', summary: 's' });
      expect((await new FileAlertStates(dir).all()).get('r')?.state).toBe('firing');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeRedis('alerting across two Redis-mode replicas', () => {
  const impl = redis();
  let hook: Webhook;
  beforeAll(async () => {
    await impl.setUp();
    hook = await startWebhook();
  });
  afterAll(async () => {
    await hook.close();
    await impl.tearDown();
  });

  it('sends each transition once, from the leader only, and a new leader does not notify again', async () => {
    const current = { report: report({ psi: 0.01 }) };
    const config = parseAlertsDocument(
      {
        channels: { hook: { type: 'webhook', url: hook.url } },
        rules: [{ name: 'fraud-drift', when: 'drift', model: 'fraud', threshold: 0.2, minRows: 1, channels: ['hook'] }],
      },
      { hasModel: () => true, hasRoute: () => true },
    );
    const replica = (name: string) =>
      new Alerting({
        config,
        report: async () => current.report,
        leadership: new RedisLeadership(impl.client(), name, 10_000),
        states: new RedisAlertStates(impl.client()),
        metrics: new Metrics(),
        log: createLogger('silent'),
        intervalMs: 15_000,
      });
    const a = replica('replica-a');
    const b = replica('replica-b');
    const both = async () => [...(await a.evaluate()), ...(await b.evaluate())];
    expect(await both()).toEqual([]);
    current.report = report({ psi: 0.4 });
    expect((await both()).map((t) => t.state)).toEqual(['firing']);
    expect(await both()).toEqual([]);
    await a.idle();
    await b.idle();
    expect(hook.received.map((n) => (n as { state: string }).state)).toEqual(['firing']);
    // The leader stops; the other takes over and does not notify the firing rule again.
    await a.close();
    expect(await b.evaluate()).toEqual([]);
    current.report = report({ psi: 0.1 });
    expect((await b.evaluate()).map((t) => t.state)).toEqual(['resolved']);
    expect(await b.evaluate()).toEqual([]);
    await b.idle();
    expect(hook.received.map((n) => (n as { state: string }).state)).toEqual(['firing', 'resolved']);
    expect((await b.alerts()).map((s) => s.state)).toEqual(['resolved']);
    await b.close();
  });
});
