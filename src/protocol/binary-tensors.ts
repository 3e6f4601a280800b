/**
 * The Open Inference Protocol's binary tensor data extension (what Triton's clients send by
 * default): a JSON header of `Inference-Header-Content-Length` bytes, then the raw little-endian
 * bytes of every tensor whose `parameters.binary_data_size` is set, in order.
 */
import { DATATYPES, type Datatype, type NumericArray } from './datatypes.js';
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
): NumericArray {
  const info = DATATYPES[datatype];
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(size) || size !== count * info.bytes)
    throw invalid(
      `${where}: binary_data_size must be ${count * info.bytes} bytes for ${datatype} of shape [${shape.join(', ')}]`,
    );
  if (offset + (size as number) > binary.length)
    throw invalid(`${where}: binary data ends before this tensor's ${size as number} bytes`);
  const out = allocateTensor(datatype, count);
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(binary.subarray(offset, offset + (size as number)));
  if (out instanceof Float32Array || out instanceof Float64Array) {
    for (let i = 0; i < count; i++) if (!Number.isFinite(out[i]!)) throw invalid(`${where}: value ${i} is not finite`);
  } else if (datatype === 'BOOL') {
    for (let i = 0; i < count; i++) if (out[i]! > 1) throw invalid(`${where}: BOOL values must be 0 or 1`);
  }
  return out;
}

/** The bytes of rows [first, first + rows) of an output, without copying the tensor. */
export function outputBytes(data: NumericArray, rowSize: number, first: number, rows: number): Buffer {
  const bytes = data.BYTES_PER_ELEMENT;
  return Buffer.from(data.buffer, data.byteOffset + first * rowSize * bytes, rows * rowSize * bytes);
}
