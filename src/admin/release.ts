/**
 * Release archives (`croupier pack` / `croupier push`): a gzipped tar of one version folder —
 * model.json, the model file, and SHA256SUMS listing every other file. Opening one checks
 * everything in memory before a byte is written: entries are plain files at the archive root
 * (no links, no absolute paths, no `..`), every checksum matches, the manifest is valid and its
 * sha256 is the model file's.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CroupierError } from '../errors.js';
import { isId, parseManifest, type Manifest } from '../registry/manifest.js';
import { readTar, writeTar } from './tar.js';

export const CHECKSUMS = 'SHA256SUMS';
/** Largest release upload (compressed), and largest it may inflate to. */
export const RELEASE_LIMIT = 256 * 1024 * 1024;
export const RELEASE_INFLATED_LIMIT = 1024 * 1024 * 1024;

const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export interface Release {
  readonly model: string;
  readonly version: string;
  readonly manifest: Manifest;
  readonly sha256: string;
  /** File name -> content, SHA256SUMS included. */
  readonly files: ReadonlyMap<string, Buffer>;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

function checksums(files: ReadonlyMap<string, Buffer>): string {
  return [...files.keys()].sort().map((name) => `${sha256(files.get(name)!)}  ${name}\n`).join('');
}

/** Packs a version folder (`models/fraud/2`); refuses one whose model file does not match its manifest. */
export function packRelease(versionDir: string): { archive: Buffer; model: string; version: string; sha256: string } {
  const dir = resolve(versionDir);
  const model = basename(dirname(dir));
  const version = basename(dir);
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.') || name === CHECKSUMS) continue;
    const stat = lstatSync(join(dir, name));
    if (!stat.isFile()) throw new Error(`${join(dir, name)} is not a plain file (links and folders are not packed)`);
    if (!FILE_NAME.test(name)) throw new Error(`${name}: file names in a release are letters, digits, . _ -`);
    files.set(name, readFileSync(join(dir, name)));
  }
  const rawManifest = files.get('model.json');
  if (!rawManifest) throw new Error(`${dir} has no model.json`);
  const manifest = parseManifest(JSON.parse(rawManifest.toString('utf8')), model, version);
  const modelFile = files.get(manifest.file);
  if (!modelFile) throw new Error(`${dir} has no ${manifest.file}`);
  const digest = sha256(modelFile);
  if (digest !== manifest.sha256) throw new Error(`${manifest.file} does not match its manifest (sha256 ${digest}, manifest says ${manifest.sha256})`);
  const entries = [...files].map(([name, data]) => ({ name, data }));
  entries.push({ name: CHECKSUMS, data: Buffer.from(checksums(files)) });
  return { archive: gzipSync(writeTar(entries)), model, version, sha256: digest };
}

const malformed = (message: string): CroupierError => new CroupierError('invalid_request', `release archive: ${message}`);
const refused = (message: string): CroupierError => new CroupierError('model_invalid', `release archive: ${message}`);

function entries(archive: Buffer): Map<string, Buffer> {
  let tar: Buffer;
  try {
    tar = gunzipSync(archive, { maxOutputLength: RELEASE_INFLATED_LIMIT });
  } catch (e) {
    throw malformed(`not a readable gzip file (${(e as Error).message})`);
  }
  let list;
  try {
    list = readTar(tar);
  } catch (e) {
    throw malformed((e as Error).message);
  }
  const files = new Map<string, Buffer>();
  for (const entry of list) {
    const name = entry.name.replace(/^(\.\/)+/, '');
    if (entry.type === '5' && (name === '' || name === '.')) continue;
    if (entry.name.startsWith('/') || entry.name.includes('\\') || entry.name.split('/').includes('..')) throw malformed(`entry "${entry.name}" escapes its folder`);
    if (entry.type === '1' || entry.type === '2') throw malformed(`entry "${entry.name}" is a link; links are refused`);
    if (entry.type !== '0') throw malformed(`entry "${entry.name}" is not a plain file (type ${entry.type})`);
    if (name.includes('/')) throw malformed(`entry "${entry.name}" is in a sub-folder; a release holds files at its root`);
    if (!FILE_NAME.test(name)) throw malformed(`entry "${entry.name}": names are letters, digits, . _ -`);
    if (files.has(name)) throw malformed(`entry "${name}" appears twice`);
    files.set(name, entry.data);
  }
  return files;
}

/** Opens and checks a release archive; throws a CroupierError (400 malformed, 422 refused). */
export function openRelease(archive: Buffer): Release {
  const files = entries(archive);
  const sums = files.get(CHECKSUMS);
  if (!sums) throw refused(`${CHECKSUMS} is missing`);
  const listed = new Map<string, string>();
  for (const line of sums.toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    const m = /^([0-9a-f]{64}) [ *]?(\S+)$/.exec(line.trim());
    if (!m) throw refused(`${CHECKSUMS} has a malformed line "${line.slice(0, 100)}"`);
    listed.set(m[2]!, m[1]!);
  }
  for (const [name, data] of files) {
    if (name === CHECKSUMS) continue;
    const expected = listed.get(name);
    if (expected === undefined) throw refused(`${name} is not listed in ${CHECKSUMS}`);
    if (sha256(data) !== expected) throw refused(`checksum mismatch for ${name}`);
  }
  for (const name of listed.keys()) if (!files.has(name)) throw refused(`${name} is listed in ${CHECKSUMS} but missing`);
  const rawManifest = files.get('model.json');
  if (!rawManifest) throw refused('model.json is missing');
  let raw: { name?: unknown; version?: unknown };
  try {
    raw = JSON.parse(rawManifest.toString('utf8')) as typeof raw;
  } catch {
    throw refused('model.json is not JSON');
  }
  const model = String(raw?.name), version = String(raw?.version);
  if (!isId(model) || !isId(version)) throw refused('model.json must name the model and version as ids');
  let manifest: Manifest;
  try {
    manifest = parseManifest(raw, model, version);
  } catch (e) {
    throw refused((e as Error).message);
  }
  const modelFile = files.get(manifest.file);
  if (!modelFile) throw refused(`${manifest.file} (the manifest's file) is missing`);
  const digest = sha256(modelFile);
  if (digest !== manifest.sha256) throw refused(`${manifest.file} does not match the manifest's sha256`);
  return { model, version, manifest, sha256: digest, files };
}
