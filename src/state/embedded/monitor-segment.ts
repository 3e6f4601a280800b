/**
 * One minute of the embedded monitoring store on disk (state/embedded/monitor-counts.ts): every
 * series' vector of that minute. A finished minute does not change, so the store writes each one
 * once (and the open minute again each snapshot) instead of re-encoding the whole day every
 * minute; the values are copied byte for byte out of the Float64Arrays, never turned into text.
 *
 *   8 bytes   magic `CRMONMIN`
 *   4 bytes   header length H (uint32 LE)
 *   4 bytes   CRC-32 of everything after these 16 bytes (uint32 LE)
 *   H bytes   header, JSON: {"v": 1, "minute": m, "endian": "LE", "series": [[scope, name, series, length], ...]}
 *   8 × Σ length bytes: the vectors' Float64 values back to back, in the header's order and byte order
 *
 * A file whose size, checksum or header does not add up (torn, corrupt, another machine's byte
 * order) is refused whole: decodeSegment throws, and the store sets the file aside.
 */
import { endianness } from 'node:os';
import zlib from 'node:zlib';
import type { SeriesKey } from '../../monitoring/monitor-counts.js';

const MAGIC = Buffer.from('CRMONMIN', 'latin1');
const PREFIX = 16;
const ENDIAN = endianness();

export interface SegmentEntry {
  readonly key: SeriesKey;
  readonly vector: Float64Array;
}

/** `<minute>.min`: the minute since the epoch, so a listing sorts and ages by name. */
export function segmentName(minute: number): string {
  return `${minute}.min`;
}

/** The minute a file name stands for, or undefined for anything else in the folder. */
export function segmentMinute(file: string): number | undefined {
  const m = /^(\d{1,15})\.min$/.exec(file);
  return m ? Number(m[1]) : undefined;
}

/** The file's bytes, made in one buffer: the vectors are copied into it, so later additions do not reach the write. */
export function encodeSegment(minute: number, entries: readonly SegmentEntry[]): Buffer {
  const header = Buffer.from(
    JSON.stringify({
      v: 1,
      minute,
      endian: ENDIAN,
      series: entries.map(({ key, vector }) => [key.scope, key.name, key.series, vector.length]),
    }),
    'utf8',
  );
  let payload = 0;
  for (const { vector } of entries) payload += vector.byteLength;
  const out = Buffer.allocUnsafeSlow(PREFIX + header.length + payload);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(header.length, 8);
  header.copy(out, PREFIX);
  let at = PREFIX + header.length;
  for (const { vector } of entries) {
    out.set(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength), at);
    at += vector.byteLength;
  }
  out.writeUInt32LE(crc32(out.subarray(PREFIX)), 12);
  return out;
}

/** The minute and its series read back; throws, saying why, on anything that does not add up. */
export function decodeSegment(bytes: Uint8Array): { minute: number; entries: SegmentEntry[] } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < PREFIX || !buf.subarray(0, 8).equals(MAGIC)) throw new Error('not a monitoring minute segment');
  const headerLength = buf.readUInt32LE(8);
  if (PREFIX + headerLength > buf.length) throw new Error(`torn: ${buf.length} bytes, the header alone needs more`);
  const header = parseHeader(buf.toString('utf8', PREFIX, PREFIX + headerLength));
  const payload = buf.subarray(PREFIX + headerLength);
  const want = header.series.reduce((n, s) => n + s[3] * 8, 0);
  if (payload.length !== want) throw new Error(`torn: ${payload.length} bytes of values, the header lists ${want}`);
  if (crc32(buf.subarray(PREFIX)) !== buf.readUInt32LE(12)) throw new Error('checksum mismatch');
  if (header.endian !== ENDIAN) throw new Error(`written on a ${header.endian} machine, read on a ${ENDIAN} one`);
  const entries: SegmentEntry[] = [];
  let at = 0;
  for (const [scope, name, series, length] of header.series) {
    const vector = new Float64Array(length);
    new Uint8Array(vector.buffer).set(payload.subarray(at, at + length * 8));
    at += length * 8;
    for (const x of vector) if (!Number.isFinite(x)) throw new Error(`a value of ${name} ${series} is not finite`);
    entries.push({ key: { scope, name, series }, vector });
  }
  return { minute: header.minute, entries };
}

interface Header {
  minute: number;
  endian: string;
  series: ['route' | 'model', string, string, number][];
}

function parseHeader(text: string): Header {
  const h = JSON.parse(text) as Partial<Header> & { v?: unknown };
  if (h?.v !== 1 || !Number.isSafeInteger(h.minute) || typeof h.endian !== 'string' || !Array.isArray(h.series))
    throw new Error('bad header');
  for (const s of h.series as unknown[]) {
    if (
      !Array.isArray(s)
      || (s[0] !== 'route' && s[0] !== 'model')
      || typeof s[1] !== 'string'
      || typeof s[2] !== 'string'
      || !Number.isSafeInteger(s[3])
      || (s[3] as number) < 0
    )
      throw new Error('bad series in header');
  }
  return h as Header;
}

/** zlib's CRC-32 (Node ≥ 20.15, 22); the same sum by table on older Node 20 releases. */
const crc32: (data: Uint8Array) => number = (zlib as { crc32?: (data: Uint8Array) => number }).crc32 ?? tableCrc32;

let table: Uint32Array | undefined;
function tableCrc32(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
