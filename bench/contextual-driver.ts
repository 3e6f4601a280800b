/**
 * Drives a running Croupier through the contextual world over real HTTP: waves of concurrent
 * `POST /v1/predict/{route}` with named features, then one `POST /v1/feedback` batch with the
 * world's Bernoulli rewards for the arms the server chose (the route recomputes its weights after
 * every feedback batch). Records, at checkpoints, the cumulative expected regret against the best
 * contextual policy Σ (max_k μ_k(x) − μ_chosen(x)) and the mean expected reward so far. Used by
 * bench/contextual.ts and test/routing/contextual-http.test.ts.
 */
import {
  ARM_NAMES,
  bestReward,
  ContextualWorld,
  meanReward,
  predictBody,
  type WorldContext,
} from './contextual-world.js';

export interface DriveOptions {
  /** http://host:port, no path. */
  readonly base: string;
  readonly route: string;
  readonly horizon: number;
  /** Seeds the contexts and rewards (the server's arm draws are its own). */
  readonly seed: number;
  /** Requests in flight together, and outcomes per feedback batch. */
  readonly wave?: number;
  readonly checkpoints?: readonly number[];
  /** Keep every decision (for OPE's ground truth). */
  readonly keep?: boolean;
}

export interface CurvePoint {
  readonly t: number;
  /** Σ (best μ − chosen μ) over the first t requests. */
  readonly regret: number;
  /** Mean expected reward μ_chosen over the first t requests. */
  readonly meanReward: number;
}

export interface Decided {
  readonly decision: string;
  readonly arm: number;
  readonly propensity: number;
  readonly x: WorldContext;
  readonly reward: number;
}

export interface Drive {
  readonly points: CurvePoint[];
  readonly decided: Decided[];
  /** Mean realised (Bernoulli) reward over the whole run. */
  readonly observedMean: number;
  readonly ms: number;
}

interface PredictAnswer {
  decision: string;
  arm: string;
  propensity: number;
}

async function post(url: string, body: string): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}

/** One predict through HTTP: the arm's index among ARM_NAMES and its propensity. */
export async function predict(base: string, route: string, x: WorldContext): Promise<PredictAnswer & { k: number }> {
  const a = (await post(`${base}/v1/predict/${route}`, predictBody(x))) as PredictAnswer;
  const k = (ARM_NAMES as readonly string[]).indexOf(a.arm);
  if (k < 0) throw new Error(`route ${route} answered an arm outside the world: ${a.arm}`);
  return { ...a, k };
}

export async function drive(o: DriveOptions): Promise<Drive> {
  const started = Date.now();
  const world = new ContextualWorld(o.seed);
  const wave = o.wave ?? 32;
  const checkpoints = new Set(o.checkpoints ?? [o.horizon]);
  checkpoints.add(o.horizon);
  const points: CurvePoint[] = [];
  const decided: Decided[] = [];
  let regret = 0;
  let muSum = 0;
  let rewardSum = 0;
  for (let t = 0; t < o.horizon; ) {
    const n = Math.min(wave, o.horizon - t);
    const xs = Array.from({ length: n }, () => world.next());
    const answers = await Promise.all(xs.map((x) => predict(o.base, o.route, x)));
    const events = answers.map((a, i) => {
      const x = xs[i]!;
      const mu = meanReward(a.k, x);
      const reward = world.reward(a.k, x);
      regret += bestReward(x) - mu;
      muSum += mu;
      rewardSum += reward;
      t++;
      if (checkpoints.has(t)) points.push({ t, regret, meanReward: muSum / t });
      if (o.keep) decided.push({ decision: a.decision, arm: a.k, propensity: a.propensity, x, reward });
      return { decision: a.decision, reward };
    });
    const fb = (await post(`${o.base}/v1/feedback`, JSON.stringify({ events }))) as { accepted: number };
    if (fb.accepted !== events.length)
      throw new Error(`feedback: ${fb.accepted} of ${events.length} outcomes accepted: ${JSON.stringify(fb)}`);
  }
  return { points, decided, observedMean: rewardSum / o.horizon, ms: Date.now() - started };
}

/**
 * The true value of the route's policy as it stands: the mean μ of the arms it chooses for `n`
 * fresh contexts (predicts without feedback, so nothing it has learned changes meanwhile).
 */
export async function currentValue(base: string, route: string, n: number, seed: number, wave = 32): Promise<number> {
  const world = new ContextualWorld(seed);
  let sum = 0;
  for (let t = 0; t < n; t += wave) {
    const xs = Array.from({ length: Math.min(wave, n - t) }, () => world.next());
    const answers = await Promise.all(xs.map((x) => predict(base, route, x)));
    answers.forEach((a, i) => {
      sum += meanReward(a.k, xs[i]!);
    });
  }
  return sum / n;
}
