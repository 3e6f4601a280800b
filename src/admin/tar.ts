/**
 * The little of POSIX ustar that release archives need: regular files only. The readers (in memory,
 * and streaming for uploads) report every entry with its type so the caller can refuse links,
 * devices and paths that escape.
 */
const BLOCK = 512;

export interface TarEntry {
  readonly name: string;
  /** ustar typeflag: '0' file, '1' hard link, '2' symlink, '5' directory, 'x'/'g' pax headers... */
  readonly type: string;
  readonly linkTarget: string;
  readonly data: Buffer;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** One ustar header block (tests use it to declare sizes an archive never delivers). */
export function tarHeader(name: string, size: number, type = '0', linkTarget = ''): Buffer {
  const h = Buffer.alloc(BLOCK);
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length > 100) throw new Error(`tar: name "${name}" is longer than 100 bytes`);
  nameBytes.copy(h, 0);
  h.write(octal(type === '5' ? 0o755 : 0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii');
  h.write(type, 156, 'ascii');
  h.write(linkTarget, 157, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** Builds an uncompressed tar. Entries are written as given (tests use this to build hostile archives). */
export function writeTar(
  entries: readonly { name: string; data?: Buffer; type?: string; linkTarget?: string }[],
): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    parts.push(tarHeader(e.name, data.length, e.type ?? '0', e.linkTarget ?? ''));
    parts.push(data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function field(h: Buffer, offset: number, length: number): string {
  const raw = h.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? length : end).toString('utf8');
}

function number(h: Buffer, offset: number, length: number, what: string): number {
  const text = field(h, offset, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new Error(`tar: bad ${what} field`);
  return text === '' ? 0 : parseInt(text, 8);
}

export interface TarHeader {
  readonly name: string;
  /** ustar typeflag: '0' file, '1' hard link, '2' symlink, '5' directory, 'x'/'g' pax headers... */
  readonly type: string;
  readonly linkTarget: string;
  readonly size: number;
}

/** Reads one header block; throws on a bad checksum or field. */
function parseHeader(h: Buffer): TarHeader {
  const expected = number(h, 148, 8, 'checksum');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  if (sum !== expected) throw new Error('tar: header checksum mismatch (not a tar archive, or corrupt)');
  const prefix = field(h, 345, 155);
  const name = (h.subarray(257, 262).toString('ascii') === 'ustar' && prefix ? `${prefix}/` : '') + field(h, 0, 100);
  const type = String.fromCharCode(h[156]!) === '\0' ? '0' : String.fromCharCode(h[156]!);
  return { name, type, linkTarget: field(h, 157, 100), size: number(h, 124, 12, 'size') };
}

const isZero = (block: Buffer): boolean => block.every((b) => b === 0);

/** Parses an uncompressed tar in memory; throws on a malformed header or a truncated archive. */
export function readTar(tar: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let at = 0;
  while (at + BLOCK <= tar.length) {
    const block = tar.subarray(at, at + BLOCK);
    if (isZero(block)) return entries;
    const { name, type, linkTarget, size } = parseHeader(block);
    const start = at + BLOCK;
    if (start + size > tar.length) throw new Error(`tar: entry "${name}" is truncated`);
    entries.push({ name, type, linkTarget, data: tar.subarray(start, start + size) });
    at = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw new Error('tar: archive ends without its end-of-archive blocks');
}

/** What a streaming read reports, in order; each step is awaited before the next byte is read. */
export interface TarVisitor {
  /** A header; throw to refuse the entry (and the archive). */
  entry(header: TarHeader): Promise<void>;
  /** The next bytes of the current entry. */
  data(chunk: Buffer): Promise<void>;
  /** The current entry is complete. */
  entryEnd(): Promise<void>;
}

/**
 * Reads a tar as it arrives, chunk by chunk, holding no more than one header block: entry data is
 * handed to the visitor as views on the chunks it came in.
 */
export class TarStreamReader {
  private readonly visitor: TarVisitor;
  private readonly header = Buffer.alloc(BLOCK);
  private headerBytes = 0;
  private current: TarHeader | undefined;
  /** Data bytes of the current entry still to come, then padding to skip. */
  private dataLeft = 0;
  private padLeft = 0;
  private ended = false;

  constructor(visitor: TarVisitor) {
    this.visitor = visitor;
  }

  async write(chunk: Buffer): Promise<void> {
    let at = 0;
    while (at < chunk.length && !this.ended) {
      if (this.dataLeft > 0) {
        const n = Math.min(this.dataLeft, chunk.length - at);
        this.dataLeft -= n;
        await this.visitor.data(chunk.subarray(at, at + n));
        at += n;
        if (this.dataLeft === 0) await this.endEntry();
      } else if (this.padLeft > 0) {
        const n = Math.min(this.padLeft, chunk.length - at);
        this.padLeft -= n;
        at += n;
      } else {
        const n = Math.min(BLOCK - this.headerBytes, chunk.length - at);
        chunk.copy(this.header, this.headerBytes, at, at + n);
        this.headerBytes += n;
        at += n;
        if (this.headerBytes === BLOCK) await this.startEntry();
      }
    }
  }

  /** Call when the input ends; throws when the archive stopped short. */
  end(): void {
    if (this.current) throw new Error(`tar: entry "${this.current.name}" is truncated`);
    if (!this.ended) throw new Error('tar: archive ends without its end-of-archive blocks');
  }

  private async startEntry(): Promise<void> {
    this.headerBytes = 0;
    if (isZero(this.header)) {
      this.ended = true;
      return;
    }
    const header = parseHeader(this.header);
    this.current = header;
    await this.visitor.entry(header);
    this.dataLeft = header.size;
    this.padLeft = (BLOCK - (header.size % BLOCK)) % BLOCK;
    if (header.size === 0) await this.endEntry();
  }

  private async endEntry(): Promise<void> {
    this.current = undefined;
    await this.visitor.entryEnd();
  }
}
