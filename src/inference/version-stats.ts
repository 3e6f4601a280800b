/**
 * What one loaded model version has done, as Triton's statistics extension reports it
 * (protocol/triton.ts): plain numbers that its Batcher adds to once per batch, never an object per
 * request. Times are kept in milliseconds (performance.now()'s unit) and turned into nanoseconds
 * when read. A request's time starts when it arrived (Job.started), before its body was read.
 */

/** Count and summed time of one kind of event, as Triton's StatisticDuration. */
export interface Duration {
  count: number;
  ms: number;
}

/** The model's executions of one batch size (rows). */
export interface BatchSizeStats {
  readonly rows: number;
  readonly runs: number;
  readonly inputMs: number;
  readonly inferMs: number;
  readonly outputMs: number;
}

const duration = (): Duration => ({ count: 0, ms: 0 });

export class VersionStats {
  /** Date.now() of the last batch that finished, 0 before the first. */
  lastInferenceMs = 0;
  /** Rows scored by batches that succeeded. */
  inferenceCount = 0;
  /** Batches that succeeded. */
  executionCount = 0;
  /** Requests answered from a batch that succeeded: from arrival to answer. */
  readonly success = duration();
  /** Requests failed by their batch, or dropped past their deadline before it. */
  readonly fail = duration();
  /** Requests from arrival until their batch started. */
  readonly queue = duration();
  /** Per request: its batch's copy of the rows into one tensor per input (main thread). */
  readonly computeInput = duration();
  /** Per request: its batch's session.run. */
  readonly computeInfer = duration();
  /** Per request: its batch's split back into answers. */
  readonly computeOutput = duration();
  // Per batch size (index = rows): runs and summed times. Grown on a batch larger than seen before.
  private runs: number[] = [];
  private inputMs: number[] = [];
  private inferMs: number[] = [];
  private outputMs: number[] = [];

  /** A batch of `requests` requests and `rows` rows that started at `startedAt` (summed arrival times: `arrivals`). */
  dispatched(requests: number, arrivals: number, startedAt: number, inputMs: number): void {
    this.queue.count += requests;
    this.queue.ms += requests * startedAt - arrivals;
    this.computeInput.count += requests;
    this.computeInput.ms += requests * inputMs;
  }

  /** A batch that succeeded: `doneAt` is when its last answer was built. */
  succeeded(
    requests: number,
    rows: number,
    arrivals: number,
    doneAt: number,
    inputMs: number,
    inferMs: number,
    outputMs: number,
  ): void {
    this.lastInferenceMs = Date.now();
    this.inferenceCount += rows;
    this.executionCount++;
    this.success.count += requests;
    this.success.ms += requests * doneAt - arrivals;
    this.computeInfer.count += requests;
    this.computeInfer.ms += requests * inferMs;
    this.computeOutput.count += requests;
    this.computeOutput.ms += requests * outputMs;
    if (rows >= this.runs.length) this.grow(rows);
    this.runs[rows]!++;
    this.inputMs[rows]! += inputMs;
    this.inferMs[rows]! += inferMs;
    this.outputMs[rows]! += outputMs;
  }

  /** Requests that failed (`requests` of them, summed arrival times `arrivals`) at `at`. */
  failed(requests: number, arrivals: number, at: number): void {
    this.fail.count += requests;
    this.fail.ms += requests * at - arrivals;
  }

  /** The batch sizes executed so far, smallest first. */
  batchSizes(): BatchSizeStats[] {
    const sizes: BatchSizeStats[] = [];
    for (let rows = 1; rows < this.runs.length; rows++) {
      const runs = this.runs[rows]!;
      if (runs > 0)
        sizes.push({
          rows,
          runs,
          inputMs: this.inputMs[rows]!,
          inferMs: this.inferMs[rows]!,
          outputMs: this.outputMs[rows]!,
        });
    }
    return sizes;
  }

  private grow(rows: number): void {
    while (this.runs.length <= rows) {
      this.runs.push(0);
      this.inputMs.push(0);
      this.inferMs.push(0);
      this.outputMs.push(0);
    }
  }
}
