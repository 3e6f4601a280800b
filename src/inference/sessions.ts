/**
 * ONNX Runtime sessions, as both places that run batches use them: inference workers, and the main
 * thread for versions small enough to run inline (see inline.ts). Creating a session warms it with
 * a synthetic batch and checks what comes out, so a version that cannot serve never goes live.
 */
import * as ort from 'onnxruntime-node';
import { DATATYPES, datatypeFromOrt } from '../protocol/datatypes.js';
import { isHalfNonFinite } from '../protocol/float16.js';
import type { InferResult, InferTask, LoadSpec, OrtType, TensorData } from './messages.js';

/** Zeros (or empty strings) of ONNX Runtime type `type`. */
function zeros(type: OrtType, length: number): TensorData['data'] {
  return DATATYPES[datatypeFromOrt(type)!].create(length);
}

/** A batch of `rows` rows of zeros for every input. */
export function syntheticTask(spec: LoadSpec, rows: number): InferTask {
  return {
    key: spec.key,
    rows,
    inputs: spec.inputs.map((input) => {
      const size = input.rowShape.reduce((a, b) => a * b, 1);
      return {
        name: input.name,
        type: input.type,
        dims: [rows, ...input.rowShape],
        data: zeros(input.type, rows * size),
      };
    }),
  };
}

/** Runs one batch; the outputs keep ONNX Runtime's buffers (the caller may transfer them). */
export async function runBatch(session: ort.InferenceSession, spec: LoadSpec, task: InferTask): Promise<InferResult> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of task.inputs)
    feeds[input.name] = new ort.Tensor(input.type as ort.Tensor.Type, input.data as ort.Tensor['data'], input.dims);
  // onnxruntime-node runs the session in a setImmediate of its own, so timing the call would count
  // a turn of the event loop (hundreds of µs on a busy main thread) as inference. This immediate,
  // queued first, runs just before it.
  let started = process.hrtime.bigint();
  setImmediate(() => {
    started = process.hrtime.bigint();
  });
  const out = await session.run(feeds);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const outputs = spec.outputs.map(({ name }) => {
    const t = out[name];
    if (!t) throw new Error(`${spec.key}: output "${name}" missing`);
    return { name, type: t.type as TensorData['type'], dims: [...t.dims], data: t.data as TensorData['data'] };
  });
  return { outputs, seconds };
}

async function warm(session: ort.InferenceSession, spec: LoadSpec): Promise<void> {
  const rows = 2;
  const { outputs } = await runBatch(session, spec, syntheticTask(spec, rows));
  for (const o of spec.outputs) {
    const t = outputs.find((x) => x.name === o.name)!;
    if (t.dims[0] !== rows || t.data.length !== rows * o.rowSize)
      throw new Error(
        `warm-up: output "${o.name}" has shape [${t.dims.join(', ')}], expected ${o.rowSize} values per row`,
      );
    if (t.data instanceof Float32Array || t.data instanceof Float64Array) {
      for (const v of t.data) if (!Number.isFinite(v)) throw new Error(`warm-up: output "${o.name}" is not finite`);
    } else if (t.type === 'float16') {
      for (const v of t.data as Uint16Array)
        if (isHalfNonFinite(v)) throw new Error(`warm-up: output "${o.name}" is not finite`);
    }
  }
}

/**
 * Creates and warms a session for `spec`; released again if the warm-up fails. `createMs` is how
 * long ONNX Runtime held the thread creating it: like session.run, it works in a setImmediate of
 * its own, all at once, and this immediate, queued first, runs just before it.
 */
export async function createSession(
  spec: LoadSpec,
  intraOpThreads: number,
): Promise<{ session: ort.InferenceSession; createMs: number }> {
  let started = performance.now();
  setImmediate(() => {
    started = performance.now();
  });
  const session = await ort.InferenceSession.create(spec.file, {
    executionProviders: ['cpu'],
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const createMs = performance.now() - started;
  try {
    await warm(session, spec);
  } catch (e) {
    await session.release().catch(() => undefined);
    throw e;
  }
  return { session, createMs };
}

/** The fastest of up to `runs` batches of `rows` rows, in µs (stops early once a batch is plainly slow). */
export async function fullBatchUs(
  session: ort.InferenceSession,
  spec: LoadSpec,
  rows: number,
  runs = 3,
): Promise<number> {
  const task = syntheticTask(spec, rows);
  let best = Infinity;
  for (let i = 0; i < runs && (i === 0 || best < 10_000); i++)
    best = Math.min(best, (await runBatch(session, spec, task)).seconds * 1e6);
  return best;
}
