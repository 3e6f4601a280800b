/**
 * GET /ui: the dashboard's static files, on the admin listener (src/admin/admin-routes.ts registers
 * it). They need no token — they hold no data; every data call the app makes sends one. Each answer
 * carries a strict Content-Security-Policy: scripts, styles and requests only from this origin, no
 * inline code, no frames, no forms posted anywhere.
 */
import type { TemplatedApp } from 'uWebSockets.js';
import { CroupierError } from '../errors.js';
import type { OpenExchange } from '../http/data-plane.js';
import { registerRoutes, type UwsHandler } from '../http/routes.js';
import { loadAssets, type Asset } from './assets.js';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** On every answer under /ui, files and errors alike. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

const H_IF_NONE_MATCH = Buffer.from('if-none-match');
const H_ACCEPT_ENCODING = Buffer.from('accept-encoding');

/**
 * The files are not versioned by name (no build step), so the browser revalidates each time
 * (`no-cache`) and an unchanged file costs a 304 with no body.
 */
function answer(
  asset: Asset,
  ifNoneMatch: string,
  acceptEncoding: string,
): { status: number; body: Buffer; headers: Record<string, string> } {
  const headers: Record<string, string> = {
    ...SECURITY_HEADERS,
    'content-type': asset.contentType,
    'cache-control': 'no-cache',
    etag: asset.etag,
    vary: 'Accept-Encoding',
  };
  if (ifNoneMatch !== '' && ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === asset.etag))
    return { status: 304, body: Buffer.alloc(0), headers };
  if (asset.gzip && /\bgzip\b/i.test(acceptEncoding)) {
    headers['content-encoding'] = 'gzip';
    return { status: 200, body: asset.gzip, headers };
  }
  return { status: 200, body: asset.body, headers };
}

/** Registers GET and HEAD on /ui and /ui/*; any other method there is 405, an unknown file 404. */
export function registerDashboard(app: TemplatedApp, open: OpenExchange, assets = loadAssets()): void {
  const serve: UwsHandler = (res, req) => {
    const ifNoneMatch = req.getHeader(H_IF_NONE_MATCH);
    const acceptEncoding = req.getHeader(H_ACCEPT_ENCODING);
    const ex = open(res, req, 'v1');
    const asset = assets.get(ex.url);
    if (!asset)
      return ex.fail(
        new CroupierError('not_found', `the dashboard has no file ${JSON.stringify(ex.url.slice(0, 200))}`),
        false,
        SECURITY_HEADERS,
      );
    const { status, body, headers } = answer(asset, ifNoneMatch, acceptEncoding);
    ex.send(status, body, headers);
  };
  const notAllowed =
    (_path: string, allow: string): UwsHandler =>
    (res, req) =>
      open(res, req, 'v1').fail(new CroupierError('method_not_allowed', `use ${allow} on this path`), false, {
        ...SECURITY_HEADERS,
        allow,
      });
  registerRoutes(
    app,
    [
      { method: 'GET', path: '/ui', handler: serve },
      { method: 'HEAD', path: '/ui', handler: serve },
      { method: 'GET', path: '/ui/*', handler: serve },
      { method: 'HEAD', path: '/ui/*', handler: serve },
    ],
    notAllowed,
  );
}
