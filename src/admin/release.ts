/**
 * Release archives (`croupier pack` / `croupier push`): a gzipped tar of one version folder —
 * model.json, the model file, and SHA256SUMS listing every other file. Every entry must be a plain
 * file at the archive root (no links, no absolute paths, no `..`), every checksum must match, the
 * manifest must be valid and its sha256 the model file's. The gateway reads uploads as a stream
 * (release-upload.ts) under RELEASE_LIMITS; `openRelease` reads one in memory, for the CLI.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CroupierError } from '../errors.js';
import { isId, parseManifest, type Manifest } from '../registry/manifest.js';
import { readTar, writeTar, type TarHeader } from './tar.js';

export const CHECKSUMS = 'SHA256SUMS';
const MiB = 1024 * 1024;
/**
 * What an upload may cost. Each is checked as the archive inflates, and the upload is refused
 * (413 release_too_large) the moment one is crossed: a tar bomb costs what it takes to inflate
 * a few megabytes, not a gigabyte.
 */
export const RELEASE_LIMITS = {
  /** The upload itself (compressed). */
  archiveBytes: 256 * MiB,
  /** Everything it inflates to, headers included. */
  unpackedBytes: 1024 * MiB,
  /** Any one file, and model.json or SHA256SUMS (read into memory). */
  fileBytes: 1024 * MiB,
  metaFileBytes: 1 * MiB,
  entries: 256,
  /** Inflated bytes per compressed byte read, past the first `ratioAllowanceBytes` inflated. */
  ratio: 100,
  ratioAllowanceBytes: 4 * MiB,
} as const;
/** Largest release upload (compressed). */
export const RELEASE_LIMIT = RELEASE_LIMITS.archiveBytes;

const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** What a checked release is, wherever its files are. */
export interface ReleaseSummary {
  readonly model: string;
  readonly version: string;
  readonly manifest: Manifest;
  readonly sha256: string;
}

export interface Release extends ReleaseSummary {
  /** File name -> content, SHA256SUMS included. */
  readonly files: ReadonlyMap<string, Buffer>;
}

/** One file of a release as the checks see it: its digest, and its content when it is read (metadata). */
export interface ReleaseFile {
  readonly sha256: string;
  readonly content?: Buffer;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

function checksums(files: ReadonlyMap<string, Buffer>): string {
  return [...files.keys()]
    .sort()
    .map((name) => `${sha256(files.get(name)!)}  ${name}\n`)
    .join('');
}

/** Packs a version folder (`models/fraud/2`); refuses one whose model file does not match its manifest. */
export function packRelease(versionDir: string): { archive: Buffer; model: string; version: string; sha256: string } {
  const { entries, ...release } = releaseEntries(versionDir);
  return { archive: gzipSync(writeTar(entries)), ...release };
}

/** The checked files of a version folder, in archive order (SHA256SUMS last), for packing; `croupier pack` gzips them as a stream. */
export function releaseEntries(versionDir: string): {
  entries: { name: string; data: Buffer }[];
  model: string;
  version: string;
  sha256: string;
} {
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
  if (digest !== manifest.sha256)
    throw new Error(
      `${manifest.file} does not match its manifest (sha256 ${digest}, manifest says ${manifest.sha256})`,
    );
  const entries = [...files].map(([name, data]) => ({ name, data }));
  entries.push({ name: CHECKSUMS, data: Buffer.from(checksums(files)) });
  return { entries, model, version, sha256: digest };
}

export const malformed = (message: string): CroupierError =>
  new CroupierError('invalid_request', `release archive: ${message}`);
const refused = (message: string): CroupierError => new CroupierError('model_invalid', `release archive: ${message}`);
export const tooLarge = (message: string): CroupierError =>
  new CroupierError('release_too_large', `release archive: ${message}`);

/** Whether a file's content is read into memory for the checks (the rest are only hashed). */
export const isMetadata = (name: string): boolean => name === 'model.json' || name === CHECKSUMS;

/**
 * What macOS puts in archives made there: an AppleDouble `._name` beside each file that has
 * extended attributes (unless COPYFILE_DISABLE=1), and Finder's `.DS_Store`. They describe the
 * packer's disk, not the release (`croupier pack` skips dot files too), so they are skipped.
 */
const MAC_METADATA = /^(\._.|\.DS_Store$)/;

/**
 * The file name an entry may be written as, or undefined for the archive's own root folder and
 * macOS metadata files (skipped); throws 400 for anything else: paths that escape, links, devices,
 * sub-folders, odd names. The name is the entry's final one (a pax `path` or GNU long name).
 */
export function entryFileName(entry: Pick<TarHeader, 'name' | 'type'>): string | undefined {
  const name = entry.name.replace(/^(\.\/)+/, '');
  if (entry.type === '5' && (name === '' || name === '.' || name === './')) return undefined;
  if (entry.name.startsWith('/') || entry.name.includes('\\') || entry.name.split('/').includes('..'))
    throw malformed(`entry "${entry.name}" escapes its folder`);
  if (entry.type === '1' || entry.type === '2') throw malformed(`entry "${entry.name}" is a link; links are refused`);
  if (entry.type !== '0') throw malformed(`entry "${entry.name}" is not a plain file (type ${entry.type})`);
  if (name.includes('/'))
    throw malformed(`entry "${entry.name}" is in a sub-folder; a release holds files at its root`);
  if (MAC_METADATA.test(name)) return undefined;
  if (!FILE_NAME.test(name)) throw malformed(`entry "${entry.name}": names are letters, digits, . _ -`);
  return name;
}

/** Checks the files of a release against SHA256SUMS and the manifest; throws 422 (refused). */
export function checkRelease(files: ReadonlyMap<string, ReleaseFile>): ReleaseSummary {
  const sums = files.get(CHECKSUMS)?.content;
  if (!sums) throw refused(`${CHECKSUMS} is missing`);
  const listed = new Map<string, string>();
  for (const line of sums.toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    const m = /^([0-9a-f]{64}) [ *]?(\S+)$/.exec(line.trim());
    if (!m) throw refused(`${CHECKSUMS} has a malformed line "${line.slice(0, 100)}"`);
    listed.set(m[2]!, m[1]!);
  }
  for (const [name, file] of files) {
    if (name === CHECKSUMS) continue;
    const expected = listed.get(name);
    if (expected === undefined) throw refused(`${name} is not listed in ${CHECKSUMS}`);
    if (file.sha256 !== expected) throw refused(`checksum mismatch for ${name}`);
  }
  for (const name of listed.keys())
    if (!files.has(name)) throw refused(`${name} is listed in ${CHECKSUMS} but missing`);
  const rawManifest = files.get('model.json')?.content;
  if (!rawManifest) throw refused('model.json is missing');
  let raw: { name?: unknown; version?: unknown };
  try {
    raw = JSON.parse(rawManifest.toString('utf8')) as typeof raw;
  } catch {
    throw refused('model.json is not JSON');
  }
  const model = String(raw?.name),
    version = String(raw?.version);
  if (!isId(model) || !isId(version)) throw refused('model.json must name the model and version as ids');
  let manifest: Manifest;
  try {
    manifest = parseManifest(raw, model, version);
  } catch (e) {
    throw refused((e as Error).message);
  }
  const modelFile = files.get(manifest.file);
  if (!modelFile) throw refused(`${manifest.file} (the manifest's file) is missing`);
  if (modelFile.sha256 !== manifest.sha256) throw refused(`${manifest.file} does not match the manifest's sha256`);
  return { model, version, manifest, sha256: modelFile.sha256 };
}

/** Opens and checks a release archive in memory (the CLI, before it uploads); throws a CroupierError (400 malformed, 422 refused). */
export function openRelease(archive: Buffer): Release {
  let tar: Buffer;
  try {
    tar = gunzipSync(archive, { maxOutputLength: RELEASE_LIMITS.unpackedBytes });
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
    const name = entryFileName(entry);
    if (name === undefined) continue;
    if (files.has(name)) throw malformed(`entry "${name}" appears twice`);
    files.set(name, entry.data);
  }
  const summary = checkRelease(
    new Map([...files].map(([name, data]) => [name, { sha256: sha256(data), content: data }])),
  );
  return { ...summary, files };
}
