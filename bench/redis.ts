// Redis-mode benchmark: `npm run bench:redis -- [--rounds N --duration S --no-write]`.
// Throughput of POST /v1/predict/fraud-scoring (Thompson) with Redis on (every decision written to
// Redis before its answer, pulls counted there) against embedded mode, in the same run: both
// servers started once, warmed up, then interleaved wrk rounds; medians. Target (issue 5): Redis
// mode >= 0.7x embedded, on a Redis of its own (no replica: on two cores a replica's CPU would be
// taken from the server, which a real replica on its own machine does not). The cost of WAIT is
// measured on a second Redis with a replica (`--replicaof`), on POST /v1/feedback (issue 13): Redis mode with CROUPIER_REDIS_WAIT_REPLICAS=0 against =1, each
// outcome for a different decision minted first, throughput (wrk) and latency at a fixed rate
// (autocannon), in the same interleaved rounds. Appends a section to bench/RESULTS.md.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { REQUEST_BODY } from './body.js';
import { installSignalCleanup, spawnServer, stopServer, waitUntilReady, type Server } from './lib/children.js';
import { cpuSince, cpuSnapshot } from './lib/cpu.js';
import { FEEDBACK_LUA, makeDecisions } from './lib/decisions.js';
import { runFixedRate, type FixedRateResult } from './lib/fixedrate.js';
import { freePort } from './lib/port.js';
import { median } from './lib/report.js';
import { writeSection } from './lib/sections.js';
import { runWrk, socketErrorTotal } from './lib/wrk.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TMP = fileURLToPath(new URL('.tmp/', import.meta.url));
const RESULTS = fileURLToPath(new URL('RESULTS.md', import.meta.url));
const ROUTE = 'fraud-scoring';
const CONNECTIONS = 64;
const WARMUP_S = 2;
/** Offered outcomes/s for the latency runs: well under either target's throughput, so no queue builds. */
const FEEDBACK_RATE = 1_000;
const FIXED_RATE_CONNECTIONS = 16;
/** Outcomes/s assumed before a feedback run measured any, to mint enough decisions for the warm-up. */
const FEEDBACK_RPS_GUESS = 20_000;

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const ROUNDS = option('rounds', 3);
const DURATION_S = option('duration', 6);
const WRITE = !args.includes('--no-write');

const log = (msg: string): void => {
  process.stderr.write(`bench:redis: ${msg}\n`);
};

interface Run {
  rps: number;
  p99: number | null;
  non2xx: number;
  errors: number;
  serverCores: number | null;
  redisCores: number | null;
  machineBusy: number | null;
}
interface Target {
  name: 'embedded' | 'redis';
  server: Server;
  runs: Run[];
}
interface FeedbackRun {
  rps: number;
  p99: number | null;
  non2xx: number;
  errors: number;
  redisCores: number | null;
  fixed: FixedRateResult;
}
interface FeedbackTarget {
  wait: 0 | 1;
  server: Server;
  runs: FeedbackRun[];
}

/**
 * A redis-server on a free port, AOF with fsync every second (the setting docs/deploy.md recommends
 * for Redis mode); with `replicaOf`, a replica of that port, resolved once it is in sync.
 */
async function startRedis(dir: string, replicaOf?: number): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  const child = spawn(
    'redis-server',
    [
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      ...(replicaOf === undefined ? [] : ['--replicaof', '127.0.0.1', String(replicaOf)]),
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 200; i++) {
    const c = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const ready =
        replicaOf === undefined
          ? (await c.ping()) === 'PONG'
          : /master_link_status:up/.test(await c.info('replication'));
      c.disconnect();
      if (ready) return { port, child };
    } catch {
      c.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server${replicaOf === undefined ? '' : ' (replica)'} did not start`);
}

function croupier(name: string, port: number, stateDir: string, redisUrl?: string, waitReplicas = 0): Server {
  return spawnServer({
    name,
    command: process.execPath,
    args: ['bin/croupier.js', 'serve', '--port', String(port), '--models', './models'],
    port,
    urlPath: `/v1/predict/${ROUTE}`,
    cwd: ROOT,
    logFile: `${TMP}redis-bench-${name}.log`,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      CROUPIER_STATE_DIR: stateDir,
      ...(redisUrl ? { CROUPIER_REDIS_URL: redisUrl, CROUPIER_REDIS_WAIT_REPLICAS: String(waitReplicas) } : {}),
    },
  });
}

async function main(): Promise<void> {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error('wrk is not installed (apt-get install -y wrk)');
  }
  execFileSync(process.execPath, ['scripts/build-if-stale.js'], { cwd: ROOT, stdio: 'inherit' });
  mkdirSync(TMP, { recursive: true });
  const loadBefore = os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' / ');
  const dir = mkdtempSync(join(os.tmpdir(), 'croupier-bench-redis-'));
  const idsFile = join(dir, 'decision-ids.txt');
  const solo = await startRedis(join(dir, 'solo'));
  const redis = await startRedis(join(dir, 'master'));
  const replica = await startRedis(join(dir, 'replica'), redis.port).catch(async (e: unknown) => {
    redis.child.kill('SIGTERM');
    solo.child.kill('SIGTERM');
    throw e;
  });
  const soloUrl = `redis://127.0.0.1:${solo.port}`;
  const url = `redis://127.0.0.1:${redis.port}`;
  const targets: Target[] = [
    { name: 'embedded', server: croupier('embedded', await freePort(), join(dir, 'embedded')), runs: [] },
    { name: 'redis', server: croupier('redis', await freePort(), join(dir, 'redis'), soloUrl), runs: [] },
  ];
  const wait0 = croupier('redis-wait0', await freePort(), join(dir, 'redis-wait0'), url, 0);
  const wait1 = croupier('redis-wait1', await freePort(), join(dir, 'redis-wait1'), url, 1);
  const feedbackTargets: FeedbackTarget[] = [
    { wait: 0, server: wait0, runs: [] },
    { wait: 1, server: wait1, runs: [] },
  ];
  const stopAll = async (): Promise<void> => {
    await Promise.all([...targets.map((t) => t.server), wait0, wait1].map((s) => stopServer(s)));
    redis.child.kill('SIGTERM');
    solo.child.kill('SIGTERM');
    replica.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  installSignalCleanup(stopAll);
  try {
    for (const s of [...targets.map((t) => t.server), wait0, wait1]) {
      const probe = await waitUntilReady(s, REQUEST_BODY, 30_000);
      log(`${s.name}: ready, answers ${probe.body.slice(0, 80)}…`);
    }
    for (const t of targets)
      await runWrk({
        url: t.server.url,
        body: REQUEST_BODY,
        durationS: WARMUP_S,
        connections: CONNECTIONS,
        threads: 1,
      });

    // Feedback takes the outcome of a different decision each time: decisions minted on the WAIT 0
    // server (ids in `idsFile`), each run starting after the last id used (both servers share Redis).
    let have = 0;
    let from = 0;
    let ids: string[] = [];
    /** The fastest feedback run so far: each run gets twice that many fresh decisions. */
    let feedbackRps: number | undefined;
    /** Outcomes sent past the last minted decision (feedback.lua starts the run's ids again: duplicates). */
    let reused = 0;
    const mint = async (count: number): Promise<void> => {
      if (have - from >= count) return;
      have = await makeDecisions(wait0.url, idsFile, from + count, CONNECTIONS, (m) => log(`minting: ${m}`), have > 0);
      ids = readFileSync(idsFile, 'utf8').split('\n');
    };
    const feedbackUrl = (t: FeedbackTarget): string => `http://127.0.0.1:${t.server.port}/v1/feedback`;
    const feedbackWrk = async (t: FeedbackTarget, durationS: number) => {
      await mint(Math.ceil((feedbackRps ?? FEEDBACK_RPS_GUESS) * 2 * durationS));
      const redisBefore = cpuSnapshot(redis.child.pid);
      const r = await runWrk({
        url: feedbackUrl(t),
        body: '',
        durationS,
        connections: CONNECTIONS,
        threads: 1,
        script: FEEDBACK_LUA,
        env: { IDS_FILE: idsFile, IDS_FROM: String(from) },
      });
      const used = from + r.requests;
      if (used > have) {
        log(`feedback WAIT ${t.wait} ran ${used - have} outcomes past the decisions minted: those were duplicates`);
        reused += used - have;
      }
      // wrk counts the answers; up to one request per connection was sent and not counted.
      from = Math.min(have, used + CONNECTIONS);
      feedbackRps = Math.max(feedbackRps ?? 0, r.requestsPerSec);
      return { r, redisCores: cpuSince(redisBefore, redis.child.pid).serverCores };
    };
    const outcomeBody = (): string => `{"decision":"${ids[from++]!}","reward":1}`;
    for (const t of feedbackTargets) await feedbackWrk(t, 1);

    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const before = cpuSnapshot(t.server.child.pid);
        const redisBefore = cpuSnapshot(solo.child.pid);
        const wrk = await runWrk({
          url: t.server.url,
          body: REQUEST_BODY,
          durationS: DURATION_S,
          connections: CONNECTIONS,
          threads: 1,
        });
        const cpu = cpuSince(before, t.server.child.pid);
        const redisCpu = cpuSince(redisBefore, solo.child.pid);
        t.runs.push({
          rps: wrk.requestsPerSec,
          p99: wrk.p99Ms,
          non2xx: wrk.non2xx,
          errors: socketErrorTotal(wrk),
          serverCores: cpu.serverCores,
          redisCores: redisCpu.serverCores,
          machineBusy: cpu.machineBusy,
        });
        log(
          `round ${round}/${ROUNDS} ${t.name.padEnd(8)} ${Math.round(wrk.requestsPerSec).toString().padStart(7)} req/s  p99 ${wrk.p99Ms?.toFixed(2) ?? '?'} ms  non-2xx ${wrk.non2xx}  server ${cpu.serverCores?.toFixed(2) ?? '?'} cores  redis ${redisCpu.serverCores?.toFixed(2) ?? '?'} cores`,
        );
      }
      // WAIT 0 first in odd rounds, WAIT 1 first in even ones: neither always runs on a Redis the other just loaded.
      for (const t of round % 2 === 1 ? feedbackTargets : [...feedbackTargets].reverse()) {
        const { r, redisCores } = await feedbackWrk(t, DURATION_S);
        await mint(FEEDBACK_RATE * DURATION_S * 2);
        const fixed = await runFixedRate(
          feedbackUrl(t),
          '',
          FEEDBACK_RATE,
          DURATION_S,
          FIXED_RATE_CONNECTIONS,
          t.server.child.pid,
          outcomeBody,
        );
        if (from > have) throw new Error(`the fixed-rate run went past the ${have} decisions minted`);
        const non2xx = r.non2xx + fixed.non2xx;
        t.runs.push({
          rps: r.requestsPerSec,
          p99: r.p99Ms,
          non2xx,
          errors: socketErrorTotal(r) + fixed.errors,
          redisCores,
          fixed,
        });
        const ms = (x: number | null): string => x?.toFixed(2) ?? '?';
        log(
          `round ${round}/${ROUNDS} feedback WAIT ${t.wait}: ${Math.round(r.requestsPerSec)} req/s  p99 ${ms(r.p99Ms)} ms; `
            + `at ${FEEDBACK_RATE}/s p50 ${ms(fixed.responseP50Ms)} ms  p99 ${ms(fixed.responseP99Ms)} ms  non-2xx ${non2xx}`,
        );
      }
    }
    // What the predict target's Redis holds: one decision key per answer, and its pulls.
    const c = new Redis(soloUrl);
    const stats = await c.hgetall(`croupier:{route:${ROUTE}}:stats`);
    const total = (field: string): number =>
      Object.entries(stats)
        .filter(([k]) => k.endsWith(`:${field}`))
        .reduce((s, [, v]) => s + Number(v), 0);
    const keys = await c.dbsize();
    c.disconnect();

    const med = <R>(runs: R[], f: (r: R) => number | null): number | null =>
      median(runs.map(f).filter((x): x is number => x !== null));
    const [embedded, shared] = targets as [Target, Target];
    const ratio = (med(shared.runs, (r) => r.rps) ?? 0) / (med(embedded.runs, (r) => r.rps) ?? 1);
    const perRound = median(shared.runs.map((r, i) => r.rps / embedded.runs[i]!.rps)) ?? 0;
    const fmt = (x: number | null, d = 0): string =>
      x === null ? '?' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
    const cpuPerRequest = (r: Run): number | null =>
      r.serverCores === null || r.rps === 0 ? null : (r.serverCores / r.rps) * 1e6;
    const row = (t: Target): string =>
      `| ${t.name} | ${fmt(med(t.runs, (r) => r.rps))} | ${t.runs.map((r) => fmt(r.rps)).join(' / ')} | ${fmt(
        med(t.runs, (r) => r.p99),
        2,
      )} ms | ${t.runs.reduce((s, r) => s + r.non2xx, 0)} | ${t.runs.reduce((s, r) => s + r.errors, 0)} | ${fmt(
        med(t.runs, (r) => r.serverCores),
        2,
      )} | ${fmt(med(t.runs, cpuPerRequest))} µs | ${fmt(
        med(t.runs, (r) => r.redisCores),
        2,
      )} | ${fmt(med(t.runs, (r) => (r.machineBusy === null ? null : r.machineBusy * 100)))}% |`;
    const [w0, w1] = feedbackTargets as [FeedbackTarget, FeedbackTarget];
    const feedbackRow = (t: FeedbackTarget): string =>
      `| ${t.wait} | ${fmt(med(t.runs, (r) => r.rps))} | ${t.runs.map((r) => fmt(r.rps)).join(' / ')} | ${fmt(
        med(t.runs, (r) => r.p99),
        2,
      )} ms | ${fmt(med(t.runs, (r) => r.fixed.achievedRps))} | ${fmt(
        med(t.runs, (r) => r.fixed.responseP50Ms),
        2,
      )} ms | ${fmt(
        med(t.runs, (r) => r.fixed.responseP99Ms),
        2,
      )} ms | ${t.runs.reduce((s, r) => s + r.non2xx, 0)} | ${t.runs.reduce((s, r) => s + r.errors, 0)} | ${fmt(
        med(t.runs, (r) => r.redisCores),
        2,
      )} |`;
    const waitRatio = (med(w1.runs, (r) => r.rps) ?? 0) / (med(w0.runs, (r) => r.rps) ?? 1);
    const waitPerRound = median(w1.runs.map((r, i) => r.rps / w0.runs[i]!.rps)) ?? 0;
    const added = (f: (r: FeedbackRun) => number | null): string => {
      const [x, y] = [med(w1.runs, f), med(w0.runs, f)];
      return x === null || y === null ? '?' : fmt(x - y, 2);
    };
    const section = [
      '',
      '## Redis mode against embedded mode',
      '',
      `- date: ${new Date().toISOString()}`,
      '- command: `npm run bench:redis`',
      `- machine: ${os.availableParallelism()} cores (${os.cpus()[0]?.model.trim() ?? '?'}), node ${process.version}; wrk, the servers and the three redis-servers share those cores; load average before the run ${loadBefore}`,
      `- throughput: \`wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s --latency -s bench/post.lua\` on \`POST /v1/predict/${ROUTE}\` (Thompson), ${ROUNDS} interleaved rounds after a ${WARMUP_S} s warm-up each; medians over rounds`,
      `- redis: a local \`redis-server\` (7) of its own, AOF on, \`appendfsync everysec\`, no replica (the WAIT servers below use another, with one); in Redis mode every decision is written to Redis (SET with the feedback window as TTL, pulls counted by a Lua script) before its answer, one pipeline per event-loop turn`,
      `- afterwards Redis held ${keys.toLocaleString('en-US')} keys and counted ${total('pulls').toLocaleString('en-US')} pulls on the route (every answer of the Redis target: rounds, warm-up and probe)`,
      '',
      '| mode | median req/s | runs req/s | wrk p99 (median) | non-2xx | socket errors | server cores | server CPU per request | redis-server cores | machine busy |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      row(embedded),
      row(shared),
      '',
      `Redis / embedded: **${ratio.toFixed(2)}** of medians (median of per-round ratios ${perRound.toFixed(2)}); target ≥ 0.70.`,
      '',
      '### Redis mode: feedback with WAIT for one replica',
      '',
      `- \`POST /v1/feedback\`, each request the outcome (reward 1) of a different decision minted first on the WAIT 0 server; two Redis-mode servers on the same master, \`CROUPIER_REDIS_WAIT_REPLICAS\` 0 and 1 (with 1, a 2xx waits for \`WAIT 1\`: the replica holds the outcome), in the same ${ROUNDS} interleaved rounds as above`,
      `- throughput: \`wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s --latency -s bench/feedback.lua\`; latency: autocannon at a fixed ${FEEDBACK_RATE.toLocaleString('en-US')} outcomes/s over ${FIXED_RATE_CONNECTIONS} connections for ${DURATION_S} s, p50 and p99 of every response time (unrounded); medians over rounds`,
      '',
      '| CROUPIER_REDIS_WAIT_REPLICAS | median req/s | runs req/s | wrk p99 (median) | fixed rate: achieved req/s | p50 | p99 | non-2xx | errors | redis-server cores |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      feedbackRow(w0),
      feedbackRow(w1),
      '',
      ...(reused > 0
        ? [
            `${reused.toLocaleString('en-US')} outcomes went to decisions already used (the minted ones ran out) and were answered as duplicates.`,
            '',
          ]
        : []),
      `WAIT 1 / WAIT 0: **${waitRatio.toFixed(2)}** of the throughput medians (median of per-round ratios ${waitPerRound.toFixed(2)}); at ${FEEDBACK_RATE.toLocaleString('en-US')} outcomes/s WAIT 1 adds ${added((r) => r.fixed.responseP50Ms)} ms at p50 and ${added((r) => r.fixed.responseP99Ms)} ms at p99.`,
      '',
    ].join('\n');
    process.stdout.write(section);
    if (WRITE) {
      writeSection(RESULTS, 'redis', section);
      log(`wrote ${RESULTS}`);
    }
  } finally {
    await stopAll();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:redis: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
