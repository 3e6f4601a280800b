/**
 * Which versions are loaded, each with its Batcher. A version small enough runs on the main thread
 * (see inline.ts); the others share one worker pool and are usable only once every worker has loaded
 * and warmed them. Removal waits for a version's in-flight batches.
 */
import type { DriftSink } from '../monitoring/drift-counter.js';
import { CroupierError } from '../errors.js';
import type { ModelVersion } from '../registry/repository.js';
import {
  Batcher,
  Saturation,
  loadSpec,
  versionLimits,
  type BatchLimits,
  type BatchObserver,
  type Job,
} from './batcher.js';
import type { InlineRunner } from './inline.js';
import type { InferencePool } from './pool.js';
import type { VersionStats } from './version-stats.js';

/**
 * A version whose session held a worker longer than this while ONNX Runtime created it is never
 * created on the main thread, where it would hold every request that long: the data plane's bound.
 * Small models take a few ms (the first in a worker pays for ONNX Runtime's start, some 60 ms on a
 * busy machine); a 200 MB one, seconds.
 */
const INLINE_LOAD_MAX_MS = 100;
/**
 * A full batch timed in a busy worker reads slower than on an idle main thread: versions within
 * this many times the inline bound there still get the main-thread probe, where each run holds
 * the event loop for no more than about that long.
 */
const INLINE_SCREEN = 10;

export interface EngineOptions extends BatchLimits {
  /** Versions whose full batch (maxBatch rows) takes at most this long run on the main thread; 0 = never. */
  inlineMaxUs: number;
}

export class InferenceEngine {
  private readonly pool: InferencePool;
  private readonly inline: InlineRunner;
  private readonly observer: BatchObserver;
  private readonly limits: EngineOptions;
  private readonly batchers = new Map<string, Batcher>();
  /** Its batchers saturated now (a request asks its own only when some is). */
  readonly saturation = new Saturation();
  private readonly loading = new Map<string, Promise<Batcher>>();
  /** Batchers with queued work waiting for a free worker, served round-robin. */
  private readonly waiting = new Set<Batcher>();

  /** Where batchers count drift (monitoring/drift-counters.ts); none: no counting. */
  private readonly drift: DriftSink | undefined;

  constructor(
    pool: InferencePool,
    inline: InlineRunner,
    observer: BatchObserver,
    limits: EngineOptions,
    drift?: DriftSink,
  ) {
    this.pool = pool;
    this.drift = drift;
    this.inline = inline;
    this.observer = observer;
    this.limits = limits;
    pool.onCapacity = () => this.onCapacity();
    inline.onCapacity = () => this.onCapacity();
  }

  get workers(): number {
    return this.pool.size;
  }

  isLoaded(key: string): boolean {
    return this.batchers.has(key);
  }

  /** Whether a loaded version runs on the main thread rather than in the workers. */
  isInline(key: string): boolean {
    return this.batchers.get(key)?.runner === this.inline;
  }

  /** A loaded version's statistics since it was loaded; undefined when it is not loaded. */
  stats(key: string): VersionStats | undefined {
    return this.batchers.get(key)?.stats;
  }

  /** The batching `version` runs (or would run) with. */
  batchLimits(version: ModelVersion): BatchLimits {
    return versionLimits(version, this.limits);
  }

  loadedKeys(): string[] {
    return [...this.batchers.keys()];
  }

  /** Loads and warms a version, on the main thread if it is fast enough, else in every worker (idempotent). */
  load(version: ModelVersion): Promise<Batcher> {
    const existing = this.batchers.get(version.key);
    if (existing) return Promise.resolve(existing);
    let loading = this.loading.get(version.key);
    if (!loading) {
      loading = this.place(version)
        .then((batcher) => {
          this.batchers.set(version.key, batcher);
          return batcher;
        })
        .finally(() => this.loading.delete(version.key));
      this.loading.set(version.key, loading);
    }
    return loading;
  }

  /**
   * Every version loads in the workers first, where creating its session (ONNX Runtime does that
   * synchronously: hundreds of ms for a big model) holds no request. Only a version that loaded
   * there within INLINE_LOAD_MAX_MS and scored a full batch within INLINE_SCREEN times the inline
   * bound is tried on the main thread (InlineRunner's probe decides); if it stays there, the
   * workers drop it.
   */
  private async place(version: ModelVersion): Promise<Batcher> {
    const spec = loadSpec(version);
    const fullBatch = version.manifest.maxBatch ?? this.limits.maxBatch;
    const maxUs = this.limits.inlineMaxUs;
    const timing = await this.pool.load(spec, maxUs > 0 ? fullBatch : 0);
    const candidate =
      maxUs > 0
      && timing !== undefined
      && timing.loadMs <= INLINE_LOAD_MAX_MS
      && (timing.batchUs ?? Infinity) <= maxUs * INLINE_SCREEN;
    const inline =
      candidate
      && (await this.inline.adopt(spec, maxUs, fullBatch).catch((e: unknown) => {
        this.pool.unload(spec.key);
        throw e;
      })) !== undefined;
    if (inline) this.pool.unload(spec.key);
    return new Batcher(
      version,
      spec,
      inline ? this.inline : this.pool,
      this.observer,
      this.limits,
      this.saturation,
      this.drift,
    );
  }

  /** Unloads a version once its queued and in-flight batches are done. */
  async unload(key: string): Promise<void> {
    const batcher = this.batchers.get(key);
    if (!batcher) return;
    this.batchers.delete(key);
    await batcher.idle();
    if (batcher.runner === this.inline) this.inline.unload(key);
    else this.pool.unload(key);
    // Loaded again meanwhile (a new batcher): its series stay.
    if (!this.batchers.has(key)) this.observer.unloaded?.(batcher.version);
  }

  /** The refusal for work on `version` while its queue is saturated (see Batcher.saturated), counted as shed; else undefined. */
  refusal(version: ModelVersion): CroupierError | undefined {
    if (!this.saturation.any) return undefined;
    const batcher = this.batchers.get(version.key);
    return batcher?.saturated ? batcher.refuse() : undefined;
  }

  /** Whether `version`'s queue is saturated (see Batcher.saturated). */
  isSaturated(version: ModelVersion): boolean {
    return this.batchers.get(version.key)?.saturated === true;
  }

  /** Queues a job on its version's batcher; throws not_ready or queue_full (503). */
  submit(version: ModelVersion, job: Job): void {
    const batcher = this.batchers.get(version.key);
    if (!batcher) throw new CroupierError('not_ready', `${version.key} is not loaded`);
    batcher.submit(job);
    if (batcher.pendingRows > 0) this.waiting.add(batcher);
  }

  private onCapacity(): void {
    if (this.waiting.size === 0) return;
    // A copy: a batcher that still has work is added back, and must not be visited again now.
    for (const batcher of [...this.waiting]) {
      this.waiting.delete(batcher);
      if (batcher.flush()) this.waiting.add(batcher);
    }
  }

  /** Resolves when no batch is queued or in flight anywhere. */
  async idle(): Promise<void> {
    await Promise.all([...this.batchers.values()].map((b) => b.idle()));
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.inline.close()]);
  }
}
