/** The typed protocol between the main thread and inference workers. */
import type { OrtType, TensorValues } from '../protocol/datatypes.js';

export type { OrtType };

/** What a worker needs to load, warm and check one model version. */
export interface LoadSpec {
  key: string;
  file: string;
  inputs: { name: string; type: OrtType; rowShape: number[] }[];
  outputs: { name: string; rowSize: number }[];
}

export interface WorkerOptions {
  channel: string;
  intraOpThreads: number;
}

export interface TensorData {
  name: string;
  type: OrtType;
  dims: number[];
  data: TensorValues;
}

/** Only what changes per batch crosses the thread boundary: the worker knows the version by key. */
export interface InferTask {
  key: string;
  rows: number;
  inputs: TensorData[];
}

export interface InferResult {
  outputs: TensorData[];
  /** Seconds spent in session.run. */
  seconds: number;
}

/** How long a version took to load in a worker, and to score a full batch there (the inline screen). */
export interface LoadTiming {
  /** How long creating the session held the worker, ms: about what creating it on the main thread would hold the event loop. */
  loadMs: number;
  /** The fastest of a few full batches (`probeRows` rows), µs; absent when none was asked for. */
  batchUs?: number;
}

/** BroadcastChannel messages. A load is for one worker (`threadId`): they load one at a time. */
export type ChannelMessage =
  | { op: 'load'; requestId: number; threadId: number; spec: LoadSpec; probeRows: number }
  | { op: 'unload'; key: string }
  | { op: 'hello'; threadId: number }
  | { op: 'sync'; threadId: number; specs: LoadSpec[]; probeRows: number[] }
  | { op: 'synced'; threadId: number; results: Record<string, { error: string } | { timing: LoadTiming }> }
  | { op: 'loaded'; requestId: number; threadId: number; key: string; error?: string; timing?: LoadTiming }
  /** The pool is closing: finish what ONNX Runtime is doing, release every session, then say so. */
  | { op: 'close' }
  | { op: 'closed'; threadId: number };
