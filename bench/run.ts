// Benchmark orchestrator: `npm run bench -- [--rounds N --duration S --only a,b --no-write --url-path P]`.
// Starts each target once on a free port, warms it up, runs interleaved wrk rounds, then a
// fixed-rate autocannon run, prints a table and rewrites a section of bench/RESULTS.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, USAGE, type BenchOptions } from './lib/args.js';
import { REQUEST_BODY } from './body.js';
import { installSignalCleanup, logTail, spawnServer, stopServer, waitUntilReady, type Server } from './lib/children.js';
import { cpuSince, cpuSnapshot, threadCount } from './lib/cpu.js';
import { runFixedRate } from './lib/fixedrate.js';
import { freePort, isListening } from './lib/port.js';
import {
  consoleReport,
  markdownSection,
  summarize,
  writeResults,
  type BenchReport,
  type TargetOutcome,
} from './lib/report.js';
import { makeTarget, type Target } from './lib/targets.js';
import { runWrk } from './lib/wrk.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TMP = fileURLToPath(new URL('.tmp/', import.meta.url));
const RESULTS = fileURLToPath(new URL('RESULTS.md', import.meta.url));
const WARMUP_S = 2;
const READY_TIMEOUT_MS = 30_000;

interface Live {
  target: Target;
  server: Server;
  outcome: TargetOutcome;
}

const log = (msg: string): void => {
  process.stderr.write(`bench: ${msg}\n`);
};

function checkWrk(): void {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (err) {
    // wrk --version exits 1 after printing its banner; only "not found" is fatal.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('wrk is not installed (apt-get update && apt-get install -y wrk)');
    }
  }
}

async function start(target: Target, opts: BenchOptions, outcomes: TargetOutcome[]): Promise<Live | null> {
  const outcome: TargetOutcome = {
    name: target.name,
    problem: null,
    probe: null,
    runs: [],
    fixedRate: null,
    threads: null,
  };
  outcomes.push(outcome);
  const skip = target.prepare();
  if (skip !== null) {
    outcome.problem = `skipped: ${skip}`;
    log(`${target.name}: SKIPPED — ${skip}`);
    return null;
  }
  const port = await freePort();
  const server = spawnServer({ ...target.spec(port), urlPath: opts.urlPath, logFile: `${TMP}${target.name}.log` });
  try {
    outcome.probe = await waitUntilReady(server, REQUEST_BODY, READY_TIMEOUT_MS);
    log(`${target.name}: ready on :${port} (pid ${String(server.child.pid)}), answers ${outcome.probe.body}`);
    return { target, server, outcome };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    outcome.problem = `skipped: did not start: ${msg}`;
    log(`${target.name}: SKIPPED — ${msg} (log: ${server.logFile})`);
    await stopServer(server);
    target.cleanup();
    return null;
  }
}

function isAlive(server: Server): boolean {
  return server.child.exitCode === null && server.child.signalCode === null;
}

function exitDescription(server: Server): string {
  const how = server.child.signalCode ?? `code ${String(server.child.exitCode)}`;
  const last = logTail(server, 1);
  return `server exited (${how}); last log line: ${last} (log: ${server.logFile})`;
}

function assertAlive(server: Server): void {
  if (!isAlive(server)) throw new Error(exitDescription(server));
}

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' | ').trim();

/** A dead server explains itself better than wrk's "connection refused". */
function markFailed(l: Live, stage: string, err: unknown): void {
  const why = isAlive(l.server) ? (err instanceof Error ? err.message : String(err)) : exitDescription(l.server);
  l.outcome.problem = `failed in ${stage}: ${oneLine(why)}`;
  log(`${l.target.name}: ${l.outcome.problem}`);
}

async function measureRounds(live: Live[], opts: BenchOptions): Promise<void> {
  for (const l of live) {
    try {
      await runWrk({
        url: l.server.url,
        body: REQUEST_BODY,
        durationS: WARMUP_S,
        connections: opts.connections,
        threads: 1,
      });
    } catch (err) {
      markFailed(l, 'warm-up', err);
    }
  }
  for (let round = 1; round <= opts.rounds; round++) {
    for (const l of live) {
      if (l.outcome.problem !== null) continue;
      const before = cpuSnapshot(l.server.child.pid);
      try {
        assertAlive(l.server);
        const wrk = await runWrk({
          url: l.server.url,
          body: REQUEST_BODY,
          durationS: opts.durationS,
          connections: opts.connections,
          threads: 1,
        });
        const cpu = cpuSince(before, l.server.child.pid);
        assertAlive(l.server);
        l.outcome.runs.push({ round, wrk, cpu });
        log(
          `round ${round}/${opts.rounds} ${l.target.name.padEnd(8)} ${Math.round(wrk.requestsPerSec).toString().padStart(7)} req/s`
            + `  p99 ${wrk.p99Ms?.toFixed(2) ?? '?'} ms  non-2xx ${wrk.non2xx}`
            + `  server ${cpu.serverCores?.toFixed(2) ?? '?'} cores  machine ${cpu.machineBusy === null ? '?' : Math.round(cpu.machineBusy * 100)}%`,
        );
      } catch (err) {
        markFailed(l, `round ${round}`, err);
      }
    }
  }
  for (const l of live) l.outcome.threads = threadCount(l.server.child.pid);
}

async function measureFixedRate(live: Live[], opts: BenchOptions): Promise<string> {
  const byName = (n: string): Live | undefined => live.find((l) => l.target.name === n && l.outcome.runs.length > 0);
  const basis = byName('croupier') ?? byName('peer');
  const max = basis === undefined ? null : summarize(basis.outcome).medianRps;
  if (basis === undefined || max === null) return 'not run: neither croupier nor peer was measured';
  const rate = Math.max(1, Math.floor(max / 2));
  for (const l of live.filter((x) => x.target.name !== 'ceiling' && x.outcome.problem === null)) {
    const f = await runFixedRate(
      l.server.url,
      REQUEST_BODY,
      rate,
      opts.durationS,
      opts.connections,
      l.server.child.pid,
    );
    l.outcome.fixedRate = f;
    log(
      `fixed rate ${l.target.name.padEnd(8)} ${rate} req/s offered: p50 ${f.p50Ms} ms  p99 ${f.p99Ms} ms  errors ${f.errors}`
        + `  non-2xx ${f.non2xx}  client ${f.clientCores.toFixed(2)} cores  server ${f.serverCores?.toFixed(2) ?? '?'} cores`,
    );
  }
  const note = basis.target.name === 'croupier' ? '' : ' (croupier was not measured)';
  return `offered rate = half of ${basis.target.name}'s median req/s${note} = ${rate} req/s`;
}

async function stopAll(live: Live[]): Promise<string[]> {
  const notes: string[] = [];
  await Promise.all(live.map((l) => stopServer(l.server)));
  for (const l of live) {
    l.target.cleanup();
    if (await isListening(l.server.port))
      notes.push(`WARNING: something still listens on :${l.server.port} (${l.target.name})`);
  }
  return notes;
}

async function main(): Promise<void> {
  const parsed = parseBenchArgs(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const opts = parsed;
  checkWrk();
  mkdirSync(TMP, { recursive: true });
  const date = new Date();
  const outcomes: TargetOutcome[] = [];
  const live: Live[] = [];
  installSignalCleanup(async () => {
    await stopAll(live);
  });

  let fixedRateBasis = 'not run';
  let notes: string[] = [];
  try {
    for (const name of opts.only) {
      const l = await start(makeTarget(name, ROOT, opts.baseline), opts, outcomes);
      if (l !== null) live.push(l);
    }
    if (live.length === 0) throw new Error('no target started');
    await measureRounds(live, opts);
    fixedRateBasis = await measureFixedRate(live, opts);
  } finally {
    notes = await stopAll(live);
  }
  for (const n of notes) log(n);

  const report: BenchReport = {
    options: opts,
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    date,
    node: process.version,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: os.availableParallelism(),
    outcomes,
    fixedRateBasis,
    notes,
  };
  process.stdout.write(consoleReport(report));
  if (opts.write) {
    writeResults(RESULTS, markdownSection(report));
    log(`wrote ${RESULTS}`);
  }
}

main().catch((err: unknown) => {
  log(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
