/**
 * deploy/prometheus/croupier-rules.yml, checked by promtool (the real client): the file loads
 * (`promtool check rules`), each alert fires when it should and stays quiet when it should not
 * (`promtool test rules` on croupier-rules.test.yml), and the chart's PrometheusRule carries the
 * very same groups (its files/croupier-rules.yml is a copy of the deploy file, byte for byte).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { renderChart } from './helm-template.js';

const promtool = spawnSync('promtool', ['--version']).status === 0;
if (!promtool && process.env.CI === 'true')
  throw new Error('promtool is required under CI=true (apt-get install prometheus); .ci/run installs it');
if (!promtool) console.warn('prometheus-rules.test.ts: promtool checks skipped (apt-get install prometheus)');

const root = join(import.meta.dirname, '..', '..');
const rulesPath = join(root, 'deploy', 'prometheus', 'croupier-rules.yml');
const testsPath = join(root, 'deploy', 'prometheus', 'croupier-rules.test.yml');
const chartCopy = join(root, 'helm', 'croupier', 'files', 'croupier-rules.yml');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface AlertTest {
  eval_time: string;
  alertname: string;
  exp_alerts: { exp_labels: Record<string, string>; exp_annotations?: Record<string, string> }[];
}
interface TestFile {
  rule_files: string[];
  tests: { alert_rule_test?: AlertTest[]; promql_expr_test?: { expr: string }[] }[];
}

const rules = parse(readFileSync(rulesPath, 'utf8')) as RuleFile;
const alerts = rules.groups.flatMap((g) => g.rules).filter((r): r is Rule & { alert: string } => !!r.alert);
const records = rules.groups.flatMap((g) => g.rules).filter((r): r is Rule & { record: string } => !!r.record);
const unitTests = parse(readFileSync(testsPath, 'utf8')) as TestFile;
const alertTests = unitTests.tests.flatMap((t) => t.alert_rule_test ?? []);

/** promtool's exit status and what it printed. */
const run = (...args: string[]): { status: number | null; output: string } => {
  const out = spawnSync('promtool', args, { encoding: 'utf8', timeout: 120_000 });
  return { status: out.status, output: `${out.stdout}${out.stderr}` };
};

describe('deploy/prometheus/croupier-rules.yml', () => {
  it('gives every alert a severity, a summary and a description naming its labels', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    for (const rule of alerts) {
      expect(['critical', 'warning', 'info'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
      // Every label the expression keeps (its `by (...)`) is told in the description.
      const kept = /^[\s(]*(?:max|sum|histogram_quantile\(0\.99, sum) by \(([^)]*)\)/.exec(rule.expr)?.[1];
      for (const label of (kept ?? '').split(',').map((l) => l.trim())) {
        if (label && label !== 'le') expect(rule.annotations!.description, rule.alert).toContain(`$labels.${label}`);
      }
    }
  });

  it('covers each alert kind of CROUPIER_ALERTS and the serving health series', () => {
    const bySeries = (series: string) => alerts.filter((r) => r.expr.includes(series)).map((r) => r.alert);
    expect(bySeries('croupier_drift_psi')).toEqual(['CroupierFeatureDrift', 'CroupierPredictionDrift']);
    expect(bySeries('croupier_route_srm_p_value')).toEqual(['CroupierSampleRatioMismatch']);
    expect(bySeries('croupier_outcome_labels_total')).toEqual(['CroupierLowPrecision']);
    expect(bySeries('croupier_arm_rewards')).toEqual(['CroupierRewardDrop']);
    expect(bySeries('croupier_requests_total')).toEqual(['CroupierRouteErrorRate']);
    expect(bySeries('croupier_request_duration_seconds_bucket')).toEqual(['CroupierRouteLatencyP99High']);
    expect(bySeries('croupier_shed_total')).toEqual(['CroupierShedding']);
    expect(bySeries('croupier_redis_up')).toEqual(['CroupierRedisDown']);
    expect(bySeries('croupier_alerts_firing')).toEqual(['CroupierAlertFiring']);
  });

  it("reads only series Croupier exports (docs/metrics.md, or the contract's monitoring series)", () => {
    const documented = readFileSync(join(root, 'docs', 'metrics.md'), 'utf8');
    // "Monitoring and protection" in the contract; docs/metrics.md lists them once they are exported.
    const monitoring = [
      'croupier_route_srm_p_value',
      'croupier_outcome_labels_total',
      'croupier_arm_disabled',
      'croupier_alerts_firing',
    ];
    const used = new Set(
      rules.groups.flatMap((g) => g.rules).flatMap((r) => [...r.expr.matchAll(/\bcroupier_\w+/g)].map((m) => m[0])),
    );
    expect(used.size).toBeGreaterThanOrEqual(12);
    for (const name of used) {
      const series = name.replace(/_bucket$/, '');
      expect(documented.includes(`\`${series}`) || monitoring.includes(series), name).toBe(true);
    }
  });

  it('has a unit test where each alert fires and one where it stays quiet', () => {
    expect(unitTests.rule_files).toEqual(['croupier-rules.yml']);
    for (const { alert } of alerts) {
      const cases = alertTests.filter((t) => t.alertname === alert);
      expect(
        cases.some((t) => t.exp_alerts.length > 0),
        `${alert} fires somewhere`,
      ).toBe(true);
      expect(
        cases.some((t) => t.exp_alerts.length === 0),
        `${alert} stays quiet somewhere`,
      ).toBe(true);
    }
    const known = new Set(alerts.map((r) => r.alert));
    for (const t of alertTests) expect(known.has(t.alertname), t.alertname).toBe(true);
  });

  it('has a unit test for the value of each recorded series', () => {
    expect(records.map((r) => r.record)).toEqual([
      'croupier:route_error_ratio:rate5m',
      'croupier:route_request_duration_seconds:p99_5m',
      'croupier:route_mean_reward:24h',
    ]);
    const exprs = unitTests.tests.flatMap((t) => t.promql_expr_test ?? []).map((t) => t.expr);
    for (const { record } of records)
      expect(
        exprs.some((e) => e.includes(record)),
        record,
      ).toBe(true);
  });

  it('is copied, byte for byte, into the chart (helm/croupier/files/croupier-rules.yml)', () => {
    expect(readFileSync(chartCopy, 'utf8')).toBe(readFileSync(rulesPath, 'utf8'));
  });

  it.skipIf(!promtool)('passes promtool check rules', () => {
    const { status, output } = run('check', 'rules', rulesPath);
    expect(output).toContain(`SUCCESS: ${rules.groups.flatMap((g) => g.rules).length} rules found`);
    expect(status, output).toBe(0);
  });

  it.skipIf(!promtool)(
    'passes its promtool unit tests (croupier-rules.test.yml)',
    () => {
      const { status, output } = run('test', 'rules', testsPath);
      expect(output).toContain('SUCCESS');
      expect(status, output).toBe(0);
    },
    150_000,
  );

  it.skipIf(!promtool)('fails a unit test whose alert would not fire: the tests can fail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'croupier-rules-'));
    try {
      // The drift threshold raised out of reach: the drift tests that expect an alert must fail.
      writeFileSync(
        join(dir, 'croupier-rules.yml'),
        readFileSync(rulesPath, 'utf8').replaceAll(
          '(croupier_drift_psi{feature!="prediction"}) >= 0.2',
          '(croupier_drift_psi{feature!="prediction"}) >= 2',
        ),
      );
      const drift = unitTests.tests.filter((t) =>
        (t.alert_rule_test ?? []).some((a) => a.alertname === 'CroupierFeatureDrift'),
      );
      writeFileSync(join(dir, 'croupier-rules.test.yml'), stringify({ ...unitTests, tests: drift }));
      const { status, output } = run('test', 'rules', join(dir, 'croupier-rules.test.yml'));
      expect(status).not.toBe(0);
      expect(output).toContain('alertname: CroupierFeatureDrift');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the chart's PrometheusRule", () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'croupier-prometheusrule-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is not rendered by default', () => {
    expect(renderChart().kind('PrometheusRule')).toEqual([]);
  });

  it('carries the rules file’s groups, with the chart’s labels and the ones given', () => {
    const rendered = renderChart({ prometheusRule: { enabled: true, labels: { release: 'kube-prometheus' } } });
    const prometheusRules = rendered.kind('PrometheusRule');
    expect(prometheusRules).toHaveLength(1);
    const [rule] = prometheusRules;
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.metadata.name).toBe('croupier');
    expect(rule.metadata.labels).toMatchObject({
      release: 'kube-prometheus',
      'app.kubernetes.io/name': 'croupier',
      'app.kubernetes.io/instance': 'croupier',
    });
    expect(rule.spec).toEqual(rules);
    expect(rendered.files.get('templates/NOTES.txt')).toContain('Alerts: PrometheusRule croupier holds');
    expect(renderChart().files.get('templates/NOTES.txt')).not.toContain('PrometheusRule');
    // The annotations keep Prometheus's own templates: the chart does not render them.
    expect(rule.spec.groups[0].rules[0].annotations.summary).toContain('{{ $labels.feature }}');
  });

  it.skipIf(!promtool)('holds groups that promtool accepts', () => {
    const [rule] = renderChart({ prometheusRule: { enabled: true } }).kind('PrometheusRule');
    const path = join(dir, 'from-chart.yml');
    writeFileSync(path, stringify(rule.spec));
    const { status, output } = run('check', 'rules', path);
    expect(status, output).toBe(0);
  });
});
