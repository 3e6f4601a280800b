/**
 * Issue 12, finding 4, in Redis mode, old data: statistics hashes written before rewards were
 * bounded (±1e15) may hold `inf` or `nan`. The credit script kept them (inf + x = inf) and every
 * replica read them back as NaN. Rule: non-finite outcome statistics are corrupt — the arm's outcome
 * statistics restart from the prior (pulls kept), with a warning, in Redis too, so the arm learns
 * again — and /metrics never fails because of them.
 */
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { statsKey } from '../../src/state/redis/keys.js';
import { describeRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { postJson, startTestServer, type TestServer } from '../helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'croupier-12-4-redis-'));
const routesFile = join(dir, 'routes.json');
const fraud = (name: string, version: string) => ({ name, model: 'fraud', version });
writeFileSync(
  routesFile,
  JSON.stringify({
    routes: { revenue: { policy: 'thompson', reward: 'gaussian', arms: [fraud('a', '1'), fraud('b', '2')] } },
  }),
);
let redis: TestRedis | undefined;
let t: TestServer | undefined;
let client: Redis | undefined;
afterAll(async () => {
  await t?.stop();
  client?.disconnect();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Polls until `check` holds (the statistics are re-read every 200 ms). */
async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

describeRedis('issue 12-4 (Redis mode): inf or nan statistics written by an older version', () => {
  it('restart that arm from the prior (in Redis too), with a warning; /metrics answers, the arm learns again', async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    const key = statsKey('revenue');
    // What an older version left after a reward of 1e308 (and its square), for both arms.
    await client.hset(
      key,
      'a:version',
      'fraud@1',
      'a:pulls',
      7,
      'a:rewards',
      'inf',
      'a:n',
      '2',
      'a:sum',
      'inf',
      'a:sumSq',
      'inf',
      'a:atMs',
      '1000',
      'b:version',
      'fraud@2',
      'b:pulls',
      3,
      'b:rewards',
      '-nan',
      'b:n',
      'nan',
      'b:sum',
      'nan',
      'b:sumSq',
      'nan',
      'b:atMs',
      '1000',
    );
    t = await startTestServer({ CROUPIER_REDIS_URL: redis.url, CROUPIER_ROUTES: routesFile, CROUPIER_STATE_DIR: dir });

    const metrics = await fetch(`${t.url}/metrics`);
    expect(metrics.status).toBe(200);
    const gauges = [...(await metrics.text()).matchAll(/^croupier_arm_\w+\{route="revenue",arm="\w+"\} (\S+)$/gm)].map(
      (m) => Number(m[1]),
    );
    expect(gauges.length).toBeGreaterThanOrEqual(6);
    for (const g of gauges) expect(Number.isFinite(g), `arm gauge ${g}`).toBe(true);

    const route = t.server.gateway.router.get('revenue')!;
    for (const s of route.stats) expect([s.n, s.sum, s.sumSq, s.rewardTotal].every(Number.isFinite)).toBe(true);
    expect(route.stats.map((s) => s.pulls)).toEqual([7, 3]);
    expect(route.policy.weights.every(Number.isFinite)).toBe(true);
    expect(
      t.logs.some((l) => l.level === 'warn' && String(l.msg).includes('not finite')),
      'a warning says so',
    ).toBe(true);

    // Repaired in Redis: outcomes credited from now on count again.
    const repaired = await eventually(async () => {
      const h = await client!.hgetall(key);
      return ['a', 'b'].every((arm) =>
        ['rewards', 'n', 'sum', 'sumSq'].every((f) => Number.isFinite(Number(h[`${arm}:${f}`]))),
      );
    });
    expect(repaired, 'the hash holds finite statistics again').toBe(true);
    const h = await client.hgetall(key);
    expect([h['a:pulls'], h['b:pulls']]).toEqual(['7', '3']);

    const decisions: { decision: string; arm: string }[] = [];
    for (let i = 0; i < 6; i++)
      decisions.push(
        (await (await postJson(`${t.url}/v1/predict/revenue`, { features: new Array(32).fill(0.5) })).json()) as {
          decision: string;
          arm: string;
        },
      );
    for (const d of decisions)
      expect((await postJson(`${t.url}/v1/feedback`, { decision: d.decision, reward: 2 })).status).toBe(202);
    const learned = await eventually(async () => route.stats.reduce((n, s) => n + s.n, 0) === 6);
    expect(learned, 'the arms learn from new outcomes').toBe(true);
    for (const s of route.stats) if (s.n > 0) expect(s.sum / s.n).toBeCloseTo(2, 9);
  }, 60_000);
});
