/**
 * deploy/grafana/croupier.json, the Grafana dashboard: it is what scripts/grafana-dashboard.ts
 * writes (and the chart's copy the same bytes); every PromQL expression, with Grafana's variables
 * put in, passes `promtool check rules` as a recording rule; every series and label it reads is
 * one docs/metrics.md documents (or the contract's, for the series being added alongside); it
 * narrows by the `route` and `model` variables wherever a series has those labels; and the chart
 * ships it as a ConfigMap for Grafana's dashboard sidecar.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CHART_COPY, DASHBOARD_FILE, DATASOURCE_UID, dashboard as generated } from '../../scripts/grafana-dashboard.js';
import { renderChart } from './helm-template.js';

const promtool = spawnSync('promtool', ['--version']).status === 0;
if (!promtool && process.env.CI === 'true')
  throw new Error('promtool is required under CI=true (apt-get install prometheus); .ci/run installs it');

const root = join(import.meta.dirname, '..', '..');
const text = readFileSync(join(root, DASHBOARD_FILE), 'utf8');

interface Target {
  refId: string;
  expr: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; datasource?: { uid: string } }[] };
}
const dashboard = JSON.parse(text) as Dashboard;
const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, target: t })));

/** Grafana's variables as a query sees them: multi-value variables become a regex alternation. */
const VARIABLES: Record<string, string> = {
  $route: '(fraud-scoring|ctr)',
  $model: '(fraud|ctr)',
  $__rate_interval: '1m',
  $__range: '6h',
};
const substitute = (expr: string): string =>
  Object.entries(VARIABLES).reduce((e, [name, value]) => e.replaceAll(name, value), expr);

/** The labels of each croupier_ series, from docs/metrics.md's tables and its `name{a,b}` mentions. */
function documentedLabels(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const docs = ['metrics.md', 'routing.md'].map((f) => readFileSync(join(root, 'docs', f), 'utf8')).join('\n');
  for (const m of docs.matchAll(/^\| `(croupier_\w+)` \| [^|]+ \| ([^|]+) \|/gm))
    out.set(
      m[1]!,
      new Set(
        m[2]!
          .split(',')
          .map((l) => l.trim())
          .filter((l) => /^\w+$/.test(l)),
      ),
    );
  for (const m of docs.matchAll(/`(croupier_\w+)\{([\w,]+)\}`/g)) out.set(m[1]!, new Set(m[2]!.split(',')));
  // Named in docs/metrics.md without their labels (routing.md: "the weights in force"): the contract's.
  for (const name of ['croupier_arm_pulls', 'croupier_arm_rewards'])
    if (docs.includes(`\`${name}\``) && !out.has(name)) out.set(name, new Set(['route', 'arm']));
  return out;
}

/**
 * The contract's monitoring series that other work adds at the same time as this dashboard
 * (guardrails, shadow arms), with the contract's labels; once docs/metrics.md lists them, its
 * labels are the ones checked.
 */
const CONTRACT_SERIES: Record<string, string[]> = {
  croupier_arm_disabled: ['route', 'arm'],
  croupier_shadow_total: ['route', 'arm', 'agree'],
  croupier_shadow_score_delta: ['route', 'arm'],
};

/** Labels every series has once scraped (Prometheus adds them), and the histogram bucket bound. */
const TARGET_LABELS = ['instance', 'job'];

describe('deploy/grafana/croupier.json', () => {
  it('is what scripts/grafana-dashboard.ts writes, and the chart carries the same bytes', () => {
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(generated())));
    expect(readFileSync(join(root, CHART_COPY), 'utf8')).toBe(text);
  });

  it('is a Grafana 10+ dashboard on the `datasource` variable, narrowed by `route` and `model`', () => {
    expect(dashboard.uid).toBe('croupier');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(38);
    const variables = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(variables.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const name of ['route', 'model']) {
      expect(variables[name]).toMatchObject({ type: 'query', datasource: { uid: DATASOURCE_UID } });
      expect(JSON.stringify(variables[name]!.query)).toMatch(/label_values\(croupier_\w+, \w+\)/);
    }
    // No data source is named: each panel and query uses the variable.
    for (const p of dashboard.panels.filter((p) => p.type !== 'row'))
      expect(p.datasource?.uid, p.title).toBe(DATASOURCE_UID);
    for (const { panel, target } of queries) expect(target.datasource.uid, panel.title).toBe(DATASOURCE_UID);
    // Unique ids; panels on the 24-column grid, none over another.
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    const cells = new Set<string>();
    for (const { gridPos: g, title } of dashboard.panels) {
      expect(g.x + g.w, title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
    }
  });

  it('shows what the people who run Croupier look at', () => {
    const all = queries.map((q) => q.target.expr).join('\n');
    for (const shown of [
      'rate(croupier_requests_total',
      'histogram_quantile(0.99, sum by (route, le) (rate(croupier_request_duration_seconds_bucket',
      'croupier_batch_size_bucket',
      'croupier_queue_depth',
      'croupier_arm_selection_probability',
      'croupier_arm_rewards',
      'croupier_outcome_labels_total',
      'croupier_drift_psi',
      'croupier_route_srm_p_value',
      'croupier_alerts_firing',
      'croupier_shadow_total',
      'croupier_arm_disabled',
    ])
      expect(all).toContain(shown);
  });

  it('reads only documented series, with their documented labels, and narrows by $route (or $model)', () => {
    const labels = documentedLabels();
    for (const [name, l] of Object.entries(CONTRACT_SERIES)) if (!labels.has(name)) labels.set(name, new Set(l));
    for (const { panel, target } of queries) {
      const where = `${panel.title} (${target.refId})`;
      const used: Set<string>[] = [];
      for (const m of target.expr.matchAll(/\b(croupier_\w+?)(_bucket|_sum|_count)?\b(\{([^}]*)\})?/g)) {
        const [, base, suffix, , matchers = ''] = m;
        const name = labels.has(`${base}${suffix ?? ''}`) ? `${base}${suffix ?? ''}` : base!;
        const known = labels.get(name);
        expect(known, `${where}: ${name} is not in docs/metrics.md`).toBeDefined();
        const allowed = new Set([...known!, ...TARGET_LABELS, ...(suffix === '_bucket' ? ['le'] : [])]);
        used.push(allowed);
        const matched = [...matchers.matchAll(/(\w+)\s*(?:=~|!~|!=|=)\s*"/g)].map((x) => x[1]!);
        for (const label of matched) expect(allowed.has(label), `${where}: ${name}{${label}}`).toBe(true);
        // A series of routes follows the route picker; a series of models (only), the model picker.
        const narrowing = known!.has('route') ? 'route=~"$route"' : known!.has('model') ? 'model=~"$model"' : '';
        expect(matchers, `${where}: ${name} narrowed`).toContain(narrowing);
      }
      for (const m of target.expr.matchAll(/\bby \(([^)]*)\)/g))
        for (const label of m[1]!.split(',').map((l) => l.trim()))
          expect(
            used.some((set) => set.has(label)),
            `${where}: by (${label})`,
          ).toBe(true);
    }
  });

  describe.skipIf(!promtool)('every PromQL expression, checked by promtool', () => {
    let dir = '';
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'croupier-grafana-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const check = (rules: { record: string; expr: string }[]): { status: number | null; output: string } => {
      const file = join(dir, `rules-${rules.length}.yml`);
      writeFileSync(file, stringify({ groups: [{ name: 'croupier-dashboard', rules }] }));
      const out = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 60_000 });
      return { status: out.status, output: `${out.stdout}${out.stderr}` };
    };

    it('passes `promtool check rules` as one recording rule per expression, variables substituted', () => {
      const rules = queries.map(({ panel, target }) => {
        const expr = substitute(target.expr);
        expect(expr, `${panel.title}: a variable left`).not.toContain('$');
        return { record: `croupier_dashboard:panel_${panel.id}:${target.refId.toLowerCase()}`, expr };
      });
      expect(rules.length).toBeGreaterThanOrEqual(30);
      const { status, output } = check(rules);
      expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
      expect(status, output).toBe(0);
    });

    it('fails on an expression promtool cannot parse: the check can fail', () => {
      const broken = substitute(queries[0]!.target.expr).replace('rate(', 'rate((');
      const { status, output } = check([{ record: 'croupier_dashboard:broken', expr: broken }]);
      expect(status).not.toBe(0);
      expect(output).toMatch(/parse error|unclosed/i);
    });
  });
});

describe("the chart's dashboard ConfigMap", () => {
  const dashboards = (overrides: object) =>
    renderChart(overrides)
      .kind('ConfigMap')
      .filter((m) => m.metadata.name.endsWith('-dashboard'));

  it('is not rendered by default', () => {
    expect(dashboards({})).toEqual([]);
  });

  it("carries the dashboard JSON under Grafana's sidecar label, with the labels, annotations and namespace given", () => {
    const [cm, ...more] = dashboards({
      grafanaDashboard: {
        enabled: true,
        namespace: 'monitoring',
        labels: { team: 'ml' },
        annotations: { grafana_folder: 'Croupier' },
      },
    });
    expect(more).toEqual([]);
    expect(cm.metadata).toMatchObject({
      name: 'croupier-dashboard',
      namespace: 'monitoring',
      labels: { grafana_dashboard: '1', team: 'ml', 'app.kubernetes.io/name': 'croupier' },
      annotations: { grafana_folder: 'Croupier' },
    });
    expect(Object.keys(cm.data)).toEqual(['croupier.json']);
    expect(JSON.parse(cm.data['croupier.json'])).toEqual(dashboard);
    // kubectl apply keeps the object in an annotation of at most 256 KiB.
    expect(Buffer.byteLength(cm.data['croupier.json'])).toBeLessThan(200 * 1024);
  });

  it("uses the sidecar's label when it is another, and the release's namespace by default", () => {
    const [cm] = dashboards({
      grafanaDashboard: { enabled: true, sidecarLabel: 'example.com/dashboard', sidecarLabelValue: 'croupier' },
    });
    expect(cm.metadata.labels['example.com/dashboard']).toBe('croupier');
    expect(cm.metadata.labels.grafana_dashboard).toBeUndefined();
    expect(cm.metadata.namespace).toBeUndefined();
  });
});
