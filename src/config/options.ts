/**
 * The options table: every setting of `croupier serve` once — its environment variable, flag,
 * parser, default, description and place in the Helm chart. Config loading, flag parsing, --help,
 * the README's configuration table and the chart test are all made from it.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import * as p from './parsers.js';

export type Env = Record<string, string | undefined>;

export interface Option<T> {
  readonly env: string;
  /** The `croupier serve` flag, without `--`; none for secrets (a flag would show them in `ps`). */
  readonly flag: string | undefined;
  readonly parser: p.Parser<unknown>;
  /** The default as one would write it, parsed like any value; undefined: unset. */
  readonly default: string | undefined;
  /** What the default means or does, for the README (e.g. "same listener" for an unset port). */
  readonly defaultNote: string | undefined;
  /** One line, for --help and the README. */
  readonly help: string;
  /** More for the README only (markdown: links, caveats). */
  readonly docs: string | undefined;
  /** Where the Helm chart sets it: a values.yaml path, or `template` when the chart sets it itself. */
  readonly chart: string | undefined;
  /** The value from the variable's text (undefined or '': the default). */
  value(raw: string | undefined): T;
}

interface Spec<T> {
  env: string;
  flag?: string;
  parser: p.Parser<T>;
  default?: string;
  defaultNote?: string;
  help: string;
  docs?: string;
  chart?: string;
}

function option<T>(spec: Spec<T> & { default: string }): Option<T>;
function option<T>(spec: Spec<T>): Option<T | undefined>;
function option<T>(spec: Spec<T>): Option<T | undefined> {
  const { env, parser } = spec;
  return {
    flag: undefined,
    default: undefined,
    defaultNote: undefined,
    docs: undefined,
    chart: undefined,
    ...spec,
    value(raw) {
      if (raw !== undefined && raw !== '') return parser.parse(env, raw);
      return spec.default === undefined ? undefined : parser.parse(env, spec.default);
    },
  };
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** In the order they are read (the first bad one stops start-up) and listed. */
export const OPTIONS = {
  host: option({
    env: 'CROUPIER_HOST',
    flag: 'host',
    parser: p.text,
    default: '127.0.0.1',
    chart: 'template',
    help: 'data-plane listener address',
  }),
  port: option({
    env: 'CROUPIER_PORT',
    flag: 'port',
    parser: p.integer(0, 65535),
    default: '8080',
    chart: 'containerPort',
    help: 'data-plane listener port (0: any free port)',
  }),
  adminPort: option({
    env: 'CROUPIER_ADMIN_PORT',
    flag: 'admin-port',
    parser: p.integer(0, 65535),
    chart: 'admin.port',
    defaultNote: 'same listener',
    help: 'admin API on its own listener',
  }),
  modelsDir: option({
    env: 'CROUPIER_MODELS_DIR',
    flag: 'models',
    parser: p.directory,
    default: './models',
    chart: 'template',
    help: 'model repository',
  }),
  routesFile: option({
    env: 'CROUPIER_ROUTES',
    flag: 'routes',
    parser: p.path,
    chart: 'routes',
    defaultNote: '`<models>/routes.json` (or `.yaml`)',
    help: 'routes file',
  }),
  alertsFile: option({
    env: 'CROUPIER_ALERTS',
    flag: 'alerts',
    parser: p.path,
    defaultNote: '`<models>/alerts.json` (or `.yaml`) if present',
    help: 'alert rules, notification channels, daily report',
    docs: ' (see [docs/alerts.md](docs/alerts.md))',
  }),
  alertIntervalMs: option({
    env: 'CROUPIER_ALERT_INTERVAL_MS',
    flag: 'alert-interval-ms',
    parser: p.integer(100, 3_600_000),
    default: '15000',
    help: 'how often alert rules, guardrails and deploy watches are evaluated',
  }),
  stateDir: option({
    env: 'CROUPIER_STATE_DIR',
    flag: 'state-dir',
    parser: p.path,
    default: './.croupier',
    chart: 'state.mountPath',
    help: 'state, journals, audit log, decision-id secret',
    docs: '; one process owns it (a second is refused: [docs/durability.md](docs/durability.md#one-owner))',
  }),
  adminToken: option({
    env: 'CROUPIER_ADMIN_TOKEN',
    parser: p.text,
    defaultNote: 'unset (admin answers 401)',
    help: 'one admin token, named `admin`',
  }),
  adminTokens: option({
    env: 'CROUPIER_ADMIN_TOKENS',
    parser: p.namedTokens,
    defaultNote: 'unset (admin answers 401)',
    chart: 'adminTokens',
    help: 'named admin tokens `name:token,…` (`name:token:viewer`: read-only), or `@file` (one a line)',
  }),
  workers: option({
    env: 'CROUPIER_WORKERS',
    flag: 'workers',
    parser: p.workerCount,
    default: 'auto',
    chart: 'workers',
    defaultNote: 'cores − 1; 2 on 2 cores; at most 4',
    help: 'inference worker threads',
    docs: ' (see below)',
  }),
  intraOpThreads: option({
    env: 'CROUPIER_INTRA_OP_THREADS',
    flag: 'intra-op-threads',
    parser: p.integer(1, 64),
    default: '1',
    chart: 'intraOpThreads',
    help: 'ONNX Runtime threads per session',
  }),
  maxBatch: option({
    env: 'CROUPIER_MAX_BATCH',
    flag: 'max-batch',
    parser: p.integer(1, 65536),
    default: '64',
    chart: 'batching.maxBatch',
    help: 'most rows in one batch',
    docs: '; a manifest may set its own `maxBatch`',
  }),
  batchDelayUs: option({
    env: 'CROUPIER_BATCH_DELAY_US',
    flag: 'batch-delay-us',
    parser: p.integer(0, 1_000_000),
    default: '0',
    chart: 'batching.batchDelayUs',
    help: 'longest wait to fill a batch, in µs',
    docs: '; a manifest may set its own `batchDelayUs`',
  }),
  inlineMaxUs: option({
    env: 'CROUPIER_INLINE_MAX_US',
    flag: 'inline-max-us',
    parser: p.integer(0, 100_000),
    default: '100',
    help: 'run a version on the main thread when its full batch scores within this many µs; 0 = never',
    docs: ' (a full batch is `maxBatch` rows)',
  }),
  maxQueuedRows: option({
    env: 'CROUPIER_MAX_QUEUED_ROWS',
    flag: 'max-queued-rows',
    parser: p.integer(1, 10_000_000),
    default: '8192',
    chart: 'batching.maxQueuedRows',
    help: 'rows waiting per model version before new work is shed',
    docs: ' (503 `queue_full`)',
  }),
  bodyLimit: option({
    env: 'CROUPIER_BODY_LIMIT',
    flag: 'body-limit',
    parser: p.size,
    default: '1mb',
    chart: 'bodyLimit',
    help: 'largest request body',
  }),
  decisionsMax: option({
    env: 'CROUPIER_DECISIONS_MAX',
    flag: 'decisions-max',
    parser: p.integer(1, 100_000_000),
    default: '1000000',
    chart: 'decisionsMax',
    help: 'decisions held for feedback',
  }),
  featuresMax: option({
    env: 'CROUPIER_FEATURES_MAX',
    flag: 'features-max',
    parser: p.size,
    default: '64kb',
    help: 'features kept with one decision (routes with logFeatures)',
    docs: '; a larger one keeps none (see [docs/routing.md](docs/routing.md#feedback))',
  }),
  featuresBudget: option({
    env: 'CROUPIER_FEATURES_BUDGET',
    flag: 'features-budget',
    parser: p.size,
    default: '256mb',
    help: 'features kept with all decisions held',
    docs: '; past it, new decisions keep none',
  }),
  datasetDays: option({
    env: 'CROUPIER_DATASET_DAYS',
    flag: 'dataset-days',
    parser: p.integer(1, 3650),
    default: '30',
    help: 'days joined training rows (routes with logFeatures) and the outcome log (embedded) are kept',
    docs: '; see [docs/retraining.md](docs/retraining.md) and [docs/ope.md](docs/ope.md)',
  }),
  allowSlowHttp: option({
    env: 'CROUPIER_ALLOW_SLOW_HTTP',
    flag: 'allow-slow-http',
    parser: p.boolean,
    default: '0',
    help: 'allow start-up on the uWS pure-Node fallback',
  }),
  logLevel: option({
    env: 'CROUPIER_LOG_LEVEL',
    flag: 'log-level',
    parser: p.oneOf(LOG_LEVELS),
    default: 'info',
    chart: 'logLevel',
    help: `log level: ${LOG_LEVELS.join(', ')}`,
    docs: '; `debug` logs every request with its `traceparent`',
  }),
  drainTimeoutMs: option({
    env: 'CROUPIER_DRAIN_TIMEOUT_MS',
    flag: 'drain-timeout-ms',
    parser: p.integer(0, 600_000),
    default: '30000',
    chart: 'drainTimeoutMs',
    help: 'longest wait for in-flight requests on SIGTERM',
  }),
  redisUrl: option({
    env: 'CROUPIER_REDIS_URL',
    flag: 'redis-url',
    parser: p.redisUrl,
    chart: 'redis.url',
    help: 'Redis for state shared by several replicas; unset = embedded',
  }),
  redisSentinels: option({
    env: 'CROUPIER_REDIS_SENTINELS',
    flag: 'redis-sentinels',
    parser: p.hostPorts,
    chart: 'redis.sentinels',
    help: 'Redis Sentinels `host:port,…` (with CROUPIER_REDIS_NAME)',
  }),
  redisName: option({
    env: 'CROUPIER_REDIS_NAME',
    flag: 'redis-name',
    parser: p.text,
    chart: 'redis.name',
    help: 'the Sentinel master group name',
  }),
  redisClusterNodes: option({
    env: 'CROUPIER_REDIS_CLUSTER_NODES',
    flag: 'redis-cluster-nodes',
    parser: p.hostPorts,
    chart: 'redis.clusterNodes',
    help: 'Redis Cluster nodes `host:port,…`',
  }),
  redisWaitReplicas: option({
    env: 'CROUPIER_REDIS_WAIT_REPLICAS',
    flag: 'redis-wait-replicas',
    parser: p.integer(0, 16),
    default: '0',
    chart: 'redis.waitReplicas',
    help: 'Redis replicas each decision and outcome must reach (`WAIT`) before it counts as written',
    docs:
      '; `1` with Sentinel keeps acknowledged outcomes through a failover (see '
      + '[docs/deploy.md](docs/deploy.md#failover-what-survives-and-the-settings-it-needs))',
  }),
};

export type OptionName = keyof typeof OPTIONS;
export type OptionValues = { [K in OptionName]: ReturnType<(typeof OPTIONS)[K]['value']> };

export const OPTION_LIST: readonly Option<unknown>[] = Object.values(OPTIONS);
const BY_FLAG = new Map(OPTION_LIST.filter((o) => o.flag !== undefined).map((o) => [o.flag!, o]));

/** The table's flags for node's util.parseArgs: a switch (boolean parser) may stand alone or take `=0`/`=1`. */
const PARSE_OPTIONS = Object.fromEntries(
  [...BY_FLAG].map(([flag, o]) => [
    flag,
    { type: o.parser === p.boolean ? ('boolean' as const) : ('string' as const) },
  ]),
);

/** Applies `--flag value` / `--flag=value` over the environment (util.parseArgs); unknown flags are an error. */
export function applyFlags(args: readonly string[], env: Env): Env {
  const out: Env = { ...env };
  // Non-strict, so each refusal below is one line that names the flag (see croupier serve --help).
  const { tokens } = parseArgs({
    args: [...args],
    options: PARSE_OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind === 'positional') throw new ConfigError(`unexpected argument "${token.value}"`);
    if (token.kind !== 'option') continue;
    const option = token.rawName.startsWith('--') ? BY_FLAG.get(token.name) : undefined;
    if (option === undefined) throw new ConfigError(`unknown flag ${token.rawName} (see croupier serve --help)`);
    let value = token.value;
    if (option.parser === p.boolean) value ??= '1';
    else if (value === undefined || (!token.inlineValue && value.startsWith('-')))
      throw new ConfigError(`flag --${token.name} needs a value`);
    out[option.env] = value;
  }
  return out;
}

/** Every option's value, from the flags over the environment, in the table's order. */
export function readOptions(args: readonly string[], baseEnv: Env): OptionValues {
  const env = applyFlags(args, baseEnv);
  const values: Partial<Record<OptionName, unknown>> = {};
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    values[name] = OPTIONS[name].value(env[OPTIONS[name].env]);
  }
  return values as OptionValues;
}
