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
import { type Panel, ROWS } from './grafana-panels.js';

/** Grafana's reference to the `datasource` variable (a template literal would fill it in: escaped). */
export const DATASOURCE_UID = `\${datasource}`;
const DS = { type: 'prometheus', uid: DATASOURCE_UID } as const;

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
