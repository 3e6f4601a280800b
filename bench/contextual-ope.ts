/**
 * `npm run bench:contextual-ope -- [--runs 20] [--n 2000] [--logging uniform,linear-thompson] [--no-write]`:
 * off-policy evaluation through HTTP in the contextual world. Per run, a fresh route logs `n`
 * decisions with their outcomes (predict + feedback, bench/contextual-driver.ts), then
 * `POST /admin/routes/{route}/ope` evaluates arm:a0…a3, uniform and current with IPS, SNIPS and
 * DR. The truths: every single arm and uniform earn exactly 0.50 in this world; `current` is the
 * route's policy as it stands, valued by the mean μ of its choices on fresh contexts afterwards
 * (predicts without feedback, so it does not change meanwhile); on a uniform route it is uniform,
 * 0.50. Reports how often each estimator's 95% interval held the truth (coverage) and its width.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { currentValue, drive } from './contextual-driver.js';
import { ARM_NAMES, exactValues, worldRoutes } from './contextual-world.js';
import { startCroupier } from './lib/croupier-server.js';
import { fixed, mdTable, median, writeSection } from './lib/sections.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'bench-ope-token';
const ESTIMATORS = ['ips', 'snips', 'dr'] as const;
const TARGETS = [...ARM_NAMES.map((a) => `arm:${a}`), 'uniform', 'current'];
const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    n: { type: 'string', default: '2000' },
    logging: { type: 'string', default: 'uniform,linear-thompson' },
    'no-write': { type: 'boolean', default: false },
  },
});
const RUNS = Number(args.runs);
const N = Number(args.n);
const loggings = args.logging.split(',');
const log = (m: string): void => {
  process.stderr.write(`bench:contextual-ope: ${m}\n`);
};

interface Estimate {
  value: number;
  ci95: [number, number];
  effectiveSampleSize?: number;
}
interface OpeAnswer {
  n: number;
  policies: { name: string; estimates?: Record<string, Estimate>; notEvaluable?: string }[];
}

async function ope(base: string, route: string): Promise<OpeAnswer> {
  const res = await fetch(`${base}/admin/routes/${route}/ope`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ policies: TARGETS.map((name) => ({ name })), estimators: ESTIMATORS }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`ope ${route}: ${res.status} ${text.slice(0, 400)}`);
  return JSON.parse(text) as OpeAnswer;
}

/** Per logging policy, target and estimator: hits, widths, |error|. */
type Tally = Map<string, { hits: number; runs: number; widths: number[]; errors: number[] }>;

async function main(): Promise<void> {
  const exact = exactValues();
  const dir = mkdtempSync(join(tmpdir(), 'croupier-ctxope-'));
  const routesFile = join(dir, 'routes.json');
  const routes: Record<string, unknown> = {};
  for (let r = 1; r <= RUNS; r++) Object.assign(routes, worldRoutes(loggings, `ope${r}-`).routes);
  writeFileSync(routesFile, JSON.stringify({ routes }));
  const croupier = await startCroupier({
    root: ROOT,
    name: 'ctxope',
    logDir: dir,
    env: { CROUPIER_ROUTES: routesFile, CROUPIER_ADMIN_TOKEN: TOKEN },
  });
  const tally: Tally = new Map();
  const currentTruths = new Map<string, number[]>(loggings.map((l) => [l, []]));
  try {
    for (let r = 1; r <= RUNS; r++)
      for (const logging of loggings) {
        const route = `ope${r}-${logging}`;
        await drive({ base: croupier.base, route, horizon: N, seed: 5000 + r });
        // Outcomes reach the log just after their answer: ask again until all N are there.
        let answer = await ope(croupier.base, route);
        for (let i = 0; answer.n < N && i < 20; i++) {
          await sleep(100);
          answer = await ope(croupier.base, route);
        }
        if (answer.n !== N) throw new Error(`ope ${route}: evaluated ${answer.n} outcomes, logged ${N}`);
        const current = logging === 'uniform' ? 0.5 : await currentValue(croupier.base, route, 2 * N, 9000 + r);
        currentTruths.get(logging)!.push(current);
        for (const p of answer.policies) {
          const truth = p.name === 'current' ? current : exact.perArm[0]!; // every arm and uniform: 0.50
          for (const e of ESTIMATORS) {
            const est = p.estimates?.[e];
            if (!est) throw new Error(`ope ${route}: no ${e} estimate for ${p.name}: ${JSON.stringify(p)}`);
            const key = `${logging}|${p.name}|${e}`;
            const t = tally.get(key) ?? { hits: 0, runs: 0, widths: [], errors: [] };
            t.runs++;
            if (est.ci95[0] <= truth && truth <= est.ci95[1]) t.hits++;
            t.widths.push(est.ci95[1] - est.ci95[0]);
            t.errors.push(Math.abs(est.value - truth));
            tally.set(key, t);
          }
        }
        log(`run ${r} ${logging}: n ${answer.n}, current's truth ${current.toFixed(3)}`);
      }
  } finally {
    await croupier.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const rows: string[][] = [];
  for (const logging of loggings)
    for (const target of TARGETS)
      rows.push([
        logging,
        target === 'current'
          ? `current (truth median ${fixed(median(currentTruths.get(logging)!), 3)})`
          : `${target} (0.50)`,
        ...ESTIMATORS.map((e) => {
          const t = tally.get(`${logging}|${target}|${e}`)!;
          return `${t.hits}/${t.runs} · ±${fixed(median(t.widths)! / 2, 3)} · ${fixed(median(t.errors), 3)}`;
        }),
      ]);
  const overall = ESTIMATORS.map((e) => {
    const ts = [...tally.entries()].filter(([k]) => k.endsWith(`|${e}`)).map(([, t]) => t);
    const hits = ts.reduce((a, t) => a + t.hits, 0);
    const runs = ts.reduce((a, t) => a + t.runs, 0);
    return `${e.toUpperCase()} ${hits}/${runs} (${fixed((100 * hits) / runs, 1)}%)`;
  });
  const section = `### Off-policy evaluation through HTTP in the contextual world

- date: ${new Date().toISOString()}, node ${process.version}; shared machine (timings not reported, none matter here)
- command: \`npm run bench:contextual-ope -- --runs ${RUNS} --n ${N}\`
- per run and logging policy (${loggings.join(', ')}; route defaults, floor 0.01): a fresh route logs ${N.toLocaleString('en-US')} decisions with their Bernoulli outcomes through \`POST /v1/predict\` + \`POST /v1/feedback\` (seed 5000 + run), then \`POST /admin/routes/{route}/ope\` (viewer/admin token) evaluates ${TARGETS.join(', ')} with IPS, SNIPS and DR
- truths: each arm and uniform earn exactly 0.50 in this world (integrated); \`current\` (the route's policy after the run) on a linear-thompson route is valued by the mean μ of its choices on ${(2 * N).toLocaleString('en-US')} fresh contexts right after the OPE call (predicts without feedback; Monte Carlo error about ±0.003, small beside the intervals); on a uniform route current is uniform, 0.50
- cells: coverage of the 95% interval (runs holding the truth / runs) · median half-width · median |estimate − truth|

${mdTable(['logging route', 'target (truth)', ...ESTIMATORS.map((e) => e.toUpperCase())], rows)}

Overall coverage: ${overall.join('; ')}.
`;
  process.stdout.write(`${section}\n`);
  if (!args['no-write'])
    writeSection(fileURLToPath(new URL('./RESULTS.md', import.meta.url)), 'contextual-ope', section);
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
