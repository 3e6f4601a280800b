/**
 * The LivePointerStore port's contract, run against both stores: embedded (`<stateDir>/live.json`)
 * and Redis mode's shared pointers (a real redis-server). Deploys and rollbacks go through the admin
 * actions and the one lifecycle, as the admin API makes them: the pointer is saved before it is
 * served, with its sha256 and its history oldest first; a rollback goes to the newest entry and
 * drops it; a restart on the same state serves what was saved and rolls back along the saved
 * history; a saved version no longer in the repository gives way to its LIVE file; changes made at
 * once under the admin lock each build on the one before, also from two replicas (Redis).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LivePointer } from '../../src/registry/lifecycle.js';
import { LiveState } from '../../src/state/embedded/live-state.js';
import {
  type AdminReplica,
  type AdminStateImplementation,
  embedded,
  redis,
  writeRepository,
} from '../helpers/admin-state.js';
import { describeRedis, redisAvailable, redisPlan, until } from '../helpers/redis.js';

const plan = redisPlan(redisAvailable(), process.env.CI === 'true');
const implementations = plan === 'run' ? [embedded(), redis()] : [embedded()];
// Without redis-server: skipped with the reason, or failed under CI=true.
if (plan !== 'run') describeRedis('the LivePointerStore contract: redis', () => it('runs', () => undefined));

const deploy = (r: AdminReplica, model: string, version: string) =>
  r.lock.run(() => r.actions.deploy(model, { version }));
const rollback = (r: AdminReplica, model: string) => r.lock.run(() => r.actions.rollback(model));
/** The pointer the store has for `model`, read back through the port. */
const saved = async (r: AdminReplica, model: string): Promise<LivePointer | undefined> =>
  (await r.pointers.read([model])).pointers.find((p) => p.model === model);
const served = (r: AdminReplica, model: string) => {
  const m = r.registry.model(model)!;
  return { live: m.live.version, history: [...m.history] };
};
const sha = (r: AdminReplica, model: string, version: string) => r.registry.model(model)!.versions.get(version)!.sha256;

/** Replicas started by a test, closed after it; `restart` closes one and starts another on the same state. */
function replicas(impl: AdminStateImplementation, models: () => string) {
  const open: AdminReplica[] = [];
  const start = async (id?: string): Promise<AdminReplica> => {
    const r = await impl.start(models(), undefined, id);
    open.push(r);
    return r;
  };
  const restart = async (r: AdminReplica): Promise<AdminReplica> => {
    open.splice(open.indexOf(r), 1);
    await r.close();
    return start();
  };
  afterEach(async () => {
    for (const r of open.splice(0)) await r.close();
  });
  return { start, restart };
}

describe.each(implementations)('the LivePointerStore contract: $name', (impl) => {
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

  it('a deploy saves the new live version, its sha256 and the version it replaced, and serves it', async () => {
    const r = await start();
    expect(served(r, 'm')).toEqual({ live: '1', history: [] });
    const out = await deploy(r, 'm', '2');
    expect(out.body).toMatchObject({ model: 'm', live: '2', previous: '1', changed: true, history: ['1'] });
    expect(await saved(r, 'm')).toMatchObject({ model: 'm', live: '2', sha256: sha(r, 'm', '2'), history: ['1'] });
    expect(served(r, 'm')).toEqual({ live: '2', history: ['1'] });
    // Another model's pointer is not moved by it.
    const other = await saved(r, 'n');
    if (other) expect(other).toMatchObject({ live: '1', sha256: sha(r, 'n', '1'), history: [] });
    expect(served(r, 'n')).toEqual({ live: '1', history: [] });
  });

  it('keeps the history oldest first; each rollback goes to its newest version and drops it', async () => {
    const r = await start();
    for (const v of ['2', '3', '4', '1']) await deploy(r, 'm', v);
    expect(await saved(r, 'm')).toMatchObject({ live: '1', history: ['1', '2', '3', '4'] });
    expect((await rollback(r, 'm')).body).toMatchObject({ live: '4', previous: '1', history: ['1', '2', '3'] });
    expect(await saved(r, 'm')).toMatchObject({ live: '4', sha256: sha(r, 'm', '4'), history: ['1', '2', '3'] });
    await rollback(r, 'm');
    expect(await saved(r, 'm')).toMatchObject({ live: '3', sha256: sha(r, 'm', '3'), history: ['1', '2'] });
    expect(served(r, 'm')).toEqual({ live: '3', history: ['1', '2'] });
  });

  it('a restart serves the saved live version and rolls back along the saved history', async () => {
    let r = await start();
    await deploy(r, 'm', '2');
    await deploy(r, 'm', '3');
    await deploy(r, 'n', '2');
    r = await restart(r);
    expect(served(r, 'm')).toEqual({ live: '3', history: ['1', '2'] });
    expect(served(r, 'n')).toEqual({ live: '2', history: ['1'] });
    await rollback(r, 'm');
    r = await restart(r);
    expect(served(r, 'm')).toEqual({ live: '2', history: ['1'] });
    await rollback(r, 'm');
    expect(served(r, 'm')).toEqual({ live: '1', history: [] });
    await expect(rollback(r, 'm')).rejects.toMatchObject({ code: 'conflict' });
    r = await restart(r);
    expect(served(r, 'm')).toEqual({ live: '1', history: [] });
    expect(await saved(r, 'm')).toMatchObject({ live: '1', history: [] });
  });

  it('a deploy of the version already live saves nothing and changes nothing', async () => {
    const r = await start();
    await deploy(r, 'm', '2');
    const before = await saved(r, 'm');
    const out = await deploy(r, 'm', '2');
    expect(out.body).toMatchObject({ live: '2', previous: '2', changed: false, history: ['1'] });
    expect(await saved(r, 'm')).toEqual(before);
  });

  it('a deploy of a version the repository lacks is refused and saves nothing', async () => {
    const r = await start();
    await deploy(r, 'm', '2');
    const before = await saved(r, 'm');
    await expect(deploy(r, 'm', '9')).rejects.toMatchObject({ code: 'version_not_found' });
    expect(await saved(r, 'm')).toEqual(before);
    expect(served(r, 'm')).toEqual({ live: '2', history: ['1'] });
  });

  it('a saved live version no longer in the repository gives way, at restart, to its LIVE file', async () => {
    const own = writeRepository();
    try {
      let r = await impl.start(own);
      await deploy(r, 'm', '4');
      await deploy(r, 'n', '2');
      await r.close();
      rmSync(join(own, 'm', '4'), { recursive: true });
      r = await impl.start(own);
      try {
        expect(served(r, 'm')).toEqual({ live: '1', history: [] });
        expect(served(r, 'n')).toEqual({ live: '2', history: ['1'] });
      } finally {
        await r.close();
      }
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('deploys made at once under the admin lock run one after the other, each history naming the one before', async () => {
    const r = await start();
    const outs = await Promise.all(['2', '3', '4'].map((v) => deploy(r, 'm', v)));
    expect(outs.map((o) => (o.body as { previous: string }).previous)).toEqual(['1', '2', '3']);
    expect(await saved(r, 'm')).toMatchObject({ live: '4', sha256: sha(r, 'm', '4'), history: ['1', '2', '3'] });
    expect(served(r, 'm')).toEqual({ live: '4', history: ['1', '2', '3'] });
  });
});

describeRedis('the LivePointerStore contract: redis, two replicas', () => {
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

  it('deploys on two replicas at once: the later catches up first, so the saved history holds both, and both serve it', async () => {
    const a = await start('replica-a');
    const b = await start('replica-b');
    const outs = await Promise.all([deploy(a, 'm', '2'), deploy(b, 'm', '3')]);
    const [first, second] = [...outs].sort(
      (x, y) => (x.body as { history: string[] }).history.length - (y.body as { history: string[] }).history.length,
    );
    expect(first!.body).toMatchObject({ previous: '1', history: ['1'] });
    const firstLive = (first!.body as { live: string }).live;
    expect(second!.body).toMatchObject({ previous: firstLive, history: ['1', firstLive] });
    const pointer = (await saved(a, 'm'))!;
    expect(pointer).toMatchObject({ live: (second!.body as { live: string }).live, history: ['1', firstLive] });
    await until(
      'both replicas serve the saved pointer',
      async () =>
        [a, b].every((r) => served(r, 'm').live === pointer.live && served(r, 'm').history.join() === '1,' + firstLive),
      5_000,
    );
  });
});

// Differs by design: only the embedded store is a file a disk or an operator can break (the admin
// plane then logs it and serves the repository's LIVE files); Redis mode's pointers are re-read.
describe('the LivePointerStore contract: embedded, an unreadable live.json', () => {
  it('reads nothing saved when there is no file, and rejects naming the file when it is broken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'croupier-state-'));
    try {
      const store = new LiveState(dir);
      expect(await store.read(['m'])).toEqual({ pointers: [] });
      writeFileSync(join(dir, 'live.json'), '{"models": ');
      await expect(store.read(['m'])).rejects.toThrow(/live\.json/);
      writeFileSync(join(dir, 'live.json'), '[]');
      await expect(store.read(['m'])).rejects.toThrow(/not a live-state document/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
