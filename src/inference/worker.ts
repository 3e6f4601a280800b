/**
 * Inference worker (piscina, atomics disabled so BroadcastChannel messages arrive between tasks).
 * Holds one ONNX Runtime session per loaded version; runs one whole batch per task.
 */
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { ChannelMessage, InferResult, InferTask, LoadSpec, WorkerOptions } from './messages.js';
import { createSession, runBatch } from './sessions.js';

const options = workerData as WorkerOptions;
const channel = new BroadcastChannel(options.channel);
const sessions = new Map<string, Promise<ort.InferenceSession>>();
const specs = new Map<string, LoadSpec>();

function load(spec: LoadSpec): Promise<ort.InferenceSession> {
  let session = sessions.get(spec.key);
  if (!session) {
    session = createSession(spec, options.intraOpThreads);
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
  const result = await runBatch(session, spec, task);
  // Move the output buffers back instead of cloning them.
  return move({ [transferableSymbol]: [...new Set(result.outputs.map((o) => o.data.buffer))], [valueSymbol]: result }) as unknown as InferResult;
}

/** piscina awaits this before the worker takes tasks: a replacement worker loads every live version first. */
export default ready.then(() => infer);
