/**
 * The Chapelle & Li (2011) §3 experiment, run on the gateway's own policy classes: K Bernoulli arms,
 * the posterior (the weights) updated every `batch` steps, cumulative expected regret recorded at
 * checkpoints. A library (the tests use it) and the engine of `bench/simulator-cli.ts`.
 */
import { ArmStats } from '../src/routing/arm-stats.js';
import { createPolicy } from '../src/routing/router.js';
import { parseRouteSpec } from '../src/routing/route-spec.js';
import { seededRng } from '../src/routing/sampling.js';

export type SimulatedPolicy = 'thompson' | 'uniform' | 'epsilon-greedy' | 'ucb1';

export interface Simulation {
  readonly probabilities: readonly number[];
  readonly horizon: number;
  readonly policy: SimulatedPolicy;
  /** Steps between posterior updates (Chapelle & Li: 100). */
  readonly batch?: number;
  readonly floor?: number;
  readonly seed?: number;
  /** Posterior draws per Thompson recompute. */
  readonly draws?: number;
  /** Steps at which to record the regret (the horizon is always recorded). */
  readonly checkpoints?: readonly number[];
}

export interface RegretPoint {
  readonly t: number;
  readonly regret: number;
}

/** The Chapelle & Li setup: K arms, the best at 0.5, the others at 0.5 − ε. */
export function chapelleLiArms(k = 10, epsilon = 0.1): number[] {
  return Array.from({ length: k }, (_, i) => (i === 0 ? 0.5 : 0.5 - epsilon));
}

/** KL divergence between Bernoulli(p) and Bernoulli(q). */
export function bernoulliKl(p: number, q: number): number {
  return p * Math.log(p / q) + (1 - p) * Math.log((1 - p) / (1 - q));
}

/** Lai & Robbins: regret grows at least like slope × ln T, slope = Σ (p* − pᵢ) / KL(pᵢ ‖ p*). */
export function laiRobbinsSlope(probabilities: readonly number[]): number {
  const best = Math.max(...probabilities);
  return probabilities.filter((p) => p < best).reduce((s, p) => s + (best - p) / bernoulliKl(p, best), 0);
}

/** Log-spaced checkpoints from 100 to `horizon`. */
export function logCheckpoints(horizon: number, perDecade = 8): number[] {
  const out = new Set<number>();
  for (let e = 2; e <= Math.log10(horizon) + 1e-9; e += 1 / perDecade) out.add(Math.round(10 ** e));
  out.add(horizon);
  return [...out].filter((t) => t <= horizon).sort((a, b) => a - b);
}

/** Runs one simulation; regret is the expected (pseudo-)regret Σ (p* − p_chosen). */
export function simulate(sim: Simulation): RegretPoint[] {
  const { probabilities, horizon } = sim;
  const k = probabilities.length;
  const rng = seededRng(sim.seed ?? 1);
  const best = Math.max(...probabilities);
  const spec = parseRouteSpec(
    'sim',
    {
      policy: sim.policy === 'uniform' ? 'fixed' : sim.policy,
      arms: probabilities.map((_, i) => ({ name: `arm${i}`, model: 'sim', version: '1' })),
      ...(sim.policy === 'thompson' || sim.policy === 'epsilon-greedy' ? { floor: sim.floor ?? 0.01 } : {}),
    },
    () => 'ok',
  );
  const stats = probabilities.map(() => new ArmStats('sim@1'));
  const policy = createPolicy('sim', spec, stats, { rng, draws: sim.draws ?? 1000 });
  const batch = sim.batch ?? 100;
  const pendingN = new Float64Array(k);
  const pendingWins = new Float64Array(k);
  const checkpoints = [...(sim.checkpoints ?? logCheckpoints(horizon)), horizon].sort((a, b) => a - b);
  const out: RegretPoint[] = [];
  let next = 0;
  let regret = 0;
  for (let t = 1; t <= horizon; t++) {
    const i = policy.choose(undefined);
    stats[i]!.pulls++;
    regret += best - probabilities[i]!;
    pendingN[i]! += 1;
    if (rng() < probabilities[i]!) pendingWins[i]! += 1;
    if (t % batch === 0) {
      for (let j = 0; j < k; j++) {
        const s = stats[j]!;
        // Equivalent to crediting each outcome (no discounting here), without a call per step.
        s.n += pendingN[j]!;
        s.sum += pendingWins[j]!;
        s.sumSq += pendingWins[j]!;
        s.rewardTotal += pendingWins[j]!;
      }
      pendingN.fill(0);
      pendingWins.fill(0);
      policy.recompute(t);
    }
    while (next < checkpoints.length && checkpoints[next] === t) {
      if (out.at(-1)?.t !== t) out.push({ t, regret });
      next++;
    }
  }
  return out;
}

/** Mean regret curve over `runs` seeds. */
export function simulateMean(sim: Simulation, runs: number): RegretPoint[] {
  let sum: RegretPoint[] | undefined;
  for (let r = 0; r < runs; r++) {
    const curve = simulate({ ...sim, seed: (sim.seed ?? 1) * 1000 + r });
    sum = sum ? sum.map((p, i) => ({ t: p.t, regret: p.regret + curve[i]!.regret })) : curve;
  }
  return sum!.map((p) => ({ t: p.t, regret: p.regret / runs }));
}
