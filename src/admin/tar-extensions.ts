/**
 * The tar entries that describe the next entry rather than being one: pax extended headers ('x'
 * for the next entry, 'g' for all that follow; `tar --format=posix`, macOS tar, `git archive`) and
 * GNU long names ('L' path, 'K' link target; `tar --format=gnu`). The readers in tar.ts collect
 * their data (bounded) and fold them into the entry they describe, so that entry's checks see its
 * final name and size: a pax `path` with `..` is refused like a ustar one, and a pax `size` is the
 * size every limit is held to.
 */
import type { TarHeader } from './tar.js';

export const isExtension = (type: string): boolean => type === 'x' || type === 'g' || type === 'L' || type === 'K';
/**
 * Largest extension entry read: a long name, or pax records with a few extended attributes (macOS
 * writes tens of bytes each). Parsed in one step of the event loop, so kept small.
 */
export const EXTENSION_BYTES = 64 * 1024;

/** A GNU long name: the entry's data up to its NUL. */
function cString(data: Buffer): string {
  const end = data.indexOf(0);
  return data.toString('utf8', 0, end < 0 ? data.length : end);
}

/** What extensions change in an entry; undefined (a pax key with an empty value) means the header's own. */
interface Overrides {
  path?: string | undefined;
  linkpath?: string | undefined;
  size?: number | undefined;
}

/** One pax record: `<length> <key>=<value>\n`, the length counting itself (encoder for writeTar and tests). */
export function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const n = Buffer.byteLength(body);
  let digits = String(n).length;
  while (String(n + digits).length > digits) digits++;
  return Buffer.from(`${n + digits}${body}`);
}

/**
 * Parses pax records. Keys that change what an entry is (path, linkpath, size) are taken and
 * checked; times, owners, charsets and extended attributes (SCHILY.*, LIBARCHIVE.*) do not matter
 * to a release and are ignored; GNU sparse files are refused (a release holds plain files).
 */
function parsePax(data: Buffer, into: Overrides): void {
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0 && data.subarray(at).every((b) => b === 0)) return;
    // Bytes, not strings and patterns, until a key matters: 64 KiB of tiny records stays cheap.
    let length = 0;
    let space = at;
    for (; space < data.length && space - at < 9 && data[space]! >= 0x30 && data[space]! <= 0x39; space++)
      length = length * 10 + data[space]! - 0x30;
    const end = at + length;
    if (data[at] === 0x30 || data[space] !== 0x20 || end > data.length || end <= space + 1 || data[end - 1] !== 0x0a)
      throw new Error('tar: malformed pax record (its length does not match)');
    const eq = data.indexOf(0x3d, space + 1);
    if (eq <= space + 1 || eq >= end) throw new Error('tar: malformed pax record (no key=value)');
    // The keys that change an entry are short (path, size, linkpath), or GNU.sparse.*.
    const keyLength = eq - space - 1;
    if (keyLength <= 8 || data[space + 1] === 0x47)
      applyRecord(data.toString('latin1', space + 1, eq), data, eq + 1, end - 1, into);
    at = end;
  }
}

/** One record whose key may change the entry. */
function applyRecord(key: string, data: Buffer, from: number, to: number, into: Overrides): void {
  if (key === 'path') into.path = data.toString('utf8', from, to) || undefined;
  else if (key === 'linkpath') into.linkpath = data.toString('utf8', from, to) || undefined;
  else if (key === 'size') {
    const value = data.toString('latin1', from, to);
    if (value !== '' && !/^[0-9]{1,15}$/.test(value)) throw new Error(`tar: bad pax size "${value.slice(0, 40)}"`);
    into.size = value === '' ? undefined : Number(value);
  } else if (key.startsWith('GNU.sparse.')) throw new Error('tar: sparse files are refused');
}

/** Folds extension entries into the entry they describe. */
export class Extensions {
  private readonly global: Overrides = {};
  private local: Overrides = {};
  private pending = false;

  add(type: string, data: Buffer): void {
    if (type === 'g') return parsePax(data, this.global);
    this.pending = true;
    if (type === 'x') parsePax(data, this.local);
    else if (type === 'L') this.local.path = cString(data);
    else this.local.linkpath = cString(data);
  }

  /** The entry as its extensions say it is; they are used up. */
  apply(header: TarHeader): TarHeader {
    if (
      !this.pending
      && this.global.path === undefined
      && this.global.linkpath === undefined
      && this.global.size === undefined
    )
      return header;
    const o = { ...this.global, ...this.local };
    this.local = {};
    this.pending = false;
    return {
      name: o.path ?? header.name,
      type: header.type,
      linkTarget: o.linkpath ?? header.linkTarget,
      size: o.size ?? header.size,
    };
  }

  /** At the end of the archive; throws when an extension had no entry to describe. */
  end(): void {
    if (this.pending) throw new Error('tar: archive ends after an extended header, with no entry for it');
  }
}

/** Throws for an extension entry too large to read into memory, before any of it is read. */
export function checkExtension(header: { readonly size: number }): void {
  if (header.size > EXTENSION_BYTES)
    throw new Error(`tar: extended header of ${header.size} bytes (more than ${EXTENSION_BYTES} allowed)`);
}
