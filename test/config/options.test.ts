/**
 * The options table (src/config/options.ts) against what users see: the same value from a variable
 * and from its flag, the documented defaults, one clear line for a bad value, and --help and the
 * README listing every option.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { optionsMarkdown, withOptionsTable } from '../../src/config/options-docs.js';
import { OPTION_LIST, OPTIONS, readOptions, type OptionName } from '../../src/config/options.js';
import { ConfigError } from '../../src/errors.js';
import { ROOT } from '../helpers/server.js';

const work = mkdtempSync(join(tmpdir(), 'croupier-options-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const tokenFile = join(work, 'tokens');
writeFileSync(tokenFile, 'alice:alice-token-1\nbob:bob-token-22\n');

/** A value other than the default for every option, and what it reads as. */
const SAMPLES: Record<OptionName, [raw: string, value: unknown]> = {
  host: ['0.0.0.0', '0.0.0.0'],
  port: ['9000', 9000],
  adminPort: ['9090', 9090],
  modelsDir: [work, work],
  routesFile: ['routes.yaml', resolve('routes.yaml')],
  alertsFile: ['alerts.yaml', resolve('alerts.yaml')],
  alertIntervalMs: ['5000', 5000],
  stateDir: ['/tmp/state', '/tmp/state'],
  adminToken: ['a-long-token', 'a-long-token'],
  adminTokens: [
    `@${tokenFile}`,
    [
      ['alice', 'alice-token-1'],
      ['bob', 'bob-token-22'],
    ],
  ],
  workers: ['3', 3],
  intraOpThreads: ['2', 2],
  maxBatch: ['128', 128],
  batchDelayUs: ['250', 250],
  inlineMaxUs: ['0', 0],
  maxQueuedRows: ['100', 100],
  bodyLimit: ['64kb', 65536],
  decisionsMax: ['5000', 5000],
  featuresMax: ['1.5kb', 1536],
  featuresBudget: ['2mb', 2 * 1024 ** 2],
  datasetDays: ['7', 7],
  allowSlowHttp: ['true', true],
  logLevel: ['debug', 'debug'],
  drainTimeoutMs: ['0', 0],
  redisUrl: ['rediss://cache:6380', 'rediss://cache:6380'],
  redisSentinels: ['s1:26379, s2:26379', ['s1:26379', 's2:26379']],
  redisName: ['mymaster', 'mymaster'],
  redisClusterNodes: ['n1:7000,n2:7001', ['n1:7000', 'n2:7001']],
  redisWaitReplicas: ['1', 1],
};

const names = Object.keys(OPTIONS) as OptionName[];

describe('every option', () => {
  it('has a sample here, a distinct variable and a distinct flag', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual([...names].sort());
    const envs = OPTION_LIST.map((o) => o.env);
    expect(new Set(envs).size).toBe(envs.length);
    for (const env of envs) expect(env).toMatch(/^CROUPIER_[A-Z0-9_]+$/);
    const flags = OPTION_LIST.flatMap((o) => (o.flag ? [o.flag] : []));
    expect(new Set(flags).size).toBe(flags.length);
  });

  it.each(names)('%s reads the same from its variable and from its flag (both forms)', (name) => {
    const option = OPTIONS[name];
    const [raw, value] = SAMPLES[name];
    expect(readOptions([], { [option.env]: raw })[name]).toEqual(value);
    if (option.flag === undefined) return;
    // A switch takes no separate value: the flag alone turns it on.
    const separate = option.parser.hint === '' ? [`--${option.flag}`] : [`--${option.flag}`, raw];
    expect(readOptions(separate, {})[name]).toEqual(value);
    expect(readOptions([`--${option.flag}=${raw}`], {})[name]).toEqual(value);
    // The flag wins over the variable.
    expect(readOptions([`--${option.flag}=${raw}`], { [option.env]: option.default ?? '' })[name]).toEqual(value);
  });

  it('takes an empty variable as unset', () => {
    const empty = Object.fromEntries(OPTION_LIST.map((o) => [o.env, '']));
    expect(readOptions([], empty)).toEqual(readOptions([], {}));
  });
});

describe('defaults', () => {
  it('are the documented ones', () => {
    const config = loadConfig([], {});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      adminPort: undefined,
      modelsDir: resolve('models'),
      routesFile: undefined,
      stateDir: resolve('.croupier'),
      intraOpThreads: 1,
      maxBatch: 64,
      batchDelayUs: 0,
      inlineMaxUs: 100,
      maxQueuedRows: 8192,
      bodyLimit: 1024 ** 2,
      decisionsMax: 1_000_000,
      featuresMax: 64 * 1024,
      featuresBudget: 256 * 1024 ** 2,
      allowSlowHttp: false,
      logLevel: 'info',
      drainTimeoutMs: 30_000,
      redis: undefined,
    });
    expect(config.adminTokens.size).toBe(0);
    const cores = availableParallelism();
    expect(config.workers).toBe(Math.min(4, cores <= 2 ? cores : cores - 1));
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('parse with their own option (a default the parser refused would fail every start)', () => {
    for (const o of OPTION_LIST) {
      if (o.default !== undefined) expect(() => o.parser.parse(o.env, o.default!), o.env).not.toThrow();
    }
  });

  it('come together into the Redis settings and the token map', () => {
    const config = loadConfig(['--redis-sentinels', 's1:26379', '--redis-name', 'm'], {
      CROUPIER_ADMIN_TOKEN: 'the-admin-token',
      CROUPIER_ADMIN_TOKENS: 'ci:ci-token-123',
    });
    expect(config.redis).toEqual({
      url: undefined,
      sentinels: ['s1:26379'],
      clusterNodes: undefined,
      name: 'm',
      waitReplicas: 0,
    });
    expect([...config.adminTokens]).toEqual([
      ['admin', 'the-admin-token'],
      ['ci', 'ci-token-123'],
    ]);
  });
});

describe('a bad value stops start-up with a line that names the option', () => {
  it.each([
    [['--port', 'eighty'], {}, 'CROUPIER_PORT must be a whole number, got "eighty"'],
    [[], { CROUPIER_PORT: '70000' }, 'CROUPIER_PORT must be between 0 and 65535, got 70000'],
    [['--workers', '0'], {}, 'CROUPIER_WORKERS must be between 1 and 64, got 0'],
    [['--workers', 'many'], {}, 'CROUPIER_WORKERS must be a whole number, got "many"'],
    [['--body-limit', 'lots'], {}, 'CROUPIER_BODY_LIMIT must be a size such as 1mb or 65536, got "lots"'],
    [['--features-max=10'], {}, 'CROUPIER_FEATURES_MAX must be between 64 bytes and 1gb, got "10"'],
    [
      ['--log-level', 'loud'],
      {},
      'CROUPIER_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ],
    [[], { CROUPIER_ALLOW_SLOW_HTTP: 'maybe' }, 'CROUPIER_ALLOW_SLOW_HTTP must be 1 or 0, got "maybe"'],
    [['--models', '/no/such/dir'], {}, 'CROUPIER_MODELS_DIR: cannot read directory /no/such/dir'],
    [['--models', '/etc/hostname'], {}, 'CROUPIER_MODELS_DIR: /etc/hostname is not a directory'],
    [['--redis-url', 'http://cache'], {}, 'CROUPIER_REDIS_URL must start with redis:// or rediss://'],
    [['--redis-cluster-nodes', 'n1:7000,n2'], {}, 'CROUPIER_REDIS_CLUSTER_NODES: "n2" is not host:port'],
    [
      ['--redis-sentinels', 's1:26379'],
      {},
      'CROUPIER_REDIS_SENTINELS needs CROUPIER_REDIS_NAME (the master group name)',
    ],
    [['--redis-wait-replicas', 'all'], {}, 'CROUPIER_REDIS_WAIT_REPLICAS must be a whole number, got "all"'],
    [
      [],
      { CROUPIER_ADMIN_TOKENS: 'ci:short' },
      'CROUPIER_ADMIN_TOKENS: the token named "ci" is shorter than 8 characters',
    ],
    [
      [],
      // The role is no part of the token: `short:viewer` is a 5-character token.
      { CROUPIER_ADMIN_TOKENS: 'dash:short:viewer' },
      'CROUPIER_ADMIN_TOKENS: the token named "dash" is shorter than 8 characters',
    ],
    [
      [],
      { CROUPIER_ADMIN_TOKENS: 'no-name-token' },
      'CROUPIER_ADMIN_TOKENS: each entry must be name:token with a name of letters, digits, . _ -',
    ],
    [[], { CROUPIER_ADMIN_TOKENS: '@/no/such/file' }, 'CROUPIER_ADMIN_TOKENS: cannot read token file /no/such/file'],
    [
      [],
      { CROUPIER_ADMIN_TOKEN: 'the-admin-token', CROUPIER_ADMIN_TOKENS: 'admin:other-token' },
      'CROUPIER_ADMIN_TOKENS: the name "admin" appears twice',
    ],
    [['--bogus'], {}, 'unknown flag --bogus (see croupier serve --help)'],
    [['--admin-tokens', 'a:b'], {}, 'unknown flag --admin-tokens (see croupier serve --help)'],
    [['--port'], {}, 'flag --port needs a value'],
    [['9000'], {}, 'unexpected argument "9000"'],
  ] as [string[], Record<string, string>, string][])('%j %j', (args, env, message) => {
    let error: unknown;
    try {
      loadConfig(args, env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(message);
  });

  it('is the same line whether the value came from the variable or the flag', () => {
    const refusal = (args: string[], env: Record<string, string>): string | undefined => {
      try {
        loadConfig(args, env);
      } catch (e) {
        return (e as Error).message;
      }
      return undefined;
    };
    // Every option that can refuse a value (free text and paths take anything).
    for (const o of OPTION_LIST.filter((x) => x.flag !== undefined && !['TEXT', 'PATH'].includes(x.parser.hint))) {
      const bad = o.env === 'CROUPIER_MODELS_DIR' ? '/no/such/dir' : 'not:a:value';
      const fromEnv = refusal([], { [o.env]: bad });
      const fromFlag = refusal([`--${o.flag}=${bad}`], {});
      expect(fromEnv, o.env).toMatch(new RegExp(`^${o.env}\\b`));
      expect(fromFlag).toBe(fromEnv);
    }
  });
});

describe('the documentation', () => {
  it('croupier serve --help lists every flag the table has, and no other', () => {
    const help = execFileSync(process.execPath, [join(ROOT, 'bin', 'croupier.js'), 'serve', '--help'], {
      encoding: 'utf8',
    });
    const serveSection = help.slice(help.indexOf('serve flags'));
    const listed = [...serveSection.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]);
    expect(listed).toEqual(OPTION_LIST.flatMap((o) => (o.flag ? [o.flag] : [])));
    for (const o of OPTION_LIST) expect(serveSection, o.env).toContain(o.env);
  });

  it('the README configuration table is the one the table makes (npm run docs:options)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(optionsMarkdown());
    expect(withOptionsTable(readme)).toBe(readme);
  });
});
