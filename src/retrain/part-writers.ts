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
  type Data,
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

/**
 * One column of the batch being filled, held as Arrow holds it (numbers in a typed array with a
 * validity bitmap; strings as values until the batch is written): a batch of parsed rows with their
 * feature objects took ~300 MB at 65,536 rows, these take ~20 MB.
 */
class ColumnBuffer {
  private readonly numbers: Float64Array | undefined;
  private readonly texts: (string | null)[] | undefined;
  private readonly valid = new Uint8Array(BATCH_ROWS >> 3);
  private nulls = 0;

  constructor(readonly column: ColumnReader) {
    if (column.type === 'utf8') this.texts = [];
    else this.numbers = new Float64Array(BATCH_ROWS);
  }

  set(i: number, row: RowJson): void {
    const v = this.column.value(row);
    if (this.texts) {
      this.texts.push(v === null ? null : String(v));
      return;
    }
    if (v === null || typeof v !== 'number' || Number.isNaN(v)) this.nulls++;
    else {
      this.numbers![i] = v;
      this.valid[i >> 3]! |= 1 << (i & 7);
    }
  }

  /** The column's Arrow data for the first `length` rows; the buffer is then empty. */
  take(length: number): Data {
    let data: Data;
    if (this.texts) data = vectorFromArray(this.texts.splice(0), new Utf8()).data[0]!;
    else {
      const values = this.numbers!.slice(0, length);
      const nullBitmap = this.nulls > 0 ? this.valid.slice(0, (length + 7) >> 3) : undefined;
      data =
        this.column.type === 'timestamp_ms'
          ? makeData({
              type: new TimestampMillisecond(),
              length,
              nullCount: this.nulls,
              nullBitmap,
              data: BigInt64Array.from(values, (ms) => BigInt(Math.round(ms))),
            })
          : makeData({ type: new Float64(), length, nullCount: this.nulls, nullBitmap, data: values });
    }
    this.valid.fill(0);
    this.nulls = 0;
    return data;
  }
}

export class ArrowPart implements PartWriter {
  private readonly schema: Schema;
  private readonly writer = new RecordBatchFileWriter();
  private readonly sink = new Collected();
  private readonly buffers: ColumnBuffer[];
  /** Rows in the batch being filled. */
  private filled = 0;
  private total = 0;

  private constructor(
    private readonly name: string,
    private readonly file: HashedFile,
    columns: readonly ColumnReader[],
  ) {
    this.schema = new Schema(columns.map((c) => new Field(c.name, ARROW_TYPE[c.type](), true)));
    this.buffers = columns.map((c) => new ColumnBuffer(c));
    this.writer.reset(this.sink, this.schema);
  }

  static async create(path: string, name: string, columns: readonly ColumnReader[]): Promise<ArrowPart> {
    return new ArrowPart(name, await HashedFile.create(path), columns);
  }

  async add(row: RowJson): Promise<void> {
    const i = this.filled++;
    for (const b of this.buffers) b.set(i, row);
    if (this.filled === BATCH_ROWS) await this.writeBatch();
  }

  async finish(): Promise<PartFile> {
    if (this.filled > 0 || this.total === 0) await this.writeBatch();
    this.writer.finish();
    await this.drain();
    return { name: this.name, rows: this.total, bytes: this.file.bytes, sha256: await this.file.close() };
  }

  private async writeBatch(): Promise<void> {
    const length = this.filled;
    this.filled = 0;
    const children = this.buffers.map((b) => b.take(length));
    const data = makeData({ type: new Struct(this.schema.fields), length, nullCount: 0, children });
    this.writer.write(new RecordBatch(this.schema, data));
    this.total += length;
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
  // An empty text is quoted: an empty field is a null (train-csv.ts reads it so).
  return s === '' || /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
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
