/**
 * The only place that reads process.env. Environment and flags become one validated, frozen Config
 * (each option read as options.ts declares it); every problem is a ConfigError naming the option.
 */
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { readOptions, type Env } from './options.js';

export interface RedisConfig {
  readonly url: string | undefined;
  readonly sentinels: readonly string[] | undefined;
  readonly clusterNodes: readonly string[] | undefined;
  readonly name: string | undefined;
  /** Replicas each decision and outcome write must reach (`WAIT`) before it counts; 0 = none. */
  readonly waitReplicas?: number;
}

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly adminPort: number | undefined;
  readonly modelsDir: string;
  readonly routesFile: string | undefined;
  /** CROUPIER_ALERTS; unset: alerts.json (or .yaml/.yml) in the models directory, if there. */
  readonly alertsFile: string | undefined;
  readonly alertIntervalMs: number;
  readonly stateDir: string;
  readonly adminTokens: ReadonlyMap<string, string>;
  readonly redis: RedisConfig | undefined;
  readonly workers: number;
  readonly intraOpThreads: number;
  readonly maxBatch: number;
  readonly batchDelayUs: number;
  /** Versions whose full batch (maxBatch rows) takes at most this many µs run on the main thread; 0 = never. */
  readonly inlineMaxUs: number;
  readonly maxQueuedRows: number;
  readonly bodyLimit: number;
  readonly decisionsMax: number;
  /** Bytes of features one decision keeps (routes with logFeatures); larger ones are not kept. */
  readonly featuresMax: number;
  /** Bytes of features all decisions held keep together; past it, new decisions keep none. */
  readonly featuresBudget: number;
  /** Days a joined training row is kept (routes with logFeatures). */
  readonly datasetDays: number;
  readonly allowSlowHttp: boolean;
  readonly logLevel: string;
  readonly drainTimeoutMs: number;
}

/** Config from the flags over the environment: each option as the table reads it, then the checks across options. */
export function loadConfig(args: readonly string[] = [], baseEnv: Env = process.env): Config {
  const {
    adminToken,
    adminTokens,
    redisUrl: url,
    redisSentinels: sentinels,
    redisClusterNodes: clusterNodes,
    redisName: name,
    redisWaitReplicas: waitReplicas,
    ...plain
  } = readOptions(args, baseEnv);
  if (sentinels && !name) {
    throw new ConfigError('CROUPIER_REDIS_SENTINELS needs CROUPIER_REDIS_NAME (the master group name)');
  }
  const redis = url || sentinels || clusterNodes ? { url, sentinels, clusterNodes, name, waitReplicas } : undefined;
  return Object.freeze({ ...plain, adminTokens: tokens(adminToken, adminTokens ?? []), redis });
}

/** CROUPIER_ADMIN_TOKEN is the token named `admin`; CROUPIER_ADMIN_TOKENS adds named ones. */
function tokens(single: string | undefined, named: readonly [string, string][]): Map<string, string> {
  const all = new Map<string, string>(single === undefined ? [] : [['admin', single]]);
  for (const [name, token] of named) {
    if (all.has(name)) throw new ConfigError(`CROUPIER_ADMIN_TOKENS: the name "${name}" appears twice`);
    all.set(name, token);
  }
  return all;
}

/** The routes file: CROUPIER_ROUTES, else routes.json (or .yaml/.yml) in the models directory. */
export function routesFileCandidates(config: Config): string[] {
  if (config.routesFile) return [config.routesFile];
  return ['routes.json', 'routes.yaml', 'routes.yml'].map((f) => join(config.modelsDir, f));
}

/** The alerts file: CROUPIER_ALERTS, else alerts.json (or .yaml/.yml) in the models directory. */
export function alertsFileCandidates(config: Config): string[] {
  if (config.alertsFile) return [config.alertsFile];
  return ['alerts.json', 'alerts.yaml', 'alerts.yml'].map((f) => join(config.modelsDir, f));
}
