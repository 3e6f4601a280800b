/**
 * The inference worker pool: piscina with a fixed number of workers, two batches in flight per
 * worker, and a path piscina has none of that loads a version into every worker, one worker at a
 * time (load-rollout.ts); its balancer gives no batch to the worker whose turn it is.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { LoadRollout, type PiscinaWorker } from './load-rollout.js';
import type { ChannelMessage, InferResult, InferTask, LoadSpec, LoadTiming, WorkerOptions } from './messages.js';

/** The compiled worker; when the main thread runs from TypeScript sources (tests), the built one in dist/. */
export function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const file = here.endsWith('.ts')
    ? fileURLToPath(new URL('../../dist/inference/worker.js', import.meta.url))
    : fileURLToPath(new URL('./worker.js', import.meta.url));
  if (!existsSync(file)) throw new Error(`inference worker ${file} is missing: run npm run build`);
  return file;
}

/**
 * Batches in flight per worker. Two, not one: while a worker runs one batch, the next is already
 * posted, so neither the main thread nor the worker waits for the other's hand-off (measured in
 * bench/RESULTS.md). Batches still form, because a third must wait for a free slot.
 */
const TASKS_PER_WORKER = 2;

export interface PoolOptions {
  workers: number;
  intraOpThreads: number;
  loadTimeoutMs?: number;
}

export class InferencePool {
  readonly size: number;
  private readonly capacity: number;
  private readonly piscina: Piscina;
  private readonly channel: BroadcastChannel;
  private readonly specs = new Map<string, LoadSpec>();
  private readonly rollout: LoadRollout;
  private inFlight = 0;
  /** While closing: the workers that have not yet said their sessions are released. */
  private closing: { waiting: Set<number>; done: () => void } | undefined;
  /** Called whenever a worker frees up, so batchers waiting for capacity can flush. */
  onCapacity: () => void = () => {};

  constructor(options: PoolOptions) {
    this.size = options.workers;
    this.capacity = options.workers * TASKS_PER_WORKER;
    const channelName = `croupier:${randomUUID()}`;
    this.channel = new BroadcastChannel(channelName);
    this.channel.onmessage = (event: unknown) => this.onChannel((event as { data: ChannelMessage }).data);
    this.rollout = new LoadRollout(
      {
        threadIds: () => this.piscina.threads.map((t) => t.threadId),
        post: (msg) => this.channel.postMessage(msg),
        released: () => this.onCapacity(),
        abandoned: (key) => this.unload(key),
      },
      options.loadTimeoutMs ?? 120_000,
    );
    const workerData: WorkerOptions = { channel: channelName, intraOpThreads: options.intraOpThreads };
    this.piscina = new Piscina({
      filename: workerFile(),
      minThreads: options.workers,
      maxThreads: options.workers,
      concurrentTasksPerWorker: TASKS_PER_WORKER,
      idleTimeout: Infinity,
      atomics: 'disabled',
      workerData,
      loadBalancer: this.balance,
    });
    this.piscina.on('workerCreate', (worker: PiscinaWorker) => this.rollout.workerReady(worker));
    // Emitted before piscina drops the worker from its list (and its threadId may read -1 by then).
    this.piscina.on('workerDestroy', () => queueMicrotask(() => this.rollout.workerGone()));
  }

  /**
   * piscina's least-busy choice, less the worker set apart for a load: runs for every batch, so
   * it allocates nothing (and reads no threadId unless a load is on). null leaves the batch queued
   * in piscina until a worker frees up; hasCapacity keeps that rare.
   */
  private readonly balance = (_task: unknown, workers: PiscinaWorker[]): PiscinaWorker | null => {
    const setApart = this.rollout.setApart;
    let candidate: PiscinaWorker | null = null;
    let least = TASKS_PER_WORKER;
    for (let i = 0; i < workers.length; i++) {
      const worker = workers[i]!;
      if (setApart !== -1 && worker.id === setApart) continue;
      const usage = worker.currentUsage;
      if (usage === 0) return worker;
      if (usage < least) {
        candidate = worker;
        least = usage;
      }
    }
    return candidate;
  };

  private onChannel(msg: ChannelMessage): void {
    if (msg.op === 'hello' && this.closing) {
      // Started while closing (its channel did not exist when the close went out): it has nothing to load.
      this.channel.postMessage({ op: 'close' } satisfies ChannelMessage);
    } else if (msg.op === 'hello') {
      // A new (or replacement) worker: it loads every version we serve before it takes tasks.
      const specs = [...this.specs.values()];
      const sync: ChannelMessage = {
        op: 'sync',
        threadId: msg.threadId,
        specs,
        probeRows: specs.map((s) => this.rollout.probeRows(s.key)),
      };
      this.channel.postMessage(sync);
    } else if (msg.op === 'loaded') {
      this.rollout.loaded(
        msg.requestId,
        msg.threadId,
        msg.error !== undefined ? { error: msg.error } : { timing: msg.timing ?? { loadMs: 0 } },
      );
    } else if (msg.op === 'synced') {
      this.rollout.synced(msg.threadId, msg.results);
    } else if (msg.op === 'closed' && this.closing) {
      this.closing.waiting.delete(msg.threadId);
      if (this.closing.waiting.size === 0) this.closing.done();
    }
  }

  /**
   * Loads and warms a version in every worker, one after the other; resolves when all of them have
   * it, with the fastest one's time to load and, given `probeRows`, to run a batch of that many rows.
   */
  load(spec: LoadSpec, probeRows = 0): Promise<LoadTiming | undefined> {
    this.specs.set(spec.key, spec);
    return this.rollout.load(spec, probeRows);
  }

  /** Frees a version's sessions in every worker (call only when no batch for it is in flight). */
  unload(key: string): void {
    this.specs.delete(key);
    this.channel.postMessage({ op: 'unload', key } satisfies ChannelMessage);
  }

  /** A free slot on a worker that may take a batch (batches still in flight on the one set apart do not count). */
  hasCapacity(): boolean {
    const setApart = this.rollout.setApartWorker;
    if (setApart === undefined) return this.inFlight < this.capacity;
    return this.inFlight - setApart.currentUsage < this.capacity - TASKS_PER_WORKER;
  }

  run(task: InferTask): Promise<InferResult> {
    this.inFlight++;
    // String (BYTES) tensors are lists, cloned; only typed arrays have a buffer to move.
    const transferList: ArrayBuffer[] = [];
    for (const t of task.inputs) if (!Array.isArray(t.data)) transferList.push(t.data.buffer as ArrayBuffer);
    const done = (): void => {
      this.inFlight--;
      this.rollout.batchDone();
      this.onCapacity();
    };
    const result = this.piscina.run(task, { transferList }) as Promise<InferResult>;
    result.then(done, done);
    return result;
  }

  /**
   * Ends the workers once ONNX Runtime has finished what it does in them (a load or a probe; call
   * when no batch is in flight): each releases its sessions first. `timeoutMs` bounds the wait.
   */
  async close(timeoutMs = 30_000): Promise<void> {
    this.rollout.close();
    const waiting = new Set(this.piscina.threads.map((t) => t.threadId));
    if (waiting.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const closed = new Promise<void>((done) => {
        this.closing = { waiting, done };
      });
      this.channel.postMessage({ op: 'close' } satisfies ChannelMessage);
      await Promise.race([
        closed,
        new Promise<void>((done) => {
          timer = setTimeout(done, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.channel.close();
    await this.piscina.destroy();
  }
}
