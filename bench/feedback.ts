// Feedback throughput: `npm run bench:feedback -- [--rounds N --duration S --no-write]`.
// Croupier's /v1/feedback (every outcome for a different, real decision; each acknowledged only once
// it is fsynced) against the ceiling (bare uWS parsing the same JSON and answering the same 202),
// wrk -t1 -c64, interleaved rounds, medians. Decisions are made first with wrk on /v1/predict,
// their ids collected by bench/decisions.lua; each feedback round takes the next unused slice.
import { mkdirSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs } from './lib/args.js';
import { median as medianOrNull } from './lib/report.js';
import { writeSection } from './lib/sections.js';
import { REQUEST_BODY } from './body.js';
import { installSignalCleanup, spawnServer, stopServer, waitUntilReady, type Server } from './lib/children.js';
import { cpuSince, cpuSnapshot } from './lib/cpu.js';
import { freePort } from './lib/port.js';
import { compacted, FEEDBACK_LUA, makeDecisions } from './lib/decisions.js';
import { runWrk, type WrkResult } from './lib/wrk.js';

/** The store's bound for this bench: room for every round's outcomes to be for a different decision. */
const DECISIONS_MAX = 2_000_000;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TMP = fileURLToPath(new URL('.tmp/', import.meta.url));
const RESULTS = fileURLToPath(new URL('RESULTS.md', import.meta.url));
const CONNECTIONS = 64;

const log = (msg: string): void => {
  process.stderr.write(`bench:feedback: ${msg}\n`);
};

function wrk(url: string, durationS: number, env: Record<string, string>): Promise<WrkResult> {
  return runWrk({ url, body: '', durationS, connections: CONNECTIONS, threads: 1, script: FEEDBACK_LUA, env });
}

const median = (xs: number[]): number => medianOrNull(xs) ?? NaN;

async function main(): Promise<void> {
  const opts = parseBenchArgs(process.argv.slice(2));
  if (opts === 'help') {
    process.stdout.write('usage: npm run bench:feedback -- [--rounds N] [--duration S] [--no-write]\n');
    return;
  }
  mkdirSync(TMP, { recursive: true });
  const stateDir = mkdtempSync(join(tmpdir(), 'croupier-bench-feedback-'));
  const idsFile = join(TMP, 'decision-ids.txt');
  const servers: Server[] = [];
  installSignalCleanup(async () => {
    await Promise.all(servers.map((s) => stopServer(s)));
  });

  const [cPort, kPort] = [await freePort(), await freePort()];
  const croupier = spawnServer({
    name: 'croupier',
    command: process.execPath,
    args: ['bin/croupier.js', 'serve', '--port', String(cPort)],
    port: cPort,
    urlPath: '/v1/predict/fraud-scoring',
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      CROUPIER_STATE_DIR: stateDir,
      CROUPIER_DECISIONS_MAX: String(DECISIONS_MAX),
    },
    logFile: join(TMP, 'feedback-croupier.log'),
  });
  const ceiling = spawnServer({
    name: 'ceiling',
    command: process.execPath,
    args: ['--import', 'tsx', 'bench/ceiling.ts', '--port', String(kPort)],
    port: kPort,
    urlPath: '/v1/predict/fraud-scoring',
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'production' },
    logFile: join(TMP, 'feedback-ceiling.log'),
  });
  servers.push(croupier, ceiling);
  try {
    for (const s of servers) await waitUntilReady(s, REQUEST_BODY, 30_000);
    // Enough decisions for every round and its warm-up at up to 60k outcomes/s, within the store
    // (older ones would be evicted, and their outcomes answered 404).
    const needed = Math.min(DECISIONS_MAX - 100_000, (opts.rounds * opts.durationS + 2) * 60_000);
    log(`making decisions (${needed} wanted)`);
    const have = await makeDecisions(croupier.url, idsFile, needed, CONNECTIONS, log);
    // A million decisions make a journal past the compaction threshold, and the snapshot that
    // follows (written within the 30 s compaction check) would land in some round and not others.
    const settled = await compacted(stateDir, 45_000);
    log(settled ? 'the decisions are compacted into a snapshot' : 'no compaction within 45 s; measuring anyway');
    // The newest `needed` ids: runs of wrk overshoot, and past the store's million the oldest are evicted.
    const first = Math.max(0, have - needed);
    let from = first;
    const rates: Record<'croupier' | 'ceiling', number[]> = { croupier: [], ceiling: [] };
    const cpu: number[] = [];
    const p99: number[] = [];
    const feedbackUrl = (s: Server): string => `http://127.0.0.1:${s.port}/v1/feedback`;
    // Warm-up (also takes the first slice of ids out of play).
    for (const s of servers) {
      const r = await wrk(feedbackUrl(s), 1, { IDS_FILE: idsFile, IDS_FROM: String(from) });
      if (s === croupier) from += r.requests;
    }
    for (let round = 0; round < opts.rounds; round++) {
      for (const s of servers) {
        const before = cpuSnapshot(s.child.pid);
        const r = await wrk(feedbackUrl(s), opts.durationS, { IDS_FILE: idsFile, IDS_FROM: String(from) });
        if (s === croupier) {
          from += r.requests;
          cpu.push(((cpuSince(before, s.child.pid).serverCores ?? NaN) / r.requestsPerSec) * 1e6);
          if (r.p99Ms !== null) p99.push(r.p99Ms);
        }
        if (r.non2xx > 0) throw new Error(`${s.name}: ${r.non2xx} answers were not 2xx (decision ids ran out?)`);
        rates[s.name as 'croupier' | 'ceiling'].push(r.requestsPerSec);
        log(`round ${round + 1} ${s.name}: ${Math.round(r.requestsPerSec)} req/s, p99 ${r.p99Ms} ms`);
      }
    }
    const ratio = median(rates.croupier) / median(rates.ceiling);
    const metrics = await (await fetch(`http://127.0.0.1:${cPort}/metrics`)).text();
    const accepted = /croupier_feedback_total\{route="fraud-scoring",arm="[^"]+",result="accepted"\} (\d+)/g;
    let acceptedTotal = 0;
    for (const m of metrics.matchAll(accepted)) acceptedTotal += Number(m[1]);
    const section = [
      '## Feedback throughput',
      '',
      `\`npm run bench:feedback\` (wrk -t1 -c${CONNECTIONS} -d${opts.durationS}s, ${opts.rounds} interleaved rounds, medians; ${new Date().toISOString().slice(0, 10)}).`,
      'Every request is the outcome of a different real decision, acknowledged only after its fsync (group commit).',
      'Rounds start once the journal of the decisions phase is compacted into a snapshot (not mid-snapshot).',
      '',
      '| | req/s (median) | ratio to ceiling |',
      '|---|---|---|',
      `| ceiling (bare uWS, same JSON, same 202) | ${Math.round(median(rates.ceiling))} | 1.00 |`,
      `| croupier /v1/feedback | ${Math.round(median(rates.croupier))} | **${ratio.toFixed(2)}** |`,
      '',
      `Croupier: p99 ${median(p99).toFixed(1)} ms at ${CONNECTIONS} connections, ${median(cpu).toFixed(1)} µs of server CPU per outcome; ${acceptedTotal} of ${from - first} outcomes accepted (any rest: ids reused once all were spent, answered 200 duplicate), 0 errors.`,
      '',
    ].join('\n');
    process.stdout.write(`${section}\n`);
    if (opts.write) writeSection(RESULTS, 'feedback', section);
  } finally {
    await Promise.all(servers.map((s) => stopServer(s)));
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(idsFile, { force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:feedback: ${(e as Error).message}\n`);
  process.exit(1);
});
