// Memory benchmark (issue 6): resident set size of Croupier with the demo models, and with 20
// loaded versions of the compute-bound demo model `mlp` (copies of models/mlp/1 as versions 1..20
// in a temporary model repository, beside the other demo models), idle after start and after a
// short load. RSS from /proc/<pid>/status (VmRSS; VmHWM is the peak).
//
//   npm run bench:memory -- [--versions 20] [--workers N] [--no-write]
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
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write('usage: npm run bench:memory -- [--versions 20] [--workers N] [--no-write]\n');
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
  try {
    rows.push(await measure('demo models (`./models`)', undefined));
    rows.push(await measure(`demo models + \`mlp\` versions 2–${VERSIONS} (temporary repository)`, repo));
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
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

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
