/**
 * Issue 12, finding 9: admin names over 64 characters were cut to 64 and used (a PUT on a 70-character
 * route name created the route named by its first 64). Every name over the limit is refused with a
 * 400 naming the field and the limit, and nothing changes; a token name over it stops start-up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin } from '../admin/admin-client.js';
import { spawnCroupier } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN = 'test-admin-token-1234';
const long = (c: string): string => c.repeat(70);
const spec = (arm: Record<string, string>) => ({
  policy: 'fixed',
  arms: [{ name: 'a', model: 'fraud', version: '1', ...arm }],
});

describe('issue 12-9: names over 64 characters are refused, never cut', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN });
  }, 60_000);
  afterAll(async () => {
    await t.stop();
  });

  it('a route name in the path: 400 naming it and the limit, and no route is created', async () => {
    const res = await admin(t, 'PUT', `/admin/routes/${long('r')}`, spec({}));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request' });
    expect(res.body.error!.message).toMatch(/route name is longer than 64 characters/);
    const routes = (await admin(t, 'GET', '/admin/routes')).body.routes as Record<string, unknown>;
    expect(Object.keys(routes).filter((n) => n.startsWith('rrrr'))).toEqual([]);
    const reset = await admin(t, 'POST', `/admin/routes/${long('r')}/reset`);
    expect(reset.status).toBe(400);
    expect(reset.body.error!.message).toMatch(/route name is longer than 64/);
  });

  it('a model name in the path, and a version in the body: 400 naming each', async () => {
    for (const path of [`/admin/models/${long('f')}/deploy`, `/admin/models/${long('f')}/rollback`]) {
      const res = await admin(t, 'POST', path, { version: '2' });
      expect(res.status, path).toBe(400);
      expect(res.body.error!.message).toMatch(/model name is longer than 64 characters/);
    }
    const res = await admin(t, 'POST', '/admin/models/fraud/deploy', { version: long('2') });
    expect(res.status).toBe(400);
    expect(res.body.error!.message).toMatch(/version is longer than 64 characters/);
  });

  it('arm, model and version names in a route: 400 naming the field and the limit', async () => {
    for (const [field, arm] of [
      ['name', { name: long('a') }],
      ['model', { model: long('m') }],
      ['version', { version: long('v') }],
    ] as const) {
      const res = await admin(t, 'PUT', '/admin/routes/fraud-scoring', spec(arm));
      expect(res.status, field).toBe(400);
      expect(res.body.error!.message).toMatch(new RegExp(`arms\\[0\\]\\.${field} is longer than 64 characters`));
    }
  });

  it('the refusals are audited with the name visibly cut, not as another name', async () => {
    const entries = (await admin(t, 'GET', '/admin/audit')).body.entries as {
      action: string;
      target: string;
      status: number;
    }[];
    const put = entries.find((e) => e.action === 'routes.put' && e.status === 400);
    expect(put?.target).toBe(`${'r'.repeat(64)}…`);
  });
});

describe('issue 12-9: a token name over 64 characters stops start-up', () => {
  it('exit 2 with one line naming the limit', async () => {
    const child = spawnCroupier(['serve', '--port', '0'], {
      CROUPIER_ADMIN_TOKENS: `${'n'.repeat(65)}:a-long-enough-token`,
    });
    expect(await child.exited).toBe(2);
    const err = child.stderr.join('').trim();
    expect(err.split('\n')).toHaveLength(1);
    expect(err).toMatch(/CROUPIER_ADMIN_TOKENS: the token name .* is longer than 64 characters/);
  }, 60_000);
});
