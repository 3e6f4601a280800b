/**
 * Where shadow copies are scored (scoring/shadow.ts): a worker of their own, apart from the served
 * workers and the main thread. ONNX Runtime runs a batch to its end on its worker's thread, so a
 * slow shadow model sharing a served worker held every served batch queued behind it (measured: a
 * 25 ms shadow put 20 ms on the median served request of another route with one worker); here it
 * holds only other copies. The lane starts with the first shadow version it is asked to load, so a
 * server without shadow arms has no extra thread.
 */
import { Batcher, loadSpec, Saturation, type BatchLimits, type BatchObserver, type Job } from './batcher.js';
import type { InferencePool } from './pool.js';
import type { ModelVersion } from '../registry/repository.js';

/** The served metrics (queue depth, batch sizes, shed) are the served batchers' own: copies leave them alone. */
const QUIET: BatchObserver = {
  batch: () => undefined,
  queueDepth: () => undefined,
  shed: () => undefined,
};

/**
 * Copies wait this long for others before a batch goes (unless a full batch is there first). One
 * copy per batch woke the lane's worker for each: with a shadow at 0.1 the server's CPU per request
 * doubled (15 → 30 µs, bench/run.ts); batched, the hand-off is shared. A copy's reported latency is
 * its batch's inference time, so the wait does not count in it.
 */
export const LANE_BATCH_DELAY_US = 10_000;

export class ShadowLane {
  private pool: InferencePool | undefined;
  private readonly batchers = new Map<string, Batcher>();
  private readonly loading = new Map<string, Promise<void>>();
  private readonly saturation = new Saturation();
  /** Versions that failed to load here, with the reason: not tried again (until `retain` forgets them). */
  private readonly refusedKeys = new Map<string, string>();
  private closed = false;

  constructor(
    /** Makes the lane's pool (one worker), when the first shadow version loads. */
    private readonly makePool: () => InferencePool,
    limits: BatchLimits,
  ) {
    this.limits = { ...limits, batchDelayUs: Math.max(limits.batchDelayUs, LANE_BATCH_DELAY_US) };
  }

  private readonly limits: BatchLimits;

  /**
   * Queues a copy on its version's batcher if that can take it at once (Batcher.offer); false when
   * it cannot, or while the version still loads in the lane (the load starts with the first ask).
   */
  offer(version: ModelVersion, job: Job): boolean {
    const batcher = this.batchers.get(version.key);
    if (batcher === undefined) {
      if (!this.refusedKeys.has(version.key)) void this.load(version).catch(() => undefined);
      return false;
    }
    return batcher.offer(job);
  }

  /** Loads and warms `version` in the lane's worker (idempotent); rejects when it cannot load. */
  load(version: ModelVersion): Promise<void> {
    if (this.batchers.has(version.key) || this.closed) return Promise.resolve();
    let loading = this.loading.get(version.key);
    if (loading === undefined) {
      if (this.pool === undefined) {
        this.pool = this.makePool();
        // Copies that waited for a free slot go when one frees up.
        this.pool.onCapacity = () => {
          for (const b of this.batchers.values()) b.flush();
        };
      }
      const pool = this.pool;
      loading = pool
        .load(loadSpec(version))
        .then(
          () => {
            if (this.closed) return;
            this.batchers.set(
              version.key,
              new Batcher(version, loadSpec(version), pool, QUIET, this.limits, this.saturation),
            );
          },
          (e: unknown) => {
            this.refusedKeys.set(version.key, (e as Error).message);
            throw e;
          },
        )
        .finally(() => this.loading.delete(version.key));
      this.loading.set(version.key, loading);
    }
    return loading;
  }

  /** Why `key` could not load in the lane; undefined when it did not fail. */
  refused(key: string): string | undefined {
    return this.refusedKeys.get(key);
  }

  /** Frees the versions no longer wanted (`keep` says which are), once their copies are done. */
  async retain(keep: (key: string) => boolean): Promise<void> {
    for (const key of [...this.refusedKeys.keys()]) if (!keep(key)) this.refusedKeys.delete(key);
    for (const [key, batcher] of [...this.batchers]) {
      if (keep(key)) continue;
      this.batchers.delete(key);
      await batcher.idle();
      this.pool?.unload(key);
    }
  }

  get loadedKeys(): string[] {
    return [...this.batchers.keys()];
  }

  /** Lets the copies in flight finish, then ends the worker. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.loading.values()]);
    await Promise.all([...this.batchers.values()].map((b) => b.idle()));
    await this.pool?.close();
  }
}
