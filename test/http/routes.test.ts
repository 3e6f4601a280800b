/**
 * The route table (src/http/routes.ts) against the real server: every route it declares answers
 * on its method, every other method on its path is 405 with the table's Allow, and anything else
 * is a 404 in its family's error form — on one listener, and with the admin API on its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowedMethods, ROUTES, type Method } from '../../src/http/routes.js';
import { TOKEN } from '../admin/admin-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** A path of the table with its parameters filled in with names the demo repository has. */
const concrete = (path: string): string =>
  path
    .replace(':route', 'fraud-scoring')
    .replace(':arm', 'champion')
    .replace(':name', 'fraud')
    .replace(':model', 'fraud')
    .replace(':version', '1');

const auth = { authorization: `Bearer ${TOKEN}` };

interface Answer {
  status: number;
  allow: string | null;
  body: unknown;
}

async function call(base: string, method: string, path: string): Promise<Answer> {
  // A body that is never acted on: {} is refused as invalid by every route that reads one.
  const hasBody = method === 'POST' || method === 'PUT';
  const headers = { ...auth, ...(hasBody ? { 'content-type': 'application/json' } : {}) };
  const res = await fetch(`${base}${path}`, { method, headers, body: hasBody ? '{}' : undefined });
  const text = await res.text();
  // A HEAD answer has the GET answer's headers and no body.
  const body: unknown = text !== '' && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
  return { status: res.status, allow: res.headers.get('allow'), body };
}

const v1Error = (code: string, message: string) => ({ error: { code, message } });

const errorCode = (body: unknown): unknown => (body as { error?: { code?: string } }).error?.code;
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];

describe('one listener', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN });
  });
  afterAll(async () => {
    await t.stop();
  });

  const declared = ROUTES.map((r) => [`${r.method} ${r.path}`, r.method, r.path] as const);
  it.each(declared)('%s is registered', async (_name, method, path) => {
    const r = await call(t.url, method, concrete(path));
    expect(r.status, JSON.stringify(r.body)).not.toBe(405);
    expect(errorCode(r.body)).not.toBe('not_found');
    // V2 errors are {"error": "<message>"}: a 404 there would be the model's, and fraud exists.
    expect(r.status).not.toBe(404);
  });

  it.each([...allowedMethods(ROUTES)])('%s: any other method is 405 with Allow: %s', async (path, allow) => {
    const methods = allow.split(', ');
    expect(methods.every((m) => ROUTES.some((r) => r.path === path && r.method === (m as Method)))).toBe(true);
    for (const method of METHODS.filter((m) => !methods.includes(m))) {
      const r = await call(t.url, method, concrete(path));
      expect(r.status, `${method} ${path}`).toBe(405);
      expect(r.allow, `${method} ${path}`).toBe(allow);
      if (path.startsWith('/v2')) expect(r.body).toEqual({ error: `use ${allow} on this path` });
      else expect(r.body).toEqual(v1Error('method_not_allowed', `use ${allow} on this path`));
    }
  });

  it("an unknown path is a 404 in its family's JSON error form", async () => {
    const v1 = await call(t.url, 'GET', '/v1/nope');
    expect(v1.status).toBe(404);
    expect(v1.body).toEqual(v1Error('not_found', 'no such path: GET /v1/nope'));
    const v2 = await call(t.url, 'POST', '/v2/models/fraud/explain');
    expect(v2.status).toBe(404);
    expect(v2.body).toEqual({ error: 'no such path: POST /v2/models/fraud/explain' });
    const adminPath = await call(t.url, 'DELETE', '/admin/everything');
    expect(adminPath.status).toBe(404);
    expect(adminPath.body).toEqual(v1Error('not_found', 'no such admin path: DELETE /admin/everything'));
  });

  it('a wrong method on an admin path is checked for a token first, and audited', async () => {
    const anonymous = await fetch(`${t.url}/admin/models`, { method: 'DELETE' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('allow')).toBeNull();
    await call(t.url, 'PATCH', '/admin/audit');
    const { body } = await call(t.url, 'GET', '/admin/audit?limit=1');
    expect((body as { entries: unknown[] }).entries).toEqual([
      expect.objectContaining({
        actor: 'admin',
        action: 'unknown',
        result: 'refused',
        status: 405,
        error: { code: 'method_not_allowed', message: 'use GET on this path' },
      }),
    ]);
  });
});

describe('the admin API on its own listener', () => {
  let t: TestServer;
  let adminUrl: string;
  beforeAll(async () => {
    t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN, CROUPIER_ADMIN_PORT: '0' });
    adminUrl = `http://127.0.0.1:${t.server.adminPort}`;
  });
  afterAll(async () => {
    await t.stop();
  });

  it('serves every admin route there, and none of the data plane', async () => {
    for (const r of ROUTES) {
      // Admin actions, Triton's load and unload under /v2 among them, are served on the admin listener only.
      const isAdmin = 'admin' in r;
      const there = await call(adminUrl, r.method, concrete(r.path));
      const here = await call(t.url, r.method, concrete(r.path));
      if (isAdmin) {
        expect(there.status, r.path).not.toBe(404);
        const missing = `no such path: ${r.method} ${concrete(r.path)}`;
        expect(here.body, r.path).toEqual(
          r.path.startsWith('/v2') ? { error: missing } : v1Error('not_found', missing),
        );
      } else if (r.method === 'HEAD') {
        expect([there.status, there.body], r.path).toEqual([404, '']);
      } else {
        expect(there.body, r.path).toEqual(
          v1Error(
            'not_found',
            'this listener serves only the admin API (/admin, /v2/repository/models/{model}/load and unload)',
          ),
        );
      }
    }
    const wrong = await call(adminUrl, 'DELETE', '/admin/routes');
    expect([wrong.status, wrong.allow]).toEqual([405, 'GET']);
  });
});
