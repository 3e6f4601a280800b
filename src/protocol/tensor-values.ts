/**
 * Strict conversion of JSON values into typed tensors: shapes, types, finiteness and ranges are
 * checked here, before anything reaches a worker.
 */
import { CroupierError } from '../errors.js';
import { DATATYPES, type Datatype, type NumericArray } from './datatypes.js';
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
  out: NumericArray,
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
  if (datatype === 'BOOL') {
    if (typeof value === 'boolean') out[at] = value ? 1 : 0;
    else if (value === 0 || value === 1) out[at] = value;
    else throw invalid(`${place(where, key)} must be true or false`);
    return;
  }
  if (typeof value !== 'number')
    throw invalid(`${place(where, key)} must be a number, got ${value === null ? 'null' : typeof value}`);
  const info = DATATYPES[datatype];
  if (!Number.isFinite(value)) throw invalid(`${place(where, key)} must be finite`);
  if (info.integer && !Number.isInteger(value))
    throw invalid(`${place(where, key)} must be an integer for ${datatype}`);
  if (value < info.min || value > info.max) throw invalid(`${place(where, key)} is out of range for ${datatype}`);
  if (out instanceof BigInt64Array) out[at] = BigInt(value);
  else out[at] = value;
}

/**
 * Flattens row-major data (flat or nested lists) of `total` values into a new typed array.
 * Nested lists must match `shape` exactly.
 */
export function flattenData(data: unknown, shape: readonly number[], datatype: Datatype, where: string): NumericArray {
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
