/**
 * Watched deploys through a running server: a bad watch is a 400 naming the key; a deploy whose new
 * version fails where the one it replaced answered is rolled back by itself — after a restart of
 * the server in between (the watch is in the state dir) — audited as `guardrail`, announced.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhook, type Webhook } from '../../helpers/receivers.js';
import { postJson, startTestServer, type TestServer } from '../../helpers/server.js';
import {
  ADMIN,
  auditEntries,
  eventsOf,
  eventually,
  liveOf,
  predict,
  removeModels,
  TOKENS,
  worldModels,
} from './world.js';

const ROUTES = { plain: { policy: 'fixed', arms: [{ name: 'only', model: 'scored', version: 'live' }] } };

describe('a watched deploy', () => {
  let hook: Webhook;
  let models: string;
  let stateDir: string;
  let t: TestServer | undefined;
  const start = async () =>
    startTestServer({
      CROUPIER_MODELS_DIR: models,
      CROUPIER_STATE_DIR: stateDir,
      CROUPIER_ADMIN_TOKENS: TOKENS,
      CROUPIER_ALERT_INTERVAL_MS: '200',
    });

  beforeAll(async () => {
    hook = await startWebhook();
    models = worldModels(ROUTES, hook.url);
    stateDir = mkdtempSync(join(tmpdir(), 'croupier-watch-'));
    t = await start();
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    await hook?.close();
    removeModels(models);
    rmSync(stateDir, { recursive: true, force: true });
  });

  const deploy = (body: unknown) => postJson(`${t!.url}/admin/models/scored/deploy`, body, ADMIN);

  it('refuses a bad watch with a 400 naming the key, and deploys nothing', async () => {
    for (const [watch, key] of [
      [{ minutes: 0 }, 'watch.minutes'],
      [{ checks: ['error_rate'] }, 'watch.minutes'],
      [{ minutes: 5, checks: ['speed'] }, 'watch.checks'],
      [{ minutes: 5, minSamples: 1.5 }, 'watch.minSamples'],
      [{ minutes: 5, every: 1 }, 'unknown key "every"'],
      ['soon', 'watch must be an object'],
    ] as const) {
      const res = await deploy({ version: '2', watch });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.message).toContain(key);
    }
    expect(await liveOf(t!.url, 'scored')).toBe('1');
  });

  it('rolls a failing version back by itself, across a restart', async () => {
    // The hour before the deploy: version 1 answers.
    const before = await predict(t!.url, 'plain', 120);
    expect(before.every((a) => a.status === 200 && a.version === '1')).toBe(true);
    const res = await deploy({ version: '2', watch: { minutes: 30, checks: ['error_rate'], minSamples: 40 } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { watch: { until: string } };
    expect(body).toMatchObject({ live: '2', previous: '1', watch: { minutes: 30, minSamples: 40 } });
    expect(Date.parse(body.watch.until)).toBeGreaterThan(Date.now() + 29 * 60_000);

    // A restart: the watch, and the counts of the hour before, are in the state dir.
    await t!.stop();
    t = await start();
    const after = await predict(t.url, 'plain', 60);
    expect(after.filter((a) => a.status === 500).length).toBeGreaterThanOrEqual(40);
    await eventually('the rollback', async () => (await liveOf(t!.url, 'scored')) === '1');
    const again = await predict(t.url, 'plain', 20);
    expect(again.every((a) => a.status === 200 && a.version === '1')).toBe(true);

    const rollbacks = (await auditEntries(t.url)).filter((e) => e.action === 'rollback');
    expect(rollbacks).toHaveLength(1);
    expect(rollbacks[0]).toMatchObject({ actor: 'guardrail', target: 'scored', before: '2', result: 'ok' });
    expect(rollbacks[0]?.after).toMatchObject({ version: '1', reason: expect.stringMatching(/^error_rate: scored 2/) });
    await eventually('the rollback event', async () => eventsOf(hook, 'rollback').length > 0);
    const event = eventsOf(hook, 'rollback')[0]!;
    expect(event.summary).toMatch(/guardrail rolled scored back from 2 to 1/);
    expect(event.details).toMatchObject({ model: 'scored', version: '2', previous: '1', check: 'error_rate' });
    // The watch ended with the rollback: a later deploy of 2 without a watch stays.
    expect((await deploy({ version: '2' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await liveOf(t.url, 'scored')).toBe('2');
  }, 120_000);
});
