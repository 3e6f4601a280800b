/**
 * Inference worker (piscina, atomics disabled so BroadcastChannel messages arrive between tasks).
 * Holds one ONNX Runtime session per loaded version; runs one whole batch per task.
 */
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { ChannelMessage, InferResult, InferTask, LoadSpec, WorkerOptions } from './messages.js';

const options = workerData as WorkerOptions;
const channel = new BroadcastChannel(options.channel);
const sessions = new Map<string, Promise<ort.InferenceSession>>();
const specs = new Map<string, LoadSpec>();

const sessionOptions: ort.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  intraOpNumThreads: options.intraOpThreads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
};

function zeros(type: string, length: number): ort.Tensor['data'] {
  switch (type) {
    case 'float32': return new Float32Array(length);
    case 'float64': return new Float64Array(length);
    case 'int64': return new BigInt64Array(length);
    case 'int32': return new Int32Array(length);
    case 'int16': return new Int16Array(length);
    case 'int8': return new Int8Array(length);
    case 'uint16': return new Uint16Array(length);
    default: return new Uint8Array(length);
  }
}

/** Runs a synthetic batch and checks what comes out, so a version that cannot serve never goes live. */
async function warm(session: ort.InferenceSession, spec: LoadSpec): Promise<void> {
  const rows = 2;
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of spec.inputs) {
    const size = input.rowShape.reduce((a, b) => a * b, 1);
    feeds[input.name] = new ort.Tensor(input.type as ort.Tensor.Type, zeros(input.type, rows * size), [rows, ...input.rowShape]);
  }
  const out = await session.run(feeds);
  for (const o of spec.outputs) {
    const t = out[o.name];
    if (!t) throw new Error(`warm-up: output "${o.name}" missing`);
    if (t.dims[0] !== rows || t.data.length !== rows * o.rowSize) throw new Error(`warm-up: output "${o.name}" has shape [${t.dims.join(', ')}], expected ${o.rowSize} values per row`);
    if (t.data instanceof Float32Array || t.data instanceof Float64Array) {
      for (const v of t.data) if (!Number.isFinite(v)) throw new Error(`warm-up: output "${o.name}" is not finite`);
    }
  }
}

function load(spec: LoadSpec): Promise<ort.InferenceSession> {
  let session = sessions.get(spec.key);
  if (!session) {
    session = ort.InferenceSession.create(spec.file, sessionOptions).then(async (s) => {
      await warm(s, spec);
      return s;
    });
    sessions.set(spec.key, session);
    specs.set(spec.key, spec);
    session.catch(() => { sessions.delete(spec.key); specs.delete(spec.key); });
  }
  return session;
}

async function unload(key: string): Promise<void> {
  const session = sessions.get(key);
  sessions.delete(key);
  specs.delete(key);
  if (session) await session.then((s) => s.release()).catch(() => undefined);
}

function reply(requestId: number, key: string, error?: string): void {
  const msg: ChannelMessage = error === undefined ? { op: 'loaded', requestId, threadId, key } : { op: 'loaded', requestId, threadId, key, error };
  channel.postMessage(msg);
}

let synced: (() => void) | undefined;
const ready = new Promise<void>((resolve) => { synced = resolve; });

channel.onmessage = (event: unknown) => {
  const msg = (event as { data: ChannelMessage }).data;
  if (msg.op === 'load') {
    load(msg.spec).then(() => reply(msg.requestId, msg.spec.key), (e: Error) => reply(msg.requestId, msg.spec.key, e.message));
  } else if (msg.op === 'unload') {
    void unload(msg.key);
  } else if (msg.op === 'sync' && msg.threadId === threadId) {
    void Promise.allSettled(msg.specs.map(load)).then((settled) => {
      const results: Record<string, string | null> = {};
      settled.forEach((r, i) => { results[msg.specs[i]!.key] = r.status === 'fulfilled' ? null : String((r.reason as Error).message); });
      channel.postMessage({ op: 'synced', threadId, results } satisfies ChannelMessage);
      synced?.();
    });
  }
};
channel.postMessage({ op: 'hello', threadId } satisfies ChannelMessage);

async function infer(task: InferTask): Promise<InferResult> {
  const spec = specs.get(task.key);
  const session = await sessions.get(task.key);
  if (!spec || !session) throw new Error(`${task.key} is not loaded in this worker`);
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of task.inputs) feeds[input.name] = new ort.Tensor(input.type as ort.Tensor.Type, input.data as ort.Tensor['data'], input.dims);
  const started = process.hrtime.bigint();
  const out = await session.run(feeds);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const outputs = spec.outputs.map(({ name }) => {
    const t = out[name]!;
    return { name, type: t.type as InferTask['inputs'][number]['type'], dims: [...t.dims], data: t.data as InferTask['inputs'][number]['data'] };
  });
  // Move the output buffers back instead of cloning them.
  const result: InferResult = { outputs, seconds };
  return move({ [transferableSymbol]: [...new Set(outputs.map((o) => o.data.buffer))], [valueSymbol]: result }) as unknown as InferResult;
}

/** piscina awaits this before the worker takes tasks: a replacement worker loads every live version first. */
export default ready.then(() => infer);
