/**
 * test/deploy/helm-template.ts against the real thing: Go's text/template with Sprig and Helm's
 * include/toYaml/fail and .Files.Get (test/deploy/helm-template-go/main.go), on value sets that
 * switch every branch of the chart on and off and on each value the chart refuses. The two must
 * render the same bytes, and refuse with the same message.
 *
 * The values are checked against values.schema.json first, by gojsonschema (Helm 3's validator
 * before 3.18) and by Ajv in the renderer: both accept the same sets and refuse the same mistakes.
 *
 * It needs Go and three Debian packages (there is no helm binary and no Go module download here):
 *   apt-get install golang-go golang-github-masterminds-sprig-dev golang-github-ghodss-yaml-dev \
 *     golang-github-xeipuuv-gojsonschema-dev
 * Without them it is skipped, and says so.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chartFields, chartValues, renderChart } from './helm-template.js';

const gopath = '/usr/share/gocode';
const haveGo =
  spawnSync('go', ['version']).status === 0
  && ['github.com/Masterminds/sprig', 'github.com/ghodss/yaml', 'github.com/xeipuuv/gojsonschema'].every((p) =>
    existsSync(join(gopath, 'src', p)),
  );
if (!haveGo)
  console.warn(
    'helm-template-go.test.ts skipped: needs go and golang-github-{masterminds-sprig,ghodss-yaml,xeipuuv-gojsonschema}-dev',
  );

const chartDir = join(import.meta.dirname, '..', '..', 'helm', 'croupier');
const redis = { redis: { url: 'redis://redis-master.data:6379/0' } };

const renders: [string, object][] = [
  ['the defaults', {}],
  [
    'every option on',
    {
      ...redis,
      replicaCount: 3,
      image: { digest: `sha256:${'ab'.repeat(32)}` },
      admin: { service: { enabled: true } },
      adminTokens: { inline: { ci: 'a-long-random-token', bob: 'another-long-one' } },
      routes: { r: { policy: 'fixed', arms: [{ name: 'a', model: 'fraud', version: 'live' }] } },
      models: { source: 'existingClaim', existingClaim: 'croupier-models', subPath: 'models' },
      state: { existingClaim: 'croupier-state' },
      autoscaling: { enabled: true, queueDepth: { enabled: true } },
      podDisruptionBudget: { enabled: true },
      serviceMonitor: { enabled: true, labels: { release: 'prom' } },
      prometheusRule: { enabled: true, labels: { release: 'prom', team: 'ml' } },
      grafanaDashboard: {
        enabled: true,
        namespace: 'monitoring',
        labels: { team: 'ml' },
        annotations: { grafana_folder: 'Croupier' },
      },
      ingress: { enabled: true, className: 'nginx', tls: [{ secretName: 'tls', hosts: ['croupier.example.com'] }] },
      httpRoute: { enabled: true, hostnames: ['croupier.example.com'] },
      networkPolicy: {
        adminFrom: [{ podSelector: { matchLabels: { role: 'ci' } } }],
        dataPlaneFrom: [{ namespaceSelector: { matchLabels: { team: 'apps' } } }],
      },
      extraEnv: [{ name: 'NODE_EXTRA_CA_CERTS', value: '/ca/ca.pem' }],
      extraVolumes: [{ name: 'ca', configMap: { name: 'ca' } }],
      extraVolumeMounts: [{ name: 'ca', mountPath: '/ca' }],
      envFrom: [{ configMapRef: { name: 'extra' } }],
      preStop: { handler: 'sleep' },
      decisionsMax: 12_000_000,
      tests: { image: 'curlimages/curl:8.11.1' },
      tolerations: [{ key: 'dedicated', operator: 'Exists' }],
      nodeSelector: { pool: 'inference' },
      podLabels: { team: 'ml' },
      imagePullSecrets: [{ name: 'registry' }],
      priorityClassName: 'high',
    },
  ],
  [
    'Sentinel, queue-depth autoscaling alone, a PodMonitor',
    {
      replicaCount: 2,
      redis: { sentinels: ['sentinel-0:26379', 'sentinel-1:26379'], name: 'mymaster', waitReplicas: 1 },
      podDisruptionBudget: { enabled: true, minAvailable: '50%' },
      podMonitor: { enabled: true },
      autoscaling: { enabled: true, targetCPUUtilizationPercentage: null, queueDepth: { enabled: true } },
    },
  ],
  [
    'existing Secrets, emptyDir models, admin on the data port, no policy',
    {
      redis: { existingSecret: 'croupier-redis' },
      adminTokens: { existingSecret: 'croupier-admin' },
      models: { source: 'emptyDir' },
      admin: { port: '' },
      networkPolicy: { enabled: false },
      serviceAccount: { create: false },
      strategy: { type: 'RollingUpdate' },
    },
  ],
  ['a 70-character fullnameOverride', { fullnameOverride: 'x'.repeat(70), admin: { service: { enabled: true } } }],
  ['two replicas without Redis', { replicaCount: 2 }],
  ['a rolling update without Redis', { strategy: { type: 'RollingUpdate' } }],
  ['an Ingress with the admin API on the data port', { admin: { port: '' }, ingress: { enabled: true } }],
  ['the admin port on the data port', { admin: { port: 8080 } }],
  ['both monitors', { serviceMonitor: { enabled: true }, podMonitor: { enabled: true } }],
  [
    'the dashboard for a sidecar with its own label',
    { grafanaDashboard: { enabled: true, sidecarLabel: 'example.com/dashboard', sidecarLabelValue: 'croupier' } },
  ],
  ['autoscaling without a metric', { ...redis, autoscaling: { enabled: true, targetCPUUtilizationPercentage: null } }],
  ['a grace period shorter than the drain', { terminationGracePeriodSeconds: 30 }],
  ['Sentinel without a name', { replicaCount: 2, redis: { sentinels: ['sentinel-0:26379'] } }],
  // Refused by the schema, before any template runs.
  ['the old env key', { env: [{ name: 'X', value: '1' }] }],
  ['a tag as digest', { image: { digest: 'latest' } }],
  ['a port out of range', { admin: { port: 70000 } }],
  ['a string replica count', { replicaCount: '2' }],
  ['no workers', { workers: 0 }],
  ['a count as a string in a PDB', { podDisruptionBudget: { maxUnavailable: '50' } }],
  ['a size in words', { bodyLimit: '1 megabyte' }],
  [
    'a relative Ingress path',
    { ingress: { hosts: [{ host: 'a.example', paths: [{ path: 'api', pathType: 'Prefix' }] }] } },
  ],
  ['a short inline token', { adminTokens: { inline: { ci: 'short' } } }],
  ['a dashboard label with a space', { grafanaDashboard: { enabled: true, sidecarLabel: 'grafana dashboard' } }],
  ['a dashboard label value as a number', { grafanaDashboard: { sidecarLabelValue: 1 } }],
  ['a Sentinel without a port', { redis: { sentinels: ['sentinel-0'] } }],
];

describe.skipIf(!haveGo)('the renderer and Go text/template + Sprig render the chart alike', () => {
  let dir = '';
  let binary = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'croupier-helm-go-'));
    binary = join(dir, 'render');
    execFileSync('go', ['build', '-o', binary, '.'], {
      cwd: join(import.meta.dirname, 'helm-template-go'),
      env: { ...process.env, GO111MODULE: 'off', GOPATH: gopath, GOFLAGS: '' },
    });
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(renders)('%s', (_what, overrides) => {
    const go = JSON.parse(
      execFileSync(binary, {
        input: JSON.stringify({
          values: chartValues(overrides),
          release: 'croupier',
          dir: chartDir,
          chart: chartFields,
        }),
        encoding: 'utf8',
      }),
    ) as { files?: Record<string, string>; schema?: string; error?: string };
    if (go.schema) {
      expect(() => renderChart(overrides), go.schema).toThrow(/don't meet the specifications of the schema/);
      return;
    }
    expect(() => renderChart(overrides)).not.toThrow(/schema/);
    if (go.error) {
      const message = /error calling fail: (.*?)\s*$/.exec(go.error)?.[1];
      expect(message, go.error).toBeDefined();
      expect(() => renderChart(overrides)).toThrow(message!);
      return;
    }
    const ours = renderChart(overrides).files;
    for (const [file, text] of Object.entries(go.files!)) expect(ours.get(file), file).toBe(text);
    expect([...ours.keys()].filter((f) => !f.includes('/_')).sort()).toEqual(Object.keys(go.files!).sort());
  });
});
