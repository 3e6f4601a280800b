/**
 * Strict conversion of JSON values into typed tensors: shapes, types, finiteness and ranges are
 * checked here, before anything reaches a worker.
 */
import { CroupierError } from '../errors.js';
import { DATATYPES, type Datatype, type TensorValues } from './datatypes.js';
import { toHalfBits } from './float16.js';
import { allocateTensor } from './tensor-slab.js';

export function invalid(message: string): CroupierError {
  return new CroupierError('invalid_request', message);
}

const FP32_MAX = 3.4028234663852886e38;

/** `where` and `key` name the value in an error; the name is only built when there is one. */
function place(where: string, key: string | number | undefined): string {
  return key === undefined ? where : typeof key === 'number' ? `${where}[${key}]` : `${where}.${key}`;
}

/** Writes one JSON value into `out[at]`, checking it fits the datatype. */
export function writeValue(
  out: TensorValues,
  at: number,
  value: unknown,
  datatype: Datatype,
  where: string,
  key?: string | number,
): void {
  // The common case, a finite float32 number, costs two comparisons (NaN fails both).
  if (datatype === 'FP32' && typeof value === 'number' && value >= -FP32_MAX && value <= FP32_MAX) {
    out[at] = value;
    return;
  }
  switch (datatype) {
    case 'BOOL':
      if (typeof value === 'boolean') out[at] = value ? 1 : 0;
      else if (value === 0 || value === 1) out[at] = value;
      else throw invalid(`${place(where, key)} must be true or false`);
      return;
    case 'BYTES':
      writeString(out as string[], at, value, where, key);
      return;
    case 'INT64':
    case 'UINT64':
      (out as BigInt64Array)[at] = bigIntValue(value, datatype, where, key);
      return;
  }
  if (typeof value !== 'number')
    throw invalid(`${place(where, key)} must be a number, got ${value === null ? 'null' : typeof value}`);
  const info = DATATYPES[datatype];
  if (!Number.isFinite(value)) throw invalid(`${place(where, key)} must be finite`);
  if (info.integer && !Number.isInteger(value))
    throw invalid(`${place(where, key)} must be an integer for ${datatype}`);
  if (value < info.min || value > info.max) throw invalid(`${place(where, key)} is out of range for ${datatype}`);
  out[at] = datatype === 'FP16' ? toHalfBits(value) : value;
}

/**
 * ONNX strings are C strings to onnxruntime-node: it cuts a value at its first NUL, so the model
 * would see another value than the one sent. Refused rather than cut silently.
 */
function writeString(out: string[], at: number, value: unknown, where: string, key?: string | number): void {
  if (typeof value !== 'string')
    throw invalid(`${place(where, key)} must be a string, got ${value === null ? 'null' : typeof value}`);
  if (value.includes('\0'))
    throw invalid(`${place(where, key)} contains a NUL character, which ONNX strings cannot hold`);
  out[at] = value;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const DECIMAL = /^-?(0|[1-9]\d{0,19})$/;

/**
 * A 64-bit integer, exactly. JSON.parse has already turned a literal beyond 2^53 into the nearest
 * double, so such a number (never a safe integer, whatever digits were sent) is refused rather
 * than served rounded; the exact value may be sent as a string of decimal digits instead.
 */
function bigIntValue(value: unknown, datatype: 'INT64' | 'UINT64', where: string, key?: string | number): bigint {
  let n: bigint;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(`${place(where, key)} must be finite`);
    if (!Number.isInteger(value)) throw invalid(`${place(where, key)} must be an integer for ${datatype}`);
    if (!Number.isSafeInteger(value))
      throw invalid(
        `${place(where, key)} is beyond ±(2^53 - 1), where JSON numbers are not exact: send it as a string of decimal digits, or use the binary tensor extension`,
      );
    n = BigInt(value);
  } else if (typeof value === 'string' && DECIMAL.test(value)) {
    n = BigInt(value);
  } else {
    throw invalid(
      `${place(where, key)} must be an integer (or a string of decimal digits) for ${datatype}, got ${value === null ? 'null' : typeof value === 'string' ? 'a string that is not one' : typeof value}`,
    );
  }
  if (datatype === 'INT64' ? n < INT64_MIN || n > INT64_MAX : n < 0n || n > UINT64_MAX)
    throw invalid(`${place(where, key)} is out of range for ${datatype}`);
  return n;
}

/**
 * Flattens row-major data (flat or nested lists) of `total` values into a new typed array.
 * Nested lists must match `shape` exactly.
 */
export function flattenData(data: unknown, shape: readonly number[], datatype: Datatype, where: string): TensorValues {
  const total = shape.reduce((a, b) => a * b, 1);
  const out = allocateTensor(datatype, total);
  if (!Array.isArray(data)) throw invalid(`${where}.data must be a list`);
  if (data.length === total && (total === 0 || !Array.isArray(data[0]))) {
    for (let i = 0; i < total; i++) writeValue(out, i, data[i], datatype, `${where}.data`, i);
    return out;
  }
  let at = 0;
  const walk = (node: unknown, depth: number): void => {
    if (!Array.isArray(node) || node.length !== shape[depth])
      throw invalid(`${where}.data does not match shape [${shape.join(', ')}] (${total} values, flat or nested)`);
    if (depth === shape.length - 1) {
      for (const v of node) {
        writeValue(out, at, v, datatype, `${where}.data`, at);
        at++;
      }
    } else {
      for (const child of node) walk(child, depth + 1);
    }
  };
  walk(data, 0);
  return out;
}
