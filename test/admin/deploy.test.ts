/** Deploy and rollback: atomic under load, and every kind of failed deploy leaves live untouched. */
import { appendFileSync, cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyDemoModels, demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';
import { admin, liveVersion, TOKEN } from './admin-client.js';

let t: TestServer;
let models: string;
beforeAll(async () => {
  models = copyDemoModels();
  t = await startTestServer({
    CROUPIER_ADMIN_TOKEN: TOKEN,
    CROUPIER_MODELS_DIR: models,
    CROUPIER_WORKERS: '2',
    CROUPIER_INLINE_MAX_US: '0',
  });
});
afterAll(async () => {
  await t.stop();
  rmSync(models, { recursive: true, force: true });
});

describe('deploy and rollback under load', () => {
  it('serves every request during 20 swaps, on both versions', async () => {
    let running = true;
    const statuses = new Map<number, number>();
    const versions = new Set<string>();
    const client = async (kind: 'v1' | 'v2'): Promise<void> => {
      while (running) {
        const res =
          kind === 'v1'
            ? await postJson(`${t.url}/v1/predict/fraud-scoring`, { features: demoRow(3) })
            : await postJson(`${t.url}/v2/models/fraud/infer`, {
                inputs: [{ name: 'features', shape: [1, 32], datatype: 'FP32', data: demoRow(3) }],
              });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const body = (await res.json()) as { model_version?: string; error?: unknown };
        if (kind === 'v2' && body.model_version) versions.add(body.model_version);
        if (res.status !== 200) console.error(kind, res.status, body);
      }
    };
    const clients = [
      ...Array.from({ length: 4 }, () => client('v1')),
      ...Array.from({ length: 4 }, () => client('v2')),
    ];
    const swapMs: number[] = [];
    for (let i = 0; i < 10; i++) {
      for (const [path, body] of [
        ['/admin/models/fraud/deploy', { version: '2' }],
        ['/admin/models/fraud/rollback', undefined],
      ] as const) {
        const started = performance.now();
        const res = await admin(t, 'POST', path, body);
        swapMs.push(performance.now() - started);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.changed).toBe(true);
        await new Promise((r) => setTimeout(r, 40));
      }
    }
    running = false;
    await Promise.all(clients);
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    swapMs.sort((a, b) => a - b);
    console.log(
      `swaps under load: ${swapMs.length}, admin call p50 ${swapMs[10]!.toFixed(1)} ms, max ${swapMs.at(-1)!.toFixed(1)} ms; ${total} scoring requests`,
    );
    expect([...statuses.keys()]).toEqual([200]);
    expect(versions).toEqual(new Set(['1', '2']));
    expect(await liveVersion(t)).toBe('1');
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toContain('croupier_model_swaps_total{model="fraud",kind="deploy"} 10');
    expect(metrics).toContain('croupier_model_swaps_total{model="fraud",kind="rollback"} 10');
    expect(metrics).toMatch(/croupier_model_info\{model="fraud",version="1",sha256="[0-9a-f]{64}",live="true"\} 1/);
  });
});

describe('deploy', () => {
  it('deploying the live version is a 200 no-op with no history entry', async () => {
    const res = await admin(t, 'POST', '/admin/models/fraud/deploy', { version: '1' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ changed: false, live: '1', history: [] });
  });

  it('rollback goes back several steps, then refuses with 409', async () => {
    await admin(t, 'POST', '/admin/models/fraud/deploy', { version: '2' });
    await admin(t, 'POST', '/admin/models/fraud/deploy', { version: '1' });
    await admin(t, 'POST', '/admin/models/fraud/deploy', { version: '2' });
    expect((await admin(t, 'GET', '/admin/models')).body.models).toContainEqual(
      expect.objectContaining({ name: 'fraud', live: '2', history: ['1', '2', '1'] }),
    );
    for (const expected of ['1', '2', '1']) {
      const res = await admin(t, 'POST', '/admin/models/fraud/rollback');
      expect(res.body.live).toBe(expected);
    }
    const none = await admin(t, 'POST', '/admin/models/fraud/rollback');
    expect(none.status).toBe(409);
    expect(await liveVersion(t)).toBe('1');
  });

  it('two deploys at once are serialised', async () => {
    const [a, b] = await Promise.all([
      admin(t, 'POST', '/admin/models/fraud/deploy', { version: '2' }),
      admin(t, 'POST', '/admin/models/fraud/deploy', { version: '1' }),
    ]);
    expect([a.body.previous, a.body.live, b.body.previous, b.body.live]).toEqual(['1', '2', '2', '1']);
    await admin(t, 'POST', '/admin/models/fraud/rollback');
    await admin(t, 'POST', '/admin/models/fraud/rollback');
  });

  it('checks the request: 404 unknown model or version, 415, 400', async () => {
    const check = async (
      path: string,
      body: unknown,
      status: number,
      code: string,
      headers: Record<string, string> = {},
    ): Promise<void> => {
      const res = await admin(t, 'POST', path, body, headers);
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(res.body.error!.code).toBe(code);
    };
    await check('/admin/models/fraud/deploy', { version: '9' }, 404, 'version_not_found');
    await check('/admin/models/fraud/deploy', { version: '../1' }, 404, 'version_not_found');
    await check('/admin/models/nope/deploy', { version: '1' }, 404, 'model_not_found');
    await check('/admin/models/fraud/deploy', { version: '2' }, 415, 'unsupported_media_type', {
      'content-type': 'text/plain',
    });
    await check('/admin/models/fraud/deploy', { release: '2' }, 400, 'invalid_request');
    await check('/admin/models/fraud/deploy', '{"version":', 400, 'invalid_json');
    expect(await liveVersion(t)).toBe('1');
  });
});

describe('failed deploys leave live untouched', () => {
  const expectRefused = async (version: string, pattern: RegExp): Promise<void> => {
    const res = await admin(t, 'POST', '/admin/models/fraud/deploy', { version });
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body.error!.code).toBe('model_invalid');
    expect(res.body.error!.message).toMatch(pattern);
    expect(await liveVersion(t)).toBe('1');
    const ok = await postJson(`${t.url}/v2/models/fraud/infer`, {
      inputs: [{ name: 'features', shape: [1, 32], datatype: 'FP32', data: demoRow() }],
    });
    expect(((await ok.json()) as { model_version: string }).model_version).toBe('1');
    const audit = (await admin(t, 'GET', '/admin/audit?limit=1')).body.entries as {
      action: string;
      result: string;
      error: { code: string };
    }[];
    expect(audit[0]).toMatchObject({ action: 'deploy', result: 'refused', error: { code: 'model_invalid' } });
  };

  it('a model file whose bytes changed on disk (sha256 mismatch)', async () => {
    const file = join(models, 'fraud', '2', 'model.onnx');
    const original = readFileSync(file);
    // Trailing bytes: still a loadable ONNX protobuf, but no longer the file the manifest names.
    appendFileSync(file, Buffer.from([0x00]));
    try {
      await expectRefused('2', /sha256 mismatch/);
    } finally {
      writeFileSync(file, original);
    }
  });

  it('a version whose warm-up fails (outputs of the wrong shape)', async () => {
    const dir = join(models, 'fraud', '3');
    cpSync(join(models, 'fraud', '2'), dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
      version: string;
      outputs: { shape: number[] }[];
    };
    manifest.version = '3';
    manifest.outputs[0]!.shape = [-1, 2];
    writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
    try {
      await expectRefused('3', /warm-up/);
      expect((await admin(t, 'GET', '/admin/models')).body.models).toContainEqual(
        expect.objectContaining({
          name: 'fraud',
          versions: expect.not.arrayContaining([expect.objectContaining({ version: '3' })]) as unknown,
        }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a version folder with a broken manifest', async () => {
    const dir = join(models, 'fraud', '4');
    cpSync(join(models, 'fraud', '2'), dir, { recursive: true });
    writeFileSync(join(dir, 'model.json'), '{"name": "fraud"');
    try {
      await expectRefused('4', /model\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
