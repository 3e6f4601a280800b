/** Open Inference Protocol datatypes that Croupier moves between JSON, binary and ONNX Runtime. */
export type Datatype = 'FP32' | 'FP64' | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'UINT8' | 'UINT16' | 'BOOL';

export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array;

interface DatatypeInfo {
  /** ONNX Runtime tensor type name. */
  ort: 'float32' | 'float64' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'bool';
  bytes: number;
  create: (length: number) => NumericArray;
  /** A view on part of a shared buffer (see tensor-slab.ts). */
  view: (buffer: ArrayBuffer, byteOffset: number, length: number) => NumericArray;
  integer: boolean;
  min: number;
  max: number;
}

export const DATATYPES: Readonly<Record<Datatype, DatatypeInfo>> = {
  FP32: {
    ort: 'float32',
    bytes: 4,
    create: (n) => new Float32Array(n),
    view: (b, o, n) => new Float32Array(b, o, n),
    integer: false,
    min: -3.4028234663852886e38,
    max: 3.4028234663852886e38,
  },
  FP64: {
    ort: 'float64',
    bytes: 8,
    create: (n) => new Float64Array(n),
    view: (b, o, n) => new Float64Array(b, o, n),
    integer: false,
    min: -Number.MAX_VALUE,
    max: Number.MAX_VALUE,
  },
  INT8: {
    ort: 'int8',
    bytes: 1,
    create: (n) => new Int8Array(n),
    view: (b, o, n) => new Int8Array(b, o, n),
    integer: true,
    min: -128,
    max: 127,
  },
  INT16: {
    ort: 'int16',
    bytes: 2,
    create: (n) => new Int16Array(n),
    view: (b, o, n) => new Int16Array(b, o, n),
    integer: true,
    min: -32768,
    max: 32767,
  },
  INT32: {
    ort: 'int32',
    bytes: 4,
    create: (n) => new Int32Array(n),
    view: (b, o, n) => new Int32Array(b, o, n),
    integer: true,
    min: -2147483648,
    max: 2147483647,
  },
  INT64: {
    ort: 'int64',
    bytes: 8,
    create: (n) => new BigInt64Array(n),
    view: (b, o, n) => new BigInt64Array(b, o, n),
    integer: true,
    min: Number.MIN_SAFE_INTEGER,
    max: Number.MAX_SAFE_INTEGER,
  },
  UINT8: {
    ort: 'uint8',
    bytes: 1,
    create: (n) => new Uint8Array(n),
    view: (b, o, n) => new Uint8Array(b, o, n),
    integer: true,
    min: 0,
    max: 255,
  },
  UINT16: {
    ort: 'uint16',
    bytes: 2,
    create: (n) => new Uint16Array(n),
    view: (b, o, n) => new Uint16Array(b, o, n),
    integer: true,
    min: 0,
    max: 65535,
  },
  BOOL: {
    ort: 'bool',
    bytes: 1,
    create: (n) => new Uint8Array(n),
    view: (b, o, n) => new Uint8Array(b, o, n),
    integer: true,
    min: 0,
    max: 1,
  },
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

/** Values as JSON numbers (int64 within the safe range; booleans as true/false). */
export function toJsonArray(
  data: NumericArray,
  datatype: Datatype,
  start = 0,
  end = data.length,
): (number | boolean)[] {
  const out = new Array<number | boolean>(end - start);
  if (datatype === 'BOOL') for (let i = start; i < end; i++) out[i - start] = data[i] !== 0;
  else if (data instanceof BigInt64Array) for (let i = start; i < end; i++) out[i - start] = Number(data[i]);
  else for (let i = start; i < end; i++) out[i - start] = data[i] as number;
  return out;
}
