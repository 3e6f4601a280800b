/**
 * The dashboard ships: its files are in the npm package and the container image, uPlot is a runtime
 * dependency, and the app's plain JavaScript type-checks against the DOM (src/ui/app/tsconfig.json).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_DIR, loadAssets } from '../../src/ui/assets.js';
import { ROOT } from '../helpers/server.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  files: string[];
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

describe('the dashboard ships', () => {
  it('in the npm package and the image, with uPlot at run time and the browser driver only for tests', () => {
    expect(APP_DIR).toBe(join(ROOT, 'src', 'ui', 'app/'));
    expect(pkg.files).toContain('src/ui/app');
    expect(pkg.dependencies.uplot).toBeDefined();
    expect(pkg.devDependencies['playwright-core']).toBeDefined();
    expect(pkg.dependencies['playwright-core']).toBeUndefined();
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain('COPY --from=build /src/src/ui/app ./src/ui/app');
    const assets = loadAssets();
    expect([...assets.keys()].sort()).toEqual(expect.arrayContaining(['/ui', '/ui/', '/ui/index.html', '/ui/main.js']));
    // Sources for the type checker are not served.
    expect(assets.has('/ui/tsconfig.json')).toBe(false);
    expect(assets.has('/ui/globals.d.ts')).toBe(false);
  });

  it("type-checks the app's JavaScript against the DOM", () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    let output = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', join(APP_DIR, 'tsconfig.json')], { encoding: 'utf8' });
    } catch (e) {
      output = String((e as { stdout?: string }).stdout ?? e);
    }
    expect(output).toBe('');
  }, 60_000);
});
