/**
 * The little of tar that release archives need: regular files only. The readers (in memory, and
 * streaming for uploads) take POSIX ustar, pax extended headers (`tar --format=posix`, macOS tar)
 * and GNU long names (`tar --format=gnu`), fold those into the entries they describe, and report
 * every entry with its type and its final name and size, so the caller can refuse links, devices
 * and paths that escape whichever header named them.
 */
import { checkExtension, EXTENSION_BYTES, Extensions, isExtension, paxRecord } from './tar-extensions.js';

export { EXTENSION_BYTES, paxRecord };
const BLOCK = 512;

export interface TarEntry {
  readonly name: string;
  /** ustar typeflag: '0' file, '1' hard link, '2' symlink, '5' directory... (never an extension) */
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

/**
 * Builds an uncompressed tar. Entries are written as given (tests use this to build hostile
 * archives); a name longer than a ustar header holds goes in a pax header before its entry.
 */
export function writeTar(
  entries: readonly { name: string; data?: Buffer; type?: string; linkTarget?: string }[],
): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    let name = e.name;
    if (Buffer.byteLength(name) > 100) {
      const pax = paxRecord('path', name);
      parts.push(tarHeader('PaxHeader', pax.length, 'x'), pax, Buffer.alloc((BLOCK - (pax.length % BLOCK)) % BLOCK));
      // What a reader without pax sees: the name cut to fit.
      while (Buffer.byteLength(name) > 100) name = name.slice(0, -1);
    }
    parts.push(tarHeader(name, data.length, e.type ?? '0', e.linkTarget ?? ''));
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

/** An octal field, or GNU's base-256 (high bit set) for sizes past 8 GiB, so those are refused by size. */
function number(h: Buffer, offset: number, length: number, what: string): number {
  if (h[offset]! & 0x80) {
    if (h[offset] === 0xff) throw new Error(`tar: negative ${what} field`);
    let value = h[offset]! & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + h[offset + i]!;
    if (!Number.isSafeInteger(value)) throw new Error(`tar: bad ${what} field`);
    return value;
  }
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
  // POSIX ustar ("ustar\0") has a name prefix; GNU's "ustar  " keeps other fields there.
  const prefix = h.toString('latin1', 257, 263) === 'ustar\0' ? field(h, 345, 155) : '';
  const name = (prefix ? `${prefix}/` : '') + field(h, 0, 100);
  const type = String.fromCharCode(h[156]!) === '\0' ? '0' : String.fromCharCode(h[156]!);
  return { name, type, linkTarget: field(h, 157, 100), size: number(h, 124, 12, 'size') };
}

const isZero = (block: Buffer): boolean => block.every((b) => b === 0);

/**
 * Parses an uncompressed tar in memory; throws on a malformed header or a truncated archive.
 * Extension entries are folded into the entries they describe, not listed.
 */
export function readTar(tar: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  const extensions = new Extensions();
  let at = 0;
  while (at + BLOCK <= tar.length) {
    const block = tar.subarray(at, at + BLOCK);
    if (isZero(block)) {
      extensions.end();
      return entries;
    }
    const raw = parseHeader(block);
    const extension = isExtension(raw.type);
    if (extension) checkExtension(raw);
    const { name, type, linkTarget, size } = extension ? raw : extensions.apply(raw);
    const start = at + BLOCK;
    if (start + size > tar.length) throw new Error(`tar: entry "${name}" is truncated`);
    const data = tar.subarray(start, start + size);
    if (extension) extensions.add(type, data);
    else entries.push({ name, type, linkTarget, data });
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
 * Reads a tar as it arrives, chunk by chunk, holding no more than one header block (and one
 * extension entry, bounded): entry data is handed to the visitor as views on the chunks it came in.
 */
export class TarStreamReader {
  private readonly visitor: TarVisitor;
  private readonly header = Buffer.alloc(BLOCK);
  private readonly extensions = new Extensions();
  private headerBytes = 0;
  private current: TarHeader | undefined;
  /** The extension entry being read (its data is collected here, not handed to the visitor). */
  private extension: { type: string; data: Buffer; filled: number } | undefined;
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
        const ext = this.extension;
        if (ext) ext.filled += chunk.copy(ext.data, ext.filled, at, at + n);
        else await this.visitor.data(chunk.subarray(at, at + n));
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
      this.extensions.end();
      this.ended = true;
      return;
    }
    const raw = parseHeader(this.header);
    let header = raw;
    if (isExtension(raw.type)) {
      checkExtension(raw);
      this.extension = { type: raw.type, data: Buffer.alloc(raw.size), filled: 0 };
    } else {
      header = this.extensions.apply(raw);
      await this.visitor.entry(header);
    }
    this.current = header;
    this.dataLeft = header.size;
    this.padLeft = (BLOCK - (header.size % BLOCK)) % BLOCK;
    if (header.size === 0) await this.endEntry();
  }

  private async endEntry(): Promise<void> {
    this.current = undefined;
    const ext = this.extension;
    if (!ext) return this.visitor.entryEnd();
    this.extension = undefined;
    this.extensions.add(ext.type, ext.data);
  }
}
