/**
 * The Grafana dashboard (deploy/grafana/croupier.json, and its copy in the chart,
 * helm/croupier/files/croupier-dashboard.json), written from one table of panels so that the
 * layout, the data source and the variables stay the same on every panel:
 *
 *   node --import tsx scripts/grafana-dashboard.ts
 *
 * Grafana 10+ JSON (schemaVersion 39). The data source is the `datasource` variable (any
 * Prometheus), and `route` / `model` narrow the panels. Every PromQL expression reads series of
 * docs/metrics.md; test/deploy/grafana-dashboard.test.ts checks them with promtool, checks each
 * series and label against that page, holds the file equal to this script's dashboard, and the
 * chart's copy equal to the file byte for byte. The file is laid out by biome, as every JSON file
 * of the repository is (the chart's copy is not formatted, being under helm/: it is copied after).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Grafana's reference to the `datasource` variable (a template literal would fill it in: escaped). */
export const DATASOURCE_UID = `\${datasource}`;
const DS = { type: 'prometheus', uid: DATASOURCE_UID } as const;

interface Query {
  readonly expr: string;
  readonly legend: string;
  /** A table or a stat reads the last value only. */
  readonly instant?: boolean;
}

interface Panel {
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

interface Row {
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

const HEIGHT = 8;

function thresholds(base: string, steps: readonly [number, string][] = []) {
  return {
    mode: 'absolute',
    steps: [{ color: base, value: null }, ...steps.map(([value, color]) => ({ color, value }))],
  };
}

function panelJson(p: Panel, id: number, x: number, y: number): Record<string, unknown> {
  const refIds = 'ABCDEFGH';
  const targets = p.queries.map((q, i) => ({
    datasource: DS,
    editorMode: 'code',
    expr: q.expr,
    legendFormat: q.legend,
    range: !q.instant,
    instant: !!q.instant,
    ...(p.type === 'table' ? { format: 'table' } : {}),
    refId: refIds[i]!,
  }));
  const base = p.type === 'stat' && p.thresholds?.[0]?.[1] === 'green' ? 'red' : 'green';
  const defaults: Record<string, unknown> = {
    unit: p.unit ?? 'none',
    thresholds: thresholds(base, p.thresholds),
    color: { mode: p.type === 'timeseries' ? 'palette-classic' : 'thresholds' },
    ...(p.min === undefined ? {} : { min: p.min }),
    ...(p.max === undefined ? {} : { max: p.max }),
  };
  if (p.type === 'timeseries')
    defaults.custom = {
      drawStyle: 'line',
      lineWidth: 1,
      fillOpacity: 0,
      showPoints: 'never',
      spanNulls: false,
      axisSoftMin: p.min,
      scaleDistribution: p.log ? { type: 'log', log: 10 } : { type: 'linear' },
      thresholdsStyle: { mode: p.thresholds ? 'line' : 'off' },
    };
  const options: Record<string, unknown> =
    p.type === 'timeseries'
      ? {
          legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
          tooltip: { mode: 'multi', sort: 'desc' },
        }
      : p.type === 'stat'
        ? {
            reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
            colorMode: 'background',
            graphMode: 'none',
            textMode: 'value',
          }
        : p.type === 'bargauge'
          ? {
              reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
              orientation: 'horizontal',
              displayMode: 'gradient',
              showUnfilled: true,
            }
          : p.type === 'state-timeline'
            ? {
                mergeValues: true,
                showValue: 'never',
                legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
              }
            : { showHeader: true };
  return {
    id,
    type: p.type,
    title: p.title,
    description: p.description,
    datasource: DS,
    gridPos: { h: HEIGHT, w: p.w, x, y },
    fieldConfig: { defaults, overrides: [] },
    options,
    targets,
    ...(p.type === 'table' ? { transformations: tableTransformations(p) } : {}),
  };
}

/** A table: one row per label set, a column per query named by its legend, no time column. */
function tableTransformations(p: Panel): Record<string, unknown>[] {
  const renameByName: Record<string, string> = {};
  p.queries.forEach((q, i) => {
    renameByName[p.queries.length === 1 ? 'Value' : `Value #${'ABCDEFGH'[i]}`] = q.legend;
  });
  return [
    { id: 'merge', options: {} },
    { id: 'organize', options: { excludeByName: { Time: true }, renameByName } },
  ];
}

/** A query variable over one label of one series, every value by default. */
function labelVariable(name: string, label: string, series: string, title: string) {
  const query = `label_values(${series}, ${label})`;
  return {
    name,
    label: title,
    type: 'query',
    datasource: DS,
    definition: query,
    query: { query, refId: `${name}-values`, qryType: 1 },
    refresh: 2,
    sort: 1,
    multi: true,
    includeAll: true,
    current: { selected: true, text: ['All'], value: ['$__all'] },
    options: [],
    regex: '',
    hide: 0,
  };
}

export function dashboard(): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0;
    for (const p of row.panels) {
      if (x + p.w > 24) {
        x = 0;
        y += HEIGHT;
      }
      panels.push(panelJson(p, id++, x, y));
      x += p.w;
    }
    y += HEIGHT;
  }
  return {
    title: 'Croupier',
    uid: 'croupier',
    description:
      'Croupier model-serving gateway: traffic and latency per route, batching, arms and rewards, label metrics, drift, SRM, shadows, guardrails and alerts (series: docs/metrics.md).',
    tags: ['croupier', 'model-serving'],
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: '',
    fiscalYearStartMonth: 0,
    liveNow: false,
    links: [],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Data source',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          options: [],
          refresh: 1,
          regex: '',
          hide: 0,
          multi: false,
          includeAll: false,
        },
        labelVariable('route', 'route', 'croupier_arm_selection_probability', 'Route'),
        labelVariable('model', 'model', 'croupier_model_info', 'Model'),
      ],
    },
    panels,
  };
}

export const DASHBOARD_FILE = 'deploy/grafana/croupier.json';
export const CHART_COPY = 'helm/croupier/files/croupier-dashboard.json';

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  writeFileSync(`${root}/${DASHBOARD_FILE}`, `${JSON.stringify(dashboard(), null, 2)}\n`);
  execFileSync('npx', ['biome', 'format', '--write', DASHBOARD_FILE], { cwd: root, stdio: 'ignore' });
  copyFileSync(`${root}/${DASHBOARD_FILE}`, `${root}/${CHART_COPY}`);
  process.stdout.write(`wrote ${DASHBOARD_FILE}, ${CHART_COPY}\n`);
}
