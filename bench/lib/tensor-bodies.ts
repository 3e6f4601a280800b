// V2 infer request bodies for a batch of rows: JSON, and the binary tensor data extension as
// Triton's clients send it (JSON header of Inference-Header-Content-Length bytes, then raw FP32).
import { writeFileSync } from 'node:fs';

/** Deterministic rows in [-1, 1), rounded to 4 decimals so the JSON is what a client would send. */
export function makeRows(rows: number, width: number, seed = 7): Float32Array {
  const out = new Float32Array(rows * width);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = Math.round(((s / 2147483648) * 2 - 1) * 1e4) / 1e4;
  }
  return out;
}

export interface InferBody {
  /** Bytes to POST. */
  bytes: Buffer;
  contentType: string;
  /** Extra request headers (the binary header length). */
  headers: Record<string, string>;
}

export function jsonInferBody(data: Float32Array, rows: number, width: number, input = 'features'): InferBody {
  // Numbers as the rounded decimals, not float32 expansions: the same text a JSON client sends.
  const values = Array.from(data, (v) => Math.round(v * 1e4) / 1e4);
  const body = { inputs: [{ name: input, datatype: 'FP32', shape: [rows, width], data: values }] };
  return { bytes: Buffer.from(JSON.stringify(body)), contentType: 'application/json', headers: {} };
}

export function binaryInferBody(
  data: Float32Array,
  rows: number,
  width: number,
  output: string,
  input = 'features',
): InferBody {
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        { name: input, datatype: 'FP32', shape: [rows, width], parameters: { binary_data_size: data.byteLength } },
      ],
      outputs: [{ name: output, parameters: { binary_data: true } }],
    }),
  );
  return {
    bytes: Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]),
    contentType: 'application/octet-stream',
    headers: { 'Inference-Header-Content-Length': String(header.length) },
  };
}

/** The environment bench/post-file.lua reads, after writing the body to `file`. */
export function wrkEnvFor(body: InferBody, file: string, countStatus = false): Record<string, string> {
  writeFileSync(file, body.bytes);
  return {
    BENCH_BODY_FILE: file,
    BENCH_CONTENT_TYPE: body.contentType,
    BENCH_HEADERS: Object.entries(body.headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n'),
    ...(countStatus ? { BENCH_COUNT_STATUS: '1' } : {}),
  };
}
