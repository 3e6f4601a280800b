// Compute-bound benchmark (issue 6): rows/s through Croupier on the demo `mlp` model
// (256→512→512→256→1) against onnxruntime-node running the same batches in one Node process with
// the same number of threads, over a small sweep of worker × intra-op thread counts; and rows/s of
// the binary tensor data extension beside JSON, on `fraud` and `mlp`, on the default configuration.
//
//   npm run bench:compute -- [--rounds N --duration S --configs 1x1,1x2,2x1,2x2 --rows R
//                             --connections C --section NAME --no-write]
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { REQUEST_BODY } from './body.js';
import { installSignalCleanup } from './lib/children.js';
import { cpuSince, cpuSnapshot, threadTicks, ticksToCores } from './lib/cpu.js';
import { exitReason, isAlive, startCroupier, type CroupierProcess, type CroupierStart } from './lib/croupier-server.js';
import { fixed, int, mdTable, median, writeSection } from './lib/sections.js';
import { binaryInferBody, jsonInferBody, makeRows, wrkEnvFor, type InferBody } from './lib/tensor-bodies.js';
import { runWrk, socketErrorTotal } from './lib/wrk.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TMP = fileURLToPath(new URL('.tmp/', import.meta.url));
const RESULTS = fileURLToPath(new URL('RESULTS.md', import.meta.url));
const LUA = fileURLToPath(new URL('post-file.lua', import.meta.url));
const ORT_LOOP = fileURLToPath(new URL('lib/ort-loop.ts', import.meta.url));
const WARMUP_S = 2;
const PREDICT_PATH = '/v1/predict/fraud-scoring';
/** What CROUPIER_WORKERS=auto resolves to here (mirrors src/config/config.ts), for the report. */
const AUTO_WORKERS = ((cores: number) => Math.min(4, cores <= 2 ? cores : cores - 1))(os.availableParallelism());

const log = (msg: string): void => {
  process.stderr.write(`bench:compute: ${msg}\n`);
};

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '4' },
    configs: { type: 'string', default: '1x1,1x2,2x1,2x2' },
    rows: { type: 'string', default: '64' },
    connections: { type: 'string', default: '8' },
    'no-write': { type: 'boolean', default: false },
    section: { type: 'string', default: 'compute' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    'usage: npm run bench:compute -- [--rounds 5] [--duration 4] [--configs 1x1,1x2,2x1,2x2] [--rows 64] [--connections 8] [--section compute] [--no-write]\n',
  );
  process.exit(0);
}
const ROUNDS = Number(args.rounds);
const DURATION = Number(args.duration);
const ROWS = Number(args.rows);
const CONNECTIONS = Number(args.connections);
interface ThreadConfig {
  workers: number;
  intraOp: number;
  label: string;
}
const CONFIGS: ThreadConfig[] = args.configs.split(',').map((c) => {
  const m = /^(\d+)x(\d+)$/.exec(c.trim());
  if (m === null) throw new Error(`--configs: '${c}' is not WORKERSxINTRA_OP (e.g. 2x1)`);
  return { workers: Number(m[1]), intraOp: Number(m[2]), label: `${m[1]}x${m[2]}` };
});

interface ModelInfo {
  name: string;
  width: number;
  output: string;
  file: string;
}
function modelInfo(name: string): ModelInfo {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'models', name, '1', 'model.json'), 'utf8')) as {
    inputs: { shape: number[] }[];
    outputs: { name: string }[];
    file: string;
  };
  return {
    name,
    width: manifest.inputs[0]?.shape[1] ?? 0,
    output: manifest.outputs[0]?.name ?? '',
    file: join(ROOT, 'models', name, '1', manifest.file),
  };
}
const MLP = modelInfo('mlp');
const FRAUD = modelInfo('fraud');

/** One thing measured each round: a wrk run against a server, or the in-process ORT loop. */
interface Measure {
  key: string;
  group: string;
  label: string;
  rowsPerRequest: number;
  run(): Promise<{ rowsPerSec: number; serverCores: number | null; mainCores: number | null; errors: number }>;
  /** A short unrecorded run first (wrk measures: JIT, connection set-up, ORT arenas). */
  warm?: () => Promise<void>;
  values: number[];
  cores: number[];
  /** Cores used by Croupier's main thread (HTTP, parsing, batching); the rest is workers + ORT. */
  mainCores: number[];
  errors: number;
}

function wrkMeasure(
  key: string,
  group: string,
  label: string,
  server: () => CroupierProcess,
  target: ModelInfo | string,
  body: InferBody,
  rows: number,
  connections: number,
): Measure {
  const file = join(TMP, `${key}.body`);
  const env = wrkEnvFor(body, file);
  const path = typeof target === 'string' ? target : `/v2/models/${target.name}/infer`;
  const wrkRun = (durationS: number) =>
    runWrk({ url: `${server().base}${path}`, body: '', durationS, connections, threads: 1, script: LUA, env });
  const m: Measure = {
    key,
    group,
    label,
    rowsPerRequest: rows,
    values: [],
    cores: [],
    mainCores: [],
    errors: 0,
    warm: async () => {
      await wrkRun(WARMUP_S);
    },
    run: async () => {
      const s = server();
      const before = cpuSnapshot(s.pid);
      const mainBefore = threadTicks(s.pid);
      const wrk = await wrkRun(DURATION);
      const usage = cpuSince(before, s.pid);
      const mainAfter = threadTicks(s.pid);
      const seconds = (Date.now() - before.atMs) / 1000;
      const mainCores =
        mainBefore === null || mainAfter === null ? null : ticksToCores(mainAfter - mainBefore, seconds);
      return {
        rowsPerSec: wrk.requestsPerSec * rows,
        serverCores: usage.serverCores,
        mainCores,
        errors: wrk.non2xx + socketErrorTotal(wrk),
      };
    },
  };
  return m;
}

function ortMeasure(
  key: string,
  group: string,
  label: string,
  model: ModelInfo,
  sessions: number,
  intraOp: number,
): Measure {
  return {
    key,
    group,
    label,
    rowsPerRequest: ROWS,
    values: [],
    cores: [],
    mainCores: [],
    errors: 0,
    run: () =>
      new Promise((resolve, reject) => {
        const child = execFile(
          process.execPath,
          [
            '--import',
            'tsx',
            ORT_LOOP,
            '--model',
            model.file,
            '--rows',
            String(ROWS),
            '--width',
            String(model.width),
            '--seconds',
            String(DURATION),
            '--sessions',
            String(sessions),
            '--intra-op',
            String(intraOp),
          ],
          { cwd: ROOT, timeout: (DURATION + 60) * 1000 },
          (err, stdout, stderr) => {
            if (err) {
              reject(new Error(`ort-loop failed: ${err.message}\n${stderr}`));
              return;
            }
            const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { rowsPerSec: number; cores: number };
            resolve({ rowsPerSec: r.rowsPerSec, serverCores: r.cores, mainCores: null, errors: 0 });
          },
        );
        children.add(child);
        child.once('exit', () => children.delete(child));
      }),
  };
}

const children = new Set<ChildProcess>();
const restarts: string[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

async function probe(s: CroupierProcess, model: ModelInfo, body: InferBody, rows: number): Promise<string> {
  const res = await fetch(`${s.base}/v2/models/${model.name}/infer`, {
    method: 'POST',
    headers: { 'content-type': body.contentType, ...body.headers },
    body: body.bytes,
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`${model.name} answered ${res.status}: ${bytes.toString('utf8', 0, 300)}`);
  const n = Number(res.headers.get('inference-header-content-length') ?? bytes.length);
  const header = JSON.parse(bytes.subarray(0, n).toString('utf8')) as { outputs: { shape: number[] }[] };
  const shape = header.outputs[0]?.shape ?? [];
  if (shape[0] !== rows)
    throw new Error(`${model.name}: expected ${rows} output rows, got shape [${shape.join(', ')}]`);
  return `200, output shape [${shape.join(', ')}]${n < bytes.length ? ` + ${bytes.length - n} binary bytes` : ''}`;
}

async function main(): Promise<void> {
  mkdirSync(TMP, { recursive: true });
  const date = new Date();
  const servers = new Map<string, CroupierProcess>();
  installSignalCleanup(async () => {
    await Promise.all([...servers.values()].map((s) => s.stop()));
  });
  const mlpRows = makeRows(ROWS, MLP.width);
  const fraudRows = makeRows(ROWS, FRAUD.width);
  const fraudOne = makeRows(1, FRAUD.width);
  const bodies = {
    mlpJson: jsonInferBody(mlpRows, ROWS, MLP.width),
    mlpBin: binaryInferBody(mlpRows, ROWS, MLP.width, MLP.output),
    fraudJson: jsonInferBody(fraudRows, ROWS, FRAUD.width),
    fraudBin: binaryInferBody(fraudRows, ROWS, FRAUD.width, FRAUD.output),
    fraudOneJson: jsonInferBody(fraudOne, 1, FRAUD.width),
    fraudOneBin: binaryInferBody(fraudOne, 1, FRAUD.width, FRAUD.output),
  };
  const predictBody: InferBody = { bytes: Buffer.from(REQUEST_BODY), contentType: 'application/json', headers: {} };
  const measures: Measure[] = [];
  const probes: string[] = [];
  const starts = new Map<string, CroupierStart>();
  const launch = async (o: CroupierStart): Promise<CroupierProcess> => {
    starts.set(o.name, o);
    const s = await startCroupier(o);
    servers.set(o.name, s);
    return s;
  };
  const get = (name: string) => (): CroupierProcess => {
    const s = servers.get(name);
    if (s === undefined) throw new Error(`server ${name} is not running`);
    return s;
  };
  /** On a shared machine a server may be killed from outside: start it again, and say so. */
  const ensureAlive = async (): Promise<void> => {
    for (const [name, s] of servers) {
      if (isAlive(s)) continue;
      const why = exitReason(s);
      await s.stop();
      restarts.push(`${name} died (${why}) and was restarted`);
      log(`${name} died (${why}); restarting`);
      const o = starts.get(name);
      if (o !== undefined) await launch(o);
    }
  };
  try {
    for (const c of CONFIGS) {
      const name = `croupier-${c.label}`;
      const s = await launch({
        root: ROOT,
        name,
        logDir: TMP,
        env: { CROUPIER_WORKERS: String(c.workers), CROUPIER_INTRA_OP_THREADS: String(c.intraOp) },
      });
      probes.push(
        `${name} mlp JSON: ${await probe(s, MLP, bodies.mlpJson, ROWS)}; binary: ${await probe(s, MLP, bodies.mlpBin, ROWS)}`,
      );
      log(`${name} ready (pid ${s.pid})`);
      const g = `sweep ${c.label}`;
      measures.push(
        wrkMeasure(`${c.label}-json`, g, 'croupier JSON', get(name), MLP, bodies.mlpJson, ROWS, CONNECTIONS),
        wrkMeasure(`${c.label}-bin`, g, 'croupier binary', get(name), MLP, bodies.mlpBin, ROWS, CONNECTIONS),
        wrkMeasure(
          `${c.label}-predict`,
          g,
          'croupier /v1/predict/fraud-scoring, 1 row, 64 connections (small-model check)',
          get(name),
          PREDICT_PATH,
          predictBody,
          1,
          64,
        ),
        ortMeasure(
          `${c.label}-ort1`,
          g,
          `ORT in-process, 1 session × ${c.workers * c.intraOp} threads`,
          MLP,
          1,
          c.workers * c.intraOp,
        ),
      );
      if (c.workers > 1) {
        measures.push(
          ortMeasure(
            `${c.label}-ortN`,
            g,
            `ORT in-process, ${c.workers} sessions × ${c.intraOp} threads`,
            MLP,
            c.workers,
            c.intraOp,
          ),
        );
      }
    }
    const def = await launch({ root: ROOT, name: 'croupier-default', logDir: TMP });
    probes.push(
      `croupier-default fraud JSON: ${await probe(def, FRAUD, bodies.fraudJson, ROWS)}; binary: ${await probe(def, FRAUD, bodies.fraudBin, ROWS)}`,
    );
    log(`croupier-default ready (pid ${def.pid})`);
    const gd = 'default config';
    measures.push(
      wrkMeasure(
        'def-fraud-json',
        gd,
        `fraud, ${ROWS}-row requests, JSON`,
        get('croupier-default'),
        FRAUD,
        bodies.fraudJson,
        ROWS,
        CONNECTIONS,
      ),
      wrkMeasure(
        'def-fraud-bin',
        gd,
        `fraud, ${ROWS}-row requests, binary`,
        get('croupier-default'),
        FRAUD,
        bodies.fraudBin,
        ROWS,
        CONNECTIONS,
      ),
      wrkMeasure(
        'def-fraud1-json',
        gd,
        'fraud, 1-row requests, JSON',
        get('croupier-default'),
        FRAUD,
        bodies.fraudOneJson,
        1,
        64,
      ),
      wrkMeasure(
        'def-fraud1-bin',
        gd,
        'fraud, 1-row requests, binary',
        get('croupier-default'),
        FRAUD,
        bodies.fraudOneBin,
        1,
        64,
      ),
      wrkMeasure(
        'def-mlp-json',
        gd,
        `mlp, ${ROWS}-row requests, JSON`,
        get('croupier-default'),
        MLP,
        bodies.mlpJson,
        ROWS,
        CONNECTIONS,
      ),
      wrkMeasure(
        'def-mlp-bin',
        gd,
        `mlp, ${ROWS}-row requests, binary`,
        get('croupier-default'),
        MLP,
        bodies.mlpBin,
        ROWS,
        CONNECTIONS,
      ),
    );

    for (const m of measures) if (m.warm !== undefined) await m.warm();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const m of measures) {
        const r = await runSurvivingKills(m, ensureAlive, () => [...servers.values()].every(isAlive));
        m.values.push(r.rowsPerSec);
        m.cores.push(r.serverCores ?? NaN);
        m.mainCores.push(r.mainCores ?? NaN);
        m.errors += r.errors;
        log(
          `round ${round}/${ROUNDS} ${m.key.padEnd(16)} ${int(r.rowsPerSec).padStart(9)} rows/s`
            + `${r.serverCores === null ? '' : `  server ${r.serverCores.toFixed(2)} cores (main ${fixed(r.mainCores)})`}${r.errors > 0 ? `  ERRORS ${r.errors}` : ''}`,
        );
      }
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()));
  }

  const section = report(measures, probes, date);
  process.stdout.write(`${section}\n`);
  if (!args['no-write']) {
    writeSection(RESULTS, args.section, section);
    log(`wrote ${RESULTS}`);
  }
}

/** Runs a measure; when a server died during it (killed from outside), restarts and runs it again. */
async function runSurvivingKills(
  m: Measure,
  ensureAlive: () => Promise<void>,
  allAlive: () => boolean,
): ReturnType<Measure['run']> {
  for (let attempt = 1; ; attempt++) {
    await ensureAlive();
    try {
      const r = await m.run();
      if (allAlive()) return r;
    } catch (err) {
      if (allAlive() || attempt >= 3) throw err;
    }
    if (attempt >= 3) throw new Error(`${m.key}: servers keep dying`);
    await ensureAlive();
    if (m.warm !== undefined) await m.warm();
  }
}

const cell = (x: number | null): string => (x === null ? '-' : fixed(x));

/**
 * Rows per CPU-second of the threads that run inference, round by round: for Croupier the server's
 * CPU minus its main thread's (workers + ORT threads), for the reference the whole process.
 */
function inferenceEfficiency(m: Measure | undefined, ort: boolean): number[] {
  if (m === undefined) return [];
  return m.values.map((v, i) => {
    const cores = ort ? m.cores[i] : (m.cores[i] ?? NaN) - (m.mainCores[i] ?? NaN);
    return cores !== undefined && cores > 0 ? v / cores : NaN;
  });
}

/** Median over rounds of a/b within the same round. */
function paired(a: Measure | undefined, b: (round: number) => number | undefined): number | null {
  if (a === undefined) return null;
  const ratios: number[] = [];
  a.values.forEach((v, i) => {
    const d = b(i);
    if (d !== undefined && d > 0) ratios.push(v / d);
  });
  return median(ratios);
}

function report(measures: Measure[], probes: string[], date: Date): string {
  const by = (key: string): Measure | undefined => measures.find((m) => m.key === key);
  /** The faster in-process shape in each round is the reference. */
  const bestOrt =
    (label: string) =>
    (i: number): number | undefined => {
      const xs = [by(`${label}-ort1`)?.values[i], by(`${label}-ortN`)?.values[i]].filter(
        (x): x is number => x !== undefined,
      );
      return xs.length === 0 ? undefined : Math.max(...xs);
    };
  /** Efficiency of whichever in-process shape was faster in round i (the reference). */
  const bestOrtEfficiency = (label: string, i: number): number => {
    const shapes = [by(`${label}-ort1`), by(`${label}-ortN`)].filter((m): m is Measure => m !== undefined);
    const best = shapes.reduce<Measure | undefined>(
      (a, m) => (a === undefined || (m.values[i] ?? 0) > (a.values[i] ?? 0) ? m : a),
      undefined,
    );
    return inferenceEfficiency(best, true)[i] ?? NaN;
  };
  const command = ['npm run bench:compute', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(
    ' ',
  );
  const row = (m: Measure): string[] => [
    m.group,
    m.label,
    int(median(m.values)),
    m.values.map((v) => int(v)).join(' / '),
    cell(median(m.cores.filter(Number.isFinite))),
    cell(median(m.mainCores.filter(Number.isFinite))),
    String(m.errors),
  ];
  const first = CONFIGS[0];
  const sweep = CONFIGS.map((c) => {
    const ref = bestOrt(c.label);
    return [
      c.label,
      String(c.workers),
      String(c.intraOp),
      int(median(by(`${c.label}-json`)?.values ?? [])),
      int(median(by(`${c.label}-bin`)?.values ?? [])),
      int(median(Array.from({ length: ROUNDS }, (_, i) => ref(i)).filter((x): x is number => x !== undefined))),
      fixed(paired(by(`${c.label}-json`), ref)),
      fixed(paired(by(`${c.label}-bin`), ref)),
      fixed(
        median(
          inferenceEfficiency(by(`${c.label}-bin`), false)
            .map((e, i) => e / bestOrtEfficiency(c.label, i))
            .filter(Number.isFinite),
        ),
      ),
      int(median(by(`${c.label}-predict`)?.values ?? [])),
      first === undefined
        ? 'n/a'
        : fixed(paired(by(`${c.label}-predict`), (i) => by(`${first.label}-predict`)?.values[i])),
    ];
  });
  const def = (k: string): Measure | undefined => by(`def-${k}`);
  const binJson = (k: string): string => fixed(paired(def(`${k}-bin`), (i) => def(`${k}-json`)?.values[i]));
  return [
    '## Compute-bound model and binary tensors (`mlp`, `fraud`)',
    '',
    `- date: ${date.toISOString()}, node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model.trim() ?? '?'}); wrk, Croupier and the ORT loop share them`,
    `- command: \`${command}\``,
    `- Croupier: \`POST /v2/models/{model}/infer\`, ${ROWS}-row FP32 requests (JSON \`data\`, or the binary tensor data extension with binary output), `
      + `\`wrk -t1 -c${CONNECTIONS} -d${DURATION}s -s bench/post-file.lua\` (1-row requests: \`-c64\`); rows/s = requests/s × rows per request`,
    `- reference: \`bench/lib/ort-loop.ts\`, onnxruntime-node in one Node process running the same ${ROWS}-row batch back to back `
      + '(sessions options as the worker: intra-op N, inter-op 1, sequential, all optimisations), 1 session × (workers × intra-op) threads, '
      + 'and for 2 workers also 2 sessions × intra-op threads with one run in flight each; the faster of the two in each round is the reference',
    `- ${ROUNDS} interleaved rounds of ${DURATION} s; servers started once with \`CROUPIER_WORKERS\` × \`CROUPIER_INTRA_OP_THREADS\`; ratios are medians of per-round ratios`,
    ...probes.map((p) => `- probe: ${p}`),
    ...restarts.map((r) => `- note: ${r} (killed from outside on this shared machine; that measurement was repeated)`),
    '',
    mdTable(
      [
        'config (workers × intra-op)',
        'workers',
        'intra-op',
        'croupier JSON rows/s',
        'croupier binary rows/s',
        'ORT in-process rows/s (best shape)',
        'JSON / ORT',
        'binary / ORT',
        'binary / ORT per inference core-second',
        'predict req/s (fraud, 1 row)',
        `predict vs ${first?.label ?? 'first'}`,
      ],
      sweep,
    ),
    '',
    '"per inference core-second": rows/s divided by the CPU of the threads that run inference (Croupier: server process minus its main thread; '
      + 'reference: the whole ORT process, the faster shape of that round), median of per-round ratios. Near 1 means the worker computes as efficiently as ORT in-process '
      + 'and the gap in rows/s is time the worker is not computing (waiting for the next batch, or for a core).',
    '',
    `Binary tensor extension beside JSON, default configuration (no thread variables set: auto = ${AUTO_WORKERS} worker(s) here since 107fb2a), same run:`,
    '',
    mdTable(
      ['model, request', 'binary / JSON (rows/s)'],
      [
        [`fraud (32 features), ${ROWS} rows`, binJson('fraud')],
        ['fraud (32 features), 1 row', binJson('fraud1')],
        [`mlp (256 features), ${ROWS} rows`, binJson('mlp')],
      ],
    ),
    '',
    'Every measurement:',
    '',
    mdTable(
      [
        'group',
        'what',
        'median rows/s',
        'runs rows/s',
        'process cores',
        'of which main thread',
        'non-2xx + socket errors',
      ],
      measures.map(row),
    ),
  ].join('\n');
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
