/**
 * The container image, checked without docker (no engine on the dev machines or CI): the
 * Dockerfile's instructions, the platform pruning script run against the node_modules installed
 * here, the LICENSE it ships, and which packages are runtime dependencies.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  version: string;
  license: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

const text = read('Dockerfile');
const instructions = text
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));
/** The instructions of one stage, `FROM … AS name` included. */
const stage = (name: string): string[] => {
  const start = instructions.findIndex((i) => new RegExp(`^FROM \\S+ AS ${name}$`).test(i));
  expect(start, `stage ${name}`).toBeGreaterThanOrEqual(0);
  const next = instructions.findIndex((i, n) => n > start && i.startsWith('FROM '));
  return instructions.slice(start, next < 0 ? undefined : next);
};
/** `${NAME}`, a build argument as the Dockerfile writes it. */
const ref = (name: string): string => '$' + '{' + name + '}';
const runtime = instructions.slice(instructions.findLastIndex((i) => i.startsWith('FROM ')));

describe('Dockerfile', () => {
  it('is multi-stage on an exact Node release of Debian 13 (trixie), by digest when the pipeline passes one', () => {
    expect(text).toMatch(/^ARG NODE_IMAGE=node:(22|24)\.\d+\.\d+-trixie-slim$/m);
    expect(text).toMatch(/--build-arg NODE_IMAGE=node:(22|24)\.\d+\.\d+-trixie-slim@sha256:<digest>/);
    const froms = instructions.filter((i) => i.startsWith('FROM '));
    expect(froms).toEqual([
      `FROM ${ref('NODE_IMAGE')} AS build`,
      `FROM ${ref('NODE_IMAGE')} AS deps`,
      `FROM ${ref('NODE_IMAGE')} AS base`,
      'FROM scratch AS runtime',
    ]);
  });

  it('compiles in the build stage and installs production dependencies only for the runtime', () => {
    expect(text).toMatch(/RUN npm ci --no-audit --no-fund/);
    expect(text).toMatch(/RUN npm run build/);
    expect(stage('deps').join('\n')).toMatch(/npm ci --omit=dev/);
    expect(text).toMatch(/uWebSockets\.js@npm:\$\{UWS_PACKAGE\}/);
    expect(text).toMatch(/^ARG UWS_PACKAGE=@btc-vision\/uwebsockets\.js@20\.5\d\.\d+$/m);
  });

  it('prunes other platforms’ binaries after installing, before proving uWS and ONNX Runtime load', () => {
    const run = stage('deps').find((i) => i.includes('npm ci --omit=dev'))!;
    expect(run).toMatch(
      /^RUN --mount=type=bind,source=scripts\/prune-platforms\.mjs,target=\/tmp\/prune-platforms\.mjs /,
    );
    const install = run.indexOf('npm ci --omit=dev');
    const prune = run.indexOf('node /tmp/prune-platforms.mjs node_modules');
    const load = run.indexOf("import uWS from 'uWebSockets.js'");
    expect(install).toBeGreaterThan(0);
    expect(prune).toBeGreaterThan(install);
    expect(load).toBeGreaterThan(prune);
    // The script is in the build context.
    const ignore = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    expect(ignore.filter((l) => l === 'scripts' || l === 'scripts/' || l.startsWith('scripts/'))).toEqual([]);
  });

  it('ships no package manager: the runtime is the base stage minus npm, npx, corepack and yarn, flattened', () => {
    const base = stage('base').join('\n');
    for (const path of [
      '/usr/local/lib/node_modules',
      '/usr/local/bin/npm',
      '/usr/local/bin/npx',
      '/usr/local/bin/corepack',
    ])
      expect(base).toContain(` ${path} `);
    expect(base).toMatch(
      /if command -v npm \|\| command -v npx \|\| command -v corepack \|\| command -v yarn; then .* exit 1; fi/,
    );
    expect(runtime[0]).toBe('FROM scratch AS runtime');
    expect(runtime[1]).toBe('COPY --from=base / /');
    // Nothing after that runs npm or copies it back.
    for (const i of runtime) expect(i, i).not.toMatch(/\bnpm\b|\bnpx\b|--from=(build|deps) \/usr/);
    // FROM scratch has no environment of its own: PATH is set again.
    expect(runtime.find((i) => i.startsWith('ENV '))).toMatch(/PATH=\/usr\/local\/sbin:\/usr\/local\/bin:/);
  });

  it('carries the OCI labels, with the version of package.json and the license', () => {
    const labels = Object.fromEntries(
      [
        ...runtime
          .filter((i) => i.startsWith('LABEL '))
          .join(' ')
          .matchAll(/(org\.opencontainers\.image\.[\w.]+)="([^"]*)"/g),
      ].map((m) => [m[1], m[2]]),
    );
    expect(Object.keys(labels).sort()).toEqual(
      ['base.name', 'created', 'description', 'licenses', 'revision', 'source', 'title', 'version'].map(
        (k) => `org.opencontainers.image.${k}`,
      ),
    );
    expect(labels['org.opencontainers.image.licenses']).toBe(pkg.license);
    expect(labels['org.opencontainers.image.version']).toBe(ref('VERSION'));
    expect(runtime).toContain(`ARG VERSION=${pkg.version}`);
    for (const arg of ['REVISION', 'CREATED', 'SOURCE', 'NODE_IMAGE'])
      expect(
        runtime.some((i) => i === `ARG ${arg}` || i.startsWith(`ARG ${arg}=`)),
        arg,
      ).toBe(true);
    expect(runtime).toContain('COPY LICENSE ./LICENSE');
  });

  it('runs as a numeric non-root user with a health check, state volume and the serve command', () => {
    const user = runtime.filter((i) => i.startsWith('USER '));
    expect(user).toEqual(['USER 10001:10001']);
    expect(stage('base').join('\n')).toMatch(/useradd --uid 10001 --gid 10001/);
    expect(runtime.some((i) => /^HEALTHCHECK .*CMD \["node", "-e", ".*\/v2\/health\/live/.test(i))).toBe(true);
    expect(runtime).toContain('EXPOSE 8080');
    expect(runtime).toContain('STOPSIGNAL SIGTERM');
    expect(runtime).toContain('VOLUME ["/var/lib/croupier"]');
    expect(runtime).toContain('ENTRYPOINT ["node", "bin/croupier.js"]');
    expect(runtime).toContain('CMD ["serve"]');
    const env = runtime.filter((i) => i.startsWith('ENV ')).join(' ');
    expect(env).toMatch(/CROUPIER_HOST=0\.0\.0\.0/);
    expect(env).toMatch(/CROUPIER_MODELS_DIR=\/app\/models/);
    expect(env).toMatch(/CROUPIER_STATE_DIR=\/var\/lib\/croupier/);
    // The image proves it serves before it is published.
    expect(runtime).toContain(
      'RUN --mount=type=bind,source=test/deploy/smoke.mjs,target=/tmp/smoke.mjs node /tmp/smoke.mjs',
    );
  });

  it('never sets CROUPIER_ALLOW_SLOW_HTTP', () => {
    const env = instructions.filter((i) => i.startsWith('ENV ') || i.startsWith('ARG ')).join(' ');
    expect(env).not.toContain('CROUPIER_ALLOW_SLOW_HTTP');
  });

  it('keeps the build context small but ships the smoke script it runs', () => {
    const ignore = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', '.croupier', '.git', 'coverage', 'test', '!test/deploy/smoke.mjs'])
      expect(ignore).toContain(entry);
    expect(ignore).not.toContain('LICENSE');
    expect(existsSync(join(root, 'test', 'deploy', 'smoke.mjs'))).toBe(true);
  });
});

describe('scripts/prune-platforms.mjs', () => {
  const script = join(root, 'scripts', 'prune-platforms.mjs');
  const prune = (dir: string, ...args: string[]): string =>
    execFileSync(process.execPath, [script, dir, ...args], { encoding: 'utf8' });
  /** The paths a run names, relative to the tree. */
  const named = (out: string): string[] => [...out.matchAll(/^(?:would remove|removed) (\S+) \(/gm)].map((m) => m[1]!);

  /** Native files (addons and shared libraries) under a directory. */
  const natives = (dir: string): string[] =>
    (readdirSync(dir, { recursive: true }) as string[]).filter((f) => /\.(node|dylib|dll)$|\.so(\.\d+)*$/.test(f));

  it('against the production packages installed here: keeps only this platform’s binaries', () => {
    const { platform, arch } = process;
    const abi = process.versions.modules;
    const nm = join(root, 'node_modules');
    const removed = named(prune(nm, '--dry-run', '--platform', platform, '--arch', arch, '--abi', abi));
    const isRemoved = (file: string): boolean => removed.some((r) => file === r || file.startsWith(`${r}/`));
    // Production packages: the lock file's entries not marked dev (uWS, onnxruntime-node, ...).
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { dev?: boolean }> };
    const production = Object.entries(lock.packages)
      .filter(([path, entry]) => path.startsWith('node_modules/') && !entry.dev && existsSync(join(root, path)))
      .map(([path]) => path.slice('node_modules/'.length));
    const kept: string[] = [];
    let all = 0;
    for (const name of production) {
      for (const file of natives(join(nm, name))) {
        if (file.includes('node_modules')) continue; // nested packages are entries of their own
        all++;
        const path = `${name}/${file}`;
        if (!isRemoved(path)) kept.push(path);
      }
    }
    expect(all).toBeGreaterThan(kept.length);
    // Every native file left is for this OS and CPU (a new package shipping other platforms'
    // binaries in a layout the script does not know shows up here)...
    for (const path of kept) {
      expect(path, path).toMatch(new RegExp(`${platform}[/_-]${arch}`));
      expect(path, path).not.toContain('.musl.');
    }
    // ...and what the loaders require is among them.
    expect(kept).toContain(`onnxruntime-node/bin/napi-v6/${platform}/${arch}/onnxruntime_binding.node`);
    expect(
      kept
        .filter((p) => p.startsWith('uWebSockets.js/'))
        .every((p) => p.endsWith(`uws_${platform}_${arch}_${abi}.node`)),
    ).toBe(true);
    expect(kept.some((p) => p.startsWith('uWebSockets.js/'))).toBe(true);
    // The bulk of it: ONNX Runtime for darwin, win32 and the other CPU.
    for (const other of ['darwin', 'win32']) expect(removed).toContain(`onnxruntime-node/bin/napi-v6/${other}`);
  });

  describe('on a copy of the layouts (removing for real)', () => {
    let dir: string;
    const touch = (path: string): void => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), '');
    };
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'croupier-prune-'));
      // onnxruntime-node 1.30: the file names as installed here.
      const ort = join(root, 'node_modules', 'onnxruntime-node');
      for (const f of readdirSync(join(ort, 'bin'), { recursive: true }) as string[])
        if (/\.(node|dylib|dll)$|\.so(\.\d+)*$/.test(f)) touch(`onnxruntime-node/bin/${f}`);
      touch('onnxruntime-node/dist/binding.js');
      // The official uWebSockets.js v20.5x that the image installs: 5 systems x 4 Node ABIs.
      for (const target of ['darwin_arm64', 'darwin_x64', 'linux_arm64', 'linux_x64', 'win32_x64'])
        for (const abi of ['115', '127', '137', '141']) touch(`uWebSockets.js/uws_${target}_${abi}.node`);
      touch('uWebSockets.js/uws.js');
      touch('uWebSockets.js/ESM_wrapper.mjs');
      // node-gyp-build prebuilds.
      for (const target of ['darwin-x64+arm64', 'linux-x64', 'linux-arm64', 'win32-x64'])
        touch(`@scope/addon/prebuilds/${target}/node.napi.node`);
      touch('@scope/addon/prebuilds/linux-x64/node.napi.musl.node');
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('leaves one ONNX Runtime, one uWS addon (19 of 20 removed) and one prebuild, and every other file', () => {
      const out = prune(dir, '--platform', 'linux', '--arch', 'x64', '--abi', '137');
      expect(out).toMatch(/prune-platforms: \d+ paths, [\d.]+ MB removed; kept linux\/x64, Node ABI 137/);
      const left = (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
        .filter((e) => e.isFile())
        .map((e) => relative(dir, join(e.parentPath, e.name)))
        .sort();
      expect(left).toEqual([
        '@scope/addon/prebuilds/linux-x64/node.napi.node',
        'onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
        'onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
        'onnxruntime-node/dist/binding.js',
        'uWebSockets.js/ESM_wrapper.mjs',
        'uWebSockets.js/uws.js',
        'uWebSockets.js/uws_linux_x64_137.node',
      ]);
      expect(named(out).filter((p) => p.startsWith('uWebSockets.js/'))).toHaveLength(19);
    });

    it('refuses a missing tree and prints its usage with --help', () => {
      expect(() => prune(join(dir, 'nope'))).toThrow(/does not exist/);
      expect(prune('--help')).toMatch(/^usage: node scripts\/prune-platforms\.mjs <node_modules>/);
    });
  });
});

describe('LICENSE', () => {
  it('is the Apache License 2.0 text that package.json names, verbatim', () => {
    expect(pkg.license).toBe('Apache-2.0');
    const license = read('LICENSE');
    expect(
      license.startsWith(
        '                                 Apache License\n                           Version 2.0, January 2004\n',
      ),
    ).toBe(true);
    expect(license).toContain('END OF TERMS AND CONDITIONS');
    // sha256 of https://www.apache.org/licenses/LICENSE-2.0.txt without its leading blank line, as
    // GitHub and most packages ship it (node_modules/@opentelemetry/api/LICENSE here is identical).
    expect(createHash('sha256').update(license).digest('hex')).toBe(
      createHash('sha256')
        .update(readFileSync(join(root, 'node_modules', '@opentelemetry', 'api', 'LICENSE')))
        .digest('hex'),
    );
  });
});

describe('runtime dependencies', () => {
  /** Bare package names imported by the code that runs in the image (src/, bin/). */
  const imported = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|js|mjs)$/.test(entry.name))
        for (const m of read(path).matchAll(
          // require.resolve: the dashboard serves uPlot's files from its package (src/ui/assets.ts).
          /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire(?:\.resolve)?\s*\(\s*)['"]([^'".][^'"]*)['"]/g,
        )) {
          const spec = m[1]!;
          if (spec.startsWith('node:')) continue;
          imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
        }
    }
  };
  walk('src');
  walk('bin');

  it('are exactly the packages src/ and bin/ import (undici and nodemailer: the alert channels)', () => {
    expect([...imported].sort()).toEqual(Object.keys(pkg.dependencies).sort());
    expect(pkg.dependencies.undici).toBeDefined();
    expect(pkg.devDependencies.undici).toBeUndefined();
  });
});
