// What a contextual policy costs a request (issue 19: the whole request may add at most 3 µs), and
// how far linear-thompson's D-draw P(best) is from the ideal. A micro-benchmark on one thread:
// 4 arms, 8 context features (dim 9), fits from 2,000 outcomes per arm of a linear world, contexts
// from a pool of 1,024: ns per chooseFor for linucb and linear-thompson (D = 64 and a few others;
// and 8 arms), ns per choose() for context-free thompson, ns per ContextReader.read and per
// recompute; each the median of several rounds, in CPU time of this process (the machine is
// shared: wall time would count others' work too).
// Then mean |p̂ − p| of linear-thompson's probabilities against the exact P(best) (numerical
// integration, test/helpers/linear-reference.ts) over random contexts, for several D.
//
//   node --import tsx bench/contextual-policy.ts [--rounds 7] [--calls 200000]
import { parseArgs } from 'node:util';
import { argmaxProbabilities, linearPosterior } from '../test/helpers/linear-reference.js';
import { ArmStats } from '../src/routing/arm-stats.js';
import { ContextReader } from '../src/routing/contextual/context.js';
import { LinearThompsonPolicy } from '../src/routing/contextual/linear-thompson.js';
import { LinUcbPolicy } from '../src/routing/contextual/linucb.js';
import { parseRouteSpec, type RouteSpec } from '../src/routing/route-spec.js';
import { normal, seededRng, type Rng } from '../src/routing/sampling.js';
import { ThompsonPolicy } from '../src/routing/thompson.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '7' }, calls: { type: 'string', default: '200000' } },
});
const ROUNDS = Number(values.rounds);
const CALLS = Number(values.calls);
const ARMS = 4;
const FEATURES = 8;
const context = Array.from({ length: FEATURES }, (_, i) => `f${i}`);
const arms = Array.from({ length: ARMS }, (_, i) => ({ name: `a${i}`, model: 'm', version: '1' }));
const spec = (raw: Record<string, unknown>): RouteSpec => parseRouteSpec('bench', { arms, ...raw }, () => 'ok');

function contexts(n: number, rng: Rng): Float64Array[] {
  return Array.from({ length: n }, () => Float64Array.from({ length: FEATURES }, () => normal(rng)));
}

/** Per-arm statistics of `outcomes` outcomes each in a world where each arm's reward is linear in x. */
function world(outcomes: number, rng: Rng, arms = ARMS): ArmStats[] {
  const stats = Array.from({ length: arms }, () => new ArmStats('m@1'));
  for (const s of stats) {
    s.useContext(FEATURES);
    const beta = Array.from({ length: FEATURES }, () => 0.3 * normal(rng));
    for (const x of contexts(outcomes, rng)) {
      let r = 0.5 + 0.5 * normal(rng);
      for (let j = 0; j < FEATURES; j++) r += beta[j]! * x[j]!;
      s.linear!.credit(x, r);
    }
  }
  return stats;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** CPU nanoseconds (user + system) this process has used. */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** Median over rounds of CPU ns per call of `f(i)`. */
function time(f: (i: number) => number): number {
  let sink = 0;
  for (let i = 0; i < CALLS; i++) sink += f(i); // warm-up: let the JIT settle
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = cpuNs();
    for (let i = 0; i < CALLS; i++) sink += f(i);
    rounds.push((cpuNs() - t0) / CALLS);
  }
  if (sink === -1) console.log(sink);
  return median(rounds);
}

const pool = contexts(1024, seededRng(1));
const stats = world(2000, seededRng(2));
const rows: [string, number][] = [];
const linucb = new LinUcbPolicy(spec({ policy: 'linucb', context }), stats, Math.random);
rows.push(['linucb chooseFor', time((i) => linucb.chooseFor(pool[i & 1023]!))]);
for (const d of [16, 32, 64, 128]) {
  const lt = new LinearThompsonPolicy(spec({ policy: 'linear-thompson', context }), stats, Math.random, d);
  rows.push([`linear-thompson chooseFor, D = ${d}`, time((i) => lt.chooseFor(pool[i & 1023]!))]);
}
const flat = Array.from({ length: ARMS }, (_, i) => {
  const s = new ArmStats('m@1');
  for (let j = 0; j < 100; j++) s.credit(j % (i + 2) === 0 ? 1 : 0, 0, 0);
  return s;
});
// More than 4 enabled arms take the looped path rather than the unrolled one.
const eight = world(2000, seededRng(6), 8);
const eightSpec = parseRouteSpec(
  'bench',
  {
    policy: 'linear-thompson',
    context,
    arms: Array.from({ length: 8 }, (_, i) => ({ name: `a${i}`, model: 'm', version: '1' })),
  },
  () => 'ok',
);
const lt8 = new LinearThompsonPolicy(eightSpec, eight, Math.random);
rows.push([
  `linear-thompson chooseFor, D = ${lt8.draws} (default), 8 arms`,
  time((i) => lt8.chooseFor(pool[i & 1023]!)),
]);
// The rest of a request's share: reading its 8 named features into the context vector.
const reader = new ContextReader(context);
const bodies = pool.map((x) => Object.fromEntries([...context.map((n, j) => [n, x[j]!]), ['other', 'text']]));
const into = new Float64Array(FEATURES);
rows.push(['ContextReader.read (8 named features)', time((i) => reader.read(bodies[i & 1023], undefined, into)[0]!)]);
const thompson = new ThompsonPolicy(spec({ policy: 'thompson' }), flat, Math.random);
thompson.recompute(0);
rows.push(['thompson choose() (context-free)', time(() => thompson.choose())]);
const recomputeCalls = Math.max(1, Math.floor(CALLS / 100));
const refit = (): number => {
  const t0 = cpuNs();
  for (let i = 0; i < recomputeCalls; i++) linucb.recompute(0);
  return (cpuNs() - t0) / recomputeCalls;
};
refit();
rows.push(['recompute (4 arms × dim 9)', median(Array.from({ length: ROUNDS }, refit))]);

console.log(
  `\n${ARMS} arms, ${FEATURES} features; median of ${ROUNDS} rounds of ${CALLS} calls, CPU time (Math.random)\n`,
);
console.log('| what | ns per call |\n|---|---:|');
for (const [what, ns] of rows) console.log(`| ${what} | ${ns.toFixed(0)} |`);

// Accuracy: posteriors that overlap (100 outcomes per arm, v = 0.5), so P(best) is seldom 0 or 1.
const sparse = world(100, seededRng(3));
const probe = contexts(300, seededRng(4));
const lambda = 1;
const v = 0.5;
const ideal = probe.map((x) => {
  const post = sparse.map((s) => linearPosterior(s.linear!, lambda, x));
  return argmaxProbabilities(
    post.map((p) => p.mean),
    post.map((p) => v * p.width),
  );
});
console.log(`\nlinear-thompson: |p̂ − p| against the exact P(best), ${probe.length} contexts × ${ARMS} arms, floor 0\n`);
console.log('| D | mean abs error | mean over contexts of max over arms | 95th percentile |\n|---:|---:|---:|---:|');
for (const d of [16, 32, 64, 128, 256, 1024]) {
  const lt = new LinearThompsonPolicy(
    spec({ policy: 'linear-thompson', context, floor: 0, v }),
    sparse,
    seededRng(5),
    d,
  );
  const out = new Float64Array(ARMS);
  const errs: number[] = [];
  let maxSum = 0;
  for (const [c, x] of probe.entries()) {
    lt.probabilities(x, out);
    let worst = 0;
    for (let a = 0; a < ARMS; a++) {
      const e = Math.abs(out[a]! - ideal[c]![a]!);
      errs.push(e);
      worst = Math.max(worst, e);
    }
    maxSum += worst;
  }
  const mean = errs.reduce((s, e) => s + e, 0) / errs.length;
  const p95 = [...errs].sort((a, b) => a - b)[Math.floor(errs.length * 0.95)]!;
  console.log(`| ${d} | ${mean.toFixed(4)} | ${(maxSum / probe.length).toFixed(4)} | ${p95.toFixed(4)} |`);
}
const spread = ideal.flat();
console.log(
  `\n(ideal P(best) over those contexts: ${((100 * spread.filter((p) => p > 0.05 && p < 0.95).length) / spread.length).toFixed(0)}% of arm-context pairs in (0.05, 0.95))`,
);
