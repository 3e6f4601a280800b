/**
 * Reads the audit log from its end backwards, in chunks, so a read costs the entries it returns and
 * not the size of the file: reading a 44 MB log whole held the event loop for a second on every
 * `GET /admin/audit`. Lines are entries in `seq` order (the file is only appended to), so the place
 * of `before` is found by bisection rather than by scanning down to it.
 */
import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

const CHUNK = 64 * 1024;
/** A line longer than this is not an entry (entries are well under 64 KiB): dropped, never held whole. */
const LINE_MAX = 1024 * 1024;
const NL = 0x0a;
const EMPTY = Buffer.alloc(0);

interface Sequenced {
  readonly seq: number;
}

function parse<T extends Sequenced>(line: string): T | undefined {
  if (line === '') return undefined;
  try {
    const entry = JSON.parse(line) as T;
    return typeof entry === 'object' && entry !== null && typeof entry.seq === 'number' ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** Turns chunks read backwards (each the bytes just before the previous one) into lines, newest first. */
class BackwardLines {
  /** The end of a line whose start lies in a chunk not read yet. */
  private carry: Buffer = EMPTY;
  /** The line being assembled passed LINE_MAX: it is dropped up to its start. */
  private skipping = false;

  feed(chunk: Buffer): string[] {
    const lines: string[] = [];
    let end = chunk.length;
    for (
      let nl = chunk.lastIndexOf(NL, end - 1);
      end > 0 && nl >= 0;
      nl = end > 0 ? chunk.lastIndexOf(NL, end - 1) : -1
    ) {
      this.complete(chunk.subarray(nl + 1, end), lines);
      end = nl;
    }
    if (!this.skipping && end > 0) {
      this.carry = Buffer.concat([chunk.subarray(0, end), this.carry]);
      if (this.carry.length > LINE_MAX) {
        this.skipping = true;
        this.carry = EMPTY;
      }
    }
    return lines;
  }

  /** The file's first line, once its start was reached. */
  finish(): string[] {
    const lines: string[] = [];
    this.complete(EMPTY, lines);
    return lines;
  }

  private complete(head: Buffer, lines: string[]): void {
    if (!this.skipping)
      lines.push(this.carry.length === 0 ? head.toString('utf8') : Buffer.concat([head, this.carry]).toString('utf8'));
    this.carry = EMPTY;
    this.skipping = false;
  }
}

async function readAt(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<Buffer> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/**
 * A byte offset at a line start such that the lines from there on have seq >= `before`: lines
 * are found by reading one chunk at each step. Stops early (keeping a later offset, which is only
 * slower, never wrong: the reader filters by seq) at a line it cannot read.
 */
async function boundary(fh: FileHandle, size: number, before: number, buf: Buffer): Promise<number> {
  let lo = 0;
  let hi = size;
  while (hi - lo > CHUNK) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const chunk = await readAt(fh, buf, Math.min(CHUNK, hi - mid), mid);
    const start = chunk.indexOf(NL);
    const stop = start < 0 ? -1 : chunk.indexOf(NL, start + 1);
    const entry = stop < 0 ? undefined : parse(chunk.subarray(start + 1, stop).toString('utf8'));
    if (!entry) break;
    if (entry.seq >= before) hi = mid + start + 1;
    else lo = mid + stop + 1;
  }
  return hi;
}

/** The newest `limit` entries with seq < `before` (any, when undefined), oldest first. */
export async function readTail<T extends Sequenced>(
  file: string,
  limit: number,
  before: number | undefined,
): Promise<T[]> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    const size = (await fh.stat()).size;
    let pos = before === undefined ? size : await boundary(fh, size, before, buf);
    const out: T[] = [];
    const lines = new BackwardLines();
    const take = (batch: string[]): void => {
      for (let i = 0; i < batch.length && out.length < limit; i++) {
        const entry = parse<T>(batch[i]!);
        if (entry && (before === undefined || entry.seq < before)) out.push(entry);
      }
    };
    while (pos > 0 && out.length < limit) {
      const length = Math.min(CHUNK, pos);
      pos -= length;
      take(lines.feed(await readAt(fh, buf, length, pos)));
    }
    if (pos === 0) take(lines.finish());
    return out.reverse();
  } finally {
    await fh.close();
  }
}

/** The last readable entry of an open file, read backwards (start-up: continue the chain from it). */
export function lastEntrySync<T extends Sequenced>(fd: number, size: number): T | undefined {
  const buf = Buffer.allocUnsafe(CHUNK);
  const lines = new BackwardLines();
  let pos = size;
  const first = (batch: string[]): T | undefined => {
    for (const line of batch) {
      const entry = parse<T>(line);
      if (entry) return entry;
    }
    return undefined;
  };
  while (pos > 0) {
    const length = Math.min(CHUNK, pos);
    pos -= length;
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, pos + got);
      if (n === 0) break;
      got += n;
    }
    const found = first(lines.feed(buf.subarray(0, got)));
    if (found) return found;
  }
  return first(lines.finish());
}
