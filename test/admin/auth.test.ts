/** Who may call the admin API, in the contract's order: cross-site 403, then token 401, then 404. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { admin } from './admin-client.js';

const ALICE = 'alice-token-123456';
const BOB = 'bob-token-abcdefgh';

describe('admin auth with named tokens', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ CROUPIER_ADMIN_TOKENS: `alice:${ALICE},bob:${BOB}` });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('a right token passes, a missing or wrong one is 401', async () => {
    expect((await admin(t, 'GET', '/admin/models', undefined, {}, ALICE)).status).toBe(200);
    expect((await admin(t, 'GET', '/admin/models', undefined, {}, BOB)).status).toBe(200);
    const missing = await admin(t, 'GET', '/admin/models', undefined, {}, null);
    expect(missing.status).toBe(401);
    expect(missing.body.error!.code).toBe('unauthorized');
    expect((await admin(t, 'GET', '/admin/models', undefined, {}, `${ALICE}x`)).status).toBe(401);
    expect((await admin(t, 'GET', '/admin/models', undefined, {}, ALICE.slice(0, -1))).status).toBe(401);
    expect((await admin(t, 'GET', '/admin/models', undefined, { authorization: `Basic ${ALICE}` }, null)).status).toBe(
      401,
    );
  });

  it('refuses cross-site browser requests with 403, before looking at the token', async () => {
    const crossSite = await admin(
      t,
      'POST',
      '/admin/models/fraud/deploy',
      { version: '2' },
      { 'sec-fetch-site': 'cross-site' },
      ALICE,
    );
    expect(crossSite.status).toBe(403);
    expect(crossSite.body.error!.code).toBe('forbidden');
    expect((await admin(t, 'GET', '/admin/models', undefined, { origin: 'https://evil.example' }, ALICE)).status).toBe(
      403,
    );
    expect((await admin(t, 'GET', '/admin/models', undefined, { origin: 'null' }, ALICE)).status).toBe(403);
    expect((await admin(t, 'GET', '/admin/models', undefined, { origin: 'https://evil.example' }, null)).status).toBe(
      403,
    );
    // The gateway's own page (same host and port) and same-origin fetches pass.
    expect(
      (await admin(t, 'GET', '/admin/models', undefined, { origin: t.url, 'sec-fetch-site': 'same-origin' }, ALICE))
        .status,
    ).toBe(200);
  });

  it('unknown admin paths are 401 without a token and 404 with one; a wrong method is 405', async () => {
    expect((await admin(t, 'GET', '/admin/secret', undefined, {}, null)).status).toBe(401);
    const notFound = await admin(t, 'GET', '/admin/secret', undefined, {}, ALICE);
    expect(notFound.status).toBe(404);
    expect(notFound.body.error!.code).toBe('not_found');
    expect((await admin(t, 'GET', '/admin/models/fraud/deploy', undefined, {}, ALICE)).status).toBe(405);
    expect((await admin(t, 'POST', '/admin/models/nope/deploy', { version: '1' }, {}, ALICE)).status).toBe(404);
  });

  it('audits refusals with no actor and actions with the token name', async () => {
    await admin(t, 'POST', '/admin/models/fraud/deploy', { version: '1' }, {}, BOB);
    const { body } = await admin(t, 'GET', '/admin/audit?limit=10000', undefined, {}, ALICE);
    const entries = body.entries as { actor: string | null; action: string; result: string; status: number }[];
    expect(entries.some((e) => e.actor === null && e.status === 401 && e.result === 'refused')).toBe(true);
    // Later refusals from the same source within its minute are counted, not each written (issue 12-6).
    expect(await (await fetch(`${t.url}/metrics`)).text()).toMatch(
      /croupier_admin_refused_total\{reason="cross_site"\} [1-9]/,
    );
    expect(entries.at(-1)).toMatchObject({ actor: 'bob', action: 'deploy', result: 'noop', status: 200 });
  });

  it('GET /admin/audit checks limit and before', async () => {
    for (const q of ['limit=0', 'limit=10001', 'limit=abc', 'before=0', 'before=-1', 'limit=1.5']) {
      const res = await admin(t, 'GET', `/admin/audit?${q}`, undefined, {}, ALICE);
      expect(res.status, q).toBe(400);
    }
    const all = (await admin(t, 'GET', '/admin/audit', undefined, {}, ALICE)).body.entries as { seq: number }[];
    expect(all.length).toBeGreaterThan(3);
    const two = (await admin(t, 'GET', '/admin/audit?limit=2', undefined, {}, ALICE)).body.entries as { seq: number }[];
    expect(two.map((e) => e.seq)).toEqual(all.slice(-2).map((e) => e.seq));
    const older = (await admin(t, 'GET', '/admin/audit?limit=2&before=3', undefined, {}, ALICE)).body.entries as {
      seq: number;
    }[];
    expect(older.map((e) => e.seq)).toEqual([1, 2]);
  });
});

describe('admin auth without a token configured', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ CROUPIER_ADMIN_PORT: '0' });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('answers every admin call 401', async () => {
    for (const [method, path] of [
      ['GET', '/admin/models'],
      ['POST', '/admin/models/fraud/rollback'],
      ['GET', '/admin/audit'],
    ] as const) {
      const res = await fetch(`http://127.0.0.1:${t.server.adminPort}${path}`, {
        method,
        headers: { authorization: 'Bearer anything-at-all' },
      });
      expect(res.status).toBe(401);
    }
  });

  it('with CROUPIER_ADMIN_PORT, /admin lives only on the admin listener', async () => {
    expect(t.server.adminPort).toBeGreaterThan(0);
    expect(t.server.adminPort).not.toBe(t.server.port);
    expect((await fetch(`${t.url}/admin/models`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${t.server.adminPort}/v2/health/live`)).status).toBe(404);
  });
});
