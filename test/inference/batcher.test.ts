/**
 * The batcher on fake timers: batches form by size and by delay, results go back by row, the queue
 * is bounded in rows (queue_full, then saturated until a batch's room opens), late jobs are shed.
 * The runner is scripted: it takes batches while it has capacity and the test settles them.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  Saturation,
  Batcher,
  type BatchLimits,
  type BatchRunner,
  type Job,
  type RowSlice,
  loadSpec,
} from '../../src/inference/batcher.js';
import type { InferResult, InferTask } from '../../src/inference/messages.js';
import type { ModelVersion } from '../../src/registry/repository.js';
import { modelVersion, thrown } from '../protocol/versions.js';

/** x FP32 [-1, 2] -> y FP32 [-1, 1]. */
const version = modelVersion(
  [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }],
  [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
);

class ScriptedRunner implements BatchRunner {
  capacity = 1;
  readonly tasks: InferTask[] = [];
  private readonly settles: ((result: InferResult | Error) => void)[] = [];
  private inFlight = 0;

  hasCapacity(): boolean {
    return this.inFlight < this.capacity;
  }

  run(task: InferTask): Promise<InferResult> {
    this.inFlight++;
    this.tasks.push(task);
    return new Promise((resolve, reject) => {
      this.settles.push((result) => {
        this.inFlight--;
        if (result instanceof Error) reject(result);
        else resolve(result);
      });
    });
  }

  /** Answers batch `i` with y = x0 + x1 for each row. */
  answer(i: number): void {
    const task = this.tasks[i]!;
    const x = task.inputs[0]!.data as Float32Array;
    const y = new Float32Array(task.rows).map((_, r) => x[2 * r]! + x[2 * r + 1]!);
    this.settles[i]!({ outputs: [{ name: 'y', type: 'float32', dims: [task.rows, 1], data: y }], seconds: 0.002 });
  }

  fail(i: number, error: Error): void {
    this.settles[i]!(error);
  }

  rows(): number[] {
    return this.tasks.map((t) => t.rows);
  }

  values(i: number): number[] {
    return [...(this.tasks[i]!.inputs[0]!.data as Float32Array)];
  }
}

/** A job of `rows` rows, each [k, 10 * k] for k = first..; records how it ended. */
function job(first: number, rows = 1, deadline = 0): Job & { slice?: RowSlice; error?: Error & { code?: string } } {
  const data = new Float32Array(rows * 2);
  for (let r = 0; r < rows; r++) data.set([first + r, 10 * (first + r)], 2 * r);
  const j: Job & { slice?: RowSlice; error?: Error } = {
    rows,
    inputs: [data],
    deadline,
    started: performance.now(),
    resolve: (slice) => {
      j.slice = slice;
    },
    reject: (error) => {
      j.error = error;
    },
  };
  return j;
}

/** The request's answers: y for each of its rows. */
const answers = (j: { slice?: RowSlice }): number[] => {
  const { result, offset, rows } = j.slice!;
  return [...(result.outputs[0]!.data as Float32Array).subarray(offset, offset + rows)].map(Number);
};

let runner: ScriptedRunner;
let observed: string[];
let saturation: Saturation;
function batcher(limits: Partial<BatchLimits> = {}): Batcher {
  const observer = {
    batch: (_: ModelVersion, rows: number) => observed.push(`batch ${rows}`),
    queueDepth: () => {},
    shed: (_: ModelVersion, reason: string) => observed.push(`shed ${reason}`),
  };
  return new Batcher(
    version,
    loadSpec(version),
    runner,
    observer,
    {
      maxBatch: 4,
      batchDelayUs: 2000,
      maxQueuedRows: 8,
      ...limits,
    },
    saturation,
  );
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] });
  runner = new ScriptedRunner();
  saturation = new Saturation();
  observed = [];
});
afterEach(() => {
  vi.useRealTimers();
  expect(saturation.any).toBe(false);
});

describe('Batcher', () => {
  it('sends a batch once maxBatch rows are queued, without waiting for the delay', () => {
    const b = batcher();
    const jobs = [job(1), job(2, 2)];
    for (const j of jobs) b.submit(j);
    expect(runner.rows()).toEqual([]);
    b.submit(job(4));
    expect(runner.rows()).toEqual([4]);
    expect(runner.values(0)).toEqual([1, 10, 2, 20, 3, 30, 4, 40]);
    expect(runner.tasks[0]!.inputs[0]!.dims).toEqual([4, 2]);
  });

  it('sends what is queued when the delay (batchDelayUs) passes, not before', () => {
    const b = batcher({ batchDelayUs: 2000 });
    b.submit(job(1));
    vi.advanceTimersByTime(1);
    b.submit(job(2));
    expect(runner.rows()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(runner.rows()).toEqual([2]);
  });

  it('with no delay, coalesces what arrives in one turn of the event loop', () => {
    const b = batcher({ batchDelayUs: 0 });
    b.submit(job(1));
    b.submit(job(2));
    expect(runner.rows()).toEqual([]);
    vi.advanceTimersToNextTimer();
    expect(runner.rows()).toEqual([2]);
  });

  it('gives each request its own rows of the batch result', async () => {
    const b = batcher();
    const jobs = [job(1), job(2, 2), job(4)];
    for (const j of jobs) b.submit(j);
    runner.answer(0);
    await b.idle();
    expect(jobs.map(answers)).toEqual([[11], [22, 33], [44]]);
    expect(observed).toEqual(['batch 4']);
  });

  it('never mixes more than maxBatch rows into a batch (a bigger job goes alone), and waits for capacity', async () => {
    const b = batcher({ maxQueuedRows: 16 });
    for (const j of [job(1, 3), job(4, 3), job(7, 6), job(13)]) b.submit(j);
    expect(runner.rows()).toEqual([3]);
    runner.answer(0);
    await Promise.resolve();
    expect(b.flush()).toBe(true);
    expect(runner.rows()).toEqual([3, 3]);
    runner.capacity = 3;
    expect(b.flush()).toBe(false);
    expect(runner.rows()).toEqual([3, 3, 6, 1]);
  });

  it("refuses rows past maxQueuedRows with 503 queue_full, stays saturated until a batch's room opens", () => {
    runner.capacity = 0;
    const b = batcher({ maxBatch: 4, maxQueuedRows: 8 });
    b.submit(job(1, 4));
    b.submit(job(5, 3));
    expect(b.saturated).toBe(false);
    expect(thrown(() => b.submit(job(8, 2)))).toMatchObject({
      code: 'queue_full',
      status: 503,
      message: 'more than 8 rows queued for m@1; retry later',
    });
    expect(b.saturated).toBe(true);
    expect(saturation.any).toBe(true);
    // A job that fits is still taken while saturated: saturation only lets callers refuse before reading a body.
    b.submit(job(8));
    expect(b.pendingRows).toBe(8);
    runner.capacity = 1;
    b.flush();
    // 4 rows left queued: 4 + min(maxBatch, maxQueuedRows / 2) <= 8, room for a full batch again.
    expect(b.pendingRows).toBe(4);
    expect(b.saturated).toBe(false);
    expect(observed).toEqual(['shed queue_full']);
  });

  it('sheds a job whose deadline passed before its batch started, and serves the others', () => {
    const b = batcher({ batchDelayUs: 5000 });
    const late = job(1, 1, performance.now() + 3);
    const patient = job(2, 1, performance.now() + 10);
    const timeless = job(3);
    for (const j of [late, patient, timeless]) b.submit(j);
    vi.advanceTimersByTime(5);
    expect(late.error).toMatchObject({ code: 'deadline_exceeded', status: 503 });
    expect(runner.rows()).toEqual([2]);
    expect(runner.values(0)).toEqual([2, 20, 3, 30]);
    expect(observed).toEqual(['shed deadline_exceeded']);
  });

  it('fails every request of a failed batch with 500 inference_failed, and goes idle', async () => {
    const b = batcher();
    const jobs = [job(1), job(2)];
    for (const j of jobs) b.submit(j);
    vi.advanceTimersByTime(2);
    runner.fail(0, new Error('out of memory'));
    await b.idle();
    expect(b.busy).toBe(false);
    for (const j of jobs)
      expect(j.error).toMatchObject({
        code: 'inference_failed',
        status: 500,
        message: 'inference failed for m@1: out of memory',
      });
  });

  it("counts Triton's statistics once per batch: rows, executions, queue, compute, success and fail per request", async () => {
    const b = batcher({ batchDelayUs: 2000 });
    const early = job(1, 2);
    vi.advanceTimersByTime(1);
    const later = job(3);
    for (const j of [early, later]) b.submit(j);
    vi.advanceTimersByTime(2);
    expect(runner.rows()).toEqual([3]);
    vi.advanceTimersByTime(4);
    runner.answer(0);
    await b.idle();
    const s = b.stats;
    expect([s.inferenceCount, s.executionCount]).toEqual([3, 1]);
    // Arrived at 0 and 1 ms, batch started at 3 ms: 3 + 2 ms queued; answered at 7 ms: 7 + 6 ms.
    expect(s.queue).toEqual({ count: 2, ms: 5 });
    expect(s.success).toEqual({ count: 2, ms: 13 });
    expect(s.computeInfer).toEqual({ count: 2, ms: 4 });
    expect(s.fail).toEqual({ count: 0, ms: 0 });
    expect(s.batchSizes()).toEqual([{ rows: 3, runs: 1, inputMs: 0, inferMs: 2, outputMs: 0 }]);
    // Read when the answer came back; the clock may have ticked one millisecond since (seen in CI).
    expect(Date.now() - s.lastInferenceMs).toBeGreaterThanOrEqual(0);
    expect(Date.now() - s.lastInferenceMs).toBeLessThanOrEqual(1);

    const late = job(5, 1, performance.now() + 1);
    b.submit(late);
    b.submit(job(6));
    vi.advanceTimersByTime(2);
    runner.fail(1, new Error('out of memory'));
    await b.idle();
    // The late job failed when its batch formed (2 ms), the other with the batch (still 2 ms).
    expect(s.fail).toEqual({ count: 2, ms: 4 });
    expect([s.inferenceCount, s.executionCount]).toEqual([3, 1]);
  });
});
