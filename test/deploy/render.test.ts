/**
 * The chart rendered (test/deploy/helm-template.ts: `helm template` for the subset of Go templates
 * and Sprig the chart uses; no helm binary exists here) and the manifests read as Kubernetes reads
 * them: what an operator gets for the values people set, and what the chart refuses.
 */
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OPTION_LIST } from '../../src/config/options.js';
import { chartFiles, RenderError, renderChart, renderString } from './helm-template.js';

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML
type Manifest = any;
const redis = { redis: { url: 'redis://redis-master.data:6379/0' } };
const one = (manifests: Manifest[], what: string): Manifest => {
  expect(manifests, what).toHaveLength(1);
  return manifests[0];
};
const deploymentOf = (values: object = {}): Manifest => one(renderChart(values).kind('Deployment'), 'Deployment');
const container = (d: Manifest): Manifest => d.spec.template.spec.containers[0];
const env = (d: Manifest): Record<string, Manifest> =>
  Object.fromEntries(container(d).env.map((e: Manifest) => [e.name, e.value ?? e.valueFrom]));
/** Whether a label selector selects an object with these labels. */
const selects = (selector: Record<string, string>, labels: Record<string, string> = {}): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('the renderer follows Go templates where charts get bitten', () => {
  it('prints float64 values as Go does (1e+06), integers from int/int64 as digits', () => {
    expect(
      renderString('{{ .a }} {{ .b }} {{ int64 .b }} {{ .b | int64 | quote }} {{ .b | quote }}', {
        a: 100000,
        b: 1000000,
      }),
    ).toBe('100000 1e+06 1000000 "1000000" "1e+06"');
  });

  it('refuses to compare an int with a float64, and trims around {{- -}}', () => {
    expect(() => renderString('{{ if gt .n 1 }}x{{ end }}', { n: 2 })).toThrow(/incompatible types for comparison/);
    expect(renderString('a\n  {{- if gt (int .n) 1 }}\n  b{{ end -}}\n  c', { n: 2 })).toBe('a\n  bc');
  });

  it('stops `and` at the first false operand, and fails on a field of a missing value', () => {
    expect(renderString('{{ if and .a .a.b }}y{{ else }}n{{ end }}', { a: null })).toBe('n');
    expect(() => renderString('{{ .a.b }}', { a: null })).toThrow(/nil pointer evaluating/);
    expect(renderString('[{{ .missing }}]', {})).toBe('[]');
  });

  it('ranges over maps in key order, with $ the root, and includes defined templates', () => {
    expect(
      renderString(
        '{{ range $k, $v := .m }}{{ $k }}={{ $v }}{{ include "x" $ }};{{ end }}',
        { m: { b: 2, a: 1 }, z: 'Z' },
        {
          d: '{{- define "x" -}}<{{ .z }}>{{- end }}',
        },
      ),
    ).toBe('a=1<Z>;b=2<Z>;');
  });

  it("calls a method at the end of a field chain (.Files.Get), which reads only the chart's own files", () => {
    const data = { Files: chartFiles };
    expect(renderString('{{ .Files.Get "files/croupier-rules.yml" }}', data)).toContain('groups:');
    for (const name of ['files/missing.yml', '../../package.json', '/etc/passwd', 'values.yaml', 'templates/NOTES.txt'])
      expect(renderString(`[{{ .Files.Get "${name}" }}]`, data), name).toBe('[]');
    expect(() => renderString('{{ .Values.x "arg" }}', { Values: { x: 1 } })).toThrow(/non-function/);
  });
});

describe('the chart as installed with its defaults', () => {
  const rendered = renderChart();

  it('renders one Deployment, Service, ServiceAccount, NetworkPolicy and the test Pod, nothing optional', () => {
    expect(rendered.manifests.map((m) => `${m.apiVersion} ${m.kind}`).sort()).toEqual([
      'apps/v1 Deployment',
      'networking.k8s.io/v1 NetworkPolicy',
      'v1 Pod',
      'v1 Service',
      'v1 ServiceAccount',
    ]);
    for (const m of rendered.manifests) expect(m.metadata.name, m.kind).toMatch(/^croupier(-[a-z-]+)?$/);
  });

  it('runs one embedded replica that is recreated, never rolled, on an update', () => {
    const d = one(rendered.kind('Deployment'), 'Deployment');
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy).toEqual({ type: 'Recreate' });
  });

  it('serves the admin API on its own port, which the NetworkPolicy leaves closed', () => {
    const d = one(rendered.kind('Deployment'), 'Deployment');
    expect(container(d).ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'admin', containerPort: 9090, protocol: 'TCP' },
    ]);
    expect(env(d).CROUPIER_ADMIN_PORT).toBe('9090');
    const policy = one(rendered.kind('NetworkPolicy'), 'NetworkPolicy');
    expect(selects(policy.spec.podSelector.matchLabels, d.spec.template.metadata.labels)).toBe(true);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    expect(policy.spec.ingress).toEqual([{ ports: [{ port: 'http', protocol: 'TCP' }] }]);
    // The Service publishes the data plane only.
    expect(one(rendered.kind('Service'), 'Service').spec.ports.map((p: Manifest) => p.targetPort)).toEqual(['http']);
  });

  it('sets exactly the variables the options table says the chart sets, each one a string', () => {
    const d = one(rendered.kind('Deployment'), 'Deployment');
    const set = Object.keys(env(d)).sort();
    const tableSays = OPTION_LIST.filter((o) => o.chart !== undefined)
      // Rendered only when given: routes, tokens, Redis.
      .filter((o) => !/ROUTES|ADMIN_TOKENS|REDIS/.test(o.env))
      .map((o) => o.env)
      .sort();
    expect(set).toEqual(tableSays);
    for (const [name, value] of Object.entries(env(d))) {
      expect(typeof value, name).toBe('string');
      if (name === 'CROUPIER_MODELS_DIR') continue; // a directory of the image, not of this machine
      // What the gateway would do with it at start.
      expect(() => OPTION_LIST.find((o) => o.env === name)!.value(value as string), name).not.toThrow();
    }
  });

  it('has a helm test Pod the Deployment, Service and NetworkPolicy do not select', () => {
    const pod = one(rendered.kind('Pod'), 'Pod');
    expect(pod.metadata.annotations['helm.sh/hook']).toBe('test');
    const d = one(rendered.kind('Deployment'), 'Deployment');
    expect(selects(d.spec.selector.matchLabels, pod.metadata.labels)).toBe(false);
    expect(selects(one(rendered.kind('Service'), 'Service').spec.selector, pod.metadata.labels)).toBe(false);
    expect(pod.spec.containers[0].image).toBe(container(d).image);
    expect(pod.spec.containers[0].command.at(-1)).toBe('http://croupier:8080/v2/health/ready');
    expect(pod.spec.containers[0].securityContext).toEqual(container(d).securityContext);
  });

  it('whose command exits 0 when /v2/health/ready answers 200 and 1 when it answers 503', async () => {
    const [node, flag, script] = one(rendered.kind('Pod'), 'Pod').spec.containers[0].command as string[];
    expect([node, flag]).toEqual(['node', '-e']);
    const run = (status: number): Promise<number> =>
      new Promise((resolve) => {
        const server = createServer((req, res) => {
          res.statusCode = req.url === '/v2/health/ready' ? status : 404;
          res.end();
        }).listen(0, '127.0.0.1', () => {
          const { port } = server.address() as AddressInfo;
          // Two tries 50 ms apart instead of ten 3 s apart, the rest as rendered.
          const fast = script!.replace('i < 10', 'i < 2').replace('setTimeout(ok, 3000)', 'setTimeout(ok, 50)');
          execFile(process.execPath, ['-e', fast, `http://127.0.0.1:${port}/v2/health/ready`], (err) => {
            server.close();
            resolve(err ? ((err as { code?: number }).code ?? -1) : 0);
          });
        });
      });
    expect(await run(200)).toBe(0);
    expect(await run(503)).toBe(1);
  });
});

describe('with every option on', () => {
  const everything = {
    ...redis,
    replicaCount: 3,
    image: { digest: `sha256:${'ab'.repeat(32)}` },
    admin: { service: { enabled: true } },
    adminTokens: { existingSecret: 'croupier-admin' },
    routes: { r: { policy: 'fixed', arms: [{ name: 'a', model: 'fraud', version: 'live' }] } },
    models: { source: 'existingClaim', existingClaim: 'croupier-models' },
    state: { existingClaim: 'croupier-state' },
    autoscaling: { enabled: true, queueDepth: { enabled: true } },
    podDisruptionBudget: { enabled: true },
    serviceMonitor: { enabled: true },
    ingress: { enabled: true },
    httpRoute: { enabled: true },
    networkPolicy: { adminFrom: [{ podSelector: { matchLabels: { role: 'ci' } } }] },
  };

  it.each([
    ['croupier', 'croupier'],
    // The longest release name Helm accepts (53): "<release>-croupier" is then 62 characters.
    [`release-${'x'.repeat(45)}`, 'release-'],
  ])('renders a well-formed, labelled object of each kind (release %s)', (release, prefix) => {
    const rendered = renderChart(everything, release);
    expect(rendered.manifests.map((m) => m.kind).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'HTTPRoute',
      'HorizontalPodAutoscaler',
      'Ingress',
      'NetworkPolicy',
      'Pod',
      'PodDisruptionBudget',
      'Secret',
      'Service',
      'Service',
      'ServiceAccount',
      'ServiceMonitor',
    ]);
    const names = new Set<string>();
    for (const m of rendered.manifests) {
      expect(typeof m.apiVersion, m.kind).toBe('string');
      expect(m.metadata.name, m.kind).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      // A Service's name is a DNS label (63); the others are DNS subdomains (253). Label values: 63.
      expect(m.metadata.name.length, m.metadata.name).toBeLessThanOrEqual(m.kind === 'Service' ? 63 : 253);
      for (const [key, value] of Object.entries(m.metadata.labels ?? {}))
        expect(String(value).length, `${m.kind} label ${key}`).toBeLessThanOrEqual(63);
      expect(m.metadata.name.startsWith(prefix), m.metadata.name).toBe(true);
      expect(m.metadata.labels['app.kubernetes.io/instance'], m.kind).toBe(release);
      expect(names.has(`${m.kind}/${m.metadata.name}`), m.metadata.name).toBe(false);
      names.add(`${m.kind}/${m.metadata.name}`);
    }
    // Everything that selects pods selects the Deployment's, and the Deployment's selector its template.
    const d = one(rendered.kind('Deployment'), 'Deployment');
    const podLabels = d.spec.template.metadata.labels;
    expect(selects(d.spec.selector.matchLabels, podLabels)).toBe(true);
    for (const s of rendered.kind('Service')) expect(selects(s.spec.selector, podLabels), s.metadata.name).toBe(true);
    for (const m of [...rendered.kind('PodDisruptionBudget'), ...rendered.kind('ServiceMonitor')])
      expect(selects(m.spec.selector.matchLabels, podLabels), m.kind).toBe(true);
    // Every named port a Service, probe or policy refers to is a port of the container.
    const ports = new Set(container(d).ports.map((p: Manifest) => p.name));
    for (const s of rendered.kind('Service'))
      for (const p of s.spec.ports) expect(ports.has(p.targetPort), p.targetPort).toBe(true);
    for (const rule of one(rendered.kind('NetworkPolicy'), 'NetworkPolicy').spec.ingress)
      for (const p of rule.ports) expect(ports.has(p.port), p.port).toBe(true);
    // Every volume mounted is a volume of the pod.
    const volumes = new Set(d.spec.template.spec.volumes.map((v: Manifest) => v.name));
    for (const c of [...d.spec.template.spec.containers, ...d.spec.template.spec.initContainers])
      for (const m of c.volumeMounts) expect(volumes.has(m.name), `${c.name}: ${m.name}`).toBe(true);
  });
});

describe('what the chart refuses, with the reason', () => {
  it.each([
    ['two replicas without Redis', { replicaCount: 2 }, /several replicas .* need shared state/],
    ['autoscaling without Redis', { autoscaling: { enabled: true } }, /several replicas .* need shared state/],
    [
      'a rolling update without Redis',
      { strategy: { type: 'RollingUpdate' } },
      /strategy\.type=RollingUpdate needs Redis/,
    ],
    [
      'an Ingress with the admin API on the data port',
      { admin: { port: '' }, ingress: { enabled: true } },
      /would publish \/admin/,
    ],
    [
      'an HTTPRoute with the admin API on the data port',
      { admin: { port: '' }, httpRoute: { enabled: true } },
      /would publish \/admin/,
    ],
    ['the admin port on the data port', { admin: { port: 8080 } }, /admin\.port must differ from containerPort/],
    [
      'a ServiceMonitor and a PodMonitor',
      { serviceMonitor: { enabled: true }, podMonitor: { enabled: true } },
      /not both/,
    ],
    [
      'autoscaling without a metric',
      { ...redis, autoscaling: { enabled: true, targetCPUUtilizationPercentage: null } },
      /autoscaling needs a metric/,
    ],
    ['a grace period shorter than the drain', { terminationGracePeriodSeconds: 30 }, /must exceed/],
    ['the old `env` key (schema)', { env: [{ name: 'X', value: '1' }] }, /schema.*additional properties/],
    ['a tag as digest (schema)', { image: { digest: 'latest' } }, /\/image\/digest/],
  ])('%s', (_what, values, message) => {
    expect(() => renderChart(values)).toThrow(RenderError);
    expect(() => renderChart(values)).toThrow(message);
  });
});

describe('with Redis and several replicas', () => {
  const values = {
    ...redis,
    replicaCount: 3,
    podDisruptionBudget: { enabled: true },
    adminTokens: { inline: { ci: 'a-long-random-token' } },
  };
  const rendered = renderChart(values);
  const d = one(rendered.kind('Deployment'), 'Deployment');

  it('rolls: a new pod is ready before an old one drains', () => {
    expect(d.spec.replicas).toBe(3);
    expect(d.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
  });

  it('reads the Redis URL and the tokens from the chart Secret', () => {
    const secret = one(rendered.kind('Secret'), 'Secret');
    expect(secret.stringData['redis-url']).toBe(values.redis.url);
    expect(secret.stringData.tokens.trim()).toBe('ci:a-long-random-token');
    expect(env(d).CROUPIER_REDIS_URL).toEqual({ secretKeyRef: { name: secret.metadata.name, key: 'redis-url' } });
    expect(env(d).CROUPIER_ADMIN_TOKENS).toBe('@/etc/croupier/tokens');
  });

  it('has a PDB that lets one pod go at a time', () => {
    const pdb = one(rendered.kind('PodDisruptionBudget'), 'PodDisruptionBudget');
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: d.spec.selector });
    const min = one(
      renderChart({ ...values, podDisruptionBudget: { enabled: true, minAvailable: '50%' } }).kind(
        'PodDisruptionBudget',
      ),
      'PDB',
    );
    expect(min.spec.minAvailable).toBe('50%');
    expect(min.spec.maxUnavailable).toBeUndefined();
  });

  it('has no PDB over a single pod (it could only block node drains)', () => {
    expect(
      renderChart({ podDisruptionBudget: { enabled: true, minAvailable: 1 } }).kind('PodDisruptionBudget'),
    ).toEqual([]);
    expect(
      renderChart({
        ...redis,
        podDisruptionBudget: { enabled: true },
        autoscaling: { enabled: true, minReplicas: 1 },
      }).kind('PodDisruptionBudget'),
    ).toEqual([]);
  });
});

describe('the autoscaler', () => {
  it('scales on CPU and, when asked, on the per-pod queue depth from the custom metrics API', () => {
    const hpa = one(
      renderChart({ ...redis, autoscaling: { enabled: true, queueDepth: { enabled: true, averageValue: '16' } } }).kind(
        'HorizontalPodAutoscaler',
      ),
      'HPA',
    );
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'croupier' });
    expect(hpa.spec.metrics).toEqual([
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
      {
        type: 'Pods',
        pods: { metric: { name: 'croupier_queue_depth' }, target: { type: 'AverageValue', averageValue: '16' } },
      },
    ]);
  });

  it('scales on queue depth alone when the CPU target is null', () => {
    const hpa = one(
      renderChart({
        ...redis,
        autoscaling: { enabled: true, targetCPUUtilizationPercentage: null, queueDepth: { enabled: true } },
      }).kind('HorizontalPodAutoscaler'),
      'HPA',
    );
    expect(hpa.spec.metrics.map((m: Manifest) => m.type)).toEqual(['Pods']);
    // The Deployment leaves the replica count to it.
    expect(
      one(
        renderChart({ ...redis, autoscaling: { enabled: true, queueDepth: { enabled: true } } }).kind('Deployment'),
        'Deployment',
      ).spec.replicas,
    ).toBeUndefined();
  });
});

describe('options people set', () => {
  it('pulls by digest when image.digest is set, in the pods and the test Pod', () => {
    const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
    const rendered = renderChart({ image: { repository: 'registry.example.com/croupier', tag: '0.1.0', digest } });
    expect(container(one(rendered.kind('Deployment'), 'Deployment')).image).toBe(
      `registry.example.com/croupier@${digest}`,
    );
    expect(one(rendered.kind('Pod'), 'Pod').spec.containers[0].image).toBe(`registry.example.com/croupier@${digest}`);
  });

  it('publishes the data plane, never the admin port, through an Ingress', () => {
    const rendered = renderChart({
      ingress: {
        enabled: true,
        className: 'nginx',
        hosts: [{ host: 'croupier.example.com', paths: [{ path: '/', pathType: 'Prefix' }] }],
        tls: [{ secretName: 'croupier-tls', hosts: ['croupier.example.com'] }],
      },
    });
    const ingress = one(rendered.kind('Ingress'), 'Ingress');
    expect(ingress.spec).toEqual({
      ingressClassName: 'nginx',
      tls: [{ secretName: 'croupier-tls', hosts: ['croupier.example.com'] }],
      rules: [
        {
          host: 'croupier.example.com',
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: { service: { name: 'croupier', port: { name: 'http' } } } },
            ],
          },
        },
      ],
    });
    const service = rendered.kind('Service').find((s) => s.metadata.name === 'croupier');
    expect(service.spec.ports.map((p: Manifest) => p.name)).toEqual(['http']);
  });

  it('attaches an HTTPRoute to the Gateway, to the data-plane Service', () => {
    const route = one(
      renderChart({
        httpRoute: {
          enabled: true,
          parentRefs: [{ name: 'public', namespace: 'gateway-system', sectionName: 'https' }],
          hostnames: ['croupier.example.com'],
        },
      }).kind('HTTPRoute'),
      'HTTPRoute',
    );
    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(route.spec).toEqual({
      parentRefs: [{ name: 'public', namespace: 'gateway-system', sectionName: 'https' }],
      hostnames: ['croupier.example.com'],
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'croupier', port: 8080 }] },
      ],
    });
  });

  it('opens the admin port to adminFrom, and lets the test Pod in when the data plane is restricted', () => {
    const ci = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ci' } } };
    const apps = { namespaceSelector: { matchLabels: { team: 'apps' } } };
    const rendered = renderChart({ networkPolicy: { adminFrom: [ci], dataPlaneFrom: [apps] } });
    const policy = one(rendered.kind('NetworkPolicy'), 'NetworkPolicy');
    const [data, admin] = policy.spec.ingress;
    expect(admin).toEqual({ ports: [{ port: 'admin', protocol: 'TCP' }], from: [ci] });
    expect(data.ports).toEqual([{ port: 'http', protocol: 'TCP' }]);
    expect(data.from[0]).toEqual(apps);
    const pod = one(rendered.kind('Pod'), 'Pod');
    expect(
      data.from.some(
        (peer: Manifest) => peer.podSelector && selects(peer.podSelector.matchLabels, pod.metadata.labels),
      ),
    ).toBe(true);
    expect(renderChart({ networkPolicy: { enabled: false } }).kind('NetworkPolicy')).toEqual([]);
  });

  it('scrapes every pod with a PodMonitor that selects the Deployment’s pods', () => {
    const rendered = renderChart({ podMonitor: { enabled: true, labels: { release: 'kube-prometheus' } } });
    const monitor = one(rendered.kind('PodMonitor'), 'PodMonitor');
    const d = one(rendered.kind('Deployment'), 'Deployment');
    expect(selects(monitor.spec.selector.matchLabels, d.spec.template.metadata.labels)).toBe(true);
    expect(monitor.metadata.labels.release).toBe('kube-prometheus');
    expect(monitor.spec.podMetricsEndpoints).toEqual([
      { port: 'http', path: '/metrics', interval: '15s', scrapeTimeout: '10s' },
    ]);
  });

  it('passes extraEnv, extraVolumes and extraVolumeMounts to the pod', () => {
    const d = deploymentOf({
      extraEnv: [{ name: 'NODE_EXTRA_CA_CERTS', value: '/etc/ssl/corp/ca.pem' }],
      extraVolumes: [{ name: 'corp-ca', configMap: { name: 'corp-ca' } }],
      extraVolumeMounts: [{ name: 'corp-ca', mountPath: '/etc/ssl/corp', readOnly: true }],
    });
    expect(container(d).env.at(-1)).toEqual({ name: 'NODE_EXTRA_CA_CERTS', value: '/etc/ssl/corp/ca.pem' });
    expect(container(d).volumeMounts.at(-1)).toEqual({ name: 'corp-ca', mountPath: '/etc/ssl/corp', readOnly: true });
    expect(d.spec.template.spec.volumes.at(-1)).toEqual({ name: 'corp-ca', configMap: { name: 'corp-ca' } });
  });

  it('renders large numbers as digits (values are float64 in Helm)', () => {
    const d = deploymentOf({ decisionsMax: 12_000_000, drainTimeoutMs: 120_000, terminationGracePeriodSeconds: 150 });
    expect(env(d).CROUPIER_DECISIONS_MAX).toBe('12000000');
    expect(env(d).CROUPIER_DRAIN_TIMEOUT_MS).toBe('120000');
  });

  it('keeps the embedded state on a claim, recreating the pod so the claim can move', () => {
    const d = deploymentOf({ state: { existingClaim: 'croupier-state' } });
    expect(d.spec.strategy).toEqual({ type: 'Recreate' });
    expect(d.spec.template.spec.volumes).toContainEqual({
      name: 'state',
      persistentVolumeClaim: { claimName: 'croupier-state' },
    });
  });

  it('renders routes into the ConfigMap as routes.json, and a routes change rolls the pods', () => {
    const routes = {
      'fraud-scoring': {
        policy: 'thompson',
        reward: 'bernoulli',
        arms: [
          { name: 'champion', model: 'fraud', version: 'live' },
          { name: 'challenger', model: 'fraud', version: '2' },
        ],
      },
    };
    const rendered = renderChart({ routes });
    const map = one(rendered.kind('ConfigMap'), 'ConfigMap');
    expect(JSON.parse(map.data['routes.json'])).toEqual({ routes });
    const d = one(rendered.kind('Deployment'), 'Deployment');
    expect(env(d).CROUPIER_ROUTES).toBe('/etc/croupier/routes.json');
    const changed = deploymentOf({ routes: { ...routes, other: routes['fraud-scoring'] } });
    expect(changed.spec.template.metadata.annotations['checksum/config']).not.toBe(
      d.spec.template.metadata.annotations['checksum/config'],
    );
  });

  it('passes Sentinel and WAIT settings as the gateway reads them', () => {
    const d = deploymentOf({
      replicaCount: 2,
      redis: { sentinels: ['sentinel-0.data:26379', 'sentinel-1.data:26379'], name: 'mymaster', waitReplicas: 1 },
    });
    expect(env(d)).toMatchObject({
      CROUPIER_REDIS_SENTINELS: 'sentinel-0.data:26379,sentinel-1.data:26379',
      CROUPIER_REDIS_NAME: 'mymaster',
      CROUPIER_REDIS_WAIT_REPLICAS: '1',
    });
    for (const name of ['CROUPIER_REDIS_SENTINELS', 'CROUPIER_REDIS_NAME', 'CROUPIER_REDIS_WAIT_REPLICAS'])
      expect(() => OPTION_LIST.find((o) => o.env === name)!.value(env(d)[name]), name).not.toThrow();
    expect(d.spec.strategy.type).toBe('RollingUpdate');
  });

  it('seeds a models claim from the image with an init container', () => {
    const d = deploymentOf({ models: { source: 'existingClaim', existingClaim: 'croupier-models' } });
    const [seed] = d.spec.template.spec.initContainers;
    expect(seed.image).toBe(container(d).image);
    expect(seed.volumeMounts).toEqual([{ name: 'models', mountPath: '/seed' }]);
    expect(container(d).volumeMounts).toContainEqual({ name: 'models', mountPath: '/app/models' });
    expect(d.spec.template.spec.volumes).toContainEqual({
      name: 'models',
      persistentVolumeClaim: { claimName: 'croupier-models' },
    });
  });
});

describe('the weekly retrain CronJob', () => {
  const on = {
    retrain: { enabled: true, model: 'fraud', route: 'fraud-scoring', token: { inline: 'a-long-retrain-token' } },
    admin: { service: { enabled: true } },
  };

  it('is off by default', () => {
    expect(renderChart().kind('CronJob')).toEqual([]);
  });

  it('runs weekly: export into a shared folder, then retrain from it against the admin Service, with its own token', () => {
    const rendered = renderChart({ ...on, retrain: { ...on.retrain, challenger: 'challenger' } });
    const cron = one(rendered.kind('CronJob'), 'CronJob');
    expect(cron.spec.schedule).toBe('0 3 * * 1');
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    const job = cron.spec.jobTemplate.spec;
    expect(job.backoffLimit).toBe(0);
    const pod = job.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    const [exporter] = pod.initContainers;
    const [retrainer] = pod.containers;
    expect(exporter.args).toEqual([
      'export',
      '--route',
      'fraud-scoring',
      '--since',
      '7d',
      '-o',
      '/data/dataset',
      '--url',
      'http://croupier-admin:9090',
    ]);
    expect(retrainer.args).toEqual([
      'retrain',
      'fraud',
      '--route',
      'fraud-scoring',
      '--dataset',
      '/data/dataset',
      '--tolerance',
      '0.005',
      '--challenger',
      'challenger',
      '--url',
      'http://croupier-admin:9090',
    ]);
    const secret = rendered.kind('Secret').find((s: Manifest) => s.metadata.name === 'croupier-retrain');
    expect(secret.stringData.token).toBe('a-long-retrain-token');
    for (const c of [exporter, retrainer]) {
      expect(c.env).toEqual([
        { name: 'CROUPIER_ADMIN_TOKEN', valueFrom: { secretKeyRef: { name: 'croupier-retrain', key: 'token' } } },
      ]);
      expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(c.volumeMounts.map((m: Manifest) => m.mountPath)).toContain('/data');
    }
    expect(retrainer.volumeMounts.map((m: Manifest) => m.mountPath)).toContain('/tmp');
    // The NetworkPolicy lets the Job's pods (and only them, of the retrain's) reach the admin port.
    const policy = one(rendered.kind('NetworkPolicy'), 'NetworkPolicy');
    const rule = policy.spec.ingress.find((r: Manifest) => r.ports[0].port === 'admin');
    expect(selects(rule.from[0].podSelector.matchLabels, job.template.metadata.labels)).toBe(true);
    const d = one(rendered.kind('Deployment'), 'Deployment');
    expect(selects(d.spec.selector.matchLabels, job.template.metadata.labels)).toBe(false);
  });

  it('reads the token from a Secret you manage, and a schedule and time zone you set', () => {
    const rendered = renderChart({
      ...on,
      retrain: {
        ...on.retrain,
        schedule: '30 2 * * 0',
        timeZone: 'Europe/Berlin',
        token: { existingSecret: 'ml-tokens', existingSecretKey: 'croupier' },
      },
    });
    const cron = one(rendered.kind('CronJob'), 'CronJob');
    expect([cron.spec.schedule, cron.spec.timeZone]).toEqual(['30 2 * * 0', 'Europe/Berlin']);
    expect(cron.spec.jobTemplate.spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef).toEqual({
      name: 'ml-tokens',
      key: 'croupier',
    });
    expect(rendered.kind('Secret').some((s: Manifest) => s.metadata.name === 'croupier-retrain')).toBe(false);
  });

  it.each([
    ['no model or route', { ...on, retrain: { ...on.retrain, model: '' } }, /retrain\.model and retrain\.route/],
    ['no token', { ...on, retrain: { ...on.retrain, token: { inline: '' } } }, /its own admin token/],
    ['no admin Service', { retrain: on.retrain }, /needs admin\.service\.enabled/],
    ['a bad tolerance (schema)', { ...on, retrain: { ...on.retrain, tolerance: 'lots' } }, /\/retrain\/tolerance/],
  ])('refuses %s', (_what, values, message) => {
    expect(() => renderChart(values)).toThrow(message);
  });
});
