/**
 * The only place that reads process.env. Environment and flags become one validated, frozen Config;
 * every problem is a ConfigError whose message names the option.
 */
import { availableParallelism } from 'node:os';
import { readFileSync, statSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { NAME_MAX } from '../admin/names.js';
import { ConfigError } from '../errors.js';

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
  readonly allowSlowHttp: boolean;
  readonly logLevel: string;
  readonly drainTimeoutMs: number;
}

type Env = Record<string, string | undefined>;

/** Flag name -> environment variable it mirrors. */
const FLAGS: Record<string, string> = {
  host: 'CROUPIER_HOST',
  port: 'CROUPIER_PORT',
  'admin-port': 'CROUPIER_ADMIN_PORT',
  models: 'CROUPIER_MODELS_DIR',
  routes: 'CROUPIER_ROUTES',
  'state-dir': 'CROUPIER_STATE_DIR',
  'redis-url': 'CROUPIER_REDIS_URL',
  'redis-sentinels': 'CROUPIER_REDIS_SENTINELS',
  'redis-cluster-nodes': 'CROUPIER_REDIS_CLUSTER_NODES',
  'redis-name': 'CROUPIER_REDIS_NAME',
  'redis-wait-replicas': 'CROUPIER_REDIS_WAIT_REPLICAS',
  workers: 'CROUPIER_WORKERS',
  'intra-op-threads': 'CROUPIER_INTRA_OP_THREADS',
  'max-batch': 'CROUPIER_MAX_BATCH',
  'batch-delay-us': 'CROUPIER_BATCH_DELAY_US',
  'inline-max-us': 'CROUPIER_INLINE_MAX_US',
  'max-queued-rows': 'CROUPIER_MAX_QUEUED_ROWS',
  'body-limit': 'CROUPIER_BODY_LIMIT',
  'decisions-max': 'CROUPIER_DECISIONS_MAX',
  'features-max': 'CROUPIER_FEATURES_MAX',
  'features-budget': 'CROUPIER_FEATURES_BUDGET',
  'allow-slow-http': 'CROUPIER_ALLOW_SLOW_HTTP',
  'log-level': 'CROUPIER_LOG_LEVEL',
  'drain-timeout-ms': 'CROUPIER_DRAIN_TIMEOUT_MS',
};
const BOOLEAN_FLAGS = new Set(['allow-slow-http']);
const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Applies `--flag value` / `--flag=value` over the environment; unknown flags are an error. */
export function applyFlags(args: readonly string[], env: Env): Env {
  const out: Env = { ...env };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const variable = FLAGS[name];
    if (variable === undefined) throw new ConfigError(`unknown flag --${name} (see croupier --help)`);
    let value: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
    if (value === undefined) {
      if (BOOLEAN_FLAGS.has(name)) value = '1';
      else {
        value = args[++i];
        if (value === undefined) throw new ConfigError(`flag --${name} needs a value`);
      }
    }
    out[variable] = value;
  }
  return out;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, k: 1024, mb: 1024 ** 2, m: 1024 ** 2, gb: 1024 ** 3, g: 1024 ** 3 };

export function parseSize(name: string, raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new ConfigError(`${name} must be a size such as 1mb or 65536, got "${raw}"`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes < 64 || bytes > 1024 ** 3) throw new ConfigError(`${name} must be between 64 bytes and 1gb, got "${raw}"`);
  return bytes;
}

function flag(env: Env, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === '0' || raw.toLowerCase() === 'false') return false;
  if (raw === '1' || raw.toLowerCase() === 'true') return true;
  throw new ConfigError(`${name} must be 1 or 0, got "${raw}"`);
}

function directory(name: string, path: string): string {
  const abs = resolve(path);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    throw new ConfigError(`${name}: cannot read directory ${abs}`);
  }
  if (!isDir) throw new ConfigError(`${name}: ${abs} is not a directory`);
  return abs;
}

function hostPorts(name: string, raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw === '') return undefined;
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const hp of list) if (!/^[\w.-]+:\d{1,5}$/.test(hp)) throw new ConfigError(`${name}: "${hp}" is not host:port`);
  return list;
}

export function parseTokens(env: Env): Map<string, string> {
  const tokens = new Map<string, string>();
  const single = env.CROUPIER_ADMIN_TOKEN;
  if (single !== undefined && single !== '') tokens.set('admin', single);
  let list = env.CROUPIER_ADMIN_TOKENS;
  if (list === undefined || list === '') return tokens;
  if (list.startsWith('@')) {
    try {
      list = readFileSync(list.slice(1), 'utf8').split('\n').join(',');
    } catch {
      throw new ConfigError(`CROUPIER_ADMIN_TOKENS: cannot read token file ${list.slice(1)}`);
    }
  }
  for (const entry of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const colon = entry.indexOf(':');
    const name = entry.slice(0, colon);
    const token = entry.slice(colon + 1);
    if (colon > 0 && name.length > NAME_MAX) throw new ConfigError(`CROUPIER_ADMIN_TOKENS: the token name "${name.slice(0, 16)}…" is longer than ${NAME_MAX} characters (${name.length})`);
    if (colon <= 0 || !/^[\w.-]{1,64}$/.test(name)) throw new ConfigError('CROUPIER_ADMIN_TOKENS: each entry must be name:token with a name of letters, digits, . _ -');
    if (token.length < 8) throw new ConfigError(`CROUPIER_ADMIN_TOKENS: the token named "${name}" is shorter than 8 characters`);
    if (tokens.has(name)) throw new ConfigError(`CROUPIER_ADMIN_TOKENS: the name "${name}" appears twice`);
    tokens.set(name, token);
  }
  return tokens;
}

/**
 * `auto` workers: one fewer than the cores (the main thread parses, routes, batches and runs small
 * models inline), but two on two cores, at most four; each worker's sessions run with one intra-op
 * thread. On 2 cores a second worker gave a compute-bound model ~1.4x the rows/s and left the
 * small-model predict path unchanged (bench/RESULTS.md, bench:compute). See README "Workers".
 */
function workers(env: Env): number {
  const raw = env.CROUPIER_WORKERS;
  if (raw === undefined || raw === '' || raw === 'auto') {
    const cores = availableParallelism();
    return Math.min(4, cores <= 2 ? cores : cores - 1);
  }
  return integer(env, 'CROUPIER_WORKERS', 1, 1, 64);
}

export function loadConfig(args: readonly string[] = [], baseEnv: Env = process.env): Config {
  const env = applyFlags(args, baseEnv);
  const modelsDir = directory('CROUPIER_MODELS_DIR', env.CROUPIER_MODELS_DIR || './models');
  const routes = env.CROUPIER_ROUTES;
  const logLevel = env.CROUPIER_LOG_LEVEL || 'info';
  if (!LOG_LEVELS.has(logLevel)) throw new ConfigError(`CROUPIER_LOG_LEVEL must be one of ${[...LOG_LEVELS].join(', ')}, got "${logLevel}"`);
  const adminPortRaw = env.CROUPIER_ADMIN_PORT;
  const redisUrl = env.CROUPIER_REDIS_URL || undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) throw new ConfigError('CROUPIER_REDIS_URL must start with redis:// or rediss://');
  const sentinels = hostPorts('CROUPIER_REDIS_SENTINELS', env.CROUPIER_REDIS_SENTINELS);
  const clusterNodes = hostPorts('CROUPIER_REDIS_CLUSTER_NODES', env.CROUPIER_REDIS_CLUSTER_NODES);
  if (sentinels && !env.CROUPIER_REDIS_NAME) throw new ConfigError('CROUPIER_REDIS_SENTINELS needs CROUPIER_REDIS_NAME (the master group name)');
  const redis = redisUrl || sentinels || clusterNodes
    ? { url: redisUrl, sentinels, clusterNodes, name: env.CROUPIER_REDIS_NAME || undefined, waitReplicas: integer(env, 'CROUPIER_REDIS_WAIT_REPLICAS', 0, 0, 16) }
    : undefined;

  const config: Config = {
    host: env.CROUPIER_HOST || '127.0.0.1',
    port: integer(env, 'CROUPIER_PORT', 8080, 0, 65535),
    adminPort: adminPortRaw === undefined || adminPortRaw === '' ? undefined : integer(env, 'CROUPIER_ADMIN_PORT', 0, 0, 65535),
    modelsDir,
    routesFile: routes ? resolve(routes) : undefined,
    stateDir: resolve(env.CROUPIER_STATE_DIR || './.croupier'),
    adminTokens: parseTokens(env),
    redis,
    workers: workers(env),
    intraOpThreads: integer(env, 'CROUPIER_INTRA_OP_THREADS', 1, 1, 64),
    maxBatch: integer(env, 'CROUPIER_MAX_BATCH', 64, 1, 65536),
    batchDelayUs: integer(env, 'CROUPIER_BATCH_DELAY_US', 0, 0, 1_000_000),
    inlineMaxUs: integer(env, 'CROUPIER_INLINE_MAX_US', 100, 0, 100_000),
    maxQueuedRows: integer(env, 'CROUPIER_MAX_QUEUED_ROWS', 8192, 1, 10_000_000),
    bodyLimit: parseSize('CROUPIER_BODY_LIMIT', env.CROUPIER_BODY_LIMIT || '1mb'),
    decisionsMax: integer(env, 'CROUPIER_DECISIONS_MAX', 1_000_000, 1, 100_000_000),
    featuresMax: parseSize('CROUPIER_FEATURES_MAX', env.CROUPIER_FEATURES_MAX || '64kb'),
    featuresBudget: parseSize('CROUPIER_FEATURES_BUDGET', env.CROUPIER_FEATURES_BUDGET || '256mb'),
    allowSlowHttp: flag(env, 'CROUPIER_ALLOW_SLOW_HTTP'),
    logLevel,
    drainTimeoutMs: integer(env, 'CROUPIER_DRAIN_TIMEOUT_MS', 30_000, 0, 600_000),
  };
  return Object.freeze(config);
}

/** The routes file: CROUPIER_ROUTES, else routes.json (or .yaml/.yml) in the models directory. */
export function routesFileCandidates(config: Config): string[] {
  if (config.routesFile) return [config.routesFile];
  return ['routes.json', 'routes.yaml', 'routes.yml'].map((f) => join(config.modelsDir, f));
}
