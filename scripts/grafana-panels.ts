/**
 * The Grafana dashboard's panels, row by row (scripts/grafana-dashboard.ts lays them out and writes
 * deploy/grafana/croupier.json). Each query reads series of docs/metrics.md and narrows by the
 * `route` variable, or `model` for a series of models only; test/deploy/grafana-dashboard.test.ts
 * holds them to that and to promtool.
 */

export interface Query {
  readonly expr: string;
  readonly legend: string;
  /** A table or a stat reads the last value only. */
  readonly instant?: boolean;
}

export interface Panel {
  readonly title: string;
  readonly description: string;
  readonly type: 'timeseries' | 'stat' | 'bargauge' | 'table' | 'state-timeline';
  readonly queries: readonly Query[];
  readonly unit?: string;
  /** Width on Grafana's 24-column grid (height 8). */
  readonly w: number;
  /** Thresholds after the base colour: [value, colour]. */
  readonly thresholds?: readonly [number, string][];
  readonly min?: number;
  readonly max?: number;
  readonly log?: boolean;
}

export interface Row {
  readonly title: string;
  readonly panels: readonly Panel[];
}

const R = 'route=~"$route"';
const M = 'model=~"$model"';
const RATE = '$__rate_interval';

/** Quantile `q` of a histogram's buckets, per `by` labels. */
const quantile = (q: number, series: string, by: string, selector: string): string =>
  `histogram_quantile(${q}, sum by (${by}, le) (rate(${series}_bucket{${selector}}[${RATE}])))`;

/** Labelled outcomes over the dashboard's range, for label metrics. */
const labels = (matchers: string): string =>
  `sum by (route, arm, model, version) (increase(croupier_outcome_labels_total{${R}, ${M}${matchers}}[$__range]))`;

export const ROWS: readonly Row[] = [
  {
    title: 'Serving',
    panels: [
      {
        title: 'Request rate per route',
        description: 'Scoring calls a second (/v1/predict and /v2 infer), answered or refused, per route.',
        type: 'timeseries',
        unit: 'reqps',
        w: 8,
        queries: [{ expr: `sum by (route) (rate(croupier_requests_total{${R}}[${RATE}]))`, legend: '{{route}}' }],
      },
      {
        title: 'Error ratio per route',
        description:
          'Share of scoring calls answered with a 5xx (refused by a full queue, a deadline, a failed inference).',
        type: 'timeseries',
        unit: 'percentunit',
        w: 8,
        min: 0,
        thresholds: [[0.01, 'red']],
        queries: [
          {
            expr: `sum by (route) (rate(croupier_requests_total{${R}, code=~"5.."}[${RATE}])) / sum by (route) (rate(croupier_requests_total{${R}}[${RATE}]))`,
            legend: '{{route}}',
          },
        ],
      },
      {
        title: 'Latency per route (p50, p99)',
        description: 'Time from request to answer, from croupier_request_duration_seconds (histogram_quantile).',
        type: 'timeseries',
        unit: 's',
        w: 8,
        log: true,
        queries: [
          { expr: quantile(0.5, 'croupier_request_duration_seconds', 'route', R), legend: '{{route}} p50' },
          { expr: quantile(0.99, 'croupier_request_duration_seconds', 'route', R), legend: '{{route}} p99' },
        ],
      },
      {
        title: 'Inference time per batch (p99)',
        description: 'Time ONNX Runtime spent on one batch, per model version.',
        type: 'timeseries',
        unit: 's',
        w: 8,
        log: true,
        queries: [
          {
            expr: quantile(0.99, 'croupier_inference_duration_seconds', 'model, version', M),
            legend: '{{model}}@{{version}}',
          },
        ],
      },
      {
        title: 'Batch size (mean, p99 rows)',
        description: 'Rows per batch sent to a worker: the batcher coalesces concurrent requests.',
        type: 'timeseries',
        unit: 'none',
        w: 8,
        queries: [
          {
            expr: `sum by (model, version) (rate(croupier_batch_size_sum{${M}}[${RATE}])) / sum by (model, version) (rate(croupier_batch_size_count{${M}}[${RATE}]))`,
            legend: '{{model}}@{{version}} mean',
          },
          { expr: quantile(0.99, 'croupier_batch_size', 'model, version', M), legend: '{{model}}@{{version}} p99' },
        ],
      },
      {
        title: 'Queue depth and shedding',
        description: 'Rows waiting for a worker, and requests shed (queue_full, deadline_exceeded) a second.',
        type: 'timeseries',
        unit: 'short',
        w: 8,
        queries: [
          { expr: `sum by (model, version) (croupier_queue_depth{${M}})`, legend: '{{model}}@{{version}} queued rows' },
          {
            expr: `sum by (model, reason) (rate(croupier_shed_total{${M}}[${RATE}]))`,
            legend: '{{model}} shed: {{reason}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Routing and rewards',
    panels: [
      {
        title: 'Arm selection probability',
        description: "Each arm's current share of its route's traffic (the policy's propensity; 0 for a disabled arm).",
        type: 'timeseries',
        unit: 'percentunit',
        w: 8,
        min: 0,
        max: 1,
        queries: [
          {
            expr: `avg by (route, arm) (croupier_arm_selection_probability{${R}})`,
            legend: '{{route}} / {{arm}}',
          },
        ],
      },
      {
        title: 'Mean reward per arm',
        description: 'Sum of rewards credited over pulls, per arm (the bandit statistics of the arm and its version).',
        type: 'timeseries',
        unit: 'none',
        w: 8,
        queries: [
          {
            expr: `max by (route, arm) (croupier_arm_rewards{${R}}) / max by (route, arm) (croupier_arm_pulls{${R}} > 0)`,
            legend: '{{route}} / {{arm}}',
          },
        ],
      },
      {
        title: 'Feedback per arm',
        description:
          'Outcomes posted to /v1/feedback a second, by verdict (accepted, duplicate, unknown, expired, invalid).',
        type: 'timeseries',
        unit: 'reqps',
        w: 8,
        queries: [
          {
            expr: `sum by (route, arm, result) (rate(croupier_feedback_total{${R}}[${RATE}]))`,
            legend: '{{route}} / {{arm}}: {{result}}',
          },
        ],
      },
      {
        title: 'Arms disabled by guardrails',
        description: 'An arm worse than its champion with confidence is disabled (1) until a person enables it again.',
        type: 'state-timeline',
        unit: 'bool_on_off',
        w: 8,
        thresholds: [[1, 'red']],
        queries: [{ expr: `max by (route, arm) (croupier_arm_disabled{${R}})`, legend: '{{route}} / {{arm}}' }],
      },
      {
        title: 'Shadow agreement',
        description: "Share of shadow copies on the same side of the served version's threshold as the served answer.",
        type: 'timeseries',
        unit: 'percentunit',
        w: 8,
        min: 0,
        max: 1,
        queries: [
          {
            expr: `sum by (route, arm) (rate(croupier_shadow_total{${R}, agree="true"}[${RATE}])) / sum by (route, arm) (rate(croupier_shadow_total{${R}, agree=~"true|false"}[${RATE}]))`,
            legend: '{{route}} / {{arm}}',
          },
        ],
      },
      {
        title: 'Shadow score delta (p50, p99)',
        description: 'Absolute difference between the shadow score and the served score.',
        type: 'timeseries',
        unit: 'none',
        w: 8,
        queries: [
          { expr: quantile(0.5, 'croupier_shadow_score_delta', 'route, arm', R), legend: '{{route}} / {{arm}} p50' },
          { expr: quantile(0.99, 'croupier_shadow_score_delta', 'route, arm', R), legend: '{{route}} / {{arm}} p99' },
        ],
      },
    ],
  },
  {
    title: 'Model quality',
    panels: [
      {
        title: 'Precision and recall (over the range)',
        description:
          "From labelled outcomes (croupier_outcome_labels_total) over the dashboard's time range, at each version's monitor threshold.",
        type: 'table',
        unit: 'percentunit',
        w: 12,
        queries: [
          {
            expr: `${labels(', predicted="positive", actual="positive"')} / ${labels(', predicted="positive"')}`,
            legend: 'precision',
            instant: true,
          },
          {
            expr: `${labels(', predicted="positive", actual="positive"')} / ${labels(', actual="positive"')}`,
            legend: 'recall',
            instant: true,
          },
        ],
      },
      {
        title: 'Labelled outcomes',
        description: 'Labelled outcomes a second, by predicted (score at the threshold) and actual (label) class.',
        type: 'timeseries',
        unit: 'reqps',
        w: 12,
        queries: [
          {
            expr: `sum by (model, version, predicted, actual) (rate(croupier_outcome_labels_total{${R}, ${M}}[${RATE}]))`,
            legend: '{{model}}@{{version}} predicted {{predicted}}, actual {{actual}}',
          },
        ],
      },
      {
        title: 'Feature drift, 1 h (PSI, top 20)',
        description:
          "PSI of each baseline feature over the last hour against the manifest's baseline; 0.2 or more is drift.",
        type: 'bargauge',
        unit: 'none',
        w: 12,
        min: 0,
        thresholds: [
          [0.1, 'yellow'],
          [0.2, 'red'],
        ],
        queries: [
          {
            expr: `topk(20, max by (model, version, feature) (croupier_drift_psi{${M}, window="1h", feature!="prediction"}))`,
            legend: '{{model}}@{{version}} {{feature}}',
            instant: true,
          },
        ],
      },
      {
        title: 'Prediction drift (PSI of the score)',
        description: 'PSI of the scores against the scores the version gave its training rows, per window.',
        type: 'timeseries',
        unit: 'none',
        w: 12,
        min: 0,
        thresholds: [[0.2, 'red']],
        queries: [
          {
            expr: `max by (model, version, window) (croupier_drift_psi{${M}, feature="prediction"})`,
            legend: '{{model}}@{{version}} {{window}}',
          },
        ],
      },
      {
        title: 'Sample-ratio mismatch (p-value)',
        description:
          'Chi-square p-value of the pulls per arm against their propensities; below 0.001 the split is broken.',
        type: 'timeseries',
        unit: 'none',
        w: 12,
        log: true,
        thresholds: [[0.001, 'green']],
        queries: [
          { expr: `min by (route, window) (croupier_route_srm_p_value{${R}})`, legend: '{{route}} {{window}}' },
        ],
      },
      {
        title: 'Versions',
        description: 'Versions in the repository, which one is live (live="true"), and their sha256.',
        type: 'table',
        unit: 'none',
        w: 12,
        queries: [
          {
            expr: `max by (model, version, live, sha256) (croupier_model_info{${M}})`,
            legend: 'loaded',
            instant: true,
          },
        ],
      },
    ],
  },
  {
    title: 'Alerts and operations',
    panels: [
      {
        title: 'Alerts firing',
        description: 'Alert rules of CROUPIER_ALERTS that fire now (the fleet shares one state).',
        type: 'stat',
        unit: 'none',
        w: 6,
        thresholds: [[1, 'red']],
        queries: [
          { expr: 'sum(max by (rule) (croupier_alerts_firing)) or vector(0)', legend: 'firing', instant: true },
        ],
      },
      {
        title: 'Alert rules',
        description: 'Each rule: firing (1) or not (0).',
        type: 'state-timeline',
        unit: 'bool_on_off',
        w: 10,
        thresholds: [[1, 'red']],
        queries: [{ expr: 'max by (rule) (croupier_alerts_firing)', legend: '{{rule}}' }],
      },
      {
        title: 'Notifications',
        description: 'Alerts, events and reports sent per channel: sent, retried, failed, dropped.',
        type: 'timeseries',
        unit: 'short',
        w: 8,
        queries: [
          {
            expr: `sum by (channel, result) (increase(croupier_notifications_total[${RATE}]))`,
            legend: '{{channel}}: {{result}}',
          },
        ],
      },
      {
        title: 'Deploys and rollbacks',
        description: 'Swaps of the live version per model: deploy, rollback (by a person or by a watched deploy).',
        type: 'timeseries',
        unit: 'short',
        w: 6,
        queries: [
          {
            expr: `sum by (model, kind) (increase(croupier_model_swaps_total{${M}}[${RATE}]))`,
            legend: '{{model}} {{kind}}',
          },
        ],
      },
      {
        title: 'Requests in flight',
        description: 'Requests received and not yet answered, per replica.',
        type: 'timeseries',
        unit: 'short',
        w: 6,
        queries: [{ expr: 'sum by (instance) (croupier_requests_in_flight)', legend: '{{instance}}' }],
      },
      {
        title: 'Redis reachable',
        description: 'Redis mode: the fewest replicas that reach Redis (1) — 0 when one does not.',
        type: 'stat',
        unit: 'bool_yes_no',
        w: 6,
        thresholds: [[1, 'green']],
        queries: [{ expr: 'min(croupier_redis_up)', legend: 'redis up', instant: true }],
      },
      {
        title: 'Monitoring counts not stored',
        description: 'Hand-overs of monitoring counts that failed (Redis down) and counts dropped after too long.',
        type: 'timeseries',
        unit: 'short',
        w: 6,
        queries: [
          {
            expr: `sum(increase(croupier_monitor_apply_failures_total[${RATE}]))`,
            legend: 'failed hand-overs',
          },
          { expr: `sum(increase(croupier_monitor_deltas_dropped_total[${RATE}]))`, legend: 'dropped counts' },
        ],
      },
    ],
  },
];
