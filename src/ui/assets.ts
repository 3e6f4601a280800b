/**
 * The dashboard's files, read once at start into memory: the app under src/ui/app/ (plain ES
 * modules, served as written: no build step) and uPlot's minified script and stylesheet from its
 * npm package. A request is answered only from this table, never from the file system, so no path
 * (`..`, `%2e%2e`, a symlink) can reach another file.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export interface Asset {
  readonly body: Buffer;
  /** The body gzipped, when that is smaller (most text is). */
  readonly gzip: Buffer | undefined;
  readonly contentType: string;
  readonly etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const require = createRequire(import.meta.url);

/**
 * src/ui/app/ from this module, whether it runs as src/ui/assets.ts (tsx) or dist/ui/assets.js: both
 * sit two folders below the package root, and the package ships src/ui/app ("files", Dockerfile).
 */
export const APP_DIR = fileURLToPath(new URL('../../src/ui/app/', import.meta.url));

function asset(body: Buffer, contentType: string): Asset {
  const zipped = gzipSync(body, { level: 9 });
  return {
    body,
    gzip: zipped.length < body.length ? zipped : undefined,
    contentType,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/**
 * Every URL path the dashboard answers (`/ui/...`), with its file. Files of a type not in TYPES
 * (the app's tsconfig, type declarations) are not served.
 */
export function loadAssets(appDir = APP_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const path of filesUnder(appDir)) {
    const ext = path.slice(path.lastIndexOf('.'));
    const type = TYPES[ext];
    if (type === undefined || path.endsWith('.d.ts')) continue;
    const url = `/ui/${relative(appDir, path).split(sep).join('/')}`;
    assets.set(url, asset(readFileSync(path), type));
  }
  const index = assets.get('/ui/index.html');
  if (!index) throw new Error(`the dashboard has no index.html in ${appDir}`);
  assets.set('/ui', index);
  assets.set('/ui/', index);
  // uPlot from its package (a runtime dependency), resolved the way Node resolves it for us.
  const uplot = dirname(require.resolve('uplot'));
  assets.set('/ui/vendor/uPlot.iife.min.js', asset(readFileSync(join(uplot, 'uPlot.iife.min.js')), TYPES['.js']!));
  assets.set('/ui/vendor/uPlot.min.css', asset(readFileSync(join(uplot, 'uPlot.min.css')), TYPES['.css']!));
  return assets;
}
