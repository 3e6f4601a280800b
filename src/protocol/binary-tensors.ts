/**
 * The Open Inference Protocol's binary tensor data extension (what Triton's clients send by
 * default): a JSON header of `Inference-Header-Content-Length` bytes, then the raw little-endian
 * bytes of every tensor whose `parameters.binary_data_size` is set, in order. A BYTES tensor is
 * each element as a 4-byte little-endian length and then its bytes.
 */
import { DATATYPES, type Datatype, type NumericArray, type TensorValues } from './datatypes.js';
import { isHalfNonFinite } from './float16.js';
import { invalid } from './tensor-values.js';
import { allocateTensor } from './tensor-slab.js';

export const BINARY_EXTENSION = 'binary_tensor_data';

/** The header length from `Inference-Header-Content-Length`; throws 400 when it is not usable. */
export function headerLength(raw: string, bodyLength: number): number {
  if (!/^\d{1,10}$/.test(raw)) throw invalid('Inference-Header-Content-Length must be a whole number of bytes');
  const n = Number(raw);
  if (n < 2 || n > bodyLength)
    throw invalid(`Inference-Header-Content-Length (${n}) does not fit the ${bodyLength}-byte body`);
  return n;
}

/** Copies one tensor's bytes out of the body (aligned, owned) and checks its values. */
export function tensorFromBytes(
  binary: Buffer,
  offset: number,
  size: unknown,
  shape: readonly number[],
  datatype: Datatype,
  where: string,
): TensorValues {
  const info = DATATYPES[datatype];
  const count = shape.reduce((a, b) => a * b, 1);
  if (datatype === 'BYTES') {
    if (!Number.isInteger(size) || (size as number) < count * 4)
      throw invalid(`${where}: binary_data_size must be a whole number of bytes, at least 4 per BYTES element`);
  } else if (!Number.isInteger(size) || size !== count * info.bytes) {
    throw invalid(
      `${where}: binary_data_size must be ${count * info.bytes} bytes for ${datatype} of shape [${shape.join(', ')}]`,
    );
  }
  if (offset + (size as number) > binary.length)
    throw invalid(`${where}: binary data ends before this tensor's ${size as number} bytes`);
  if (datatype === 'BYTES') return stringsFromBytes(binary.subarray(offset, offset + (size as number)), count, where);
  const out = allocateTensor(datatype, count) as NumericArray;
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(binary.subarray(offset, offset + (size as number)));
  if (out instanceof Float32Array || out instanceof Float64Array) {
    for (let i = 0; i < count; i++) if (!Number.isFinite(out[i]!)) throw invalid(`${where}: value ${i} is not finite`);
  } else if (datatype === 'FP16') {
    for (let i = 0; i < count; i++)
      if (isHalfNonFinite(out[i] as number)) throw invalid(`${where}: value ${i} is not finite`);
  } else if (datatype === 'BOOL') {
    for (let i = 0; i < count; i++) if (out[i]! > 1) throw invalid(`${where}: BOOL values must be 0 or 1`);
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * `count` length-prefixed elements filling `bytes` exactly. onnxruntime-node passes strings as
 * UTF-8 and cuts them at a NUL, so bytes that are not UTF-8, or hold a NUL, are refused.
 */
function stringsFromBytes(bytes: Buffer, count: number, where: string): string[] {
  const out = new Array<string>(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) throw invalid(`${where}: binary data ends inside the length of BYTES element ${i}`);
    const length = bytes.readUInt32LE(at);
    at += 4;
    if (length > bytes.length - at) throw invalid(`${where}: BYTES element ${i} runs past binary_data_size`);
    const element = bytes.subarray(at, at + length);
    at += length;
    if (element.includes(0))
      throw invalid(`${where}: BYTES element ${i} contains a NUL byte, which ONNX strings cannot hold`);
    try {
      out[i] = utf8.decode(element);
    } catch {
      throw invalid(`${where}: BYTES element ${i} is not UTF-8, which ONNX Runtime for Node needs`);
    }
  }
  if (at !== bytes.length)
    throw invalid(`${where}: binary_data_size is ${bytes.length} bytes but the ${count} BYTES elements take ${at}`);
  return out;
}

/** The bytes of rows [first, first + rows) of an output, without copying a numeric tensor. */
export function outputBytes(data: TensorValues, rowSize: number, first: number, rows: number): Buffer {
  if (Array.isArray(data)) return stringBytes(data, first * rowSize, (first + rows) * rowSize);
  const bytes = data.BYTES_PER_ELEMENT;
  return Buffer.from(data.buffer, data.byteOffset + first * rowSize * bytes, rows * rowSize * bytes);
}

function stringBytes(data: string[], start: number, end: number): Buffer {
  let size = 0;
  for (let i = start; i < end; i++) size += 4 + Buffer.byteLength(data[i]!, 'utf8');
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = start; i < end; i++) {
    const n = out.write(data[i]!, at + 4, 'utf8');
    out.writeUInt32LE(n, at);
    at += 4 + n;
  }
  return out;
}
