/**
 * Open Inference Protocol datatypes that Croupier moves between JSON, binary and ONNX Runtime:
 * every one that onnxruntime-node can hold. BF16 is the exception (its tensors fail in
 * onnxruntime-node with "Unsupported data type"): a manifest or graph using it is refused at load.
 */
import { fromHalfBits } from './float16.js';

export type Datatype =
  | 'BOOL'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BYTES';

export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

/** A tensor's values: typed numbers, or (BYTES, ONNX string tensors) strings. */
export type TensorValues = NumericArray | string[];

export type OrtType =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'string';

interface DatatypeInfo {
  /** ONNX Runtime tensor type name. */
  ort: OrtType;
  /** The ONNX TensorProto.DataType of the graph's tensors. */
  onnx: number;
  /** Bytes per value in the binary tensor extension; 0 for BYTES (length-prefixed, see binary-tensors.ts). */
  bytes: number;
  create: (length: number) => TensorValues;
  /**
   * A view on part of a shared buffer (see tensor-slab.ts). BYTES has no bytes to share: its
   * "view" is a fresh list of empty strings, and with `bytes` 0 the slab gives it no room.
   */
  view: (buffer: ArrayBuffer, byteOffset: number, length: number) => TensorValues;
  integer: boolean;
  /** The range of a JSON number (INT64 and UINT64 are checked as BigInts, BOOL and BYTES by kind: see tensor-values.ts). */
  min: number;
  max: number;
}

const strings = (n: number): string[] => new Array<string>(n).fill('');

export const DATATYPES: Readonly<Record<Datatype, DatatypeInfo>> = {
  FP32: {
    ort: 'float32',
    onnx: 1,
    bytes: 4,
    create: (n) => new Float32Array(n),
    view: (b, o, n) => new Float32Array(b, o, n),
    integer: false,
    min: -3.4028234663852886e38,
    max: 3.4028234663852886e38,
  },
  FP64: {
    ort: 'float64',
    onnx: 11,
    bytes: 8,
    create: (n) => new Float64Array(n),
    view: (b, o, n) => new Float64Array(b, o, n),
    integer: false,
    min: -Number.MAX_VALUE,
    max: Number.MAX_VALUE,
  },
  FP16: {
    ort: 'float16',
    onnx: 10,
    bytes: 2,
    create: (n) => new Uint16Array(n),
    view: (b, o, n) => new Uint16Array(b, o, n),
    integer: false,
    min: -65504,
    max: 65504,
  },
  INT8: {
    ort: 'int8',
    onnx: 3,
    bytes: 1,
    create: (n) => new Int8Array(n),
    view: (b, o, n) => new Int8Array(b, o, n),
    integer: true,
    min: -128,
    max: 127,
  },
  INT16: {
    ort: 'int16',
    onnx: 5,
    bytes: 2,
    create: (n) => new Int16Array(n),
    view: (b, o, n) => new Int16Array(b, o, n),
    integer: true,
    min: -32768,
    max: 32767,
  },
  INT32: {
    ort: 'int32',
    onnx: 6,
    bytes: 4,
    create: (n) => new Int32Array(n),
    view: (b, o, n) => new Int32Array(b, o, n),
    integer: true,
    min: -2147483648,
    max: 2147483647,
  },
  INT64: {
    ort: 'int64',
    onnx: 7,
    bytes: 8,
    create: (n) => new BigInt64Array(n),
    view: (b, o, n) => new BigInt64Array(b, o, n),
    integer: true,
    min: Number.MIN_SAFE_INTEGER,
    max: Number.MAX_SAFE_INTEGER,
  },
  UINT8: {
    ort: 'uint8',
    onnx: 2,
    bytes: 1,
    create: (n) => new Uint8Array(n),
    view: (b, o, n) => new Uint8Array(b, o, n),
    integer: true,
    min: 0,
    max: 255,
  },
  UINT16: {
    ort: 'uint16',
    onnx: 4,
    bytes: 2,
    create: (n) => new Uint16Array(n),
    view: (b, o, n) => new Uint16Array(b, o, n),
    integer: true,
    min: 0,
    max: 65535,
  },
  UINT32: {
    ort: 'uint32',
    onnx: 12,
    bytes: 4,
    create: (n) => new Uint32Array(n),
    view: (b, o, n) => new Uint32Array(b, o, n),
    integer: true,
    min: 0,
    max: 4294967295,
  },
  UINT64: {
    ort: 'uint64',
    onnx: 13,
    bytes: 8,
    create: (n) => new BigUint64Array(n),
    view: (b, o, n) => new BigUint64Array(b, o, n),
    integer: true,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
  },
  BOOL: {
    ort: 'bool',
    onnx: 9,
    bytes: 1,
    create: (n) => new Uint8Array(n),
    view: (b, o, n) => new Uint8Array(b, o, n),
    integer: true,
    min: 0,
    max: 1,
  },
  BYTES: {
    ort: 'string',
    onnx: 8,
    bytes: 0,
    create: strings,
    view: (_b, _o, n) => strings(n),
    integer: false,
    min: 0,
    max: 0,
  },
};

/** Every datatype, in the protocol's order (for messages and docs). */
export const DATATYPE_NAMES: readonly Datatype[] = [
  'BOOL',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
];

/** Protocol datatypes onnxruntime-node cannot hold, with the reason a manifest naming one is refused. */
export const UNSUPPORTED_DATATYPES: Readonly<Record<string, string>> = {
  BF16: 'BF16 tensors cannot be held by onnxruntime-node (it fails on them with "Unsupported data type"); export the model with FP16 or FP32 inputs and outputs',
};

export function isDatatype(x: unknown): x is Datatype {
  return typeof x === 'string' && Object.hasOwn(DATATYPES, x);
}

const FROM_ORT: Record<string, Datatype> = Object.fromEntries(
  Object.entries(DATATYPES).map(([k, v]) => [v.ort, k as Datatype]),
);

export function datatypeFromOrt(type: string): Datatype | undefined {
  return FROM_ORT[type];
}

const FROM_ONNX = new Map(Object.entries(DATATYPES).map(([k, v]) => [v.onnx, k as Datatype]));

/** The protocol datatype of an ONNX TensorProto.DataType (undefined when there is none). */
export function datatypeFromOnnx(elemType: number): Datatype | undefined {
  return FROM_ONNX.get(elemType);
}

/** JSON text of one value: exact decimal digits for 64-bit integers, numbers for halves, null for non-finite floats. */
export function jsonValue(data: TensorValues, i: number, datatype: Datatype): string {
  const v = data[i]!;
  switch (datatype) {
    case 'BOOL':
      return v !== 0 ? 'true' : 'false';
    case 'BYTES':
      return JSON.stringify(v);
    case 'FP16': {
      const x = fromHalfBits(v as number);
      return Number.isFinite(x) ? String(x) : 'null';
    }
    case 'FP32':
    case 'FP64':
      return Number.isFinite(v) ? String(v) : 'null';
    default:
      // Integers, including int64/uint64 as BigInt: their decimal digits, never through a double.
      return String(v);
  }
}

/** The JSON list text of values [start, end); floats (the common case) in a loop of their own. */
export function jsonArray(data: TensorValues, datatype: Datatype, start = 0, end = data.length): string {
  let json = '[';
  if (datatype === 'FP32' || datatype === 'FP64') {
    const floats = data as Float32Array | Float64Array;
    for (let i = start; i < end; i++) {
      const v = floats[i]!;
      json += (i > start ? ',' : '') + (Number.isFinite(v) ? String(v) : 'null');
    }
  } else {
    for (let i = start; i < end; i++) json += (i > start ? ',' : '') + jsonValue(data, i, datatype);
  }
  return json + ']';
}
