// Memory benchmark (issue 6): resident set size of Croupier with the demo models, and with 20
// loaded versions of the compute-bound demo model `mlp` (copies of models/mlp/1 as versions 1..20
// in a temporary model repository, beside the other demo models), idle after start and after a
// short load. RSS from /proc/<pid>/status (VmRSS; VmHWM is the peak).
// Then the monitoring windows' memory (issue 16) for the same two repositories at two traffic levels,
// each in its own process (bench/monitoring-memory.ts): section "Monitoring memory".
//
//   npm run bench:memory -- [--versions 20] [--workers N] [--monitoring-only] [--no-write]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { REQUEST_BODY } from './body.js';
import { installSignalCleanup } from './lib/children.js';
import { startCroupier, type CroupierProcess } from './lib/croupier-server.js';
import { seriesValues } from './lib/metrics-sampler.js';
import { fixed, mdTable, writeSection } from './lib/sections.js';
import { binaryInferBody, makeRows, wrkEnvFor } from './lib/tensor-bodies.js';
import { runWrk } from './lib/wrk.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TMP = fileURLToPath(new URL('.tmp/', import.meta.url));
const RESULTS = fileURLToPath(new URL('RESULTS.md', import.meta.url));
const LUA = fileURLToPath(new URL('post-file.lua', import.meta.url));

const { values: args } = parseArgs({
  options: {
    versions: { type: 'string', default: '20' },
    workers: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    'monitoring-only': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    'usage: npm run bench:memory -- [--versions 20] [--workers N] [--monitoring-only] [--no-write]\n',
  );
  process.exit(0);
}
const VERSIONS = Number(args.versions);
const MLP_BYTES = statSync(join(ROOT, 'models', 'mlp', '1', 'model.onnx')).size;
const ENV: Record<string, string> = args.workers === undefined ? {} : { CROUPIER_WORKERS: args.workers };
/** What `auto` resolves to here (mirrors src/config/config.ts `workers`), for the report. */
const AUTO_WORKERS = ((cores: number) => Math.min(4, cores <= 2 ? cores : cores - 1))(os.availableParallelism());
const WORKERS = args.workers ?? `${AUTO_WORKERS} (auto)`;

const log = (msg: string): void => {
  process.stderr.write(`bench:memory: ${msg}\n`);
};

interface ProcMemory {
  rss: number;
  hwm: number;
  threads: number;
}
function procMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? NaN) };
}

/** The demo repository plus `mlp` versions 2..n (byte copies of version 1; the manifest names its version). */
function manyVersionsRepository(n: number): string {
  const dir = mkdtempSync(join(os.tmpdir(), 'croupier-versions-'));
  cpSync(join(ROOT, 'models'), dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'mlp', '1', 'model.json'), 'utf8')) as Record<string, unknown>;
  for (let v = 2; v <= n; v++) {
    mkdirSync(join(dir, 'mlp', String(v)));
    cpSync(join(dir, 'mlp', '1', 'model.onnx'), join(dir, 'mlp', String(v), 'model.onnx'));
    writeFileSync(
      join(dir, 'mlp', String(v), 'model.json'),
      `${JSON.stringify({ ...manifest, version: String(v) }, null, 2)}\n`,
    );
  }
  return dir;
}

interface Row {
  setup: string;
  versions: number;
  startS: number;
  idle: ProcMemory;
  loaded: ProcMemory;
  threads: number;
}

async function measure(setup: string, modelsDir: string | undefined): Promise<Row> {
  const started = Date.now();
  const s: CroupierProcess = await startCroupier({
    root: ROOT,
    name: `croupier-memory-${modelsDir === undefined ? 'demo' : 'versions'}`,
    logDir: TMP,
    env: ENV,
    modelsDir,
    readyTimeoutMs: 180_000,
  });
  try {
    const startS = (Date.now() - started) / 1000;
    const info = await (await fetch(`${s.base}/metrics`)).text();
    const versions = seriesValues(info, 'croupier_model_info').length;
    await sleep(3000);
    const idle = procMemory(s.pid);
    // A short load on both paths that allocate: predict (decisions, metrics) and 64-row mlp batches.
    await runWrk({
      url: `${s.base}/v1/predict/fraud-scoring`,
      body: REQUEST_BODY,
      durationS: 5,
      connections: 64,
      threads: 1,
    });
    const mlp = makeRows(64, 256);
    await runWrk({
      url: `${s.base}/v2/models/mlp/infer`,
      body: '',
      durationS: 5,
      connections: 8,
      threads: 1,
      script: LUA,
      env: wrkEnvFor(binaryInferBody(mlp, 64, 256, 'probability'), join(TMP, 'memory-mlp.body')),
    });
    await sleep(2000);
    const loaded = procMemory(s.pid);
    log(
      `${setup}: ${versions} versions, ready in ${startS.toFixed(1)} s, RSS idle ${mb(idle.rss)}, after load ${mb(loaded.rss)} (peak ${mb(loaded.hwm)})`,
    );
    return { setup, versions, startS, idle, loaded, threads: loaded.threads };
  } finally {
    await s.stop();
  }
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

async function main(): Promise<void> {
  mkdirSync(TMP, { recursive: true });
  const date = new Date();
  const repo = manyVersionsRepository(VERSIONS);
  installSignalCleanup(async () => {
    rmSync(repo, { recursive: true, force: true });
  });
  const rows: Row[] = [];
  let monitoring: string;
  try {
    if (!args['monitoring-only']) {
      rows.push(await measure('demo models (`./models`)', undefined));
      rows.push(await measure(`demo models + \`mlp\` versions 2–${VERSIONS} (temporary repository)`, repo));
    }
    monitoring = monitoringSection(date, repo);
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
  process.stdout.write(`${monitoring}\n`);
  if (!args['no-write']) writeSection(RESULTS, 'monitoring-memory', monitoring);
  if (args['monitoring-only']) return;
  const [demo, many] = rows;
  const perVersion =
    demo !== undefined && many !== undefined ? (many.idle.rss - demo.idle.rss) / (many.versions - demo.versions) : null;
  const command = ['npm run bench:memory', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(
    ' ',
  );
  const section = [
    '## Memory: resident set size',
    '',
    `- date: ${date.toISOString()}, node ${process.version}, ${os.availableParallelism()} cores; workers: ${WORKERS}`,
    `- command: \`${command}\``,
    '- RSS = VmRSS of the Croupier process (main thread, inference workers and ONNX Runtime all live in it) from `/proc/<pid>/status`; '
      + 'idle = 3 s after ready; after load = 2 s after 5 s of `/v1/predict/fraud-scoring` (wrk, 64 connections) and 5 s of 64-row binary `mlp` batches (8 connections); '
      + 'peak = VmHWM. Versions = `croupier_model_info` series. Every version is loaded into every worker.',
    `- \`mlp\` is ${fixed(MLP_BYTES / 1024 / 1024, 1)} MB of FP32 weights; versions 2–${VERSIONS} are byte copies of version 1 (sessions do not share initializers by default, so a copy costs what a distinct model of that size would)`,
    '',
    mdTable(
      ['setup', 'versions loaded', 'ready after', 'RSS idle', 'RSS after load', 'peak RSS', 'threads'],
      rows.map((r) => [
        r.setup,
        String(r.versions),
        `${fixed(r.startS, 1)} s`,
        mb(r.idle.rss),
        mb(r.loaded.rss),
        mb(r.loaded.hwm),
        String(r.threads),
      ]),
    ),
    '',
    perVersion === null
      ? ''
      : `Each extra \`mlp\` version costs about **${fixed(perVersion / 1024 / 1024, 1)} MB** of RSS at idle `
        + `(${fixed(perVersion / MLP_BYTES, 1)}× its ${fixed(MLP_BYTES / 1024 / 1024, 1)} MB weight file) with ${WORKERS} worker(s); `
        + 'every worker holds its own session of every version, so the cost scales with workers × versions.',
  ].join('\n');
  process.stdout.write(`${section}\n`);
  if (!args['no-write']) {
    writeSection(RESULTS, 'memory', section);
    log(`wrote ${RESULTS}`);
  }
}

/** One bench/monitoring-memory.ts run in its own process (its own heap, GC exposed). */
interface MonitoringRun {
  routes: number;
  arms: number;
  versions: number;
  driftVersions: number;
  features: number;
  series: number;
  slotsPerMinute: number;
  perArm: number;
  minutes: number;
  events: number;
  buckets: number;
  payloadBytes: number;
  heapBytes: number;
  snapshotBytes: number | null;
  snapshots: number;
  catchUpBlockMs: number | null;
  snapshotBlockMs: number | null;
  snapshotBlockP99Ms: number | null;
  encodeMs: number;
  loadS: number | null;
  reloadedEqual: boolean | null;
  simulatedS: number;
}
function monitoringRun(models: string, perArm: number, versionsRoute: boolean): MonitoringRun {
  const out = execFileSync(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      'tsx',
      join(ROOT, 'bench', 'monitoring-memory.ts'),
      '--models',
      models,
      '--per-arm',
      String(perArm),
      '--snapshot',
      ...(versionsRoute ? ['--versions-route'] : []),
    ],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  const run = JSON.parse(out.trim().split('\n').at(-1)!) as MonitoringRun;
  log(
    `monitoring: ${run.series} series, ${perArm}/min per arm: payload ${mb(run.payloadBytes)}, heap ${mb(run.heapBytes)}`,
  );
  return run;
}

/** Traffic levels: requests (each with a labelled outcome) per arm per minute. */
const MONITORING_LEVELS = [1, 100];

function monitoringSection(date: Date, repo: string): string {
  const setups: [string, string, boolean][] = [
    ['demo models and routes (`./models`)', join(ROOT, 'models'), false],
    [`demo + \`mlp\` versions 1–${VERSIONS}, one route arm each`, repo, true],
  ];
  const runs = setups.flatMap(([setup, models, versionsRoute]) =>
    MONITORING_LEVELS.map((level) => ({ setup, run: monitoringRun(models, level, versionsRoute) })),
  );
  const mb1 = (bytes: number | null): string => (bytes === null ? 'n/a' : `${fixed(bytes / 1024 / 1024, 1)} MB`);
  return [
    '## Monitoring memory',
    '',
    `- date: ${date.toISOString()}, node ${process.version}; command: \`npm run bench:memory -- --monitoring-only\` (also part of \`npm run bench:memory\`)`,
    '- what: the real `Monitor`, `DriftCounters` and embedded `MonitorCounts` store over the repository and its routes, in a process of their own, fed 1,500 simulated minutes (a day, the longest window, and an hour more; injected clock): every arm gets the requests of the level each minute, each with a labelled outcome, and each version a batch of those rows for drift',
    '- payload = the stored minute vectors read back from the store (buckets × slots × 8 bytes); heap = V8 heap + ArrayBuffers after a full GC, minus the same before the first minute; on disk = the minute segments in `monitor/` after close',
    "- snapshots: the store's own, one a simulated minute over the last 10 (as its timer makes them every minute that changed something); first = the event loop held (longest monitorEventLoopDelay) by the first, which writes every minute of the day; per minute = max / p99 of the loop delay (1 ms resolution) over the other 9, which write the minute that changed; a minute's copy = the snapshot's own work for one minute (copying its vectors into a buffer and the CRC), the rest of the delay being the collector's pauses over the whole heap that land in the snapshot too; at start = a new store reading the state back (its 24 h sums equal the live store's, value for value)",
    '- series: one per arm (pulls, Σ propensity, outcomes, Σ reward, Σ reward²: 5 slots), one per arm and version with `monitor` (label counts: 437 slots), one per version with baseline histograms (2 + 10 per feature and prediction); a series keeps one bucket per minute for 1,440 minutes',
    '',
    mdTable(
      [
        'setup',
        'requests / arm / min',
        'requests in all',
        'routes / arms / versions / features',
        'series (slots a minute)',
        'buckets',
        'payload',
        'heap',
        'on disk',
        'loop held: first snapshot',
        'loop held per minute (max / p99)',
        "of which a minute's copy",
        'read at start',
      ],
      runs.map(({ setup, run: r }) => [
        setup,
        String(r.perArm),
        r.events.toLocaleString('en-US'),
        `${r.routes} / ${r.arms} / ${r.versions} / ${r.features}`,
        `${r.series} (${r.slotsPerMinute.toLocaleString('en-US')})`,
        r.buckets.toLocaleString('en-US'),
        mb1(r.payloadBytes),
        mb1(r.heapBytes),
        mb1(r.snapshotBytes),
        r.catchUpBlockMs === null ? 'n/a' : `${fixed(r.catchUpBlockMs, 1)} ms`,
        r.snapshotBlockMs === null || r.snapshotBlockP99Ms === null
          ? 'n/a'
          : `${fixed(r.snapshotBlockMs, 1)} / ${fixed(r.snapshotBlockP99Ms, 1)} ms`,
        `${fixed(r.encodeMs, 1)} ms`,
        r.loadS === null ? 'n/a' : `${fixed(r.loadS, 1)} s${r.reloadedEqual ? '' : ' (sums differ!)'}`,
      ]),
    ),
    '',
    'The windows do not grow with traffic: 100× the requests leave the buckets, the payload and the heap where they were '
      + '(slots a minute × 1,440 minutes × 8 bytes, plus the maps that hold them). They grow with what is monitored: a version '
      + 'with 256 baseline features (`mlp`) costs 2,572 slots a minute, about 30 MB once it has scored rows every minute of a day, '
      + "so 20 such versions hold 0.6 GB. On disk a minute is its vectors' raw bytes (zeros included), one segment per minute; "
      + 'a snapshot copies the minutes that changed into a buffer (the only work on the event loop) and leaves the writes, '
      + 'fsyncs and renames to the thread pool, so what it holds the loop does not grow with the day retained.',
  ].join('\n');
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
