/**
 * `npm run bench:contextual-cost -- [--rounds 8] [--duration 5] [--policies thompson,linucb,linear-thompson]
 * [--no-write]`: what choosing on a context costs the predict path. One croupier process serves a
 * route per policy on the same four arms (fraud 1/2), the contextual ones on an 8-feature context;
 * each route in turn takes `wrk -t1 -c16` on `POST /v1/predict/{route}` with the 32 named features
 * for `duration` seconds, in interleaved rounds (the order rotates each round); the server's CPU
 * time from /proc over its requests is its CPU per request. Reported: medians over rounds, and the
 * median of each round's difference against thompson (the bound: at most 3 µs).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ARM_NAMES, predictBody } from './contextual-world.js';
import { cpuSince, cpuSnapshot } from './lib/cpu.js';
import { startCroupier } from './lib/croupier-server.js';
import { fixed, mdTable, median, writeSection } from './lib/sections.js';
import { runWrk } from './lib/wrk.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONTEXT = [
  'card_present',
  'is_international',
  'amount',
  'hour_of_day',
  'merchant_risk_score',
  'is_new_device',
  'cvv_match',
  'is_vpn_or_proxy',
];
const CONTEXTUAL = new Set(['linucb', 'linear-thompson']);
const CONNECTIONS = 16;
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '8' },
    duration: { type: 'string', default: '5' },
    policies: { type: 'string', default: 'thompson,linucb,linear-thompson' },
    'no-write': { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(args.rounds);
const DURATION = Number(args.duration);
const policies = args.policies.split(',');
const log = (m: string): void => {
  process.stderr.write(`bench:contextual-cost: ${m}\n`);
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(os.tmpdir(), 'croupier-ctxcost-'));
  const routesFile = join(dir, 'routes.json');
  const arms = ARM_NAMES.map((name, i) => ({ name, model: 'fraud', version: String(1 + (i % 2)) }));
  const routes: Record<string, unknown> = {};
  for (const p of policies)
    routes[`cost-${p}`] = { policy: p, arms, ...(CONTEXTUAL.has(p) ? { context: CONTEXT } : {}) };
  writeFileSync(routesFile, JSON.stringify({ routes }));
  const body = predictBody({ cardPresent: 1, international: 0, amount: 0.3 });
  const croupier = await startCroupier({
    root: ROOT,
    name: 'ctxcost',
    logDir: dir,
    env: { CROUPIER_ROUTES: routesFile },
  });
  const us = new Map<string, number[]>(policies.map((p) => [p, []]));
  const rps = new Map<string, number[]>(policies.map((p) => [p, []]));
  const busy: number[] = [];
  try {
    const url = (p: string): string => `${croupier.base}/v1/predict/cost-${p}`;
    for (const p of policies) await runWrk({ url: url(p), body, durationS: 2, connections: CONNECTIONS, threads: 1 });
    for (let round = 0; round < ROUNDS; round++) {
      const order = policies.map((_, i) => policies[(i + round) % policies.length]!);
      for (const p of order) {
        const before = cpuSnapshot(croupier.pid);
        const r = await runWrk({ url: url(p), body, durationS: DURATION, connections: CONNECTIONS, threads: 1 });
        const cpu = cpuSince(before, croupier.pid);
        if (r.non2xx > 0) throw new Error(`${p}: ${r.non2xx} answers were not 2xx`);
        const perRequest = ((cpu.serverCores ?? NaN) * 1e6) / r.requestsPerSec;
        us.get(p)!.push(perRequest);
        rps.get(p)!.push(r.requestsPerSec);
        if (cpu.machineBusy !== null) busy.push(cpu.machineBusy);
        log(`round ${round + 1} ${p}: ${Math.round(r.requestsPerSec)} req/s, ${fixed(perRequest)} µs CPU per request`);
      }
    }
  } finally {
    await croupier.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const base = us.get('thompson');
  const rows = policies.map((p) => {
    const diffs = base ? us.get(p)!.map((v, i) => v - base[i]!) : [];
    const sorted = [...diffs].sort((a, b) => a - b);
    return [
      CONTEXTUAL.has(p) ? `${p} (8-feature context)` : `${p} (context-free)`,
      fixed(median(us.get(p)!)),
      fixed(Math.min(...us.get(p)!)),
      fixed(Math.max(...us.get(p)!)),
      String(Math.round(median(rps.get(p)!)!)),
      p === 'thompson' || !base ? '—' : `${fixed(median(diffs))} (${fixed(sorted[0])} … ${fixed(sorted.at(-1))})`,
    ];
  });
  const section = `### Cost of a context on the predict path

- date: ${new Date().toISOString()}, node ${process.version}, ${os.availableParallelism()} cores shared with wrk and with other engineers' work (median machine busy ${fixed((median(busy) ?? NaN) * 100, 0)}%): noisy, read the medians
- command: \`npm run bench:contextual-cost -- --rounds ${ROUNDS} --duration ${DURATION}\`
- one \`croupier serve\` process, a route per policy on the same 4 arms (fraud 1 / 2); contextual routes on an 8-feature context (${CONTEXT.join(', ')}); \`wrk -t1 -c${CONNECTIONS}\` on \`POST /v1/predict/{route}\` with the 32 named features, ${DURATION} s per route per round, ${ROUNDS} interleaved rounds (order rotated); no feedback during the load
- CPU per request = the server's CPU time (/proc, all threads) / requests answered; the difference is taken round by round against thompson, then its median (range in brackets)

${mdTable(['route', 'µs CPU per request (median)', 'min', 'max', 'req/s (median)', 'minus thompson, µs: median (range)'], rows)}
`;
  process.stdout.write(`${section}\n`);
  if (!args['no-write'])
    writeSection(fileURLToPath(new URL('./RESULTS.md', import.meta.url)), 'contextual-cost', section);
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
