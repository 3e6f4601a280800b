import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LinearStats } from '../../src/routing/contextual/linear-stats.js';
import { admin, TOKEN } from '../admin/admin-client.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { describeRedis, startRedis, until, type TestRedis } from '../helpers/redis.js';
import { demoNamed, postJson, startTestServer, type TestServer } from '../helpers/server.js';

const CONTEXT = ['card_present', 'is_international', 'amount'];
const ROUTE = {
  policy: 'linucb',
  context: CONTEXT,
  floor: 0.05,
  arms: [
    { name: 'one', model: 'fraud', version: '1' },
    { name: 'two', model: 'fraud', version: '2' },
  ],
};

/** The `k`th request's context: awkward doubles (thirds, a large amount) so that exactness is tested. */
function contextOf(k: number): number[] {
  return [k % 2, (k >> 1) % 2, (k * 1000) / 3];
}

function features(k: number): Record<string, unknown> {
  const f: Record<string, unknown> = demoNamed(k);
  CONTEXT.forEach((name, i) => {
    f[name] = contextOf(k)[i];
  });
  return f;
}

/** Where the replicas keep their state: the server environment, a client on it, and how to stop it. */
interface Backend {
  env: Record<string, string>;
  client: Redis | Cluster;
  stop(): Promise<void>;
}

async function single(): Promise<Backend> {
  const redis: TestRedis = await startRedis();
  const client = new Redis(redis.url);
  return {
    env: { CROUPIER_REDIS_URL: redis.url },
    client,
    async stop() {
      client.disconnect();
      await redis.stop();
    },
  };
}

/** Redis Cluster, every write acknowledged by a replica: the sums travel in the credit script's own slot and WAIT. */
async function cluster(): Promise<Backend> {
  const c: TestCluster = await startCluster();
  const client = new Cluster(c.nodes.split(',').map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })));
  return {
    env: { CROUPIER_REDIS_CLUSTER_NODES: c.nodes, CROUPIER_REDIS_WAIT_REPLICAS: '1' },
    client,
    async stop() {
      client.disconnect();
      await c.stop();
    },
  };
}

for (const [kind, open] of [
  ['one Redis', single],
  ['Redis Cluster', cluster],
] as const)
  describeRedis(`Redis mode (${kind}): a contextual route learns one model across replicas`, () => {
    replicas(open);
  });

function replicas(open: () => Promise<Backend>): void {
  let backend: Backend;
  let client: Redis | Cluster;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    backend = await open();
    client = backend.client;
    const env = { ...backend.env, CROUPIER_ADMIN_TOKEN: TOKEN, CROUPIER_LOG_LEVEL: 'info' };
    [a, b] = await Promise.all([startTestServer(env), startTestServer(env)]);
    const put = await admin(a, 'PUT', '/admin/routes/ctx', ROUTE);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    // The route reaches the other replica through Redis (published, and re-read every second).
    await until(
      'replica B to have the route',
      async () => b.server.gateway.router.get('ctx')?.contextual !== undefined,
      5_000,
    );
  }, 90_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await backend?.stop();
  });

  const route = (t: TestServer) => t.server.gateway.router.get('ctx')!;
  const packs = (t: TestServer) => route(t).stats.map((s) => Array.from(s.linear!.pack()));

  it('outcomes posted to either replica give both the same sums and the same choice probabilities', async () => {
    const expected = [new LinearStats(3), new LinearStats(3)];
    for (let k = 0; k < 40; k++) {
      // Predictions and outcomes spread over both replicas, not always the same pairing.
      const res = await postJson(`${(k % 2 === 0 ? a : b).url}/v1/predict/ctx`, { features: features(k) });
      const p = (await res.json()) as { decision: string; arm: string };
      expect(res.status, JSON.stringify(p)).toBe(200);
      const x = contextOf(k);
      // Arm two pays when the card is present; arm one a little, always.
      const reward = p.arm === 'two' ? x[0]! : 0.25;
      const fb = await postJson(`${(k % 3 === 0 ? a : b).url}/v1/feedback`, { decision: p.decision, reward });
      expect([200, 202], await fb.text()).toContain(fb.status);
      expected[p.arm === 'one' ? 0 : 1]!.credit(x, reward);
    }
    const want = expected.map((s) => Array.from(s.pack()));
    await expect.poll(() => packs(a), { timeout: 5_000 }).toEqual(want);
    await expect.poll(() => packs(b), { timeout: 5_000 }).toEqual(want);

    // Same sums, so the same θ and the same probabilities on any context (LinUCB is deterministic).
    let learned = false;
    for (const x of [
      [1, 0, 100],
      [0, 1, 5000],
      [0, 0, 0],
    ]) {
      const [pa, pb] = [new Float64Array(2), new Float64Array(2)];
      route(a).contextual!.probabilities(Float64Array.from(x), pa);
      route(b).contextual!.probabilities(Float64Array.from(x), pb);
      expect(Array.from(pb)).toEqual(Array.from(pa));
      learned ||= Math.abs(pa[0]! - 0.5) > 0.1;
    }
    expect(learned).toBe(true);

    // Every outcome's context is in the stream, as JSON, for off-policy evaluation.
    const entries = await client.xrange('croupier:{route:ctx}:outcomes', '-', '+');
    expect(entries.length).toBe(40);
    const contexts = entries.map(([, f]) => JSON.parse(f[f.indexOf('context') + 1]!) as number[]);
    expect(contexts).toEqual(Array.from({ length: 40 }, (_, k) => contextOf(k)));
    // And off-policy evaluation reads them: the current policy on each outcome's own context.
    const ope = await postJson(
      `${b.url}/admin/routes/ctx/ope`,
      { policies: [{ name: 'current' }], estimators: ['snips'] },
      { authorization: `Bearer ${TOKEN}` },
    );
    const answer = (await ope.json()) as { n: number; withoutContext?: number };
    expect(ope.status, JSON.stringify(answer)).toBe(200);
    expect([answer.n, answer.withoutContext ?? 0]).toEqual([40, 0]);
  }, 60_000);

  it('an admin reset on one replica empties the sums on both', async () => {
    expect(packs(a).map((p) => p[0])).toEqual(packs(b).map((p) => p[0]));
    expect(packs(a)[0]![0]! + packs(a)[1]![0]!).toBe(40);
    const reset = await admin(b, 'POST', '/admin/routes/ctx/reset');
    expect(reset.status, JSON.stringify(reset.body)).toBe(200);
    const empty = Array.from(new LinearStats(3).pack());
    await expect.poll(() => packs(a), { timeout: 5_000 }).toEqual([empty, empty]);
    await expect.poll(() => packs(b), { timeout: 5_000 }).toEqual([empty, empty]);
  }, 30_000);
}
