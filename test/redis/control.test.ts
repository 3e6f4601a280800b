/**
 * Redis mode, control half: replicas as separate processes sharing one real redis-server. A deploy,
 * a rollback and a route change made on one are live on the other within 1 s; a replica started
 * later serves the current live version; a deploy another replica cannot load is refused naming it
 * and flips nothing; concurrent changes on two replicas are serialised; the audit chain is one.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyAuditLog, type AuditEntry } from '../../src/state/audit-chain.js';
import { packRelease } from '../../src/admin/release.js';
import { spawnCroupier, type Child } from '../helpers/process.js';
import { describeRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { copyDemoModels, demoRow, ROOT } from '../helpers/server.js';

const TOKEN = 'control-test-token-1234';
/** A second token, named "ops", to tell in the audit chain which call went to which replica. */
const OPS_TOKEN = 'control-test-ops-5678';

interface Replica {
  child: Child;
  url: string;
  /** How the replica names itself in errors and in GET /admin/models. */
  id: string;
}

interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: { code: string; message: string } };
}

async function call(r: Replica, method: string, path: string, body?: unknown, token = TOKEN): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${r.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Answer['body']) : {} };
}

interface ModelView {
  name: string;
  live: string;
  replicas?: { replica: string; live: string | null }[];
  versions: { version: string; replicas?: { replica: string; loaded: number; of: number }[] }[];
}

async function fraud(r: Replica): Promise<ModelView> {
  const { body } = await call(r, 'GET', '/admin/models');
  return (body.models as ModelView[]).find((m) => m.name === 'fraud')!;
}

/** Polls until `check` holds; answers how long that took (ms). */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let redis: TestRedis;
let modelsA: string;
let modelsB: string;
const replicas: Replica[] = [];

async function startReplica(models: string): Promise<Replica> {
  const child = spawnCroupier(['serve', '--port', '0'], {
    CROUPIER_REDIS_URL: redis.url,
    CROUPIER_ADMIN_TOKEN: TOKEN,
    CROUPIER_ADMIN_TOKENS: `ops:${OPS_TOKEN}`,
    CROUPIER_MODELS_DIR: models,
    CROUPIER_LOG_LEVEL: 'info',
  });
  const port = await child.ready;
  const r = { child, url: `http://127.0.0.1:${port}`, id: `${hostname()}-${child.proc.pid}` };
  replicas.push(r);
  return r;
}

/** The real `croupier` CLI against a replica. */
function cli(...args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin', 'croupier.js'), ...args],
      { env: { PATH: process.env.PATH ?? '', CROUPIER_ADMIN_TOKEN: TOKEN } },
      (error, stdout) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout });
      },
    );
  });
}

async function stopReplica(r: Replica): Promise<void> {
  r.child.proc.kill('SIGTERM');
  await r.child.exited;
}

describeRedis('Redis mode: live versions, routes, deploys and audit shared by replicas', () => {
  let a: Replica;
  let b: Replica;
  let c: Replica;

  beforeAll(async () => {
    redis = await startRedis();
    // A has a fraud version 3 that B's model directory lacks (a volume that is not shared).
    modelsA = copyDemoModels();
    modelsB = copyDemoModels();
    const v3 = join(modelsA, 'fraud', '3');
    cpSync(join(modelsA, 'fraud', '2'), v3, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(v3, 'model.json'), 'utf8')) as { version: string };
    manifest.version = '3';
    writeFileSync(join(v3, 'model.json'), JSON.stringify(manifest));
    [a, b] = await Promise.all([startReplica(modelsA), startReplica(modelsB)]);
  }, 20_000);

  afterAll(async () => {
    await Promise.all(replicas.map(stopReplica));
    await redis?.stop();
    for (const dir of [modelsA, modelsB]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a deploy and a rollback on A are live on B within 1 s', async () => {
    expect((await fraud(b)).live).toBe('1');
    const callStarted = performance.now();
    const deployed = await call(a, 'POST', '/admin/models/fraud/deploy', { version: '2' });
    const callMs = performance.now() - callStarted;
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(200);
    const deployMs = await within(1000, async () => (await fraud(b)).live === '2');
    // What a client of B sees: the unversioned V2 endpoint answers from version 2.
    const infer = await fetch(`${b.url}/v2/models/fraud/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, 32], datatype: 'FP32', data: demoRow(1) }] }),
    });
    expect(((await infer.json()) as { model_version: string }).model_version).toBe('2');

    const rolled = await call(a, 'POST', '/admin/models/fraud/rollback');
    expect(rolled.status, JSON.stringify(rolled.body)).toBe(200);
    const rollbackMs = await within(1000, async () => (await fraud(b)).live === '1');
    expect((await fraud(b)).live).toBe('1');
    console.log(
      `deploy call on A (two-phase, 2 replicas) ${callMs.toFixed(0)} ms; live on B ${deployMs.toFixed(0)} ms after its answer, rollback ${rollbackMs.toFixed(0)} ms after`,
    );

    // GET /admin/models shows each live replica's load state.
    // (as of the last heartbeat A read: B, started with it, may take a second to appear there)
    await within(
      1500,
      async () =>
        (await fraud(a))
          .replicas!.map((r) => r.replica)
          .sort()
          .join() === [a.id, b.id].sort().join(),
    );
    expect((await fraud(a)).versions.find((v) => v.version === '2')!.replicas).toContainEqual({
      replica: b.id,
      loaded: 1,
      of: 1,
    });
  });

  it('a route change on A applies on B within 1 s', async () => {
    const spec = {
      policy: 'fixed',
      arms: [
        { name: 'a', model: 'fraud', version: '1', weight: 0.3 },
        { name: 'b', model: 'fraud', version: '2', weight: 0.7 },
      ],
    };
    const put = await call(a, 'PUT', '/admin/routes/fraud-ab', spec);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const ms = await within(1000, async () => {
      const { body } = await call(b, 'GET', '/admin/routes');
      return (body.routes as Record<string, { arms: { weight?: number }[] }>)['fraud-ab']!.arms[0]!.weight === 0.3;
    });
    console.log(`route change on A applied on B after ${ms.toFixed(0)} ms`);
  });

  it('a deploy B cannot load is refused naming B, and nothing flips anywhere', async () => {
    const refused = await call(a, 'POST', '/admin/models/fraud/deploy', { version: '3' });
    expect(refused.status).toBe(422);
    expect(refused.body.error!.code).toBe('model_invalid');
    expect(refused.body.error!.message).toContain(`replica ${b.id} cannot load it`);
    expect(refused.body.error!.message).not.toContain(`replica ${a.id}`);
    await new Promise((r) => setTimeout(r, 1200));
    expect((await fraud(a)).live).toBe('1');
    expect((await fraud(b)).live).toBe('1');
  });

  it('two concurrent deploys on A and B are serialised: one changes, the other finds it done', async () => {
    const [onA, onB] = await Promise.all([
      call(a, 'POST', '/admin/models/fraud/deploy', { version: '2' }),
      call(b, 'POST', '/admin/models/fraud/deploy', { version: '2' }, OPS_TOKEN),
    ]);
    expect([onA.status, onB.status]).toEqual([200, 200]);
    expect([onA.body.changed, onB.body.changed].sort()).toEqual([false, true]);
    // Both see one history: 1 was live before 2, once.
    expect(onA.body.history).toEqual(['1']);
    expect(onB.body.history).toEqual(['1']);
    await within(1000, async () => (await fraud(a)).live === '2' && (await fraud(b)).live === '2');
  });

  it('a replica started after the deploy serves the current live version at once', async () => {
    // C shares A's model directory (as replicas on one ReadWriteMany volume do).
    c = await startReplica(modelsA);
    expect((await fraud(c)).live).toBe('2');
    const { body } = await call(c, 'GET', '/admin/routes');
    expect((body.routes as Record<string, { arms: { weight?: number }[] }>)['fraud-ab']!.arms[0]!.weight).toBe(0.3);
    // `croupier status` counts the replicas that have each version loaded (A, B and C have 2).
    const status = await cli('status', '--url', c.url);
    expect(status.stdout).toMatch(/MODEL\s+VERSION\s+LIVE\s+WORKERS\s+REPLICAS/);
    expect(status.stdout).toMatch(/fraud\s+2\s+live\s+(1\/1|inline)\s+3\/3/);
  });

  it("the audit chain read from either replica is one, verifies, and holds both replicas' entries", async () => {
    const fromA = (await call(a, 'GET', '/admin/audit')).body.entries as AuditEntry[];
    const fromB = (await call(b, 'GET', '/admin/audit')).body.entries as AuditEntry[];
    expect(fromB).toEqual(fromA);
    expect(verifyAuditLog(fromA.map((e) => JSON.stringify(e)).join('\n')).ok).toBe(true);
    const actions = fromA.map((e) => `${e.action}:${e.result}`);
    // A's deploy, rollback, route change and refused deploy; the concurrent pair (one of them B's).
    expect(actions.slice(0, 4)).toEqual(['deploy:ok', 'rollback:ok', 'routes.put:ok', 'deploy:refused']);
    expect(actions.slice(4).sort()).toEqual(['deploy:noop', 'deploy:ok']);
    // The last two were appended by A (token "admin") and by B (token "ops"), in one chain.
    expect(
      fromA
        .slice(4)
        .map((e) => e.actor)
        .sort(),
    ).toEqual(['admin', 'ops']);
    const verified = await cli('audit', 'verify', '--url', b.url);
    expect(verified.stdout).toContain(`audit log intact: ${fromA.length} entries`);
    expect(verified.code).toBe(0);
  });

  it('push reaches the replicas sharing the model directory, is refused naming one that does not, and a dead replica is not waited for', async () => {
    const work = mkdtempSync(join(tmpdir(), 'croupier-push-'));
    const dir = join(work, 'fraud', '4');
    cpSync(join(modelsB, 'fraud', '2'), dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { version: string };
    manifest.version = '4';
    writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
    const { archive } = packRelease(dir);
    rmSync(work, { recursive: true, force: true });
    const push = async (): Promise<Answer> => {
      const res = await fetch(`${a.url}/admin/models/fraud/versions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/gzip' },
        body: archive,
      });
      return { status: res.status, body: (await res.json()) as Answer['body'] };
    };

    // B has its own model directory: it cannot see the pushed files, so the push is undone.
    const refused = await push();
    expect(refused.status).toBe(422);
    expect(refused.body.error!.message).toContain(`replica ${b.id} cannot load it`);
    expect(refused.body.error!.message).toContain('CROUPIER_MODELS_DIR');
    expect(existsSync(join(modelsA, 'fraud', '4'))).toBe(false);

    // B dies without leaving (SIGKILL): its heartbeat goes stale and the next push stops waiting for it.
    b.child.proc.kill('SIGKILL');
    await b.child.exited;
    replicas.splice(replicas.indexOf(b), 1);
    const started = performance.now();
    const pushed = await push();
    const pushMs = performance.now() - started;
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(201);
    expect(pushMs).toBeLessThan(5000);
    // C, on the same volume, loaded it before the answer.
    expect((await fraud(c)).versions.find((v) => v.version === '4')).toBeDefined();
    const deployed = await call(a, 'POST', '/admin/models/fraud/deploy', { version: '4' });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(200);
    await within(1000, async () => (await fraud(c)).live === '4');
    // A's view of the others is as of its last heartbeat (every second): B leaves it soon after.
    await within(
      2000,
      async () =>
        (await fraud(a))
          .replicas!.map((r) => r.replica)
          .sort()
          .join() === [a.id, c.id].sort().join(),
    );
    console.log(`push with a dead replica still in the set answered after ${pushMs.toFixed(0)} ms`);
  });

  it('a change whose message was lost (a reconnect) is still applied by the re-read every second', async () => {
    const redisClient = new Redis(redis.url);
    try {
      // Written the way a deploy writes it, but never published: as if every replica missed the message.
      const fence = Number(await redisClient.get('croupier:{model:fraud}:fence'));
      const v2 = (await fraud(a)).versions.find((v) => v.version === '2') as unknown as { sha256: string };
      await redisClient.set(
        'croupier:{model:fraud}:live',
        JSON.stringify({ model: 'fraud', live: '2', sha256: v2.sha256, history: ['1'], token: fence + 1 }),
      );
      const ms = await within(2000, async () => (await fraud(a)).live === '2' && (await fraud(c)).live === '2');
      console.log(`unpublished change picked up by the re-read after ${ms.toFixed(0)} ms`);
      expect((await fraud(c)).live).toBe('2');
    } finally {
      redisClient.disconnect();
    }
  });

  it('a replica started with a changed routes file replaces the shared routes, audited', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'croupier-routes-'));
    const routes = JSON.parse(readFileSync(join(modelsA, 'routes.json'), 'utf8')) as {
      routes: Record<string, { arms: { weight?: number }[] }>;
    };
    routes.routes['fraud-ab']!.arms[0]!.weight = 0.5;
    routes.routes['fraud-ab']!.arms[1]!.weight = 0.5;
    writeFileSync(join(dir, 'routes.json'), JSON.stringify(routes));
    const child = spawnCroupier(['serve', '--port', '0'], {
      CROUPIER_REDIS_URL: redis.url,
      CROUPIER_ADMIN_TOKEN: TOKEN,
      CROUPIER_ADMIN_TOKENS: `ops:${OPS_TOKEN}`,
      CROUPIER_MODELS_DIR: modelsA,
      CROUPIER_ROUTES: join(dir, 'routes.json'),
    });
    const d: Replica = { child, url: `http://127.0.0.1:${await child.ready}`, id: `${hostname()}-${child.proc.pid}` };
    replicas.push(d);
    try {
      await within(1000, async () => {
        const { body } = await call(a, 'GET', '/admin/routes');
        return (body.routes as Record<string, { arms: { weight?: number }[] }>)['fraud-ab']!.arms[0]!.weight === 0.5;
      });
      const entries = (await call(a, 'GET', '/admin/audit?limit=1')).body.entries as AuditEntry[];
      expect(entries[0]).toMatchObject({ action: 'routes.apply-file', result: 'ok' });
    } finally {
      await stopReplica(d);
      replicas.splice(replicas.indexOf(d), 1);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an arm behind `live` restarting after a deploy is audited once, not once per replica', async () => {
    const predictOn = async (r: Replica): Promise<void> => {
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${r.url}/v1/predict/fraud-scoring`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ features: demoRow(i) }),
        });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
    };
    await Promise.all([predictOn(a), predictOn(c)]);
    expect((await call(a, 'POST', '/admin/models/fraud/deploy', { version: '4' })).status).toBe(200);
    await within(1000, async () => (await fraud(c)).live === '4');
    await Promise.all([predictOn(a), predictOn(c)]);
    await new Promise((r) => setTimeout(r, 300));
    const entries = (await call(a, 'GET', '/admin/audit')).body.entries as AuditEntry[];
    const restarts = entries.filter((e) => e.action === 'routes.arm-restart' && e.after === 'fraud@4');
    expect(restarts.map((e) => e.target)).toEqual(['fraud-scoring/champion']);
  });
});
