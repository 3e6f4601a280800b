/**
 * The monitoring room's series: alert notifications and firing rules, guardrail-disabled arms,
 * outcome labels, shadow arms, and what is read from the monitor at scrape time (SRM, drift, its
 * store's failures). Part of Metrics (metrics.ts), which keeps the public methods and delegates.
 */
import client from 'prom-client';
import type { ShadowCells } from '../monitoring/shadow-counts.js';
import { type CounterCell, FastCounter, FastHistogram } from './fast-metrics.js';

export class MonitoringMetrics {
  readonly notifications: client.Counter<'channel' | 'result'>;
  readonly alertsFiring: client.Gauge<'rule'>;
  readonly armDisabledGauge: client.Gauge<'route' | 'arm'>;

  constructor(private readonly registry: client.Registry) {
    const registers = [registry];
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
}
