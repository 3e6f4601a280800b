/** Live versions, history and route edits survive a restart; a changed routes file wins (audited). */
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAuditLog } from '../../src/state/audit-chain.js';
import { copyDemoModels, startTestServer, type TestServer } from '../helpers/server.js';
import { admin, liveVersion, TOKEN } from './admin-client.js';

const models = copyDemoModels();
const stateDir = mkdtempSync(join(tmpdir(), 'croupier-restart-'));
const env = { CROUPIER_ADMIN_TOKEN: TOKEN, CROUPIER_MODELS_DIR: models, CROUPIER_STATE_DIR: stateDir };
afterAll(() => {
  rmSync(models, { recursive: true, force: true });
  rmSync(stateDir, { recursive: true, force: true });
});

const challenger = { policy: 'fixed', arms: [{ name: 'only', model: 'fraud', version: '2' }] };

async function restart(t: TestServer | undefined): Promise<TestServer> {
  await t?.stop();
  return startTestServer(env);
}

describe('restart', () => {
  it('keeps live versions, history and route edits', async () => {
    let t = await restart(undefined);
    expect(await liveVersion(t)).toBe('1');
    expect((await admin(t, 'POST', '/admin/models/fraud/deploy', { version: '2' })).status).toBe(200);
    expect((await admin(t, 'PUT', '/admin/routes/fraud-scoring', challenger)).status).toBe(200);
    expect((await admin(t, 'PUT', '/admin/routes/fresh', challenger)).status).toBe(200);
    t = await restart(t);
    try {
      expect(await liveVersion(t)).toBe('2');
      const { body } = await admin(t, 'GET', '/admin/routes');
      const routes = body.routes as Record<string, { arms: { name: string }[] }>;
      expect(routes['fraud-scoring']!.arms.map((a) => a.name)).toEqual(['only']);
      expect(Object.keys(routes).sort()).toEqual([
        'checkout',
        'ctr',
        'fraud-ab',
        'fraud-contextual',
        'fraud-scoring',
        'fresh',
      ]);
      // History survived too: one rollback goes back to 1.
      expect((await admin(t, 'POST', '/admin/models/fraud/rollback')).body.live).toBe('1');
    } finally {
      await t.stop();
    }
  });

  it('the routes file wins when it changed since it was last applied, and that is audited', async () => {
    const file = join(models, 'routes.json');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { routes: Record<string, unknown> };
    doc.routes.extra = { policy: 'fixed', arms: [{ name: 'a', model: 'ctr', version: 'live' }] };
    writeFileSync(file, JSON.stringify(doc, null, 2));
    const t = await restart(undefined);
    try {
      const routes = (await admin(t, 'GET', '/admin/routes')).body.routes as Record<string, unknown>;
      expect(Object.keys(routes).sort()).toEqual([
        'checkout',
        'ctr',
        'extra',
        'fraud-ab',
        'fraud-contextual',
        'fraud-scoring',
      ]);
      const entries = (await admin(t, 'GET', '/admin/audit')).body.entries as {
        action: string;
        actor: string | null;
      }[];
      expect(entries.at(-1)).toMatchObject({ action: 'routes.apply-file', actor: null });
    } finally {
      await t.stop();
    }
    expect(verifyAuditLog(readFileSync(join(stateDir, 'audit.log'), 'utf8')).ok).toBe(true);
  });

  it('PUT /admin/routes validates: unknown model or version is 400, nothing changes', async () => {
    const t = await restart(undefined);
    try {
      for (const arms of [
        [{ name: 'a', model: 'nope', version: '1' }],
        [{ name: 'a', model: 'fraud', version: '9' }],
      ]) {
        const res = await admin(t, 'PUT', '/admin/routes/fraud-scoring', { policy: 'fixed', arms });
        expect(res.status).toBe(400);
        expect(res.body.error!.code).toBe('invalid_request');
      }
      expect((await admin(t, 'PUT', '/admin/routes/fraud-scoring', { policy: 'nope', arms: [] })).status).toBe(400);
      expect(
        (await admin(t, 'PUT', '/admin/routes/fraud-scoring', challenger, { 'content-type': 'text/plain' })).status,
      ).toBe(415);
      expect(Object.keys((await admin(t, 'GET', '/admin/routes')).body.routes as object)).toContain('extra');
      expect((await admin(t, 'POST', '/admin/routes/extra/reset')).body).toEqual({ route: 'extra', reset: true });
      expect((await admin(t, 'POST', '/admin/routes/none/reset')).status).toBe(404);
    } finally {
      await t.stop();
    }
  });
});
