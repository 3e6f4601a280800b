// Overload benchmark (issue 6) on POST /v1/predict/fraud-scoring, default configuration:
//  1. find the connection count that saturates Croupier (one-row requests, wrk connection sweep);
//  2. 8× those connections, one-row requests: stays up, queued rows bounded, what is refused;
//  3. 8× those connections, 64-row requests, and (when 8× is fewer) 1,024 connections of them,
//     offered work far past CROUPIER_MAX_QUEUED_ROWS: the excess is refused early with 503 +
//     Retry-After, before its body is read, not left to time out;
//  4. normal load: 64 connections, and 500 concurrent one-row requests: zero 503s;
//  5. `x-croupier-timeout-ms: 1` under load: dropped before inference (shed counter).
// While each load runs, /metrics (croupier_queue_depth, croupier_shed_total) and RSS are sampled.
//
//   npm run bench:overload -- [--duration S] [--sweep-duration S] [--no-write]
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { REQUEST_BODY, makeFeatures } from './body.js';
import { installSignalCleanup } from './lib/children.js';
import { startCroupier, type CroupierProcess } from './lib/croupier-server.js';
import { startSampler, type SamplerSummary } from './lib/metrics-sampler.js';
import { fixed, int, mdTable, median, writeSection } from './lib/sections.js';
import { runWrk, type WrkResult } from './lib/wrk.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TMP = fileURLToPath(new URL('.tmp/', import.meta.url));
const RESULTS = fileURLToPath(new URL('RESULTS.md', import.meta.url));
const LUA = fileURLToPath(new URL('post-file.lua', import.meta.url));
const PATH = '/v1/predict/fraud-scoring';
const SWEEP = [1, 2, 4, 8, 16, 32, 64, 128, 256];
/** The smallest connection count whose req/s is within this share of the sweep's best saturates. */
const SATURATION_SHARE = 0.9;
/** Sweep passes (ascending each time); a point's req/s is the median over passes. */
const SWEEP_PASSES = 3;
/** Connections of the 64-row flood that must overflow the queues (when 8× saturating is fewer). */
const FLOOD_CONNECTIONS = 1024;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    'sweep-duration': { type: 'string', default: '3' },
    'no-write': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write('usage: npm run bench:overload -- [--duration 15] [--sweep-duration 3] [--no-write]\n');
  process.exit(0);
}
const DURATION = Number(args.duration);
const SWEEP_S = Number(args['sweep-duration']);

const log = (msg: string): void => {
  process.stderr.write(`bench:overload: ${msg}\n`);
};

const ROWS64_BODY = JSON.stringify({ features: Array.from({ length: 64 }, () => makeFeatures()), unit: 'user-42' });

interface SweepPoint {
  connections: number;
  rps: number;
  p99: number | null;
  runs: number[];
}

interface LoadResult {
  name: string;
  connections: number;
  rowsPerRequest: number;
  wrk: WrkResult;
  sampled: SamplerSummary;
  aliveAfter: boolean;
}

async function wrkLoad(
  s: CroupierProcess,
  name: string,
  body: string,
  connections: number,
  durationS: number,
  rows: number,
): Promise<LoadResult> {
  const file = join(TMP, `overload-${rows}.json`);
  writeFileSync(file, body);
  const sampler = startSampler(s.base, s.pid);
  const wrk = await runWrk({
    url: `${s.base}${PATH}`,
    body: '',
    durationS,
    connections,
    threads: 1,
    script: LUA,
    env: { BENCH_BODY_FILE: file, BENCH_CONTENT_TYPE: 'application/json', BENCH_COUNT_STATUS: '1' },
  });
  const sampled = await sampler.stop();
  const aliveAfter = await live(s);
  const codes = Object.entries(wrk.statuses)
    .map(([k, v]) => `${k}:${v}`)
    .join(' ');
  log(
    `${name}: c=${connections} ${int(wrk.requestsPerSec)} req/s  statuses ${codes}  503 with Retry-After ${wrk.retryAfter}`
      + `  socket errors ${JSON.stringify(wrk.socketErrors)}  max queued rows ${sampled.maxQueuePerVersion}  alive ${aliveAfter}`,
  );
  return { name, connections, rowsPerRequest: rows, wrk, sampled, aliveAfter };
}

async function live(s: CroupierProcess): Promise<boolean> {
  if (s.server.child.exitCode !== null || s.server.child.signalCode !== null) return false;
  try {
    return (await fetch(`${s.base}/v2/health/live`, { signal: AbortSignal.timeout(5000) })).status === 200;
  } catch {
    return false;
  }
}

/** `count` one-row requests sent at once over `count` connections; answers by status. */
async function burst(
  s: CroupierProcess,
  count: number,
  headers: Record<string, string> = {},
): Promise<{ statuses: Record<string, number>; codes: Record<string, number>; errors: number }> {
  const agent = new Agent({ connections: count, pipelining: 0 });
  const statuses: Record<string, number> = {};
  const codes: Record<string, number> = {};
  let errors = 0;
  try {
    await Promise.all(
      Array.from({ length: count }, async () => {
        try {
          const res = await request(`${s.base}${PATH}`, {
            method: 'POST',
            dispatcher: agent,
            body: REQUEST_BODY,
            headers: { 'content-type': 'application/json', ...headers },
            headersTimeout: 30_000,
            bodyTimeout: 30_000,
          });
          const text = await res.body.text();
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          if (res.statusCode !== 200) {
            const code = /"code":"([a-z_]+)"/.exec(text)?.[1] ?? '?';
            codes[code] = (codes[code] ?? 0) + 1;
          }
        } catch {
          errors++;
        }
      }),
    );
  } finally {
    await agent.close();
  }
  return { statuses, codes, errors };
}

async function main(): Promise<void> {
  mkdirSync(TMP, { recursive: true });
  const date = new Date();
  let s: CroupierProcess | null = null;
  installSignalCleanup(async () => {
    await s?.stop();
  });
  const sweep: SweepPoint[] = [];
  const loads: LoadResult[] = [];
  let saturating = 0;
  let bursts: { name: string; r: Awaited<ReturnType<typeof burst>> }[] = [];
  const deadlines: DeadlineResult[] = [];
  try {
    s = await startCroupier({ root: ROOT, name: 'croupier-overload', logDir: TMP });
    log(`croupier ready (pid ${s.pid}) on ${s.base}`);
    const oneRow = join(TMP, 'overload-1.json');
    writeFileSync(oneRow, REQUEST_BODY);
    await runWrk({ url: `${s.base}${PATH}`, body: REQUEST_BODY, durationS: 2, connections: 64, threads: 1 });

    // 1. saturation
    const passes = new Map<number, { rps: number[]; p99: number[] }>(SWEEP.map((c) => [c, { rps: [], p99: [] }]));
    for (let pass = 1; pass <= SWEEP_PASSES; pass++) {
      for (const c of SWEEP) {
        const r = await runWrk({
          url: `${s.base}${PATH}`,
          body: REQUEST_BODY,
          durationS: SWEEP_S,
          connections: c,
          threads: 1,
        });
        passes.get(c)?.rps.push(r.requestsPerSec);
        if (r.p99Ms !== null) passes.get(c)?.p99.push(r.p99Ms);
        log(`sweep pass ${pass} c=${c}: ${int(r.requestsPerSec)} req/s p99 ${fixed(r.p99Ms)} ms non-2xx ${r.non2xx}`);
      }
    }
    for (const [c, v] of passes)
      sweep.push({ connections: c, rps: median(v.rps) ?? 0, p99: median(v.p99), runs: v.rps });
    const best = Math.max(...sweep.map((x) => x.rps));
    saturating = sweep.find((x) => x.rps >= SATURATION_SHARE * best)?.connections ?? 64;
    const over = 8 * saturating;
    log(
      `saturates at ${saturating} connections (first within ${SATURATION_SHARE * 100}% of best ${int(best)} req/s); overload at ${over}`,
    );

    // 2 + 3 + 5. 8× the saturating connections, one-row then 64-row requests, each with 1 ms deadline requests alongside
    for (const [rows, body] of [
      [1, REQUEST_BODY],
      [64, ROWS64_BODY],
    ] as const) {
      const before = await metricsShed(s, 'deadline_exceeded');
      const probe = deadlineProbe(s);
      loads.push(await wrkLoad(s, `8× saturating connections, ${rows}-row requests`, body, over, DURATION, rows));
      const probeResult = await probe;
      deadlines.push({
        during: `8× saturating connections, ${rows}-row requests`,
        ...probeResult,
        shedDeadlineDelta: (await metricsShed(s, 'deadline_exceeded')) - before,
      });
    }

    // 3b. A flood past what batching 64-row requests keeps up with, whatever the sweep found: the
    // queue bound and the refusals before the body is read.
    if (FLOOD_CONNECTIONS > over)
      loads.push(
        await wrkLoad(
          s,
          `flood: ${FLOOD_CONNECTIONS} connections, 64-row requests`,
          ROWS64_BODY,
          FLOOD_CONNECTIONS,
          DURATION,
          64,
        ),
      );

    // 4. normal load
    loads.push(await wrkLoad(s, 'normal: 64 connections, 1-row requests', REQUEST_BODY, 64, DURATION, 1));
    loads.push(await wrkLoad(s, 'normal: 500 connections, 1-row requests', REQUEST_BODY, 500, DURATION, 1));
    bursts = [];
    for (let i = 0; i < 3; i++)
      bursts.push({ name: `500 one-row requests at once (#${i + 1})`, r: await burst(s, 500) });
    for (const b of bursts) log(`${b.name}: ${JSON.stringify(b.r)}`);
  } finally {
    await s?.stop();
  }
  const section = report({ date, sweep, saturating, loads, bursts, deadlines });
  process.stdout.write(`${section}\n`);
  if (!args['no-write']) {
    writeSection(RESULTS, 'overload', section);
    log(`wrote ${RESULTS}`);
  }
}

interface DeadlineResult {
  during: string;
  sent: number;
  statuses: Record<string, number>;
  codes: Record<string, number>;
  errors: number;
  shedDeadlineDelta: number;
}

/** From 2 s into a load: ten bursts of 20 one-row requests with `x-croupier-timeout-ms: 1`, 200 ms apart. */
async function deadlineProbe(s: CroupierProcess): Promise<Omit<DeadlineResult, 'during' | 'shedDeadlineDelta'>> {
  await new Promise((r) => setTimeout(r, 2000));
  const results = { sent: 0, statuses: {} as Record<string, number>, codes: {} as Record<string, number>, errors: 0 };
  for (let i = 0; i < 10; i++) {
    const b = await burst(s, 20, { 'x-croupier-timeout-ms': '1' });
    results.sent += 20;
    results.errors += b.errors;
    for (const [k, v] of Object.entries(b.statuses)) results.statuses[k] = (results.statuses[k] ?? 0) + v;
    for (const [k, v] of Object.entries(b.codes)) results.codes[k] = (results.codes[k] ?? 0) + v;
    await new Promise((r) => setTimeout(r, 200));
  }
  return results;
}

async function metricsShed(s: CroupierProcess, reason: string): Promise<number> {
  const text = await (await fetch(`${s.base}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^croupier_shed_total\\{[^}]*reason="${reason}"[^}]*\\} (\\S+)$`, 'gm')))
    sum += Number(m[1]);
  return sum;
}

interface Report {
  date: Date;
  sweep: SweepPoint[];
  saturating: number;
  loads: LoadResult[];
  bursts: { name: string; r: Awaited<ReturnType<typeof burst>> }[];
  deadlines: DeadlineResult[];
}

function report(r: Report): string {
  const command = ['npm run bench:overload', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(
    ' ',
  );
  const mb = (x: number | null): string => (x === null ? 'n/a' : `${Math.round(x / 1024 / 1024)} MB`);
  const socket = (w: WrkResult): string =>
    `${w.socketErrors.connect}/${w.socketErrors.read}/${w.socketErrors.write}/${w.socketErrors.timeout}`;
  return [
    '## Overload and shedding (`/v1/predict/fraud-scoring`)',
    '',
    `- date: ${r.date.toISOString()}, node ${process.version}, ${os.availableParallelism()} cores; wrk and Croupier share them`,
    `- command: \`${command}\``,
    '- Croupier with its defaults (`CROUPIER_MAX_QUEUED_ROWS` 8192 rows per model version, `CROUPIER_MAX_BATCH` 64); '
      + '`wrk -t1 -s bench/post-file.lua` with `BENCH_COUNT_STATUS=1` (answers counted by status in Lua, and 503s carrying `Retry-After`); '
      + 'during each load `/metrics` is read every 250 ms for `croupier_queue_depth` and `croupier_shed_total`, and RSS from `/proc/<pid>/status`',
    `- saturation: wrk connection sweep (${SWEEP.join(', ')}), ${SWEEP_S} s each, ${SWEEP_PASSES} ascending passes, one-row requests; saturating = the fewest connections within ${SATURATION_SHARE * 100}% of the best req/s`,
    '',
    mdTable(
      ['connections', 'median req/s', 'runs req/s', 'median p99'],
      r.sweep.map((x) => [
        String(x.connections),
        int(x.rps),
        x.runs.map((v) => int(v)).join(' / '),
        `${fixed(x.p99)} ms`,
      ]),
    ),
    '',
    `Saturating connections: **${r.saturating}**; overload runs use **${8 * r.saturating}** (8×).`,
    '',
    mdTable(
      [
        'load',
        'connections',
        'rows/request',
        'req/s',
        'p99',
        '200',
        '503',
        '503 with Retry-After',
        'other status',
        'socket errors conn/read/write/timeout',
        'max queued rows (one version)',
        'max queued rows (all)',
        'shed queue_full',
        'shed deadline',
        'max RSS',
        'alive after',
      ],
      r.loads.map((l) => {
        const st = l.wrk.statuses;
        const other =
          Object.entries(st)
            .filter(([k]) => k !== '200' && k !== '503')
            .map(([k, v]) => `${k}:${v}`)
            .join(' ') || '0';
        return [
          l.name,
          String(l.connections),
          String(l.rowsPerRequest),
          int(l.wrk.requestsPerSec),
          `${fixed(l.wrk.p99Ms)} ms`,
          int(st['200'] ?? 0),
          int(st['503'] ?? 0),
          int(l.wrk.retryAfter),
          other,
          socket(l.wrk),
          int(l.sampled.maxQueuePerVersion),
          int(l.sampled.maxQueueTotal),
          int(l.sampled.shedDelta.get('queue_full') ?? 0),
          int(l.sampled.shedDelta.get('deadline_exceeded') ?? 0),
          mb(l.sampled.maxRssBytes),
          l.aliveAfter ? 'yes' : '**no**',
        ];
      }),
    ),
    '',
    mdTable(
      ['burst', '200', '503', 'other', 'client errors'],
      r.bursts.map((b) => [
        b.name,
        int(b.r.statuses['200'] ?? 0),
        int(b.r.statuses['503'] ?? 0),
        Object.entries(b.r.statuses)
          .filter(([k]) => k !== '200' && k !== '503')
          .map(([k, v]) => `${k}:${v}`)
          .join(' ') || '0',
        String(b.r.errors),
      ]),
    ),
    '',
    'Deadline probes: from 2 s into each overload run, ten bursts of 20 one-row requests with `x-croupier-timeout-ms: 1`, 200 ms apart '
      + '(a request that finds a worker free is started within the millisecond and answered; one that has to wait in the queue is dropped before inference):',
    '',
    mdTable(
      [
        'during',
        'sent',
        'answers',
        'error codes',
        'client errors',
        'croupier_shed_total{reason="deadline_exceeded"} rose by',
      ],
      r.deadlines.map((d) => [
        d.during,
        String(d.sent),
        Object.entries(d.statuses)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', '),
        Object.entries(d.codes)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ') || 'none',
        String(d.errors),
        String(d.shedDeadlineDelta),
      ]),
    ),
  ].join('\n');
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
