/**
 * The Helm chart, checked without helm (it does not exist on the dev machines or CI; the image is
 * checked in image.test.ts, the values schema in values-schema.test.ts). Chart.yaml and values.yaml
 * are parsed; templates are Go templates, not YAML, so their text is checked for the objects and
 * fields the deployment depends on; the CROUPIER_* variables they set are the ones the options
 * table (src/config/options.ts) says the chart sets.
 */
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { OPTION_LIST } from '../../src/config/options.js';

const root = join(import.meta.dirname, '..', '..');
const chart = join(root, 'helm', 'croupier');
const read = (path: string): string => readFileSync(path, 'utf8');
const template = (name: string): string => read(join(chart, 'templates', name));
/** Every file under templates/, as paths relative to it (`tests/test-connection.yaml`). */
const templateFiles = (
  readdirSync(join(chart, 'templates'), { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[]
)
  .filter((e) => e.isFile())
  .map((e) => relative(join(chart, 'templates'), join(e.parentPath, e.name)));
const pkg = JSON.parse(read(join(root, 'package.json'))) as { version: string };
// biome-ignore lint/suspicious/noExplicitAny: values.yaml is untyped YAML, read by dotted paths
const values = parse(read(join(chart, 'values.yaml'))) as Record<string, any>;
/** The value at a dotted path of values.yaml (`batching.maxBatch`). */
const valueAt = (path: string): unknown =>
  // biome-ignore lint/suspicious/noExplicitAny: walks untyped YAML
  path.split('.').reduce<any>((node, key) => (node === undefined ? undefined : node[key]), values);

describe('Chart.yaml', () => {
  const meta = parse(read(join(chart, 'Chart.yaml'))) as Record<string, unknown>;

  it('is a v2 application chart whose appVersion is the package version', () => {
    expect(meta.apiVersion).toBe('v2');
    expect(meta.name).toBe('croupier');
    expect(meta.type).toBe('application');
    expect(typeof meta.version).toBe('string');
    expect(meta.appVersion).toBe(pkg.version);
  });

  it('fetches nothing: Redis is by URL, not a chart dependency', () => {
    expect(meta.dependencies).toBeUndefined();
  });
});

describe('values.yaml', () => {
  it('has the keys people expect', () => {
    const paths = [
      'replicaCount',
      'image.repository',
      'image.tag',
      'image.pullPolicy',
      'resources',
      'podSecurityContext',
      'securityContext',
      'service.type',
      'service.port',
      'admin.port',
      'admin.service.enabled',
      'adminTokens.existingSecret',
      'adminTokens.inline',
      'routes',
      'models.source',
      'models.existingClaim',
      'redis.url',
      'redis.existingSecret',
      'redis.sentinels',
      'redis.clusterNodes',
      'redis.name',
      'redis.waitReplicas',
      'extraEnv',
      'envFrom',
      'extraVolumes',
      'extraVolumeMounts',
      'image.digest',
      'strategy.type',
      'ingress.enabled',
      'httpRoute.enabled',
      'networkPolicy.enabled',
      'networkPolicy.adminFrom',
      'podMonitor.enabled',
      'autoscaling.queueDepth.enabled',
      'tests.enabled',
      'workers',
      'batching.maxBatch',
      'batching.batchDelayUs',
      'autoscaling.enabled',
      'autoscaling.minReplicas',
      'autoscaling.maxReplicas',
      'autoscaling.targetCPUUtilizationPercentage',
      'podDisruptionBudget.enabled',
      'podDisruptionBudget.minAvailable',
      'podDisruptionBudget.maxUnavailable',
      'serviceMonitor.enabled',
      'prometheusRule.enabled',
      'grafanaDashboard.enabled',
      'terminationGracePeriodSeconds',
      'preStop.sleepSeconds',
      'drainTimeoutMs',
      'nodeSelector',
      'tolerations',
      'affinity',
      'podAnnotations',
    ];
    for (const path of paths) {
      expect(valueAt(path), path).not.toBeUndefined();
    }
    expect(values.podAnnotations['prometheus.io/scrape']).toBe('true');
  });

  it('defaults to a hardened, single-replica, embedded gateway with the admin API on its own port', () => {
    expect(values.replicaCount).toBe(1);
    expect(values.redis.url).toBe('');
    expect(values.admin.port).toBeTypeOf('number');
    expect(values.admin.port).not.toBe(values.containerPort);
    expect(values.networkPolicy.enabled).toBe(true);
    expect(values.networkPolicy.adminFrom).toEqual([]);
    // Chosen by the chart: Recreate in embedded mode, RollingUpdate with Redis.
    expect(values.strategy.type).toBe('');
    expect(values.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(values.podSecurityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
  });

  it('gives the drain time to finish: grace period > preStop pause + drain timeout', () => {
    expect(values.terminationGracePeriodSeconds).toBeGreaterThan(
      values.preStop.sleepSeconds + values.drainTimeoutMs / 1000,
    );
  });
});

describe('templates', () => {
  const kinds: Record<string, [apiVersion: string, kind: string]> = {
    'deployment.yaml': ['apps/v1', 'Deployment'],
    'service.yaml': ['v1', 'Service'],
    'hpa.yaml': ['autoscaling/v2', 'HorizontalPodAutoscaler'],
    'pdb.yaml': ['policy/v1', 'PodDisruptionBudget'],
    'servicemonitor.yaml': ['monitoring.coreos.com/v1', 'ServiceMonitor'],
    'configmap.yaml': ['v1', 'ConfigMap'],
    'secret.yaml': ['v1', 'Secret'],
    'serviceaccount.yaml': ['v1', 'ServiceAccount'],
    'podmonitor.yaml': ['monitoring.coreos.com/v1', 'PodMonitor'],
    'prometheusrule.yaml': ['monitoring.coreos.com/v1', 'PrometheusRule'],
    'grafana-dashboard.yaml': ['v1', 'ConfigMap'],
    'ingress.yaml': ['networking.k8s.io/v1', 'Ingress'],
    'httproute.yaml': ['gateway.networking.k8s.io/v1', 'HTTPRoute'],
    'networkpolicy.yaml': ['networking.k8s.io/v1', 'NetworkPolicy'],
    'tests/test-connection.yaml': ['v1', 'Pod'],
  };

  it.each(Object.entries(kinds))('%s declares its kind and apiVersion', (file, [apiVersion, kind]) => {
    const text = template(file);
    expect(text).toMatch(new RegExp(`^apiVersion: ${apiVersion.replace(/[./]/g, '\\$&')}$`, 'm'));
    expect(text).toMatch(new RegExp(`^kind: ${kind}$`, 'm'));
  });

  it('has NOTES.txt and the helpers', () => {
    expect(existsSync(join(chart, 'templates', 'NOTES.txt'))).toBe(true);
    expect(template('NOTES.txt')).toMatch(/port-forward/);
    expect(template('_helpers.tpl')).toMatch(/define "croupier\.fullname"/);
  });

  it('uses only helpers that _helpers.tpl defines', () => {
    const defined = new Set([...template('_helpers.tpl').matchAll(/define "([\w.]+)"/g)].map((m) => m[1]));
    for (const file of templateFiles) {
      for (const m of template(file).matchAll(/include "([\w.]+)"/g))
        expect(defined.has(m[1]), `${file}: ${m[1]}`).toBe(true);
    }
  });

  it('balances its template actions (every if/with/range/define has an end)', () => {
    for (const file of templateFiles) {
      const actions = [...template(file).matchAll(/\{\{-?\s*(if|with|range|define|end)\b/g)].map((m) => m[1]);
      const opened = actions.filter((a) => a !== 'end').length;
      expect(actions.filter((a) => a === 'end').length, file).toBe(opened);
    }
  });

  describe('the Deployment', () => {
    const text = template('deployment.yaml');

    it('probes the V2 health endpoints: live for liveness and startup, ready for readiness', () => {
      expect(text).toMatch(/livenessProbe:\s+httpGet:\s+path: \/v2\/health\/live/);
      expect(text).toMatch(/startupProbe:\s+httpGet:\s+path: \/v2\/health\/live/);
      expect(text).toMatch(/readinessProbe:\s+httpGet:\s+path: \/v2\/health\/ready/);
    });

    it('pauses in preStop and sets the termination grace period', () => {
      expect(text).toMatch(/preStop:/);
      expect(text).toMatch(/command: \["sleep", /);
      expect(text).toMatch(/terminationGracePeriodSeconds: \{\{ \.Values\.terminationGracePeriodSeconds \}\}/);
      // The render refuses a grace period that would cut the drain short.
      expect(template('_helpers.tpl')).toMatch(/terminationGracePeriodSeconds \(%d\) must exceed/);
    });

    it('runs non-root on a read-only root filesystem, with writable /tmp and state volumes', () => {
      expect(text).toMatch(/securityContext:\s+\{\{- toYaml \.Values\.securityContext/);
      expect(text).toMatch(/securityContext:\s+\{\{- toYaml \.Values\.podSecurityContext/);
      expect(text).toMatch(/mountPath: \/tmp/);
      expect(text).toMatch(/mountPath: \{\{ \.Values\.state\.mountPath \}\}/);
      expect(values.state.mountPath).toBe('/var/lib/croupier');
    });

    it('reads tokens from the mounted file, routes from the ConfigMap, Redis from a Secret', () => {
      expect(text).toContain('value: "@/etc/croupier/tokens"');
      expect(text).toContain('value: /etc/croupier/routes.json');
      expect(text).toMatch(/name: CROUPIER_REDIS_URL\s+valueFrom:\s+secretKeyRef:/);
      // Only when set: 0 (the default) is what the gateway does without it.
      expect(text).toMatch(
        /\{\{- with \.Values\.redis\.waitReplicas \}\}\s+- name: CROUPIER_REDIS_WAIT_REPLICAS\s+value: \{\{ int64 \. \| quote \}\}/,
      );
      expect(values.redis.waitReplicas).toBe(0);
      expect(template('configmap.yaml')).toMatch(/routes\.json: \|/);
      expect(template('secret.yaml')).toMatch(/tokens: \|/);
    });

    it('listens on all interfaces and never allows the slow HTTP fallback', () => {
      expect(text).toMatch(/name: CROUPIER_HOST\s+value: "0\.0\.0\.0"/);
      for (const file of templateFiles) expect(template(file), file).not.toContain('CROUPIER_ALLOW_SLOW_HTTP');
      expect(read(join(chart, 'values.yaml'))).not.toContain('CROUPIER_ALLOW_SLOW_HTTP');
    });
  });

  it('scrapes /metrics on the data-plane port', () => {
    expect(template('servicemonitor.yaml')).toMatch(/- port: http\s+path: \/metrics/);
  });
});

describe('environment variables: the options table (src/config/options.ts) says which the chart sets', () => {
  const known = new Set(OPTION_LIST.map((o) => o.env));
  const sources = [
    ...templateFiles.map((f) => join(chart, 'templates', f)),
    join(chart, 'values.yaml'),
    join(root, 'Dockerfile'),
  ];
  const deployment = template('deployment.yaml');

  it.each(sources.map((s) => [s.slice(root.length + 1), s]))('%s names only variables of the table', (_name, path) => {
    for (const [variable] of read(path).matchAll(/CROUPIER_[A-Z0-9_]+/g)) {
      expect(known.has(variable), `${variable} in ${path}`).toBe(true);
    }
  });

  const options = OPTION_LIST.map((o) => [o.env, o] as const);
  it.each(options)('%s is set by the Deployment exactly when the table says so', (env, o) => {
    const set = new RegExp(`- name: ${env}\\s`).test(deployment);
    expect(set).toBe(o.chart !== undefined);
    if (o.chart === undefined || o.chart === 'template') return;
    expect(valueAt(o.chart), `values.yaml ${o.chart}`).not.toBeUndefined();
    expect(deployment).toContain(`.Values.${o.chart}`);
  });

  it("defaults what it sets to the gateway's own defaults (but the state dir: the volume)", () => {
    for (const o of OPTION_LIST) {
      const ownValue = o.chart !== undefined && o.chart !== 'template' && o.env !== 'CROUPIER_STATE_DIR';
      if (!ownValue || o.default === undefined) continue;
      expect(o.value(String(valueAt(o.chart))), o.env).toEqual(o.value(undefined));
    }
  });
});
