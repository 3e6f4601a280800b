/**
 * GET /ui: the dashboard's files on the admin listener, against the real server. No token needed
 * for the files; a strict Content-Security-Policy and nosniff on every answer; revalidation by
 * ETag; 404 JSON for anything not shipped, whatever the path tries; and the admin API refuses a
 * viewer's changes whatever the page shows.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../src/ui/dashboard.js';
import { loadAssets } from '../../src/ui/assets.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'ui-admin-token-1234';
const VIEWER = 'ui-viewer-token-1234';
const TOKENS = `ops:${ADMIN},owner:${VIEWER}:viewer`;

/** A request whose path is sent byte for byte (fetch and URL would normalise `..` away). */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}) {
  const { hostname, port } = new URL(base);
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
    (resolve, reject) => {
      const req = request({ host: hostname, port, method, path, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    },
  );
}

describe('the dashboard on the shared listener', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ CROUPIER_ADMIN_TOKENS: TOKENS });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('serves the page without a token, with the security headers and no inline code', async () => {
    for (const path of ['/ui', '/ui/', '/ui/index.html']) {
      const res = await fetch(`${t.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      const html = await res.text();
      // Every script is a file from this origin; no inline script, handler or style.
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attrs, body] of scripts) {
        expect(attrs).toMatch(/\bsrc="\/ui\//);
        expect(body!.trim()).toBe('');
      }
      expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=|javascript:|https?:\/\//i);
    }
    expect(CONTENT_SECURITY_POLICY).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
  });

  it('serves every file the page links to, each with its content type, uPlot from its package', async () => {
    const html = await (await fetch(`${t.url}/ui`)).text();
    const linked = [...html.matchAll(/(?:src|href)="(\/ui\/[^"]+)"/g)].map((m) => m[1]!);
    expect(linked).toEqual(
      expect.arrayContaining([
        '/ui/main.js',
        '/ui/style.css',
        '/ui/vendor/uPlot.iife.min.js',
        '/ui/vendor/uPlot.min.css',
      ]),
    );
    const types: Record<string, string> = {
      js: 'text/javascript; charset=utf-8',
      css: 'text/css; charset=utf-8',
      svg: 'image/svg+xml',
    };
    for (const path of linked) {
      const res = await fetch(`${t.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toBe(types[path.split('.').pop()!]);
      expect(res.headers.get('content-security-policy'), path).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
    const uplot = await (await fetch(`${t.url}/ui/vendor/uPlot.iife.min.js`)).text();
    expect(uplot).toContain('uPlot');
    // Every module the app imports is served: nothing is fetched from elsewhere at run time.
    for (const [url] of loadAssets())
      if (url.endsWith('.js') && !url.startsWith('/ui/vendor/')) {
        const text = await (await fetch(`${t.url}${url}`)).text();
        for (const m of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
          const target = new URL(m[1]!, `${t.url}${url}`);
          expect((await fetch(target)).status, `${url} imports ${m[1]}`).toBe(200);
        }
        // The app names no other origin (the browser test records every request it makes).
        expect(/https?:\/\//.test(text), url).toBe(false);
      }
  });

  it('answers HEAD with the headers and no body, and an unchanged file with 304', async () => {
    const head = await fetch(`${t.url}/ui/main.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(100);
    expect(await head.text()).toBe('');
    const etag = head.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(`${t.url}/ui/main.js`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const other = await fetch(`${t.url}/ui/main.js`, { headers: { 'if-none-match': '"something-else"' } });
    expect(other.status).toBe(200);
  });

  it('sends the files gzipped to a client that asks', async () => {
    const plain = await raw(t.url, 'GET', '/ui/vendor/uPlot.iife.min.js');
    const zipped = await raw(t.url, 'GET', '/ui/vendor/uPlot.iife.min.js', { 'accept-encoding': 'gzip' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(Number(zipped.headers['content-length'])).toBeLessThan(Number(plain.headers['content-length']) / 2);
  });

  it('answers 404 JSON for anything it does not ship, whatever the path tries', async () => {
    const tricks = [
      '/ui/nope.js',
      '/ui/../package.json',
      '/ui/%2e%2e/package.json',
      '/ui/%2E%2E%2Fpackage.json',
      '/ui/vendor/../../package.json',
      '/ui/..%2f..%2fpackage.json',
      '/ui//etc/passwd',
      '/ui/tsconfig.json',
      '/ui/globals.d.ts',
      '/ui/main.js/',
      '/ui/main.js%00.png',
    ];
    for (const path of tricks) {
      const res = await raw(t.url, 'GET', path);
      // `/ui/../package.json` may be resolved by the router to /package.json: a 404 either way.
      expect(res.status, path).toBe(404);
      expect(res.headers['content-type'], path).toBe('application/json');
      const body = JSON.parse(res.body) as { error: { code: string } };
      expect(body.error.code, path).toBe('not_found');
      expect(res.body, path).not.toContain('"name": "croupier"');
    }
    const missing = await raw(t.url, 'GET', '/ui/nope.js');
    expect(missing.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(missing.headers['x-content-type-options']).toBe('nosniff');
  });

  it('refuses other methods with 405 and Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await raw(t.url, method, '/ui/main.js');
      expect(res.status, method).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD');
      expect(JSON.parse(res.body)).toEqual({
        error: { code: 'method_not_allowed', message: 'use GET, HEAD on this path' },
      });
    }
  });

  it("refuses a viewer's changes at the server, whatever a page would show", async () => {
    const viewer = { authorization: `Bearer ${VIEWER}`, 'content-type': 'application/json' };
    const whoami = await fetch(`${t.url}/admin/whoami`, { headers: viewer });
    expect(await whoami.json()).toEqual({ name: 'owner', role: 'viewer' });
    const calls: [string, unknown][] = [
      ['/admin/models/fraud/deploy', { version: '2' }],
      ['/admin/models/fraud/rollback', {}],
      ['/admin/routes/fraud-scoring/arms/challenger/enable', {}],
    ];
    for (const [path, body] of calls) {
      const res = await fetch(`${t.url}${path}`, { method: 'POST', headers: viewer, body: JSON.stringify(body) });
      // The enable endpoint may not exist on this build yet: its 404 comes after the role check, so
      // a viewer is refused with 403 either way.
      expect(res.status, path).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    }
    const models = (await (await fetch(`${t.url}/admin/models`, { headers: viewer })).json()) as {
      models: { name: string; live: string }[];
    };
    expect(models.models.find((m) => m.name === 'fraud')?.live).toBe('1');
  });
});

describe('the dashboard with the admin API on its own listener', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ CROUPIER_ADMIN_TOKENS: TOKENS, CROUPIER_ADMIN_PORT: '0' });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('is served there, and not on the data plane', async () => {
    const admin = await fetch(`http://127.0.0.1:${t.server.adminPort}/ui`);
    expect(admin.status).toBe(200);
    expect(admin.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    const data = await fetch(`${t.url}/ui`);
    expect(data.status).toBe(404);
  });
});
