/**
 * helm/croupier/values.schema.json: Helm validates the merged values against it (JSON Schema
 * draft-07) before it renders anything, on install, upgrade, lint and template. Checked here with
 * Ajv in draft-07 mode, strict: the chart's own values.yaml passes; every value in it is described
 * and nothing else is; mistakes people make are refused with the path named; and what the schema
 * lets through for a CROUPIER_* variable the gateway accepts at start (so a bad value fails at
 * `helm install`, not in a crash-looping pod).
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parse } from 'yaml';
import { OPTION_LIST } from '../../src/config/options.js';

const chart = join(import.meta.dirname, '..', '..', 'helm', 'croupier');
// biome-ignore lint/suspicious/noExplicitAny: values.yaml and the schema are untyped JSON
type Json = any;
const values: Json = parse(readFileSync(join(chart, 'values.yaml'), 'utf8'));
const schema: Json = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validate = ajv.compile(schema);

/** A copy of values.yaml with `path` (dotted) set to `value` (undefined deletes it). */
const withValue = (path: string, value: unknown): Json => {
  const copy = structuredClone(values);
  const keys = path.split('.');
  const last = keys.pop()!;
  const parent = keys.reduce((node, key) => node[key], copy);
  if (value === undefined) delete parent[last];
  else parent[last] = value;
  return copy;
};
const errors = (doc: Json): ErrorObject[] => (validate(doc) ? [] : [...(validate.errors ?? [])]);

/** The schema node that describes a dotted path of the values. */
const schemaAt = (path: string): Json => path.split('.').reduce<Json>((node, key) => node?.properties?.[key], schema);

describe('values.schema.json', () => {
  it('is draft-07, as Helm reads it, and refuses unknown top-level keys', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    // Helm hands a chart `global` when it is a subchart.
    expect(schema.properties.global).toEqual({ type: 'object', description: expect.any(String) });
  });

  it("accepts the chart's values.yaml", () => {
    expect(errors(values)).toEqual([]);
  });

  it('describes every value of values.yaml, and nothing values.yaml lacks', () => {
    const undocumented: string[] = [];
    const walk = (node: Json, sub: Json, path: string[]): void => {
      if (sub === undefined) return void undocumented.push(path.join('.'));
      // Kubernetes objects passed through (resources, securityContext, affinity...) and free maps.
      if (node === null || typeof node !== 'object' || Array.isArray(node) || !sub.properties) return;
      for (const key of Object.keys(node)) walk(node[key], sub.properties[key], [...path, key]);
    };
    walk(values, schema, []);
    expect(undocumented).toEqual([]);

    const unused: string[] = [];
    const back = (sub: Json, node: Json, path: string[]): void => {
      for (const key of Object.keys(sub.properties ?? {})) {
        if (path.length === 0 && key === 'global') continue;
        if (node === null || typeof node !== 'object' || !(key in node)) unused.push([...path, key].join('.'));
        else back(sub.properties[key], node[key], [...path, key]);
      }
    };
    back(schema, values, []);
    expect(unused).toEqual([]);
  });

  it('closes every object the chart owns (a misspelt key is an error, not ignored)', () => {
    const open: string[] = [];
    const walk = (sub: Json, path: string): void => {
      if (sub.properties) {
        if (sub.additionalProperties !== false) open.push(path || '(root)');
        for (const [key, child] of Object.entries(sub.properties)) walk(child, path ? `${path}.${key}` : key);
      }
    };
    walk(schema, '');
    expect(open).toEqual([]);
  });

  // Mistakes, each refused at the path it is about.
  const refused: [path: string, value: unknown, at: string][] = [
    ['replicaCount', '2', '/replicaCount'],
    ['replicaCount', -1, '/replicaCount'],
    ['image.digest', 'latest', '/image/digest'],
    ['image.digest', 'sha256:abc', '/image/digest'],
    ['image.pullPolicy', 'Sometimes', '/image/pullPolicy'],
    ['admin.port', 70000, '/admin/port'],
    ['admin.port', '9090x', '/admin/port'],
    ['strategy.type', 'BlueGreen', '/strategy/type'],
    ['redis.url', 'http://redis:6379', '/redis/url'],
    ['redis.sentinels', ['sentinel-0'], '/redis/sentinels/0'],
    ['redis.waitReplicas', 17, '/redis/waitReplicas'],
    ['workers', 0, '/workers'],
    ['workers', 'all', '/workers'],
    ['logLevel', 'verbose', '/logLevel'],
    ['batching.maxBatch', 0, '/batching/maxBatch'],
    ['bodyLimit', '1 megabyte', '/bodyLimit'],
    ['models.source', 's3', '/models/source'],
    ['state.mountPath', 'var/lib/croupier', '/state/mountPath'],
    ['podDisruptionBudget.maxUnavailable', '50', '/podDisruptionBudget/maxUnavailable'],
    ['serviceMonitor.interval', '15', '/serviceMonitor/interval'],
    ['prometheusRule.enabled', 'yes', '/prometheusRule/enabled'],
    ['prometheusRule.labels', { release: 1 }, '/prometheusRule/labels/release'],
    ['grafanaDashboard.enabled', 'true', '/grafanaDashboard/enabled'],
    ['grafanaDashboard.sidecarLabelValue', 1, '/grafanaDashboard/sidecarLabelValue'],
    ['grafanaDashboard.sidecarLabel', 'grafana dashboard', '/grafanaDashboard/sidecarLabel'],
    ['grafanaDashboard.namespace', 'Monitoring', '/grafanaDashboard/namespace'],
    ['autoscaling.queueDepth.averageValue', 'lots', '/autoscaling/queueDepth/averageValue'],
    [
      'ingress.hosts',
      [{ host: 'a.example', paths: [{ path: 'api', pathType: 'Prefix' }] }],
      '/ingress/hosts/0/paths/0/path',
    ],
    ['httpRoute.parentRefs', [], '/httpRoute/parentRefs'],
    ['extraEnv', [{ value: 'x' }], '/extraEnv/0'],
    ['extraVolumeMounts', [{ name: 'ca' }], '/extraVolumeMounts/0'],
    ['adminTokens.inline', { ci: 'short' }, '/adminTokens/inline/ci'],
    ['networkPolicy.adminFrom', {}, '/networkPolicy/adminFrom'],
  ];
  it.each(refused)('refuses %s = %j', (path, value, at) => {
    const found = errors(withValue(path, value));
    expect(found.length).toBeGreaterThan(0);
    expect(found.map((e) => e.instancePath)).toContain(at);
  });

  it.each([
    ['env', [{ name: 'X', value: '1' }]],
    ['redisUrl', 'redis://r:6379'],
  ])('refuses the unknown key %s (the old `env` is now extraEnv)', (key, value) => {
    const found = errors({ ...values, [key]: value });
    expect(found).toContainEqual(
      expect.objectContaining({ keyword: 'additionalProperties', params: { additionalProperty: key } }),
    );
  });

  it.each([
    ['image.digest', `sha256:${'ab'.repeat(32)}`],
    ['admin.port', ''],
    ['strategy.type', 'RollingUpdate'],
    ['redis.url', 'rediss://:secret@redis.data:6380/0'],
    ['redis.sentinels', ['sentinel-0.data:26379', 'sentinel-1.data:26379']],
    ['workers', 3],
    ['podDisruptionBudget.minAvailable', '50%'],
    ['autoscaling.targetCPUUtilizationPercentage', null],
    ['extraVolumes', [{ name: 'ca', configMap: { name: 'corp-ca' } }]],
    ['networkPolicy.adminFrom', [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ci' } } }]],
  ])('accepts %s = %j', (path, value) => {
    expect(errors(withValue(path, value))).toEqual([]);
  });

  /**
   * For each CROUPIER_* variable the chart fills from a value: the edges of what the schema allows
   * (minimum, maximum, enum members) and the value in values.yaml are accepted by the gateway's own
   * parser for that variable; the schema never lets through what the pod would refuse at start.
   */
  const fromValues = OPTION_LIST.filter((o) => o.chart !== undefined && o.chart !== 'template' && o.chart !== 'routes');
  /** Values written as people write them, for the variables whose schema has no edges to probe. */
  const samples: Record<string, unknown[]> = {
    CROUPIER_ADMIN_TOKENS: [{ inline: { ci: 'a-long-random-token', 'alice.b_2': 'x'.repeat(40) } }],
    CROUPIER_REDIS_URL: ['redis://redis-master.data:6379/0', 'rediss://:secret@redis.data:6380/1'],
    CROUPIER_REDIS_SENTINELS: [['sentinel-0.data:26379', 'sentinel-1.data:26379']],
    CROUPIER_REDIS_NAME: ['mymaster'],
    CROUPIER_REDIS_CLUSTER_NODES: [['redis-0.data:6379', 'redis-1.data:6379', 'redis-2.data:6379']],
  };
  /** What the chart puts in the variable for a value (lists joined by commas; tokens as the file's lines). */
  const rendered = (env: string, value: unknown): string => {
    if (env === 'CROUPIER_ADMIN_TOKENS') {
      const inline = (value as { inline: Record<string, string> }).inline;
      return Object.entries(inline)
        .map(([name, token]) => `${name}:${token}`)
        .join(',');
    }
    return Array.isArray(value) ? value.join(',') : String(value);
  };
  it.each(fromValues.map((o) => [o.env, o] as const))('%s: what the schema accepts, the gateway accepts', (_env, o) => {
    const node = schemaAt(o.chart!);
    expect(node, o.chart).toBeDefined();
    const branches: Json[] = node.oneOf ?? [node];
    const probes = new Set<unknown>(samples[o.env] ?? []);
    for (const b of branches) {
      for (const edge of [b.minimum, b.maximum, ...(b.enum ?? [])]) if (edge !== undefined) probes.add(edge);
    }
    const path = o.chart!.split('.');
    probes.add(path.reduce<Json>((n, k) => n?.[k], values));
    const check = ajv.compile(node);
    let tried = 0;
    for (const probe of probes) {
      // "", [] and {} leave the variable unset: the chart renders it only when set.
      if (probe === '' || probe === null || (Array.isArray(probe) && probe.length === 0)) continue;
      if (o.env === 'CROUPIER_ADMIN_TOKENS' && Object.keys((probe as { inline?: object }).inline ?? {}).length === 0)
        continue;
      if (o.env === 'CROUPIER_BODY_LIMIT' && typeof probe === 'number') continue; // byte bounds: probed below
      expect(check(probe), `${o.chart} = ${JSON.stringify(probe)} fits the schema`).toBe(true);
      tried++;
      const raw = rendered(o.env, probe);
      expect(() => o.value(raw), `${o.env}=${raw}`).not.toThrow();
    }
    expect(tried, o.env).toBeGreaterThan(0);
  });

  it('CROUPIER_BODY_LIMIT: sizes the schema allows parse', () => {
    const o = OPTION_LIST.find((x) => x.env === 'CROUPIER_BODY_LIMIT')!;
    const check = ajv.compile(schemaAt('bodyLimit'));
    for (const size of ['64', '65536', '64kb', '1mb', '1.5mb', '1gb', 1048576]) {
      expect(check(size), String(size)).toBe(true);
      expect(() => o.value(String(size)), String(size)).not.toThrow();
    }
  });
});
