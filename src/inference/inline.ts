/**
 * Runs the batches of small model versions on the main thread. Handing a batch to a worker costs
 * the main thread a message each way and, on a small machine, the context switches of waking
 * another thread: measured here at about 7 µs of CPU per request at 64 connections (some 100 µs
 * per 16-row batch), more than a logistic regression takes to score the whole batch. So each
 * version is timed when it loads (a full batch, its maxBatch rows: the longest one batch would hold
 * the event loop; 15 runs, the lower quartile: interference only adds time) and runs inline when that
 * takes at most CROUPIER_INLINE_MAX_US; anything slower goes to the workers, where it cannot hold up
 * the event loop. Probes run one at a time, so versions loading together do not inflate each
 * other's timings. Only versions that loaded quickly and scored a full batch fast in a worker come
 * here (engine.ts): creating a big model's session on this thread would hold every request.
 */
import type * as ort from 'onnxruntime-node';
import type { BatchRunner } from './batcher.js';
import type { InferResult, InferTask, LoadSpec } from './messages.js';
import { createSession, runBatch, syntheticTask } from './sessions.js';

const PROBE_RUNS = 15;
/**
 * How long the batches scheduled at once may hold the event loop, counted at their versions' probe
 * times (a full batch each). ONNX Runtime runs each in a later turn of the loop, so this bounds
 * what one turn completes: with a fixed two batches, a flood of full batches drained two per turn
 * while the turn itself grew with every request read. About a hundred of the demo's fraud batches
 * fit; ten of a version at the default CROUPIER_INLINE_MAX_US.
 */
const TURN_BUDGET_US = 1000;

export class InlineRunner implements BatchRunner {
  private readonly sessions = new Map<string, { session: ort.InferenceSession; spec: LoadSpec; us: number }>();
  /** Probe time of the batches in flight, µs. */
  private inFlightUs = 0;
  private probing: Promise<unknown> = Promise.resolve();
  /** Called whenever a batch finishes, so batchers waiting for capacity can flush. */
  onCapacity: () => void = () => {};

  /**
   * Loads and times `spec` on the main thread; keeps it (and returns the probe's time in µs) when
   * a batch of `rows` rows takes at most `maxUs`, else releases it and returns undefined. Throws
   * when the version cannot load or warm.
   */
  adopt(spec: LoadSpec, maxUs: number, rows: number): Promise<number | undefined> {
    const adopted = this.probing.then(() => this.probe(spec, maxUs, rows));
    this.probing = adopted.catch(() => undefined);
    return adopted;
  }

  private async probe(spec: LoadSpec, maxUs: number, rows: number): Promise<number | undefined> {
    const { session } = await createSession(spec, 1);
    const task = syntheticTask(spec, rows);
    const times: number[] = [];
    for (let i = 0; i < PROBE_RUNS; i++) times.push((await runBatch(session, spec, task)).seconds * 1e6);
    const us = times.sort((a, b) => a - b)[PROBE_RUNS >> 2]!;
    if (us > maxUs) {
      await session.release();
      return undefined;
    }
    this.sessions.set(spec.key, { session, spec, us: Math.max(1, Math.ceil(us)) });
    return us;
  }

  holds(key: string): boolean {
    return this.sessions.has(key);
  }

  unload(key: string): void {
    const entry = this.sessions.get(key);
    this.sessions.delete(key);
    void entry?.session.release().catch(() => undefined);
  }

  hasCapacity(): boolean {
    return this.inFlightUs < TURN_BUDGET_US;
  }

  async run(task: InferTask): Promise<InferResult> {
    const entry = this.sessions.get(task.key);
    if (!entry) throw new Error(`${task.key} is not loaded on the main thread`);
    this.inFlightUs += entry.us;
    try {
      return await runBatch(entry.session, entry.spec, task);
    } finally {
      this.inFlightUs -= entry.us;
      this.onCapacity();
    }
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((e) => e.session.release().catch(() => undefined)));
  }
}
