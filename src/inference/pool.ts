/**
 * The inference worker pool: piscina with a fixed number of workers, at most one batch in flight
 * per worker, and a broadcast path (piscina has none) that loads a version into every worker.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { ChannelMessage, InferResult, InferTask, LoadSpec, LoadTiming, WorkerOptions } from './messages.js';

/** The compiled worker; when the main thread runs from TypeScript sources (tests), the built one in dist/. */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const file = here.endsWith('.ts') ? fileURLToPath(new URL('../../dist/inference/worker.js', import.meta.url)) : fileURLToPath(new URL('./worker.js', import.meta.url));
  if (!existsSync(file)) throw new Error(`inference worker ${file} is missing: run npm run build`);
  return file;
}

/**
 * Batches in flight per worker. Two, not one: while a worker runs one batch, the next is already
 * posted, so neither the main thread nor the worker waits for the other's hand-off (measured in
 * bench/RESULTS.md). Batches still form, because a third must wait for a free slot.
 */
const TASKS_PER_WORKER = 2;

interface PendingLoad {
  key: string;
  waiting: Set<number>;
  errors: string[];
  /** The fastest worker's figures (a worker busy with batches only adds time). */
  timing: LoadTiming | undefined;
  resolve: (timing: LoadTiming | undefined) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

function fastest(a: LoadTiming | undefined, b: LoadTiming): LoadTiming {
  if (!a) return b;
  const batchUs = a.batchUs === undefined || b.batchUs === undefined ? a.batchUs ?? b.batchUs : Math.min(a.batchUs, b.batchUs);
  return batchUs === undefined ? { loadMs: Math.min(a.loadMs, b.loadMs) } : { loadMs: Math.min(a.loadMs, b.loadMs), batchUs };
}

export interface PoolOptions {
  workers: number;
  intraOpThreads: number;
  loadTimeoutMs?: number;
}

export class InferencePool {
  readonly size: number;
  private readonly piscina: Piscina;
  private readonly channel: BroadcastChannel;
  private readonly specs = new Map<string, LoadSpec>();
  /** Rows of the batch to time for each version still loading (a worker that starts meanwhile times it too). */
  private readonly probeRows = new Map<string, number>();
  private readonly loads = new Map<number, PendingLoad>();
  private readonly loadTimeoutMs: number;
  private nextRequestId = 1;
  private inFlight = 0;
  /** Called whenever a worker frees up, so batchers waiting for capacity can flush. */
  onCapacity: () => void = () => {};

  constructor(options: PoolOptions) {
    this.size = options.workers;
    this.loadTimeoutMs = options.loadTimeoutMs ?? 120_000;
    const channelName = `croupier:${randomUUID()}`;
    this.channel = new BroadcastChannel(channelName);
    this.channel.onmessage = (event: unknown) => this.onChannel((event as { data: ChannelMessage }).data);
    const workerData: WorkerOptions = { channel: channelName, intraOpThreads: options.intraOpThreads };
    this.piscina = new Piscina({
      filename: workerFile(),
      minThreads: options.workers,
      maxThreads: options.workers,
      concurrentTasksPerWorker: TASKS_PER_WORKER,
      idleTimeout: Infinity,
      atomics: 'disabled',
      workerData,
    });
  }

  private onChannel(msg: ChannelMessage): void {
    if (msg.op === 'hello') {
      // A new (or replacement) worker: it loads every version we serve before it takes tasks.
      const specs = [...this.specs.values()];
      const sync: ChannelMessage = { op: 'sync', threadId: msg.threadId, specs, probeRows: specs.map((s) => this.probeRows.get(s.key) ?? 0) };
      this.channel.postMessage(sync);
    } else if (msg.op === 'loaded') {
      const load = this.loads.get(msg.requestId);
      if (!load) return;
      if (msg.error !== undefined) load.errors.push(msg.error);
      if (msg.timing) load.timing = fastest(load.timing, msg.timing);
      load.waiting.delete(msg.threadId);
      this.settle(msg.requestId, load);
    } else if (msg.op === 'synced') {
      // A worker that started after a load was posted got that version through `sync` instead.
      for (const [requestId, load] of this.loads) {
        if (!load.waiting.has(msg.threadId) || !(load.key in msg.results)) continue;
        const result = msg.results[load.key]!;
        if ('error' in result) load.errors.push(result.error);
        else load.timing = fastest(load.timing, result.timing);
        load.waiting.delete(msg.threadId);
        this.settle(requestId, load);
      }
    }
  }

  private settle(requestId: number, load: PendingLoad): void {
    const live = new Set(this.piscina.threads.map((t) => t.threadId));
    for (const id of load.waiting) if (!live.has(id)) load.waiting.delete(id);
    if (load.waiting.size > 0 && load.errors.length === 0) return;
    clearTimeout(load.timer);
    this.loads.delete(requestId);
    this.probeRows.delete(load.key);
    if (load.errors.length > 0) {
      this.unload(load.key);
      load.reject(new Error(load.errors[0]));
    } else {
      load.resolve(load.timing);
    }
  }

  /**
   * Loads and warms a version in every worker; resolves when all of them have it, with how long that
   * took and, given `probeRows`, how long a batch of that many rows takes there.
   */
  load(spec: LoadSpec, probeRows = 0): Promise<LoadTiming | undefined> {
    const requestId = this.nextRequestId++;
    this.specs.set(spec.key, spec);
    if (probeRows > 0) this.probeRows.set(spec.key, probeRows);
    return new Promise<LoadTiming | undefined>((resolve, reject) => {
      const waiting = new Set(this.piscina.threads.map((t) => t.threadId));
      const timer = setTimeout(() => {
        this.loads.delete(requestId);
        this.probeRows.delete(spec.key);
        this.unload(spec.key);
        reject(new Error(`loading ${spec.key} timed out after ${this.loadTimeoutMs} ms`));
      }, this.loadTimeoutMs);
      this.loads.set(requestId, { key: spec.key, waiting, errors: [], timing: undefined, resolve, reject, timer });
      const msg: ChannelMessage = { op: 'load', requestId, spec, probeRows };
      this.channel.postMessage(msg);
    });
  }

  /** Frees a version's sessions in every worker (call only when no batch for it is in flight). */
  unload(key: string): void {
    this.specs.delete(key);
    this.channel.postMessage({ op: 'unload', key } satisfies ChannelMessage);
  }

  hasCapacity(): boolean {
    return this.inFlight < this.size * TASKS_PER_WORKER;
  }

  run(task: InferTask): Promise<InferResult> {
    this.inFlight++;
    const transferList = task.inputs.map((t) => t.data.buffer as ArrayBuffer);
    const done = (): void => {
      this.inFlight--;
      this.onCapacity();
    };
    const result = this.piscina.run(task, { transferList }) as Promise<InferResult>;
    result.then(done, done);
    return result;
  }

  async close(): Promise<void> {
    for (const [, load] of this.loads) {
      clearTimeout(load.timer);
      load.reject(new Error('pool closed'));
    }
    this.loads.clear();
    this.channel.close();
    await this.piscina.destroy();
  }
}
