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

interface RequestChildren {
  count: CounterCell;
  duration: HistogramCell;
}
interface VersionChildren {
  readonly model: string;
  readonly version: string;
  size: HistogramCell;
  duration: HistogramCell;
  depth: number;
  /** croupier_shed_total's children for the version's model, by reason. */
  shed: Record<'queue_full' | 'deadline_exceeded', client.Counter.Internal>;
}

function getOrCreate<K, V extends Map<unknown, unknown>>(map: Map<K, V>, key: K): V {
  let value = map.get(key);
  if (value === undefined) {
    value = new Map() as V;
    map.set(key, value);
  }
  return value;
}

/**
 * Request and inference durations, in seconds: from 50 µs (an inline model answers in tens of µs)
 * to 10 s (a deadline or a stuck worker), about 2.5x apart so quantiles stay within one step.
 */
export const LATENCY_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/**
 * prom-client's default gauges that promtool refuses (a gauge must not end in _total). Each is the
 * sum of its labelled twin (nodejs_active_handles{type} and so on), which stays.
 */
const DEFAULT_GAUGES_DROPPED = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** One arm of one route, as the arm gauges show it. */
export interface ArmReading {
  readonly route: string;
  readonly arm: string;
  readonly pulls: number;
  readonly rewards: number;
  readonly probability: number;
}

/** Where the feedback-loop gauges are read from at scrape time (nothing on the request path). */
export interface LearningSource {
  decisionsPending(): number;
  decisionsEvicted(): number;
  arms(): Iterable<ArmReading>;
  /** Embedded mode: bytes of features kept with decisions (logFeatures), and decisions that kept none. */
  featuresBytes?(): number;
  featuresDropped?(): { readonly droppedTooLarge: number; readonly droppedOverBudget: number };
}

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
  /** Where the learning gauges read from: the feedback loop, registered once by server.ts (observeLearning). */
  private learning: LearningSource | undefined;
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
    this.notifications = new client.Counter({
      name: 'croupier_notifications_total',
      help: 'Alert, event and report notifications by channel and result (sent, retried, failed: given up, dropped: queue full).',
      labelNames: ['channel', 'result'],
      registers,
    });
    this.alertsFiring = new client.Gauge({
      name: 'croupier_alerts_firing',
      help: 'Alert rules of the alerts file: 1 while firing, 0 otherwise.',
      labelNames: ['rule'],
      registers,
    });
    this.armDisabledGauge = new client.Gauge({
      name: 'croupier_arm_disabled',
      help: 'Arms of routes with guardrails: 1 while a guardrail keeps the arm disabled (no traffic), 0 otherwise.',
      labelNames: ['route', 'arm'],
      registers,
    });
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
    this.inferenceDuration = new FastHistogram(
      'croupier_inference_duration_seconds',
      'Time ONNX Runtime spent on one batch.',
      ['model', 'version'],
      LATENCY_BUCKETS,
      this.registry,
    );
    this.batchSize = new FastHistogram(
      'croupier_batch_size',
      'Rows per batch sent to a worker.',
      ['model', 'version'],
      BATCH_BUCKETS,
      this.registry,
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
    let evictedSeen = 0;
    this.decisionsPending = new client.Gauge({
      name: 'croupier_decisions_pending',
      help: 'Decisions held that still wait for their outcome.',
      registers,
      collect: () => {
        this.decisionsPending.set(this.learning?.decisionsPending() ?? 0);
      },
    });
    this.decisionsEvicted = new client.Counter({
      name: 'croupier_decisions_evicted_total',
      help: 'Decisions dropped from the bounded store before their feedback window passed.',
      registers,
      collect: () => {
        const n = this.learning?.decisionsEvicted() ?? 0;
        if (n > evictedSeen) {
          this.decisionsEvicted.inc(n - evictedSeen);
          evictedSeen = n;
        }
      },
    });
    this.featuresBytes = new client.Gauge({
      name: 'croupier_features_bytes',
      help: 'Bytes of request features kept with decisions (routes with logFeatures), at most CROUPIER_FEATURES_BUDGET.',
      registers,
      collect: () => {
        this.featuresBytes.set(this.learning?.featuresBytes?.() ?? 0);
      },
    });
    const droppedSeen = { too_large: 0, over_budget: 0 };
    this.featuresDropped = new client.Counter({
      name: 'croupier_features_dropped_total',
      help: 'Decisions of routes with logFeatures that kept no features: over CROUPIER_FEATURES_MAX (too_large) or with the budget full (over_budget).',
      labelNames: ['reason'],
      registers,
      collect: () => {
        const d = this.learning?.featuresDropped?.();
        if (!d) return;
        const now = { too_large: d.droppedTooLarge, over_budget: d.droppedOverBudget };
        for (const reason of ['too_large', 'over_budget'] as const) {
          if (now[reason] > droppedSeen[reason]) {
            this.featuresDropped.labels(reason).inc(now[reason] - droppedSeen[reason]);
            droppedSeen[reason] = now[reason];
          }
        }
      },
    });
    this.armPulls = new client.Gauge({
      name: 'croupier_arm_pulls',
      help: 'Times each arm was chosen since its statistics last restarted.',
      labelNames: ['route', 'arm'],
      registers,
      collect: () => this.readArms(),
    });
    this.armRewards = new client.Gauge({
      name: 'croupier_arm_rewards',
      help: 'Sum of rewards credited to each arm since its statistics last restarted.',
      labelNames: ['route', 'arm'],
      registers,
    });
    this.armSelectionProbability = new client.Gauge({
      name: 'croupier_arm_selection_probability',
      help: 'Probability with which each arm is chosen now (the weights in force).',
      labelNames: ['route', 'arm'],
      registers,
    });
    this.swaps = new client.Counter({
      name: 'croupier_model_swaps_total',
      help: 'Live-version changes, by model and kind (deploy, rollback).',
      labelNames: ['model', 'kind'],
      registers,
    });
  }

  private readonly batchChildren = new Map<string, VersionChildren>();

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
    for (const [key, c] of this.batchChildren) if (!served.has(key)) this.retire(c.model, c.version);
  }

  /**
   * A version no longer served nor loaded (unloaded by the engine, or gone from the repository):
   * its labelled series leave the page rather than stay at their last value. The children cached
   * for the request path go too, so a later request under the same labels counts from zero.
   */
  retire(model: string, version: string): void {
    for (const [key, c] of this.batchChildren)
      if (c.model === model && c.version === version) this.batchChildren.delete(key);
    this.batchSize.removeMatching({ model, version });
    this.inferenceDuration.removeMatching({ model, version });
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
    this.notifications.labels(channel, result).inc();
  }

  /** croupier_arm_disabled (monitoring/guardrails/): followed from the shared state on every replica. */
  armDisabled(route: string, arm: string, disabled: boolean): void {
    this.armDisabledGauge.labels(route, arm).set(disabled ? 1 : 0);
  }

  alertFiring(rule: string, firing: boolean): void {
    this.alertsFiring.labels(rule).set(firing ? 1 : 0);
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

  private outcomeLabels: FastCounter | undefined;

  /**
   * croupier_outcome_labels_total's cell for one (route, arm, model, version, predicted, actual):
   * the monitor asks once per series and keeps it (monitoring/monitor.ts).
   */
  labelCounter(
    route: string,
    arm: string,
    model: string,
    version: string,
    predicted: boolean,
    actual: boolean,
  ): CounterCell {
    this.outcomeLabels ??= new FastCounter(
      'croupier_outcome_labels_total',
      'Accepted outcomes with a label, by route, arm, model, version, predicted (the score at the manifest threshold) and actual (the label against the manifest positive): positive or negative.',
      ['route', 'arm', 'model', 'version', 'predicted', 'actual'],
      this.registry,
    );
    const sign = (b: boolean): string => (b ? 'positive' : 'negative');
    return this.outcomeLabels.labels(route, arm, model, version, sign(predicted), sign(actual));
  }

  private shadow: { total: FastCounter; delta: FastHistogram; shed: FastCounter; failed: FastCounter } | undefined;

  /** A shadow arm's croupier_shadow_* cells (monitoring/shadow-counts.ts): the monitor asks once per (route, arm). */
  shadowCells(route: string, arm: string): ShadowCells {
    const m = (this.shadow ??= {
      total: new FastCounter(
        'croupier_shadow_total',
        "Shadow copies scored and compared with the served answer, by route, shadow arm and agree: true or false (same side of the served version's monitor threshold or not), unknown (a version without monitor).",
        ['route', 'arm', 'agree'],
        this.registry,
      ),
      delta: new FastHistogram(
        'croupier_shadow_score_delta',
        'Absolute difference between the shadow score and the served score, per route and shadow arm.',
        ['route', 'arm'],
        [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1],
        this.registry,
      ),
      shed: new FastCounter(
        'croupier_shadow_shed_total',
        'Shadow copies dropped before scoring, by route, shadow arm and reason: busy (a batch of copies already queued for that version in the shadow lane, or it is still loading there), bound (too many copies in flight), overload (the served queues are saturated: copies go first).',
        ['route', 'arm', 'reason'],
        this.registry,
      ),
      failed: new FastCounter(
        'croupier_shadow_failures_total',
        "Shadow copies whose scoring failed, or whose features the shadow's model could not take, per route and shadow arm.",
        ['route', 'arm'],
        this.registry,
      ),
    });
    return {
      agree: [
        m.total.labels(route, arm, 'false'),
        m.total.labels(route, arm, 'true'),
        m.total.labels(route, arm, 'unknown'),
      ],
      delta: m.delta.labels(route, arm),
      shed: {
        busy: m.shed.labels(route, arm, 'busy'),
        bound: m.shed.labels(route, arm, 'bound'),
        overload: m.shed.labels(route, arm, 'overload'),
      },
      failed: m.failed.labels(route, arm),
    };
  }

  /**
   * croupier_route_srm_p_value, read at scrape time from the monitor's last report (at most 15 s
   * old), and what the monitor could not store (croupier_monitor_apply_failures_total,
   * croupier_monitor_deltas_dropped_total).
   */
  observeMonitor(source: {
    srmReadings(): Iterable<{ route: string; window: string; pValue: number }>;
    readonly applyFailures: number;
    readonly droppedDeltas: number;
  }): void {
    const seen = { failures: 0, dropped: 0 };
    const failures: client.Counter = new client.Counter({
      name: 'croupier_monitor_apply_failures_total',
      help: 'Times the monitoring counts could not be handed to their store (Redis down); they are kept for the next try.',
      registers: [this.registry],
      collect: () => {
        if (source.applyFailures > seen.failures) failures.inc(source.applyFailures - seen.failures);
        seen.failures = source.applyFailures;
      },
    });
    const dropped: client.Counter = new client.Counter({
      name: 'croupier_monitor_deltas_dropped_total',
      help: 'Monitoring counts (one series, one minute each) dropped because the store refused them for too long: the windows miss them.',
      registers: [this.registry],
      collect: () => {
        if (source.droppedDeltas > seen.dropped) dropped.inc(source.droppedDeltas - seen.dropped);
        seen.dropped = source.droppedDeltas;
      },
    });
    const gauge: client.Gauge<'route' | 'window'> = new client.Gauge({
      name: 'croupier_route_srm_p_value',
      help: 'Sample-ratio mismatch per route and window: chi-square p-value of the pulls per arm against the sum of their propensities (below 0.001: mismatch). From the last monitoring report, recomputed at most every 15 s.',
      labelNames: ['route', 'window'],
      registers: [this.registry],
      collect: () => {
        gauge.reset();
        for (const r of source.srmReadings()) gauge.labels(r.route, r.window).set(r.pValue);
      },
    });
  }

  /**
   * croupier_drift_psi{model,version,feature,window}, read at scrape time from the monitor's drift
   * windows (monitoring/drift-readings.ts); a read that fails keeps the last values.
   */
  observeDrift(source: {
    driftReadings(): Promise<
      Iterable<{ model: string; version: string; feature: string; window: string; psi: number }> | undefined
    >;
  }): void {
    const gauge: client.Gauge<'model' | 'version' | 'feature' | 'window'> = new client.Gauge({
      name: 'croupier_drift_psi',
      help: 'Population stability index of the rows a model version scored in the window (1h, 24h) against its manifest baseline histogram, per feature (feature="prediction": the score). 0.2 or more is drift. From the monitoring windows, at most 15 s old.',
      labelNames: ['model', 'version', 'feature', 'window'],
      registers: [this.registry],
      collect: async () => {
        const readings = await source.driftReadings();
        if (readings === undefined) return;
        gauge.reset();
        for (const r of readings) gauge.labels(r.model, r.version, r.feature, r.window).set(r.psi);
      },
    });
  }

  /** Subscribes the learning gauges to the feedback loop's readings (once; they read 0 until then). */
  observeLearning(source: LearningSource): void {
    if (this.learning) throw new Error('Metrics: a learning source is observed already');
    this.learning = source;
  }

  private readonly feedbackChildren = new Map<string, Map<string, Map<string, CounterCell>>>();

  feedback(route: string, arm: string, result: 'accepted' | 'duplicate' | 'unknown' | 'expired' | 'invalid'): void {
    const byResult = getOrCreate(getOrCreate(this.feedbackChildren, route), arm);
    let cell = byResult.get(result);
    if (!cell) byResult.set(result, (cell = this.feedbackTotal.labels(route, arm, result)));
    cell.inc();
  }

  /** Fills the three arm gauges at once (from the pulls gauge's collect), dropping removed arms. */
  private readArms(): void {
    this.armPulls.reset();
    this.armRewards.reset();
    this.armSelectionProbability.reset();
    if (!this.learning) return;
    for (const a of this.learning.arms()) {
      this.armPulls.labels(a.route, a.arm).set(a.pulls);
      this.armRewards.labels(a.route, a.arm).set(a.rewards);
      this.armSelectionProbability.labels(a.route, a.arm).set(a.probability);
    }
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
