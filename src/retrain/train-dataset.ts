/**
 * An export folder (`croupier export`) read back for training: dataset.json (written last, so its
 * presence means the export finished), then every part file, each checked against its sha256 and
 * row count. Columns come back whole: numbers as Float64Array (NaN for a null), text as arrays.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import type { Column, ColumnType } from './dataset-columns.js';
import type { DatasetManifest } from './export.js';
import { parseCsv } from './train-csv.js';

export type ColumnValues = Float64Array | (string | null)[];

export interface Dataset {
  readonly dir: string;
  readonly manifest: DatasetManifest;
  readonly rows: number;
  /** By column name; numbers and times (ms) as Float64Array, text as strings. */
  readonly values: ReadonlyMap<string, ColumnValues>;
}

/** A dataset that cannot be trained on: the CLI's exit 3. */
export class DatasetError extends Error {}

const TYPES = new Set<ColumnType>(['utf8', 'float64', 'timestamp_ms']);
const PART = /^part-\d{5}\.(arrow|csv)$/;

function checkManifest(raw: unknown, dir: string): DatasetManifest {
  const m = raw as DatasetManifest;
  const bad = (what: string): never => {
    throw new DatasetError(`${join(dir, 'dataset.json')}: ${what}`);
  };
  if (typeof m !== 'object' || m === null) bad('not a JSON object');
  if (m.format !== 'arrow' && m.format !== 'csv') bad('format must be "arrow" or "csv"');
  if (!Number.isSafeInteger(m.rows) || m.rows < 0) bad('rows must be a whole number');
  if (!Array.isArray(m.columns) || m.columns.length === 0) bad('columns must list the columns');
  for (const c of m.columns)
    if (typeof c?.name !== 'string' || !TYPES.has(c.type) || typeof c.role !== 'string')
      bad(`column ${JSON.stringify(c).slice(0, 100)} needs a name, a type (utf8, float64, timestamp_ms) and a role`);
  if (!Array.isArray(m.files)) bad('files must list the part files');
  for (const f of m.files)
    if (typeof f?.name !== 'string' || !PART.test(f.name) || !f.name.endsWith(`.${m.format}`))
      bad(`file ${JSON.stringify(f?.name)} is not a part-NNNNN.${m.format} file`);
  // The candidate's source names the dataset by this hash: it must be the one its files make.
  const files = createHash('sha256')
    .update(m.files.map((f) => String(f.sha256)).join(''))
    .digest('hex');
  if (m.sha256 !== files) bad("sha256 is not the sha256 of the files' sha256, concatenated in order");
  return m;
}

function readArrow(bytes: Buffer, columns: readonly Column[], into: ColumnValues[], offset: number): number {
  const table = tableFromIPC(bytes);
  columns.forEach((c, k) => {
    const vector = table.getChild(c.name);
    if (!vector) throw new DatasetError(`column "${c.name}" is missing from an Arrow file`);
    const out = into[k]!;
    for (let i = 0; i < table.numRows; i++) {
      const v: unknown = vector.get(i);
      if (out instanceof Float64Array) out[offset + i] = v === null || v === undefined ? NaN : Number(v);
      else out[offset + i] = v === null || v === undefined ? null : String(v);
    }
  });
  return table.numRows;
}

function readCsv(bytes: Buffer, columns: readonly Column[], into: ColumnValues[], offset: number): number {
  const records = parseCsv(bytes.toString('utf8'));
  const header = records[0] ?? [];
  const at = columns.map((c) => {
    const i = header.indexOf(c.name);
    if (i < 0) throw new DatasetError(`column "${c.name}" is missing from a CSV header`);
    return i;
  });
  for (let r = 1; r < records.length; r++) {
    const record = records[r]!;
    columns.forEach((c, k) => {
      const text = record[at[k]!] ?? null;
      const out = into[k]!;
      if (!(out instanceof Float64Array)) out[offset + r - 1] = text;
      // Times may be written as ISO text or as milliseconds.
      else if (text === null || text === '') out[offset + r - 1] = NaN;
      else if (c.type === 'timestamp_ms' && !/^-?\d+(\.\d+)?$/.test(text)) out[offset + r - 1] = Date.parse(text);
      else out[offset + r - 1] = Number(text);
    });
  }
  return records.length - 1;
}

/** Reads and checks an export folder; throws DatasetError saying what is wrong with it. */
export function readDataset(dir: string): Dataset {
  const manifestFile = join(dir, 'dataset.json');
  if (!existsSync(manifestFile))
    throw new DatasetError(`${dir} has no dataset.json: not an export folder, or an export that did not finish`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(manifestFile, 'utf8'));
  } catch (e) {
    throw new DatasetError(`${manifestFile} is not JSON (${(e as Error).message})`);
  }
  const manifest = checkManifest(raw, dir);
  const values: ColumnValues[] = manifest.columns.map((c) =>
    c.type === 'utf8' ? new Array<string | null>(manifest.rows).fill(null) : new Float64Array(manifest.rows),
  );
  let rows = 0;
  for (const f of manifest.files) {
    const path = join(dir, f.name);
    if (!existsSync(path)) throw new DatasetError(`${path} is listed in dataset.json but missing`);
    const bytes = readFileSync(path);
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== f.sha256) throw new DatasetError(`${path} does not match its sha256 in dataset.json`);
    if (rows + f.rows > manifest.rows) throw new DatasetError(`${path} holds more rows than dataset.json says`);
    const read =
      manifest.format === 'arrow'
        ? readArrow(bytes, manifest.columns, values, rows)
        : readCsv(bytes, manifest.columns, values, rows);
    if (read !== f.rows) throw new DatasetError(`${path} holds ${read} rows, dataset.json says ${f.rows}`);
    rows += read;
  }
  if (rows !== manifest.rows)
    throw new DatasetError(`the part files hold ${rows} rows, dataset.json says ${manifest.rows}`);
  return { dir, manifest, rows, values: new Map(manifest.columns.map((c, k) => [c.name, values[k]!])) };
}
