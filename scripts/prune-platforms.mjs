#!/usr/bin/env node
/**
 * Deletes the native binaries a node_modules tree carries for other platforms than the one it runs
 * on. The Dockerfile runs it in the stage that installs the production dependencies, so the image
 * ships one onnxruntime-node build and one uWebSockets.js addon instead of every OS, CPU and Node
 * ABI (about 120 MB of darwin, win32 and arm64 ONNX Runtime and 19 unused uWS addons).
 *
 *   node scripts/prune-platforms.mjs <node_modules> [--platform linux] [--arch x64] [--abi 137] [--dry-run]
 *
 * Defaults are the running Node's (process.platform, process.arch, process.versions.modules). It
 * prints one line per removed path and a total; --dry-run prints the same and removes nothing.
 * It knows three layouts (test/deploy/image.test.ts checks it against the tree installed here):
 *   onnxruntime-node/bin/napi-v<N>/<platform>/<arch>/          keeps <platform>/<arch>
 *   uWebSockets.js: uws_<platform>_<arch>_<abi>.node, anywhere  keeps the one its loader requires
 *   <package>/prebuilds/<platform>-<arch>[+<arch>]/ (node-gyp-build)  keeps <platform>-…<arch>…, not musl
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    platform: { type: 'string', default: process.platform },
    arch: { type: 'string', default: process.arch },
    abi: { type: 'string', default: process.versions.modules },
    'dry-run': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help || positionals.length !== 1) {
  console.log('usage: node scripts/prune-platforms.mjs <node_modules> [--platform P] [--arch A] [--abi N] [--dry-run]');
  process.exit(values.help ? 0 : 2);
}
const root = positionals[0];
if (!existsSync(join(root))) {
  console.error(`prune-platforms: ${root} does not exist`);
  process.exit(2);
}
const { platform, arch, abi } = values;
const dryRun = values['dry-run'];

/** Paths to delete, with their size in bytes. */
const doomed = [];
const sizeOf = (path) => {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const entry of readdirSync(path)) total += sizeOf(join(path, entry));
  return total;
};
const doom = (path) => doomed.push({ path, bytes: sizeOf(path) });
const dirs = (path) =>
  existsSync(path)
    ? readdirSync(path, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
    : [];

// onnxruntime-node: bin/napi-v<N>/<platform>/<arch>/
const ortBin = join(root, 'onnxruntime-node', 'bin');
for (const napi of dirs(ortBin)) {
  for (const os of dirs(join(ortBin, napi))) {
    if (os !== platform) {
      doom(join(ortBin, napi, os));
      continue;
    }
    for (const cpu of dirs(join(ortBin, napi, os))) if (cpu !== arch) doom(join(ortBin, napi, os, cpu));
  }
}

// uWebSockets.js: uws_<platform>_<arch>_<abi>.node in the package (official: its root; the unofficial
// build: binaries/ and dist/). Its loader requires exactly `uws_${platform}_${arch}_${abi}.node`.
const keepUws = `uws_${platform}_${arch}_${abi}.node`;
const walkUws = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') walkUws(path);
    } else if (/^uws_[a-z0-9]+_[a-z0-9]+_\d+\.node$/.test(entry.name) && entry.name !== keepUws) doom(path);
  }
};
if (existsSync(join(root, 'uWebSockets.js'))) walkUws(join(root, 'uWebSockets.js'));

// node-gyp-build prebuilds: <package>/prebuilds/<platform>-<arch>[+<arch>…]/; musl builds are for Alpine.
const packages = (dir) =>
  dirs(dir).flatMap((name) =>
    name.startsWith('@') ? dirs(join(dir, name)).map((n) => join(dir, name, n)) : [join(dir, name)],
  );
const walkPrebuilds = (dir) => {
  for (const pkg of packages(dir)) {
    const prebuilds = join(pkg, 'prebuilds');
    for (const target of dirs(prebuilds)) {
      const [os, cpus = ''] = target.split('-');
      if (os !== platform || !cpus.split('+').includes(arch)) {
        doom(join(prebuilds, target));
        continue;
      }
      for (const file of readdirSync(join(prebuilds, target)))
        if (file.includes('.musl.')) doom(join(prebuilds, target, file));
    }
    walkPrebuilds(join(pkg, 'node_modules'));
  }
};
walkPrebuilds(root);

let total = 0;
for (const { path, bytes } of doomed) {
  total += bytes;
  console.log(`${dryRun ? 'would remove' : 'removed'} ${relative(root, path)} (${(bytes / 1e6).toFixed(1)} MB)`);
  if (!dryRun) rmSync(path, { recursive: true, force: true });
}
console.log(
  `prune-platforms: ${doomed.length} paths, ${(total / 1e6).toFixed(1)} MB ${dryRun ? 'would be ' : ''}removed; kept ${platform}/${arch}, Node ABI ${abi}`,
);
