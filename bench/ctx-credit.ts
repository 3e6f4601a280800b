// The credit script's cost with contextual linear sums: `node --import tsx bench/ctx-credit.ts [--n N]`.
// Runs N credits (EVALSHA, each for a new decision, pipelined 100 at a time) against a redis-server
// of its own, for a context-free route and for contextual routes of 8 and 64 features, and prints
// Redis's own time per call (INFO commandstats: the script's CPU inside Redis, the number that
// bounds its throughput) and the client's wall time per credit. Prints only; nothing is written.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { outcomesKey, settledKey, statsKey } from '../src/state/redis/keys.js';
import { contextArgs } from '../src/state/redis/linear.js';
import { scripts } from '../src/state/redis/stats.js';
import { freePort } from './lib/port.js';

const args = process.argv.slice(2);
const n = Number(args[args.indexOf('--n') + 1] ?? 20_000) || 20_000;
const PIPELINE = 100;

async function scriptUsec(client: Redis): Promise<{ calls: number; usec: number }> {
  // ioredis sends EVAL the first time a pipeline meets the script, EVALSHA after: both count.
  const info = await client.info('commandstats');
  let calls = 0;
  let usec = 0;
  for (const m of info.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+),usec=(\d+)/g)) {
    calls += Number(m[1]);
    usec += Number(m[2]);
  }
  return { calls, usec };
}

async function run(client: Redis, route: string, features: number): Promise<{ redisUs: number; wallUs: number }> {
  scripts(client); // defines croupierCredit on the client, which the pipelines copy
  const x = new Float64Array(features);
  await client.config('RESETSTAT');
  const started = performance.now();
  for (let done = 0; done < n; done += PIPELINE) {
    const p = client.pipeline() as unknown as ReturnType<typeof scripts>;
    for (let i = done; i < done + PIPELINE; i++) {
      for (let j = 0; j < features; j++) x[j] = ((i * 31 + j * 17) % 101) / 101;
      const id = `d${i}`;
      void p.croupierCredit(
        ...[statsKey(route), settledKey(route, id), outcomesKey(route), id, 'a', 'm@1', i % 2, 1_000 + i, 0],
        ...[60_000, '0-0', 'm', '1', 0.5, 900, ''],
        ...(features > 0 ? contextArgs(x) : []),
      );
    }
    await (p as unknown as { exec(): Promise<unknown> }).exec();
  }
  const wallUs = ((performance.now() - started) * 1000) / n;
  const { calls, usec } = await scriptUsec(client);
  if (calls < n) throw new Error(`only ${calls} of ${n} credits ran`);
  return { redisUs: usec / calls, wallUs };
}

const port = await freePort();
const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
try {
  let client: Redis;
  for (let i = 0; ; i++) {
    client = new Redis({ port, lazyConnect: true, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      break;
    } catch (err) {
      client.disconnect();
      if (i === 50) throw err;
      await sleep(100);
    }
  }
  // Warm-up (scripts loaded, allocator settled), then each kind twice, interleaved; the second kept.
  await run(client, 'warm', 8);
  const rows: string[] = [];
  for (const round of [1, 2])
    for (const features of [0, 8, 64]) {
      const r = await run(client, `r${round}-${features}`, features);
      if (round === 2)
        rows.push(
          `| ${features === 0 ? 'context-free' : `${features} features`} | ${r.redisUs.toFixed(1)} | ${r.wallUs.toFixed(1)} |`,
        );
    }
  console.log(`credits per run: ${n}, pipelined ${PIPELINE} at a time`);
  console.log('| route | Redis µs per credit (commandstats) | client wall µs per credit |');
  console.log('|---|---|---|');
  for (const row of rows) console.log(row);
  client.disconnect();
} finally {
  server.kill('SIGTERM');
}
