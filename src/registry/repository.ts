/**
 * The model repository on disk: `<models>/<model>/<version>/{model.onnx,model.json}` and an optional
 * `<model>/LIVE`. Every version is checked (manifest, sha256, ONNX structure, graph names) before
 * it can be served; a bad version is refused with its reason and the good ones keep serving.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { inspectOnnx } from './onnx-inspect.js';
import { isId, parseManifest, type Manifest } from './manifest.js';
import { DATATYPES, datatypeFromOnnx } from '../protocol/datatypes.js';
import { isFastPredict } from '../protocol/predict.js';

export interface ModelVersion {
  readonly model: string;
  readonly version: string;
  /** `model@version`, the key used across workers, metrics and state. */
  readonly key: string;
  readonly dir: string;
  readonly file: string;
  readonly sha256: string;
  readonly manifest: Manifest;
  /** Values per row of each input, in manifest order. */
  readonly inputRowSizes: readonly number[];
  readonly outputRowSizes: readonly number[];
  /** Each output's `"name":[` as answers write it (made once, not per answer). */
  readonly outputKeys: readonly string[];
  /** Whether /v1/predict takes its fast path for this version (see protocol/predict.ts isFastPredict). */
  readonly fastPredict: boolean;
  /** The index of the manifest's `monitor.score` output; -1 without `monitor` (no score is kept). */
  readonly scoreOutput?: number;
}

export interface RefusedVersion {
  readonly model: string;
  readonly version: string;
  readonly reason: string;
}

export interface ScannedModel {
  readonly name: string;
  readonly versions: ReadonlyMap<string, ModelVersion>;
  /** From `<model>/LIVE`, when that names a good version. */
  readonly liveFile: string | undefined;
}

export interface RepositoryScan {
  readonly models: ReadonlyMap<string, ScannedModel>;
  readonly refused: readonly RefusedVersion[];
}

/** Numeric versions compare as numbers, others as strings; numbers sort before names. */
export function compareVersions(a: string, b: string): number {
  const na = /^\d+$/.test(a),
    nb = /^\d+$/.test(b);
  if (na && nb) return Number(a) - Number(b) || a.localeCompare(b);
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root + sep);
}

const rowSize = (shape: readonly number[]): number => shape.slice(1).reduce((a, b) => a * b, 1);

/** Checks one version folder; throws an Error whose message is the reason it is refused. */
export function loadVersion(modelsDir: string, model: string, version: string): ModelVersion {
  if (!isId(model)) throw new Error(`model name "${model}" is not an id`);
  if (!isId(version)) throw new Error(`version "${version}" is not an id`);
  const root = realpathSync(modelsDir);
  const dir = join(root, model, version);
  let realDir: string;
  try {
    realDir = realpathSync(dir);
  } catch {
    throw new Error('version folder is missing');
  }
  if (!inside(root, realDir) || realDir !== dir) throw new Error('version folder is a link; links are not followed');
  let rawManifest: unknown;
  try {
    rawManifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  } catch (e) {
    throw new Error(`model.json is missing or not JSON (${(e as Error).message})`);
  }
  const manifest = parseManifest(rawManifest, model, version);
  const file = join(dir, manifest.file);
  let realFile: string;
  try {
    realFile = realpathSync(file);
  } catch {
    throw new Error(`${manifest.file} is missing`);
  }
  if (realFile !== file || !statSync(file).isFile()) throw new Error(`${manifest.file} is a link or not a file`);
  const bytes = readFileSync(file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== manifest.sha256)
    throw new Error(`sha256 mismatch: manifest says ${manifest.sha256}, file is ${sha256}`);
  const graph = inspectOnnx(bytes, dir);
  for (const t of manifest.inputs)
    if (!graph.inputs.includes(t.name))
      throw new Error(`manifest input "${t.name}" is not a graph input (graph has ${graph.inputs.join(', ')})`);
  for (const name of graph.inputs)
    if (!manifest.inputs.some((t) => t.name === name))
      throw new Error(`graph input "${name}" is missing from the manifest`);
  for (const t of manifest.outputs)
    if (!graph.outputs.includes(t.name))
      throw new Error(`manifest output "${t.name}" is not a graph output (graph has ${graph.outputs.join(', ')})`);
  for (const t of [...manifest.inputs, ...manifest.outputs]) {
    const elemType = graph.elemTypes.get(t.name);
    if (elemType !== undefined && elemType !== DATATYPES[t.datatype].onnx)
      throw new Error(
        `manifest says "${t.name}" is ${t.datatype} but the graph's is ${datatypeFromOnnx(elemType) ?? `ONNX type ${elemType}`}`,
      );
  }
  return {
    model,
    version,
    key: `${model}@${version}`,
    dir,
    file,
    sha256,
    manifest,
    inputRowSizes: manifest.inputs.map((t) => rowSize(t.shape)),
    outputRowSizes: manifest.outputs.map((t) => rowSize(t.shape)),
    outputKeys: manifest.outputs.map((t) => `${JSON.stringify(t.name)}:[`),
    fastPredict: isFastPredict(manifest),
    scoreOutput: manifest.monitor ? manifest.outputs.findIndex((t) => t.name === manifest.monitor!.score) : -1,
  };
}

function subdirectories(path: string): string[] {
  return readdirSync(path, { withFileTypes: true })
    .filter((e) => e.isDirectory() || e.isSymbolicLink())
    .map((e) => e.name)
    .filter((n) => !n.startsWith('.'));
}

export function scanRepository(modelsDir: string): RepositoryScan {
  const models = new Map<string, ScannedModel>();
  const refused: RefusedVersion[] = [];
  for (const name of subdirectories(modelsDir).sort()) {
    if (!isId(name)) {
      refused.push({ model: name, version: '*', reason: 'model folder name is not an id' });
      continue;
    }
    let versionNames: string[];
    try {
      versionNames = subdirectories(join(modelsDir, name)).sort(compareVersions);
    } catch (e) {
      refused.push({ model: name, version: '*', reason: `cannot read folder (${(e as Error).message})` });
      continue;
    }
    const versions = new Map<string, ModelVersion>();
    for (const version of versionNames) {
      try {
        versions.set(version, loadVersion(modelsDir, name, version));
      } catch (e) {
        refused.push({ model: name, version, reason: (e as Error).message });
      }
    }
    if (versions.size === 0) continue;
    let liveFile: string | undefined;
    try {
      const text = readFileSync(join(modelsDir, name, 'LIVE'), 'utf8').trim();
      if (versions.has(text)) liveFile = text;
      else
        refused.push({
          model: name,
          version: text,
          reason: 'LIVE names a version that is missing or refused; serving the highest good version',
        });
    } catch {
      // No LIVE file: the highest version goes live.
    }
    models.set(name, { name, versions, liveFile });
  }
  return { models, refused };
}
