/**
 * An export folder from the rows a server streams (GET /admin/routes/{route}/dataset): the rows are
 * spooled to disk as they arrive (the columns depend on every row: a feature seen once, a label
 * that is text once), then written as parts of at most PART_ROWS rows, batch by batch, and
 * `dataset.json` last, renamed into place: a folder without it is not an export (an interrupted
 * one leaves none; an old one is removed before anything else is written). Memory holds one batch.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { DatasetShape, parseRow, type Column } from './dataset-columns.js';
import type { RowJson } from './dataset-row.js';
import { ArrowPart, BATCH_ROWS, CsvPart, type PartFile, type PartWriter } from './part-writers.js';

export type ExportFormat = 'arrow' | 'csv';

/** Rows per part file: 16 record batches. */
export const PART_ROWS = 16 * BATCH_ROWS;
export const MANIFEST = 'dataset.json';

/** dataset.json. */
export interface DatasetManifest {
  readonly format: ExportFormat;
  readonly route: string;
  readonly rows: number;
  /** The decision times of the earliest and latest rows (the window asked for when there is none). */
  readonly from: string;
  readonly to: string;
  readonly createdAt: string;
  readonly columns: readonly Column[];
  readonly files: readonly PartFile[];
  /** sha256 of the files' sha256 (hex), concatenated in order. */
  readonly sha256: string;
}

export interface ExportOptions {
  readonly route: string;
  readonly dir: string;
  readonly format: ExportFormat;
  /** The start of the window asked for (ms): `from` of an empty export. */
  readonly sinceMs: number;
  /** Told as rows arrive and as they are written. */
  readonly progress?: { received(rows: number, bytes: number): void; written(rows: number, total: number): void };
  readonly now?: () => number;
}

/** A line the server sent that is not a row. */
export class BadRow extends Error {}

const SPOOL = '.rows.ndjson.partial';
const SPOOL_WRITE = 1 << 20;

/** Writes the export of `lines` (the server's NDJSON, one row a line) into `dir`. */
export async function exportRows(lines: AsyncIterable<string>, o: ExportOptions): Promise<DatasetManifest> {
  const now = o.now ?? Date.now;
  await mkdir(o.dir, { recursive: true });
  // First of all: a folder that held an export holds none until this one is complete.
  await rm(join(o.dir, MANIFEST), { force: true });
  for (const name of await readdir(o.dir))
    if (/^part-\d{5}\.(arrow|csv)$/.test(name) || name.endsWith('.partial'))
      await rm(join(o.dir, name), { force: true });
  const spool = join(o.dir, SPOOL);
  try {
    const shape = await spoolRows(lines, spool, o);
    const columns = shape.columns();
    const files = await writeParts(spool, shape.rows, columns, o);
    const createdAt = new Date(now()).toISOString();
    const empty = shape.rows === 0;
    const manifest: DatasetManifest = {
      format: o.format,
      route: o.route,
      rows: shape.rows,
      from: new Date(empty ? o.sinceMs : shape.fromMs).toISOString(),
      to: empty ? createdAt : new Date(shape.toMs).toISOString(),
      createdAt,
      columns: columns.map(({ name, type, role }) => ({ name, type, role })),
      files,
      sha256: createHash('sha256')
        .update(files.map((f) => f.sha256).join(''))
        .digest('hex'),
    };
    await writeAtomically(join(o.dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  } finally {
    await rm(spool, { force: true });
  }
}

/** Checks each line and copies it to the spool (waiting for the disk), learning the columns. */
async function spoolRows(lines: AsyncIterable<string>, spool: string, o: ExportOptions): Promise<DatasetShape> {
  const shape = new DatasetShape();
  const out = createWriteStream(spool);
  let bytes = 0;
  // Written a megabyte at a time: a write a line spent more time waiting on the disk's thread than parsing.
  let pending: string[] = [];
  let pendingBytes = 0;
  const write = async (): Promise<void> => {
    const text = pending.join('');
    pending = [];
    pendingBytes = 0;
    if (!out.write(text)) await once(out, 'drain');
  };
  try {
    for await (const line of lines) {
      if (line === '') continue;
      const row = parseRow(line);
      if (typeof row === 'string') throw new BadRow(`row ${shape.rows + 1} from the server is not a row (${row})`);
      shape.add(row);
      bytes += line.length + 1;
      pending.push(line, '\n');
      pendingBytes += line.length + 1;
      if (pendingBytes >= SPOOL_WRITE) await write();
      o.progress?.received(shape.rows, bytes);
    }
    if (pendingBytes > 0) await write();
  } finally {
    out.end();
    await once(out, 'close');
  }
  return shape;
}

async function writeParts(
  spool: string,
  rows: number,
  columns: ReturnType<DatasetShape['columns']>,
  o: ExportOptions,
): Promise<PartFile[]> {
  const files: PartFile[] = [];
  const make = (): Promise<PartWriter> => {
    const name = `part-${String(files.length).padStart(5, '0')}.${o.format}`;
    const path = join(o.dir, name);
    return o.format === 'arrow' ? ArrowPart.create(path, name, columns) : CsvPart.create(path, name, columns);
  };
  let part = await make();
  let inPart = 0;
  let done = 0;
  const input = createInterface({ input: createReadStream(spool, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of input) {
    if (inPart === PART_ROWS) {
      files.push(await part.finish());
      part = await make();
      inPart = 0;
    }
    await part.add(JSON.parse(line) as RowJson);
    inPart++;
    if (++done % BATCH_ROWS === 0) o.progress?.written(done, rows);
  }
  files.push(await part.finish());
  o.progress?.written(rows, rows);
  return files;
}

/** Written beside, synced, then renamed: readers see the whole file or none. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const partial = `${path}.partial`;
  const handle = await open(partial, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(partial, path);
}
