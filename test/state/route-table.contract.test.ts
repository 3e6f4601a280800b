/**
 * The RouteTableStore port's contract, run against both stores: embedded
 * (`<stateDir>/routes-state.json`) and Redis mode's shared routes (a real redis-server). Route edits
 * go through the admin actions, as the admin API makes them. The table starts as the routes file,
 * saved with the file's sha256; a put is saved before it applies and is read back as put, the
 * other routes still listed; a statistics reset saves nothing; a restart with the same routes file
 * keeps the edits, one with a changed file replaces them; puts made at once under the admin lock
 * are all kept, also from two replicas (Redis).
 */
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RouteSpec } from '../../src/routing/route-spec.js';
import {
  type AdminReplica,
  type AdminStateImplementation,
  embedded,
  type RoutesFile,
  redis,
  writeRepository,
} from '../helpers/admin-state.js';
import { describeRedis, redisAvailable, redisPlan, until } from '../helpers/redis.js';

const plan = redisPlan(redisAvailable(), process.env.CI === 'true');
const implementations = plan === 'run' ? [embedded(), redis()] : [embedded()];
// Without redis-server: skipped with the reason, or failed under CI=true.
if (plan !== 'run') describeRedis('the RouteTableStore contract: redis', () => it('runs', () => undefined));

const route = (policy: string, arms: [string, string, string][]) => ({
  policy,
  arms: arms.map(([name, model, version]) => ({ name, model, version })),
});
const FILE: RoutesFile = {
  hash: 'a'.repeat(64),
  routes: {
    main: route('thompson', [
      ['champion', 'm', 'live'],
      ['challenger', 'm', '2'],
    ]),
    side: route('fixed', [['only', 'n', 'live']]),
  },
};
/** The same routes file after an operator edited it. */
const EDITED_FILE: RoutesFile = {
  hash: 'b'.repeat(64),
  routes: {
    replacement: route('ucb1', [
      ['x', 'n', '2'],
      ['y', 'm', 'live'],
    ]),
  },
};

const put = (r: AdminReplica, name: string, raw: unknown) => r.lock.run(() => r.actions.putRoute(name, raw));
/** The saved table's routes, as JSON (what a restart parses again). */
const table = async (r: AdminReplica) => {
  const t = await r.routes.read();
  return t && { fileHash: t.fileHash, routes: JSON.parse(JSON.stringify(t.routes)) as Record<string, unknown> };
};
const servedSpecs = (r: AdminReplica): Record<string, RouteSpec> =>
  JSON.parse(JSON.stringify(Object.fromEntries([...r.router.routes].map(([n, x]) => [n, x.spec]))));

function replicas(impl: AdminStateImplementation, models: () => string) {
  const open: AdminReplica[] = [];
  const start = async (file: RoutesFile, id?: string): Promise<AdminReplica> => {
    const r = await impl.start(models(), file, id);
    open.push(r);
    return r;
  };
  const restart = async (r: AdminReplica, file: RoutesFile): Promise<AdminReplica> => {
    open.splice(open.indexOf(r), 1);
    await r.close();
    return start(file);
  };
  afterEach(async () => {
    for (const r of open.splice(0)) await r.close();
  });
  return { start, restart };
}

describe.each(implementations)('the RouteTableStore contract: $name', (impl) => {
  let models = '';
  beforeAll(async () => {
    await impl.setUp();
    models = writeRepository();
  });
  beforeEach(() => impl.fresh());
  afterAll(async () => {
    await impl.tearDown();
    rmSync(models, { recursive: true, force: true });
  });
  const { start, restart } = replicas(impl, () => models);

  it("starts as the routes file, saved with the file's sha256", async () => {
    const r = await start(FILE);
    expect(Object.keys(servedSpecs(r))).toEqual(['main', 'side']);
    const saved = await table(r);
    expect(saved?.fileHash).toBe(FILE.hash);
    expect(saved?.routes).toEqual(servedSpecs(r));
  });

  it('a put is saved and read back as put, the other routes still listed, the file hash kept', async () => {
    const r = await start(FILE);
    const raw = route('epsilon-greedy', [
      ['a', 'm', '3'],
      ['b', 'n', 'live'],
    ]);
    const out = await put(r, 'added', raw);
    expect(out.status).toBe(200);
    const saved = (await table(r))!;
    expect(Object.keys(saved.routes).sort()).toEqual(['added', 'main', 'side']);
    expect(saved.routes.added).toEqual(servedSpecs(r).added);
    expect(saved.routes.added).toMatchObject({
      policy: 'epsilon-greedy',
      arms: [{ name: 'a', version: '3' }, { name: 'b' }],
    });
    expect(saved.routes.main).toEqual(servedSpecs(r).main);
    expect(saved.fileHash).toBe(FILE.hash);
  });

  it('a put over an existing route replaces its spec, in the table and in what is served', async () => {
    const r = await start(FILE);
    await put(r, 'side', route('fixed', [['only', 'n', '2']]));
    const saved = (await table(r))!;
    expect(saved.routes.side).toMatchObject({ arms: [{ name: 'only', model: 'n', version: '2' }] });
    expect(servedSpecs(r).side).toEqual(saved.routes.side);
    expect(Object.keys(saved.routes).sort()).toEqual(['main', 'side']);
  });

  it('a refused put (a version the repository lacks) saves nothing', async () => {
    const r = await start(FILE);
    const before = await table(r);
    await expect(put(r, 'bad', route('fixed', [['a', 'm', '9']]))).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await table(r)).toEqual(before);
  });

  it('a statistics reset saves nothing', async () => {
    const r = await start(FILE);
    await put(
      r,
      'added',
      route('thompson', [
        ['a', 'm', 'live'],
        ['b', 'm', '4'],
      ]),
    );
    const before = await table(r);
    expect((await r.lock.run(() => r.actions.resetRoute('added'))).status).toBe(200);
    expect(await table(r)).toEqual(before);
  });

  it('a restart with the same routes file serves the saved edits', async () => {
    let r = await start(FILE);
    await put(
      r,
      'added',
      route('ucb1', [
        ['a', 'm', '2'],
        ['b', 'm', '3'],
      ]),
    );
    await put(r, 'side', route('fixed', [['only', 'n', '2']]));
    const edited = servedSpecs(r);
    r = await restart(r, FILE);
    expect(servedSpecs(r)).toEqual(edited);
    expect(await table(r)).toEqual({ fileHash: FILE.hash, routes: edited });
  });

  it("a restart with a changed routes file replaces the saved edits with the file's routes and hash", async () => {
    let r = await start(FILE);
    await put(
      r,
      'added',
      route('ucb1', [
        ['a', 'm', '2'],
        ['b', 'm', '3'],
      ]),
    );
    r = await restart(r, EDITED_FILE);
    expect(Object.keys(servedSpecs(r))).toEqual(['replacement']);
    expect(await table(r)).toEqual({ fileHash: EDITED_FILE.hash, routes: servedSpecs(r) });
    // And the next restart with that file keeps what it now has.
    await put(r, 'later', route('fixed', [['a', 'm', 'live']]));
    r = await restart(r, EDITED_FILE);
    expect(Object.keys(servedSpecs(r)).sort()).toEqual(['later', 'replacement']);
  });

  it('puts made at once under the admin lock are all kept', async () => {
    const r = await start(FILE);
    const names = ['p1', 'p2', 'p3', 'p4'];
    await Promise.all(names.map((n, i) => put(r, n, route('fixed', [['a', 'm', String(i + 1)]]))));
    const saved = (await table(r))!;
    expect(Object.keys(saved.routes).sort()).toEqual(['main', 'p1', 'p2', 'p3', 'p4', 'side']);
    for (const [i, n] of names.entries()) expect(saved.routes[n]).toMatchObject({ arms: [{ version: String(i + 1) }] });
  });
});

describeRedis('the RouteTableStore contract: redis, two replicas', () => {
  const impl = redis();
  let models = '';
  beforeAll(async () => {
    await impl.setUp();
    await impl.fresh();
    models = writeRepository();
  });
  afterAll(async () => {
    await impl.tearDown();
    rmSync(models, { recursive: true, force: true });
  });
  const { start } = replicas(impl, () => models);

  it('puts on two replicas at once are both kept, and both replicas serve the same table', async () => {
    const a = await start(FILE, 'replica-a');
    const b = await start(FILE, 'replica-b');
    await Promise.all([
      put(a, 'from-a', route('fixed', [['a', 'm', '2']])),
      put(b, 'from-b', route('fixed', [['b', 'n', '2']])),
    ]);
    const saved = (await table(a))!;
    expect(Object.keys(saved.routes).sort()).toEqual(['from-a', 'from-b', 'main', 'side']);
    await until(
      'both replicas serve the saved table',
      async () => [a, b].every((r) => JSON.stringify(servedSpecs(r)) === JSON.stringify(saved.routes)),
      5_000,
    );
  });
});
