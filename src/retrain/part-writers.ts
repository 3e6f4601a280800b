/**
 * The files of an export: Arrow IPC file format (`.arrow`, record batches of at most
 * BATCH_ROWS rows) or CSV (RFC 4180: CRLF, a header row, fields quoted when they hold a comma, a
 * quote or a line break; nulls empty; times as ISO text). Each writes a batch of rows as it fills and
 * hashes its bytes as they go to disk, so memory holds one batch, not the dataset.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import {
  AsyncByteQueue,
  Field,
  Float64,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  TimestampMillisecond,
  Utf8,
  vectorFromArray,
  type DataType,
} from 'apache-arrow';
import type { Column, ColumnReader } from './dataset-columns.js';
import type { RowJson } from './dataset-row.js';

/** Rows per record batch (and per CSV write). */
export const BATCH_ROWS = 65_536;

export interface PartFile {
  readonly name: string;
  readonly rows: number;
  readonly bytes: number;
  readonly sha256: string;
}

/** One part being written: rows go in, batches go out as they fill. */
export interface PartWriter {
  add(row: RowJson): Promise<void>;
  /** Writes what is left and closes the file. */
  finish(): Promise<PartFile>;
}

/** A file written chunk by chunk, hashed as it goes. */
class HashedFile {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');

  private constructor(private readonly handle: FileHandle) {}

  static async create(path: string): Promise<HashedFile> {
    return new HashedFile(await open(path, 'w'));
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.hash.update(chunk);
    this.bytes += chunk.byteLength;
    await this.handle.write(chunk);
  }

  async close(): Promise<string> {
    await this.handle.sync();
    await this.handle.close();
    return this.hash.digest('hex');
  }
}

/** Takes what the Arrow writer writes, for the caller to write to disk after each batch. */
class Collected extends AsyncByteQueue {
  chunks: Uint8Array[] = [];

  override write(value: Uint8Array): void {
    this.chunks.push(value);
  }
}

const ARROW_TYPE: Record<Column['type'], () => DataType> = {
  utf8: () => new Utf8(),
  float64: () => new Float64(),
  timestamp_ms: () => new TimestampMillisecond(),
};

export class ArrowPart implements PartWriter {
  private readonly schema: Schema;
  private readonly writer = new RecordBatchFileWriter();
  private readonly sink = new Collected();
  private rows: RowJson[] = [];
  private total = 0;

  private constructor(
    private readonly name: string,
    private readonly file: HashedFile,
    private readonly columns: readonly ColumnReader[],
  ) {
    this.schema = new Schema(columns.map((c) => new Field(c.name, ARROW_TYPE[c.type](), true)));
    this.writer.reset(this.sink, this.schema);
  }

  static async create(path: string, name: string, columns: readonly ColumnReader[]): Promise<ArrowPart> {
    return new ArrowPart(name, await HashedFile.create(path), columns);
  }

  async add(row: RowJson): Promise<void> {
    this.rows.push(row);
    if (this.rows.length >= BATCH_ROWS) await this.writeBatch();
  }

  async finish(): Promise<PartFile> {
    if (this.rows.length > 0 || this.total === 0) await this.writeBatch();
    this.writer.finish();
    await this.drain();
    return { name: this.name, rows: this.total, bytes: this.file.bytes, sha256: await this.file.close() };
  }

  private async writeBatch(): Promise<void> {
    const rows = this.rows;
    this.rows = [];
    const children = this.columns.map((c) => {
      const values = rows.map((r) => c.value(r));
      return vectorFromArray(values, ARROW_TYPE[c.type]()).data[0]!;
    });
    const data = makeData({ type: new Struct(this.schema.fields), length: rows.length, nullCount: 0, children });
    this.writer.write(new RecordBatch(this.schema, data));
    this.total += rows.length;
    await this.drain();
  }

  private async drain(): Promise<void> {
    const chunks = this.sink.chunks;
    this.sink.chunks = [];
    for (const c of chunks) await this.file.write(c);
  }
}

/** A CSV field as RFC 4180 writes it. */
function csvField(v: number | string | null, type: Column['type']): string {
  if (v === null || (typeof v === 'number' && Number.isNaN(v))) return '';
  if (type === 'timestamp_ms') return new Date(v as number).toISOString();
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export class CsvPart implements PartWriter {
  private lines: string[] = [];
  private total = 0;

  private constructor(
    private readonly name: string,
    private readonly file: HashedFile,
    private readonly columns: readonly ColumnReader[],
  ) {
    this.lines.push(columns.map((c) => csvField(c.name, 'utf8')).join(','));
  }

  static async create(path: string, name: string, columns: readonly ColumnReader[]): Promise<CsvPart> {
    return new CsvPart(name, await HashedFile.create(path), columns);
  }

  async add(row: RowJson): Promise<void> {
    this.lines.push(this.columns.map((c) => csvField(c.value(row), c.type)).join(','));
    this.total++;
    if (this.lines.length >= BATCH_ROWS) await this.flush();
  }

  async finish(): Promise<PartFile> {
    await this.flush();
    return { name: this.name, rows: this.total, bytes: this.file.bytes, sha256: await this.file.close() };
  }

  private async flush(): Promise<void> {
    if (this.lines.length === 0) return;
    const text = `${this.lines.join('\r\n')}\r\n`;
    this.lines = [];
    await this.file.write(Buffer.from(text, 'utf8'));
  }
}
