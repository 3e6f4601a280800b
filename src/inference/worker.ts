/**
 * Inference worker (piscina, atomics disabled so BroadcastChannel messages arrive between tasks).
 * Holds one ONNX Runtime session per loaded version; runs one whole batch per task.
 */
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { ChannelMessage, InferResult, InferTask, LoadSpec, LoadTiming, WorkerOptions } from './messages.js';
import { createSession, fullBatchUs, runBatch } from './sessions.js';

// ONNX Runtime starts itself (some 50 ms) with the first session a thread creates: done here, so
// that time does not count as the first version's createMs, by which engine.ts screens versions.
// A private module of onnxruntime-node: if it moves, the first version simply pays for it.
await import('onnxruntime-node/dist/binding.js').then((b) => b.initOrt()).catch(() => undefined);

const options = workerData as WorkerOptions;
const channel = new BroadcastChannel(options.channel);
const sessions = new Map<string, Promise<ort.InferenceSession>>();
const specs = new Map<string, LoadSpec>();
/** How long creating each session held this thread, ms. */
const createMs = new Map<string, number>();

/** Sessions are created one at a time, so each one's createMs is its own. */
let creating: Promise<unknown> = Promise.resolve();
/**
 * Loads and probes under way. A thread terminated while ONNX Runtime works in it can abort the
 * whole process (onnxruntime-node throws into a dead thread), so the pool waits for these to end.
 */
const working = new Set<Promise<unknown>>();

function tracked<T>(work: Promise<T>): Promise<T> {
  working.add(work);
  const done = (): void => {
    working.delete(work);
  };
  work.then(done, done);
  return work;
}

function load(spec: LoadSpec): Promise<ort.InferenceSession> {
  let session = sessions.get(spec.key);
  if (!session) {
    session = creating
      .then(() => createSession(spec, options.intraOpThreads))
      .then((created) => {
        createMs.set(spec.key, created.createMs);
        return created.session;
      });
    creating = session.catch(() => undefined);
    sessions.set(spec.key, session);
    specs.set(spec.key, spec);
    session.catch(() => {
      sessions.delete(spec.key);
      specs.delete(spec.key);
    });
  }
  return session;
}

async function unload(key: string): Promise<void> {
  const session = sessions.get(key);
  sessions.delete(key);
  specs.delete(key);
  createMs.delete(key);
  if (session) await session.then((s) => s.release()).catch(() => undefined);
}

function reply(requestId: number, key: string, outcome: { error: string } | { timing: LoadTiming }): void {
  channel.postMessage({ op: 'loaded', requestId, threadId, key, ...outcome } satisfies ChannelMessage);
}

/** Loads a version and times it, so the main thread can tell whether it could hold it inline (see engine.ts). */
function loadTimed(spec: LoadSpec, probeRows: number): Promise<LoadTiming> {
  return tracked(
    (async () => {
      const session = await load(spec);
      const loadMs = createMs.get(spec.key) ?? 0;
      return probeRows > 0 ? { loadMs, batchUs: await fullBatchUs(session, spec, probeRows) } : { loadMs };
    })(),
  );
}

let closed: Promise<void> | undefined;

function close(): Promise<void> {
  closed ??= (async () => {
    while (working.size > 0) await Promise.allSettled([...working]);
    await Promise.allSettled([...sessions.keys()].map(unload));
  })();
  return closed.then(() => channel.postMessage({ op: 'closed', threadId } satisfies ChannelMessage));
}

let synced: (() => void) | undefined;
const ready = new Promise<void>((resolve) => {
  synced = resolve;
});

channel.onmessage = (event: unknown) => {
  const msg = (event as { data: ChannelMessage }).data;
  if (msg.op === 'load' && msg.threadId === threadId) {
    loadTimed(msg.spec, msg.probeRows).then(
      (timing) => reply(msg.requestId, msg.spec.key, { timing }),
      (e: Error) => reply(msg.requestId, msg.spec.key, { error: e.message }),
    );
  } else if (msg.op === 'unload') {
    void unload(msg.key);
  } else if (msg.op === 'close') {
    void close();
  } else if (msg.op === 'sync' && msg.threadId === threadId) {
    void Promise.allSettled(msg.specs.map((spec, i) => loadTimed(spec, msg.probeRows[i] ?? 0))).then((settled) => {
      const results: Record<string, { error: string } | { timing: LoadTiming }> = {};
      settled.forEach((r, i) => {
        results[msg.specs[i]!.key] =
          r.status === 'fulfilled' ? { timing: r.value } : { error: String((r.reason as Error).message) };
      });
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
  return move({
    [transferableSymbol]: [...new Set(result.outputs.flatMap((o) => (Array.isArray(o.data) ? [] : [o.data.buffer])))],
    [valueSymbol]: result,
  }) as unknown as InferResult;
}

/** piscina awaits this before the worker takes tasks: a replacement worker loads every live version first. */
export default ready.then(() => infer);
