/**
 * What the learning policies share: statistics per arm, burn-in, the exploration floor and
 * discounting. A subclass only says how to split traffic given the statistics (`allocate`).
 */
import type { ArmStats } from './arm-stats.js';
import { drawIndex, type Policy } from './policy.js';
import type { RouteSpec } from './route-spec.js';
import type { Rng } from './sampling.js';

export abstract class BanditPolicy implements Policy {
  readonly weights: Float64Array;
  protected readonly spec: RouteSpec;
  protected readonly stats: readonly ArmStats[];
  protected readonly rng: Rng;
  protected readonly halfLifeMs: number;
  private readonly share: Float64Array;
  /** Whether the last recompute found the route in burn-in. */
  private burning = true;

  constructor(spec: RouteSpec, stats: readonly ArmStats[], rng: Rng) {
    this.spec = spec;
    this.stats = stats;
    this.rng = rng;
    this.halfLifeMs = spec.halfLifeSeconds === undefined ? 0 : spec.halfLifeSeconds * 1000;
    this.weights = new Float64Array(stats.length).fill(1 / stats.length);
    this.share = new Float64Array(stats.length);
  }

  /** Bandits are not sticky by unit: each request draws afresh, so its propensity is the weight. */
  choose(): number {
    return drawIndex(this.weights, this.rng());
  }

  recompute(nowMs: number): void {
    const k = this.stats.length;
    if (this.halfLifeMs > 0) for (const s of this.stats) s.decay(nowMs, this.halfLifeMs);
    this.burning = this.inBurnIn();
    if (this.burning) {
      this.weights.fill(1 / k);
      return;
    }
    this.allocate(this.share);
    // The floor is applied after the policy's own split, scaling the rest so the sum stays 1.
    const floor = this.floor();
    const rest = 1 - k * floor;
    for (let i = 0; i < k; i++) this.weights[i] = floor + rest * this.share[i]!;
  }

  drifts(): boolean {
    return this.halfLifeMs > 0 || this.burning;
  }

  private inBurnIn(): boolean {
    const burnIn = this.spec.burnIn;
    if (burnIn <= 0) return false;
    for (const s of this.stats) if (s.pulls < burnIn) return true;
    return false;
  }

  /** Least selection probability of any arm. */
  protected floor(): number {
    return this.spec.floor;
  }

  /** Fills `out` with each arm's share of traffic (summing to 1), from the statistics. */
  protected abstract allocate(out: Float64Array): void;
}

/** Splits `out` equally among the arms whose score is highest. */
export function argmaxShare(scores: Float64Array, out: Float64Array): void {
  let best = -Infinity;
  let ties = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (s > best) {
      best = s;
      ties = 1;
    } else if (s === best) ties++;
  }
  for (let i = 0; i < scores.length; i++) out[i] = scores[i] === best ? 1 / ties : 0;
}
