/**
 * Dynamic batching for one model version, on the main thread: concurrent requests are coalesced
 * into one worker task (one task per batch, never per request), and results are split back by row.
 * The queue is bounded in rows; past the bound, or past a request's deadline, work is shed.
 */
import { CroupierError } from '../errors.js';
import type { DriftCounter, DriftSink } from '../monitoring/drift-counter.js';
import { DATATYPES, type TensorValues } from '../protocol/datatypes.js';
import type { ModelVersion } from '../registry/repository.js';
import type { InferResult, InferTask, LoadSpec, OrtType, TensorData } from './messages.js';
import { VersionStats } from './version-stats.js';

/** Where a batcher's batches run: the worker pool, or the main thread (inline.ts). */
export interface BatchRunner {
  hasCapacity(): boolean;
  run(task: InferTask): Promise<InferResult>;
}

/** A request's share of a batch result: rows [offset, offset + rows) of every output. */
export interface RowSlice {
  readonly result: InferResult;
  readonly offset: number;
  readonly rows: number;
  /** performance.now() when the batch's outputs came back: one clock read per batch, not per request. */
  readonly doneAt?: number;
}

/** One request's rows; the job object itself is told the outcome (no promise per request). */
export interface Job {
  readonly rows: number;
  /** One array per model input, `rows * rowSize` values each, in manifest order. */
  readonly inputs: readonly TensorValues[];
  /** performance.now() after which the job is dropped if not started; 0 = none. */
  readonly deadline: number;
  /** performance.now() when the request arrived (for the statistics: version-stats.ts). */
  readonly started: number;
  resolve(slice: RowSlice): void;
  reject(error: Error): void;
}

export interface BatchObserver {
  batch(version: ModelVersion, rows: number, seconds: number): void;
  queueDepth(version: ModelVersion, rows: number): void;
  shed(version: ModelVersion, reason: 'queue_full' | 'deadline_exceeded'): void;
  /** The version was unloaded, its last batch done: its series can go. */
  unloaded?(version: ModelVersion): void;
}

export interface BatchLimits {
  maxBatch: number;
  batchDelayUs: number;
  maxQueuedRows: number;
}

export function loadSpec(version: ModelVersion): LoadSpec {
  return {
    key: version.key,
    file: version.file,
    inputs: version.manifest.inputs.map((t) => ({
      name: t.name,
      type: DATATYPES[t.datatype].ort as OrtType,
      rowShape: t.shape.slice(1),
    })),
    outputs: version.manifest.outputs.map((t, i) => ({ name: t.name, rowSize: version.outputRowSizes[i]! })),
  };
}

/** The batching a version runs with: its manifest's own, else the server's. */
export function versionLimits(version: ModelVersion, defaults: BatchLimits): BatchLimits {
  return {
    maxBatch: version.manifest.maxBatch ?? defaults.maxBatch,
    batchDelayUs: version.manifest.batchDelayUs ?? defaults.batchDelayUs,
    maxQueuedRows: defaults.maxQueuedRows,
  };
}

/** How many of an engine's batchers are saturated now: when none is, no request needs to ask its own. */
export class Saturation {
  count = 0;

  get any(): boolean {
    return this.count > 0;
  }
}

export class Batcher {
  readonly version: ModelVersion;
  readonly spec: LoadSpec;
  readonly runner: BatchRunner;
  /** Counted once per batch (Triton's statistics extension). */
  readonly stats = new VersionStats();
  private readonly observer: BatchObserver;
  private readonly limits: BatchLimits;
  private queue: Job[] = [];
  private head = 0;
  private queuedRows = 0;
  private inFlight = 0;
  private full = false;
  private refusal: CroupierError | undefined;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private idleWaiters: (() => void)[] = [];

  private readonly saturation: Saturation;
  /** Drift counting for a version with baseline histograms (once per batch, monitoring/drift-counter.ts). */
  private readonly drift: DriftCounter | undefined;

  constructor(
    version: ModelVersion,
    spec: LoadSpec,
    runner: BatchRunner,
    observer: BatchObserver,
    defaults: BatchLimits,
    saturation: Saturation,
    drift?: DriftSink,
  ) {
    this.version = version;
    this.drift = drift?.counter(version);
    this.saturation = saturation;
    this.spec = spec;
    this.runner = runner;
    this.observer = observer;
    this.limits = versionLimits(version, defaults);
  }

  get pendingRows(): number {
    return this.queuedRows;
  }

  get busy(): boolean {
    return this.queuedRows > 0 || this.inFlight > 0;
  }

  /**
   * Whether new work is refused before its body is read: from the first refusal until a full
   * batch's room (at most half the bound) has opened again. Under a flood, parsing requests only
   * to refuse them would take the event loop from the batches that drain the queue.
   */
  get saturated(): boolean {
    return this.full;
  }

  /** Counts and returns the refusal of work that did not fit (or, while saturated, was not read). */
  refuse(): CroupierError {
    if (!this.full) this.saturation.count++;
    this.full = true;
    this.observer.shed(this.version, 'queue_full');
    // One error for every refusal: under a flood they come by the tens of thousands a second, and
    // a new Error each time (its stack captured) cost as much as a prediction.
    return (this.refusal ??= new CroupierError(
      'queue_full',
      `more than ${this.limits.maxQueuedRows} rows queued for ${this.version.key}; retry later`,
    ));
  }

  /** Queues a job; throws queue_full (503) when the rows would pass the bound. */
  submit(job: Job): void {
    if (this.queuedRows + job.rows > this.limits.maxQueuedRows) throw this.refuse();
    this.enqueue(job);
  }

  /**
   * Queues work that is dropped rather than kept waiting (a shadow copy, inference/shadow-lane.ts):
   * only while less than a batch is queued. Otherwise false.
   */
  offer(job: Job): boolean {
    if (this.full || this.queuedRows + job.rows > this.limits.maxBatch) return false;
    this.enqueue(job);
    return true;
  }

  private enqueue(job: Job): void {
    this.queue.push(job);
    this.queuedRows += job.rows;
    this.observer.queueDepth(this.version, this.queuedRows);
    if (this.queuedRows >= this.limits.maxBatch) this.flush();
    else this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    const delayUs = this.limits.batchDelayUs;
    // Delay 0: flush after this turn of the event loop, so requests parsed in the same turn coalesce.
    this.timer =
      delayUs === 0
        ? setImmediate(() => {
            this.timer = undefined;
            this.flush();
          })
        : setTimeout(() => {
            this.timer = undefined;
            this.flush();
          }, delayUs / 1000);
  }

  /** Sends as many batches as there are free workers. Returns whether work remains queued. */
  flush(): boolean {
    while (this.queuedRows > 0 && this.runner.hasCapacity()) this.dispatch();
    return this.queuedRows > 0;
  }

  private takeBatch(now: number): Job[] {
    const jobs: Job[] = [];
    let rows = 0;
    while (this.head < this.queue.length) {
      const job = this.queue[this.head]!;
      if (jobs.length > 0 && rows + job.rows > this.limits.maxBatch) break;
      this.queue[this.head++] = undefined as unknown as Job;
      this.queuedRows -= job.rows;
      if (job.deadline !== 0 && now > job.deadline) {
        this.observer.shed(this.version, 'deadline_exceeded');
        this.stats.failed(1, job.started, now);
        job.reject(new CroupierError('deadline_exceeded'));
        continue;
      }
      jobs.push(job);
      rows += job.rows;
    }
    if (
      this.full
      && this.queuedRows + Math.min(this.limits.maxBatch, this.limits.maxQueuedRows >> 1) <= this.limits.maxQueuedRows
    ) {
      this.full = false;
      this.saturation.count--;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.observer.queueDepth(this.version, this.queuedRows);
    return jobs;
  }

  private dispatch(): void {
    const startedAt = performance.now();
    const jobs = this.takeBatch(startedAt);
    if (jobs.length === 0) return;
    let rows = 0;
    let arrivals = 0;
    for (const job of jobs) {
      rows += job.rows;
      arrivals += job.started;
    }
    // One owned tensor per input per batch: request tensors are views on shared slabs and must
    // not be transferred (see protocol/tensor-slab.ts).
    const inputs: TensorData[] = this.spec.inputs.map((input, i) => {
      const rowSize = this.version.inputRowSizes[i]!;
      const data = DATATYPES[this.version.manifest.inputs[i]!.datatype].create(rows * rowSize);
      let at = 0;
      if (Array.isArray(data)) {
        // BYTES: strings are copied one by one (a list has no set()).
        for (const job of jobs) {
          const strings = job.inputs[i] as string[];
          for (let k = 0; k < strings.length; k++) data[at + k] = strings[k]!;
          at += job.rows * rowSize;
        }
      } else {
        for (const job of jobs) {
          (data as Float32Array).set(job.inputs[i] as Float32Array, at);
          at += job.rows * rowSize;
        }
      }
      return { name: input.name, type: input.type, dims: [rows, ...input.rowShape], data };
    });
    const task: InferTask = { key: this.spec.key, rows, inputs };
    // Counted before the run: the inputs' buffers move to the worker. The scores follow on return.
    const driftRows = this.drift === undefined ? -1 : this.drift.count(inputs, rows, startedAt);
    this.inFlight++;
    const inputMs = performance.now() - startedAt;
    this.stats.dispatched(jobs.length, arrivals, startedAt, inputMs);
    this.runner.run(task).then(
      (result) => {
        this.observer.batch(this.version, rows, result.seconds);
        if (driftRows >= 0) this.drift!.countScores(result.outputs, rows, driftRows);
        const outputAt = performance.now();
        let offset = 0;
        for (const job of jobs) {
          job.resolve({ result, offset, rows: job.rows, doneAt: outputAt });
          offset += job.rows;
        }
        const doneAt = performance.now();
        this.stats.succeeded(jobs.length, rows, arrivals, doneAt, inputMs, result.seconds * 1000, doneAt - outputAt);
        this.finished();
      },
      (error: Error) => {
        const failure = new CroupierError(
          'inference_failed',
          `inference failed for ${this.version.key}: ${error.message}`,
        );
        for (const job of jobs) job.reject(failure);
        this.stats.failed(jobs.length, arrivals, performance.now());
        this.finished();
      },
    );
  }

  private finished(): void {
    this.inFlight--;
    if (!this.busy) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when nothing is queued or in flight (for swaps and shutdown). */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
