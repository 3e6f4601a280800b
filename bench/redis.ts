// Redis-mode benchmark: `npm run bench:redis -- [--rounds N --duration S --no-write]`.
// Throughput of POST /v1/predict/fraud-scoring (Thompson) with Redis on (every decision written to
// Redis before its answer, pulls counted there) against embedded mode, in the same run: both
// servers started once, warmed up, then interleaved wrk rounds; medians. Appends a section to
// bench/RESULTS.md. Target (issue 5): Redis mode >= 0.7x embedded.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { REQUEST_BODY } from './body.js';
import { installSignalCleanup, spawnServer, stopServer, waitUntilReady, type Server } from './lib/children.js';
import { cpuSince, cpuSnapshot } from './lib/cpu.js';
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

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const ROUNDS = option('rounds', 3);
const DURATION_S = option('duration', 6);
const WRITE = !args.includes('--no-write');

const log = (msg: string): void => { process.stderr.write(`bench:redis: ${msg}\n`); };

interface Run { rps: number; p99: number | null; non2xx: number; errors: number; serverCores: number | null; redisCores: number | null; machineBusy: number | null }
interface Target { name: 'embedded' | 'redis'; server: Server; runs: Run[] }

async function startRedis(dir: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  // AOF with fsync every second: the setting docs/deploy.md recommends for Redis mode.
  const child = spawn('redis-server', ['--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const c = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      return { port, child };
    } catch {
      c.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('redis-server did not start');
}

function croupier(name: Target['name'], port: number, stateDir: string, redisUrl?: string): Server {
  return spawnServer({
    name, command: process.execPath, args: ['bin/croupier.js', 'serve', '--port', String(port), '--models', './models'],
    port, urlPath: `/v1/predict/${ROUTE}`, cwd: ROOT, logFile: `${TMP}redis-bench-${name}.log`,
    env: { ...process.env, NODE_ENV: 'production', CROUPIER_STATE_DIR: stateDir, ...(redisUrl ? { CROUPIER_REDIS_URL: redisUrl } : {}) },
  });
}

async function main(): Promise<void> {
  try { execFileSync('wrk', ['--version'], { stdio: 'ignore' }); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('wrk is not installed (apt-get install -y wrk)');
  }
  execFileSync(process.execPath, ['scripts/build-if-stale.js'], { cwd: ROOT, stdio: 'inherit' });
  mkdirSync(TMP, { recursive: true });
  const loadBefore = os.loadavg().map((x) => x.toFixed(1)).join(' / ');
  const dir = mkdtempSync(join(os.tmpdir(), 'croupier-bench-redis-'));
  const redis = await startRedis(dir);
  const url = `redis://127.0.0.1:${redis.port}`;
  const targets: Target[] = [
    { name: 'embedded', server: croupier('embedded', await freePort(), join(dir, 'embedded')), runs: [] },
    { name: 'redis', server: croupier('redis', await freePort(), join(dir, 'redis'), url), runs: [] },
  ];
  const stopAll = async (): Promise<void> => {
    await Promise.all(targets.map((t) => stopServer(t.server)));
    redis.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  installSignalCleanup(stopAll);
  try {
    for (const t of targets) {
      const probe = await waitUntilReady(t.server, REQUEST_BODY, 30_000);
      log(`${t.name}: ready, answers ${probe.body.slice(0, 80)}…`);
    }
    for (const t of targets) await runWrk({ url: t.server.url, body: REQUEST_BODY, durationS: WARMUP_S, connections: CONNECTIONS, threads: 1 });
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const before = cpuSnapshot(t.server.child.pid);
        const redisBefore = cpuSnapshot(redis.child.pid);
        const wrk = await runWrk({ url: t.server.url, body: REQUEST_BODY, durationS: DURATION_S, connections: CONNECTIONS, threads: 1 });
        const cpu = cpuSince(before, t.server.child.pid);
        const redisCpu = cpuSince(redisBefore, redis.child.pid);
        t.runs.push({ rps: wrk.requestsPerSec, p99: wrk.p99Ms, non2xx: wrk.non2xx, errors: socketErrorTotal(wrk), serverCores: cpu.serverCores, redisCores: redisCpu.serverCores, machineBusy: cpu.machineBusy });
        log(`round ${round}/${ROUNDS} ${t.name.padEnd(8)} ${Math.round(wrk.requestsPerSec).toString().padStart(7)} req/s  p99 ${wrk.p99Ms?.toFixed(2) ?? '?'} ms  non-2xx ${wrk.non2xx}  server ${cpu.serverCores?.toFixed(2) ?? '?'} cores  redis ${redisCpu.serverCores?.toFixed(2) ?? '?'} cores`);
      }
    }
    // What Redis holds: one decision key per answer of the Redis target, and its pulls.
    const c = new Redis(url);
    const stats = await c.hgetall(`croupier:{route:${ROUTE}}:stats`);
    const pulls = Object.entries(stats).filter(([k]) => k.endsWith(':pulls')).reduce((s, [, v]) => s + Number(v), 0);
    const keys = await c.dbsize();
    c.disconnect();

    const med = (t: Target, f: (r: Run) => number | null): number | null => median(t.runs.map(f).filter((x): x is number => x !== null));
    const [embedded, shared] = targets as [Target, Target];
    const ratio = (med(shared, (r) => r.rps) ?? 0) / (med(embedded, (r) => r.rps) ?? 1);
    const perRound = median(shared.runs.map((r, i) => r.rps / embedded.runs[i]!.rps)) ?? 0;
    const fmt = (x: number | null, d = 0): string => (x === null ? '?' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
    const cpuPerRequest = (r: Run): number | null => (r.serverCores === null || r.rps === 0 ? null : (r.serverCores / r.rps) * 1e6);
    const row = (t: Target): string => `| ${t.name} | ${fmt(med(t, (r) => r.rps))} | ${t.runs.map((r) => fmt(r.rps)).join(' / ')} | ${fmt(med(t, (r) => r.p99), 2)} ms | ${t.runs.reduce((s, r) => s + r.non2xx, 0)} | ${t.runs.reduce((s, r) => s + r.errors, 0)} | ${fmt(med(t, (r) => r.serverCores), 2)} | ${fmt(med(t, cpuPerRequest))} µs | ${fmt(med(t, (r) => r.redisCores), 2)} | ${fmt(med(t, (r) => r.machineBusy === null ? null : r.machineBusy * 100))}% |`;
    const section = [
      '',
      '## Redis mode against embedded mode',
      '',
      `- date: ${new Date().toISOString()}`,
      '- command: `npm run bench:redis`',
      `- machine: ${os.availableParallelism()} cores (${os.cpus()[0]?.model.trim() ?? '?'}), node ${process.version}; wrk, both servers and redis-server share those cores; load average before the run ${loadBefore}`,
      `- throughput: \`wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s --latency -s bench/post.lua\` on \`POST /v1/predict/${ROUTE}\` (Thompson), ${ROUNDS} interleaved rounds after a ${WARMUP_S} s warm-up each; medians over rounds`,
      `- redis: a local \`redis-server\` (7), AOF on, \`appendfsync everysec\`; in Redis mode every decision is written to Redis (SET with the feedback window as TTL, pulls counted by a Lua script) before its answer, one pipeline per event-loop turn`,
      `- afterwards Redis held ${keys.toLocaleString('en-US')} keys and counted ${pulls.toLocaleString('en-US')} pulls on the route (every answer of the Redis target, warm-up and probe included)`,
      '',
      '| mode | median req/s | runs req/s | wrk p99 (median) | non-2xx | socket errors | server cores | server CPU per request | redis-server cores | machine busy |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      row(embedded),
      row(shared),
      '',
      `Redis / embedded: **${ratio.toFixed(2)}** of medians (median of per-round ratios ${perRound.toFixed(2)}); target ≥ 0.70.`,
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
