/**
 * Issue 12, finding 8, in Redis mode: the live pointer was written by one script and its audit
 * entry appended by another call afterwards, so a replica killed between the two left the change
 * made and unaudited. Now the entry's intent is saved ahead of the change, the change names it, and
 * any replica completes (or, when the change never happened, voids) an intent left behind. The
 * real binary is killed with SIGKILL at each dangerous moment, against a real redis-server (one
 * per case: a killed replica holds the admin lock for its 15 s lease).
 */
import { Redis } from 'ioredis';
import { rmSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { verifyAuditLog, type AuditEntry } from '../../src/state/audit-chain.js';
import { controlKey } from '../../src/state/redis/connection.js';
import { spawnCroupier, type Child } from '../helpers/process.js';
import { describeRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { copyDemoModels } from '../helpers/server.js';

const TOKEN = 'test-admin-token-1234';
const models = copyDemoModels();
const children: Child[] = [];
const servers: TestRedis[] = [];

afterAll(async () => {
  for (const c of children) c.proc.kill('SIGKILL');
  for (const r of servers) await r.stop();
  rmSync(models, { recursive: true, force: true });
});

type CrashPoint = 'live-saved' | 'routes-saved' | 'intent-saved';

async function replica(redis: TestRedis, crash?: CrashPoint): Promise<{ child: Child; url: string }> {
  const env: Record<string, string> = {
    CROUPIER_REDIS_URL: redis.url,
    CROUPIER_ADMIN_TOKEN: TOKEN,
    CROUPIER_MODELS_DIR: models,
  };
  if (crash) env.CROUPIER_TEST_CRASH_AT = crash;
  const child = spawnCroupier(['serve', '--port', '0'], env);
  children.push(child);
  return { child, url: `http://127.0.0.1:${await child.ready}` };
}

async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The change is sent to a replica that dies at `at`: no answer, SIGKILL. */
async function changeAndDie(
  redis: TestRedis,
  at: CrashPoint,
  method: string,
  path: string,
  body?: unknown,
): Promise<void> {
  const { child, url } = await replica(redis, at);
  await expect(call(url, method, path, body)).rejects.toThrow();
  await child.exited;
  expect(child.proc.signalCode).toBe('SIGKILL');
}

/** The newest entry of `action` once one is there (the chain is settled within a few seconds), read through a replica. */
async function lastEntry(url: string, action: string, ms: number): Promise<AuditEntry | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const entries = (await call(url, 'GET', '/admin/audit')).body.entries as AuditEntry[];
    const found = entries.filter((e) => e.action === action).at(-1);
    if (found || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The whole chain in Redis verifies, and no intent is left pending. */
async function settled(redis: TestRedis): Promise<AuditEntry[]> {
  const client = new Redis(redis.url);
  try {
    const texts = await client.lrange(controlKey('audit'), 0, -1);
    expect(verifyAuditLog(texts.join('\n'))).toMatchObject({ ok: true });
    expect(await client.hlen(controlKey('intents'))).toBe(0);
    return texts.map((t) => JSON.parse(t) as AuditEntry);
  } finally {
    client.disconnect();
  }
}

async function freshRedis(): Promise<TestRedis> {
  const redis = await startRedis();
  servers.push(redis);
  return redis;
}

const live = async (url: string): Promise<string> =>
  ((await call(url, 'GET', '/admin/models')).body.models as { name: string; live: string }[]).find(
    (m) => m.name === 'fraud',
  )!.live;

describeRedis('issue 12-8 (Redis mode): a live change and its audit entry survive kill -9 together', () => {
  it('a deploy killed right after the pointer is written is served and audited, once', async () => {
    const redis = await freshRedis();
    await changeAndDie(redis, 'live-saved', 'POST', '/admin/models/fraud/deploy', { version: '2' });
    const { url } = await replica(redis);
    expect(await live(url)).toBe('2');
    expect(await lastEntry(url, 'deploy', 10_000), 'the deploy has an audit entry').toMatchObject({
      actor: 'admin',
      target: 'fraud',
      before: '1',
      after: '2',
      result: 'ok',
      status: 200,
    });
    const chain = await settled(redis);
    expect(chain.filter((e) => e.action === 'deploy')).toHaveLength(1);
  }, 60_000);

  it('a route edit killed right after it is written is kept and audited, by a replica that was already running', async () => {
    const redis = await freshRedis();
    const { url } = await replica(redis);
    const spec = { policy: 'fixed', arms: [{ name: 'only', model: 'fraud', version: '2' }] };
    await changeAndDie(redis, 'routes-saved', 'PUT', '/admin/routes/fraud-scoring', spec);
    const routes = (await call(url, 'GET', '/admin/routes')).body.routes as Record<
      string,
      { arms: { name: string }[] }
    >;
    expect(routes['fraud-scoring']!.arms.map((a) => a.name)).toEqual(['only']);
    expect(await lastEntry(url, 'routes.put', 10_000), 'the route edit has an audit entry').toMatchObject({
      actor: 'admin',
      target: 'fraud-scoring',
      result: 'ok',
      status: 200,
    });
    const chain = await settled(redis);
    expect(chain.filter((e) => e.action === 'routes.put')).toHaveLength(1);
  }, 60_000);

  it('a deploy killed after its intent is saved but before the pointer changes nothing, and the chain says it failed', async () => {
    const redis = await freshRedis();
    await changeAndDie(redis, 'intent-saved', 'POST', '/admin/models/fraud/deploy', { version: '2' });
    const { url } = await replica(redis);
    expect(await live(url)).toBe('1');
    expect(await lastEntry(url, 'deploy', 20_000), 'the interrupted deploy is audited').toMatchObject({
      actor: 'admin',
      target: 'fraud',
      after: '2',
      result: 'failed',
      status: null,
    });
    await settled(redis);
    expect(await live(url)).toBe('1');
  }, 60_000);
});
