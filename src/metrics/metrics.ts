/**
 * The Prometheus registry and the contract's `croupier_` series. Labels never take unbounded
 * values: routes, arms, models and versions are the configured ones; unknown routes are "unknown".
 */
import client from 'prom-client';
import type { BatchObserver } from '../inference/batcher.js';
import type { ModelVersion } from '../registry/repository.js';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

export class Metrics implements BatchObserver {
  readonly registry = new client.Registry();
  readonly requests: client.Counter<'route' | 'arm' | 'model' | 'version' | 'code'>;
  readonly requestDuration: client.Histogram<'route'>;
  readonly inferenceDuration: client.Histogram<'model' | 'version'>;
  readonly batchSize: client.Histogram<'model' | 'version'>;
  readonly queueDepthGauge: client.Gauge<'model' | 'version'>;
  readonly shedTotal: client.Counter<'model' | 'reason'>;
  readonly modelInfo: client.Gauge<'model' | 'version' | 'sha256' | 'live'>;

  constructor() {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    this.requests = new client.Counter({ name: 'croupier_requests_total', help: 'Scoring requests answered, by route, arm, model, version and HTTP status.', labelNames: ['route', 'arm', 'model', 'version', 'code'], registers });
    this.requestDuration = new client.Histogram({ name: 'croupier_request_duration_seconds', help: 'Time from request to answer, by route.', labelNames: ['route'], buckets: LATENCY_BUCKETS, registers });
    this.inferenceDuration = new client.Histogram({ name: 'croupier_inference_duration_seconds', help: 'Time ONNX Runtime spent on one batch.', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers });
    this.batchSize = new client.Histogram({ name: 'croupier_batch_size', help: 'Rows per batch sent to a worker.', labelNames: ['model', 'version'], buckets: BATCH_BUCKETS, registers });
    this.queueDepthGauge = new client.Gauge({ name: 'croupier_queue_depth', help: 'Rows waiting for a worker, per model version.', labelNames: ['model', 'version'], registers });
    this.shedTotal = new client.Counter({ name: 'croupier_shed_total', help: 'Work refused or dropped before inference, by reason.', labelNames: ['model', 'reason'], registers });
    this.modelInfo = new client.Gauge({ name: 'croupier_model_info', help: 'One per served model version (value 1); live says whether it is the live version.', labelNames: ['model', 'version', 'sha256', 'live'], registers });
  }

  batch(version: ModelVersion, rows: number, seconds: number): void {
    this.batchSize.labels(version.model, version.version).observe(rows);
    this.inferenceDuration.labels(version.model, version.version).observe(seconds);
  }

  queueDepth(version: ModelVersion, rows: number): void {
    this.queueDepthGauge.labels(version.model, version.version).set(rows);
  }

  shed(version: ModelVersion, reason: 'queue_full' | 'deadline_exceeded'): void {
    this.shedTotal.labels(version.model, reason).inc();
  }

  request(route: string, arm: string, model: string, version: string, code: number, seconds: number): void {
    this.requests.labels(route, arm, model, version, String(code)).inc();
    this.requestDuration.labels(route).observe(seconds);
  }

  setModels(versions: readonly { version: ModelVersion; live: boolean }[]): void {
    this.modelInfo.reset();
    for (const { version, live } of versions) this.modelInfo.labels(version.model, version.version, version.sha256, String(live)).set(1);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
