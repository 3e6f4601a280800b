/**
 * Triton's load and unload in Redis mode: a load is the shared two-phase deploy, audited in the
 * shared chain; an unload would take a model from one replica only, so it is refused (409).
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { admin, liveVersion, TOKEN } from '../admin/admin-client.js';
import { describeRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { copyDemoModels, startTestServer, type TestServer } from '../helpers/server.js';
import { rawRequest, tritonPost } from './triton-client.js';

describeRedis("Triton's load and unload in Redis mode", () => {
  let redis: TestRedis;
  let t: TestServer;
  const models = copyDemoModels();
  beforeAll(async () => {
    redis = await startRedis();
    t = await startTestServer({
      CROUPIER_ADMIN_TOKEN: TOKEN,
      CROUPIER_MODELS_DIR: models,
      CROUPIER_REDIS_URL: redis.url,
    });
  });
  afterAll(async () => {
    await t?.stop();
    await redis?.stop();
    rmSync(models, { recursive: true, force: true });
  });

  const send = async (path: string, body: string) => {
    const headers = { Authorization: `Bearer ${TOKEN}` };
    const answer = await rawRequest(t.server.port, tritonPost(t.server.port, path, body, headers));
    return { status: answer.status, body: JSON.parse(answer.body) as Record<string, unknown> };
  };

  it('refuses an unload (409) and leaves the model serving', async () => {
    expect(await send('/v2/repository/models/mlp/unload', '{"parameters": {"unload_dependents": false}}')).toEqual({
      status: 409,
      body: {
        error:
          'unload takes a model out of one replica only; in Redis mode every replica serves the same models, so it is refused',
      },
    });
    expect((await fetch(`${t.url}/v2/models/mlp/ready`)).status).toBe(200);
  });

  it('deploys on a load, audited in the shared chain', async () => {
    expect(await send('/v2/repository/models/fraud/load', '{"parameters": {"version": "2"}}')).toMatchObject({
      status: 200,
      body: { live: '2', previous: '1', changed: true },
    });
    expect(await liveVersion(t)).toBe('2');
    const entries = (await admin(t, 'GET', '/admin/audit?limit=50')).body.entries as Record<string, unknown>[];
    expect(
      entries.filter((e) => String(e.action).startsWith('repository.')).map((e) => [e.action, e.result, e.status]),
    ).toEqual([
      ['repository.unload', 'refused', 409],
      ['repository.load', 'ok', 200],
    ]);
  });
});
