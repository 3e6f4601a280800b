/**
 * The worker the pool loads is compiled from the current source: vitest's globalSetup rebuilds
 * dist/ when src/ is newer, so `npx vitest` right after an edit to worker.ts tests the edit.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { workerFile } from '../../src/inference/pool.js';
// @ts-expect-error: a plain JS script, without types
import { isStale } from '../../scripts/build-if-stale.js';

const source = fileURLToPath(new URL('../../src/inference/worker.ts', import.meta.url));
const withoutSourceMap = (js: string): string => js.replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n');

describe('the inference worker under test', () => {
  it('is dist/ rebuilt since the last change to src/', () => {
    expect(workerFile()).toBe(fileURLToPath(new URL('../../dist/inference/worker.js', import.meta.url)));
    expect(isStale()).toBe(false);
  });

  it('is what worker.ts compiles to now', () => {
    const config = ts.getParsedCommandLineOfConfigFile(
      fileURLToPath(new URL('../../tsconfig.build.json', import.meta.url)),
      {},
      { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
    )!;
    // One file alone cannot see package.json's "type": "module"; NodeNext emits ESM for it as ESNext does.
    const compilerOptions = { ...config.options, module: ts.ModuleKind.ESNext };
    const compiled = ts.transpileModule(readFileSync(source, 'utf8'), { compilerOptions, fileName: source }).outputText;
    expect(withoutSourceMap(readFileSync(workerFile(), 'utf8'))).toBe(withoutSourceMap(compiled));
  });
});
