/**
 * Which versions are loaded, each with its Batcher, sharing one worker pool. A version is usable only
 * once every worker has loaded and warmed it; removal waits for its in-flight batches.
 */
import { CroupierError } from '../errors.js';
import type { ModelVersion } from '../registry/repository.js';
import { Batcher, type BatchLimits, type BatchObserver, type Job } from './batcher.js';
import { InferencePool } from './pool.js';

export class InferenceEngine {
  private readonly pool: InferencePool;
  private readonly observer: BatchObserver;
  private readonly limits: BatchLimits;
  private readonly batchers = new Map<string, Batcher>();
  private readonly loading = new Map<string, Promise<Batcher>>();
  /** Batchers with queued work waiting for a free worker, served round-robin. */
  private readonly waiting = new Set<Batcher>();

  constructor(pool: InferencePool, observer: BatchObserver, limits: BatchLimits) {
    this.pool = pool;
    this.observer = observer;
    this.limits = limits;
    pool.onCapacity = () => this.onCapacity();
  }

  get workers(): number {
    return this.pool.size;
  }

  isLoaded(key: string): boolean {
    return this.batchers.has(key);
  }

  loadedKeys(): string[] {
    return [...this.batchers.keys()];
  }

  /** Loads and warms a version in every worker (idempotent). */
  load(version: ModelVersion): Promise<Batcher> {
    const existing = this.batchers.get(version.key);
    if (existing) return Promise.resolve(existing);
    let loading = this.loading.get(version.key);
    if (!loading) {
      const batcher = new Batcher(version, this.pool, this.observer, this.limits);
      loading = this.pool.load(batcher.spec).then(() => {
        this.batchers.set(version.key, batcher);
        return batcher;
      }).finally(() => this.loading.delete(version.key));
      this.loading.set(version.key, loading);
    }
    return loading;
  }

  /** Unloads a version once its queued and in-flight batches are done. */
  async unload(key: string): Promise<void> {
    const batcher = this.batchers.get(key);
    if (!batcher) return;
    this.batchers.delete(key);
    await batcher.idle();
    this.pool.unload(key);
  }

  /** Queues a job on its version's batcher; throws not_ready or queue_full (503). */
  submit(version: ModelVersion, job: Job): void {
    const batcher = this.batchers.get(version.key);
    if (!batcher) throw new CroupierError('not_ready', `${version.key} is not loaded`);
    batcher.submit(job);
    if (batcher.pendingRows > 0) this.waiting.add(batcher);
  }

  private onCapacity(): void {
    for (const batcher of this.waiting) {
      this.waiting.delete(batcher);
      if (batcher.flush()) this.waiting.add(batcher);
      if (!this.pool.hasCapacity()) return;
    }
  }

  /** Resolves when no batch is queued or in flight anywhere. */
  async idle(): Promise<void> {
    await Promise.all([...this.batchers.values()].map((b) => b.idle()));
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
