/**
 * The Prometheus registry and the contract's `croupier_` series. Labels never take unbounded
 * values: routes, arms, models and versions are the configured ones; unknown routes are "unknown".
 */
import client from 'prom-client';
import type { BatchObserver } from '../inference/batcher.js';
import type { LoadFailure } from '../registry/lifecycle.js';
import type { Registry } from '../registry/registry.js';
import type { ModelVersion } from '../registry/repository.js';
import type { AuditResult } from '../state/audit-chain.js';
import type { ShadowCells } from '../monitoring/shadow-counts.js';
import { buildInfo } from './build-info.js';
import { FastCounter, FastHistogram, type CounterCell, type HistogramCell } from './fast-metrics.js';
import { InferenceMetrics, LATENCY_BUCKETS } from './inference-metrics.js';
import { LearningMetrics, type LearningSource, type RowLogs } from './learning-metrics.js';
import { MonitoringMetrics } from './monitoring-metrics.js';

interface RequestChildren {
  count: CounterCell;
  duration: HistogramCell;
}

function getOrCreate<K, V extends Map<unknown, unknown>>(map: Map<K, V>, key: K): V {
  let value = map.get(key);
  if (value === undefined) {
    value = new Map() as V;
    map.set(key, value);
  }
  return value;
}

export { LATENCY_BUCKETS } from './inference-metrics.js';

/**
 * prom-client's default gauges that promtool refuses (a gauge must not end in _total). Each is the
 * sum of its labelled twin (nodejs_active_handles{type} and so on), which stays.
 */
const DEFAULT_GAUGES_DROPPED = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export type { ArmReading, LearningSource } from './learning-metrics.js';

export class Metrics implements BatchObserver {
  readonly registry = new client.Registry();
  readonly requests: FastCounter;
  readonly requestDuration: FastHistogram;
  readonly inferenceDuration: FastHistogram;
  readonly batchSize: FastHistogram;
  readonly queueDepthGauge: client.Gauge<'model' | 'version'>;
  readonly shedTotal: client.Counter<'model' | 'reason'>;
  readonly modelInfo: client.Gauge<'model' | 'version' | 'sha256' | 'live'>;
  readonly feedbackTotal: FastCounter;
  readonly decisionsPending: client.Gauge;
  readonly decisionsEvicted: client.Counter;
  readonly featuresBytes: client.Gauge;
  readonly featuresDropped: client.Counter<'reason'>;
  readonly armPulls: client.Gauge<'route' | 'arm'>;
  readonly armRewards: client.Gauge<'route' | 'arm'>;
  readonly armSelectionProbability: client.Gauge<'route' | 'arm'>;
  private readonly learningMetrics: LearningMetrics;
  private readonly monitoring: MonitoringMetrics;
  private readonly inference: InferenceMetrics;
  readonly swaps: client.Counter<'model' | 'kind'>;
  /** Redis mode only: registered by redisUp(), so embedded mode exposes no such series. */
  redisUpGauge: client.Gauge | undefined;
  readonly buildInfo: client.Gauge<'version' | 'node' | 'revision'>;
  readonly requestsInFlight: client.Gauge;
  readonly loadFailures: client.Counter<'model' | 'reason'>;
  readonly adminActions: client.Counter<'action' | 'result'>;
  readonly notifications: client.Counter<'channel' | 'result'>;
  readonly alertsFiring: client.Gauge<'rule'>;
  readonly armDisabledGauge: client.Gauge<'route' | 'arm'>;
  /** Where croupier_requests_in_flight is read at scrape time (the server's own count). */
  private inFlightSource: (() => number) | undefined;

  constructor() {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    for (const name of DEFAULT_GAUGES_DROPPED) this.registry.removeSingleMetric(name);
    const build = buildInfo();
    this.buildInfo = new client.Gauge({
      name: 'croupier_build_info',
      help: 'The running build (value 1): package version, Node.js version, git revision ("" when not known).',
      labelNames: ['version', 'node', 'revision'],
      registers,
    });
    this.buildInfo.labels(build.version, build.node, build.revision).set(1);
    this.requestsInFlight = new client.Gauge({
      name: 'croupier_requests_in_flight',
      help: 'Requests received and not yet answered (every listener and path, the scrape itself included).',
      registers,
      collect: () => {
        this.requestsInFlight.set(this.inFlightSource?.() ?? 0);
      },
    });
    this.loadFailures = new client.Counter({
      name: 'croupier_model_load_failures_total',
      help: 'Model versions that failed to load, by model and reason (invalid: refused by the checks; runtime: ONNX Runtime could not load or warm it; replica: another replica could not).',
      labelNames: ['model', 'reason'],
      registers,
    });
    this.adminActions = new client.Counter({
      name: 'croupier_admin_actions_total',
      help: 'Admin API calls by a valid token, by action and result (ok, noop, refused, failed); calls without one are croupier_admin_refused_total.',
      labelNames: ['action', 'result'],
      registers,
    });
    this.monitoring = new MonitoringMetrics(this.registry);
    this.notifications = this.monitoring.notifications;
    this.alertsFiring = this.monitoring.alertsFiring;
    this.armDisabledGauge = this.monitoring.armDisabledGauge;
    this.requests = new FastCounter(
      'croupier_requests_total',
      'Scoring requests answered, by route, arm, model, version and HTTP status.',
      ['route', 'arm', 'model', 'version', 'code'],
      this.registry,
    );
    this.requestDuration = new FastHistogram(
      'croupier_request_duration_seconds',
      'Time from request to answer, by route.',
      ['route'],
      LATENCY_BUCKETS,
      this.registry,
    );
    this.inference = new InferenceMetrics(this.registry);
    this.inferenceDuration = this.inference.inferenceDuration;
    this.batchSize = this.inference.batchSize;
    this.queueDepthGauge = this.inference.queueDepthGauge;
    this.shedTotal = this.inference.shedTotal;
    this.modelInfo = new client.Gauge({
      name: 'croupier_model_info',
      help: 'One per served model version (value 1); live says whether it is the live version.',
      labelNames: ['model', 'version', 'sha256', 'live'],
      registers,
    });
    this.feedbackTotal = new FastCounter(
      'croupier_feedback_total',
      'Feedback events, by route, arm and result (accepted, duplicate, unknown, expired, invalid).',
      ['route', 'arm', 'result'],
      this.registry,
    );
    this.learningMetrics = new LearningMetrics(this.registry);
    this.decisionsPending = this.learningMetrics.decisionsPending;
    this.decisionsEvicted = this.learningMetrics.decisionsEvicted;
    this.featuresBytes = this.learningMetrics.featuresBytes;
    this.featuresDropped = this.learningMetrics.featuresDropped;
    this.armPulls = this.learningMetrics.armPulls;
    this.armRewards = this.learningMetrics.armRewards;
    this.armSelectionProbability = this.learningMetrics.armSelectionProbability;
    this.swaps = new client.Counter({
      name: 'croupier_model_swaps_total',
      help: 'Live-version changes, by model and kind (deploy, rollback).',
      labelNames: ['model', 'kind'],
      registers,
    });
  }

  batch(version: ModelVersion, rows: number, seconds: number): void {
    this.inference.batch(version, rows, seconds);
  }

  queueDepth(version: ModelVersion, rows: number): void {
    this.inference.queueDepth(version, rows);
  }

  shed(version: ModelVersion, reason: 'queue_full' | 'deadline_exceeded'): void {
    this.inference.shed(version, reason);
  }

  /**
   * Label children are looked up once per label set, not per request (prom-client hashes labels).
   * Nested maps keyed by the configured names: those strings are long-lived, so their hashes are
   * cached, where a joined key would be a new string to hash on every request.
   */
  private readonly requestChildren = new Map<
    string,
    Map<string, Map<string, Map<string, Map<number, RequestChildren>>>>
  >();

  request(route: string, arm: string, model: string, version: string, code: number, seconds: number): void {
    const byArm = getOrCreate(this.requestChildren, route);
    const byModel = getOrCreate(byArm, arm);
    const byVersion = getOrCreate(byModel, model);
    const byCode = getOrCreate(byVersion, version);
    let children = byCode.get(code);
    if (!children) {
      children = {
        count: this.requests.labels(route, arm, model, version, String(code)),
        duration: this.requestDuration.labels(route),
      };
      byCode.set(code, children);
    }
    children.count.inc();
    children.duration.observe(seconds);
  }

  setModels(versions: readonly { version: ModelVersion; live: boolean }[]): void {
    this.modelInfo.reset();
    for (const { version, live } of versions)
      this.modelInfo.labels(version.model, version.version, version.sha256, String(live)).set(1);
    // A version gone from the repository takes its series with it.
    const served = new Set(versions.map((v) => v.version.key));
    for (const [key, c] of this.inference.versions()) if (!served.has(key)) this.retire(c.model, c.version);
  }

  /**
   * A version no longer served nor loaded (unloaded by the engine, or gone from the repository):
   * its labelled series leave the page rather than stay at their last value. The children cached
   * for the request path go too, so a later request under the same labels counts from zero.
   */
  retire(model: string, version: string): void {
    this.inference.retire(model, version);
    this.requests.removeMatching({ model, version });
    for (const byArm of this.requestChildren.values())
      for (const byModel of byArm.values()) byModel.get(model)?.delete(version);
  }

  /** The engine unloaded a version (BatchObserver). */
  unloaded(version: ModelVersion): void {
    this.retire(version.model, version.version);
  }

  /** croupier_requests_in_flight reads `read` at scrape time (nothing on the request path). */
  countInFlight(read: () => number): void {
    this.inFlightSource = read;
  }

  loadFailed(model: string, reason: LoadFailure): void {
    this.loadFailures.labels(model, reason).inc();
  }

  adminAction(action: string, result: AuditResult): void {
    this.adminActions.labels(action, result).inc();
  }

  /** Labels are the alerts file's channel names (bounded). */
  notification(channel: string, result: 'sent' | 'retried' | 'failed' | 'dropped'): void {
    this.monitoring.notification(channel, result);
  }

  /** croupier_arm_disabled (monitoring/guardrails/): followed from the shared state on every replica. */
  armDisabled(route: string, arm: string, disabled: boolean): void {
    this.monitoring.armDisabled(route, arm, disabled);
  }

  alertFiring(rule: string, firing: boolean): void {
    this.monitoring.alertFiring(rule, firing);
  }

  /** A route's scoring requests since start, and those answered 5xx (error_rate alert rules; read every interval, not per request). */
  requestTotals(route: string): { requests: number; errors: number } {
    let requests = 0;
    let errors = 0;
    for (const byModel of this.requestChildren.get(route)?.values() ?? [])
      for (const byVersion of byModel.values())
        for (const byCode of byVersion.values())
          for (const [code, children] of byCode) {
            requests += children.count.value;
            if (code >= 500) errors += children.count.value;
          }
    return { requests, errors };
  }

  /** After a deploy, rollback or pushed version: croupier_model_info follows the registry. */
  modelsChanged(registry: Registry): void {
    this.setModels(registry.allVersions().map((v) => ({ version: v, live: registry.model(v.model)!.live === v })));
  }

  swap(model: string, kind: 'deploy' | 'rollback'): void {
    this.swaps.labels(model, kind).inc();
  }

  /** Redis mode: croupier_redis_up, read from the connection's last known state at scrape time. */
  redisUp(read: () => number): void {
    if (this.redisUpGauge) this.registry.removeSingleMetric('croupier_redis_up');
    const gauge: client.Gauge = new client.Gauge({
      name: 'croupier_redis_up',
      help: 'Whether this replica reaches Redis now (1) or not (0). Redis mode only.',
      registers: [this.registry],
      collect: () => {
        gauge.set(read());
      },
    });
    this.redisUpGauge = gauge;
  }

  /** croupier_outcome_labels_total's cell (monitoring/monitor.ts asks once per series and keeps it). */
  labelCounter(
    route: string,
    arm: string,
    model: string,
    version: string,
    predicted: boolean,
    actual: boolean,
  ): CounterCell {
    return this.monitoring.labelCounter(route, arm, model, version, predicted, actual);
  }

  /** A shadow arm's croupier_shadow_* cells (monitoring/shadow-counts.ts): the monitor asks once per (route, arm). */
  shadowCells(route: string, arm: string): ShadowCells {
    return this.monitoring.shadowCells(route, arm);
  }

  /** croupier_route_srm_p_value and the monitor's store failures, read at scrape time. */
  observeMonitor(source: Parameters<MonitoringMetrics['observeMonitor']>[0]): void {
    this.monitoring.observeMonitor(source);
  }

  /** croupier_drift_psi, read at scrape time from the monitor's drift windows. */
  observeDrift(source: Parameters<MonitoringMetrics['observeDrift']>[0]): void {
    this.monitoring.observeDrift(source);
  }

  /** Subscribes the learning gauges to the feedback loop's readings (once; they read 0 until then). */
  observeLearning(source: LearningSource): void {
    this.learningMetrics.observe(source);
  }

  /** The training rows and the outcome log, whose drops `croupier_rows_dropped_total` counts. */
  observeRows(rows: RowLogs): void {
    this.learningMetrics.observeRows(rows);
  }

  private readonly feedbackChildren = new Map<string, Map<string, Map<string, CounterCell>>>();

  feedback(route: string, arm: string, result: 'accepted' | 'duplicate' | 'unknown' | 'expired' | 'invalid'): void {
    const byResult = getOrCreate(getOrCreate(this.feedbackChildren, route), arm);
    let cell = byResult.get(result);
    if (!cell) byResult.set(result, (cell = this.feedbackTotal.labels(route, arm, result)));
    cell.inc();
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
