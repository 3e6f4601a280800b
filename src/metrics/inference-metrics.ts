/**
 * The inference side's series, per model version: batch sizes, ONNX Runtime time per batch, queue
 * depth (read at scrape time) and work shed. Their children are cached per version (the batcher
 * reports every batch); Metrics (metrics.ts) keeps the BatchObserver methods and delegates.
 */
import client from 'prom-client';
import type { ModelVersion } from '../registry/repository.js';
import { FastHistogram, type HistogramCell } from './fast-metrics.js';

interface VersionChildren {
  readonly model: string;
  readonly version: string;
  size: HistogramCell;
  duration: HistogramCell;
  depth: number;
  /** croupier_shed_total's children for the version's model, by reason. */
  shed: Record<'queue_full' | 'deadline_exceeded', client.Counter.Internal>;
}

/**
 * Request and inference durations, in seconds: from 50 µs (an inline model answers in tens of µs)
 * to 10 s (a deadline or a stuck worker), about 2.5x apart so quantiles stay within one step.
 */
export const LATENCY_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

export class InferenceMetrics {
  readonly inferenceDuration: FastHistogram;
  readonly batchSize: FastHistogram;
  readonly queueDepthGauge: client.Gauge<'model' | 'version'>;
  readonly shedTotal: client.Counter<'model' | 'reason'>;
  private readonly batchChildren = new Map<string, VersionChildren>();

  constructor(registry: client.Registry) {
    const registers = [registry];
    this.inferenceDuration = new FastHistogram(
      'croupier_inference_duration_seconds',
      'Time ONNX Runtime spent on one batch.',
      ['model', 'version'],
      LATENCY_BUCKETS,
      registry,
    );
    this.batchSize = new FastHistogram(
      'croupier_batch_size',
      'Rows per batch sent to a worker.',
      ['model', 'version'],
      BATCH_BUCKETS,
      registry,
    );
    this.queueDepthGauge = new client.Gauge({
      name: 'croupier_queue_depth',
      help: 'Rows waiting for a worker, per model version.',
      labelNames: ['model', 'version'],
      registers,
      collect: () => {
        this.queueDepthGauge.reset();
        for (const c of this.batchChildren.values()) this.queueDepthGauge.labels(c.model, c.version).set(c.depth);
      },
    });
    this.shedTotal = new client.Counter({
      name: 'croupier_shed_total',
      help: 'Work refused or dropped before inference, by reason.',
      labelNames: ['model', 'reason'],
      registers,
    });
  }

  private versionChildren(version: ModelVersion): VersionChildren {
    let children = this.batchChildren.get(version.key);
    if (!children) {
      children = {
        model: version.model,
        version: version.version,
        size: this.batchSize.labels(version.model, version.version),
        duration: this.inferenceDuration.labels(version.model, version.version),
        depth: 0,
        shed: {
          queue_full: this.shedTotal.labels(version.model, 'queue_full'),
          deadline_exceeded: this.shedTotal.labels(version.model, 'deadline_exceeded'),
        },
      };
      this.batchChildren.set(version.key, children);
    }
    return children;
  }

  batch(version: ModelVersion, rows: number, seconds: number): void {
    const children = this.versionChildren(version);
    children.size.observe(rows);
    children.duration.observe(seconds);
  }

  queueDepth(version: ModelVersion, rows: number): void {
    this.versionChildren(version).depth = rows;
  }

  shed(version: ModelVersion, reason: 'queue_full' | 'deadline_exceeded'): void {
    this.versionChildren(version).shed[reason].inc();
  }

  /** The versions with cached children, by version key (a version may be retired while iterating). */
  versions(): IterableIterator<[string, VersionChildren]> {
    return this.batchChildren.entries();
  }

  /** A version's batch series leave the page; its cached children go too. */
  retire(model: string, version: string): void {
    for (const [key, c] of this.batchChildren)
      if (c.model === model && c.version === version) this.batchChildren.delete(key);
    this.batchSize.removeMatching({ model, version });
    this.inferenceDuration.removeMatching({ model, version });
  }
}
