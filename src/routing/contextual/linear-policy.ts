/**
 * What `linucb` and `linear-thompson` share: the per-arm ridge fits, the disabled arms, and turning
 * a subclass's greedy share for a context into probabilities — `floor + (1 − k·floor) × share`
 * among the k enabled arms, 0 for the disabled — from which `chooseFor` draws the request's arm. A
 * subclass only says how an arm's share follows from its fitted mean and width (`allocate`).
 *
 * Per request nothing is allocated: the means, widths and shares live in the instance.
 */
import type { ArmStats } from '../arm-stats.js';
import type { RouteSpec } from '../route-spec.js';
import type { Rng } from '../sampling.js';
import type { ContextualPolicy } from './contextual-policy.js';
import { RidgeFits } from './ridge-fit.js';

export abstract class LinearPolicy implements ContextualPolicy {
  readonly contextual = true;
  readonly context: readonly string[];
  readonly weights: Float64Array;
  protected readonly fits: RidgeFits;
  protected readonly rng: Rng;
  /** 1 for an arm a guardrail left enabled. */
  protected readonly enabled: Uint8Array;
  protected enabledCount: number;
  /** Per-request scratch: θᵀx, sqrt(xᵀA⁻¹x) and the greedy share, per arm. */
  protected readonly means: Float64Array;
  protected readonly widths: Float64Array;
  protected readonly share: Float64Array;
  private readonly stats: readonly ArmStats[];
  private readonly lambda: number;
  private readonly floor: number;

  constructor(spec: RouteSpec, stats: readonly ArmStats[], rng: Rng) {
    if (!spec.context || spec.context.length === 0) throw new RangeError(`${spec.policy} needs context features`);
    const k = stats.length;
    this.context = spec.context;
    this.stats = stats;
    this.rng = rng;
    this.lambda = spec.lambda ?? 1;
    this.floor = spec.floor;
    this.weights = new Float64Array(k).fill(1 / k);
    this.enabled = new Uint8Array(k).fill(1);
    this.enabledCount = k;
    this.means = new Float64Array(k);
    this.widths = new Float64Array(k);
    this.share = new Float64Array(k);
    this.fits = new RidgeFits(k, spec.context.length);
    this.fits.refit(stats, this.lambda);
  }

  /** Refits every arm from its statistics; requests in between score with the fits in force. */
  recompute(_nowMs: number): void {
    this.fits.refit(this.stats, this.lambda);
  }

  /** The fits change with outcomes only (no discounting, no burn-in). */
  drifts(): boolean {
    return false;
  }

  probabilities(x: Float64Array, out: Float64Array): void {
    if (x.length < this.fits.features)
      throw new RangeError(`context has ${x.length} values, the route reads ${this.fits.features}`);
    const k = this.weights.length;
    this.fits.score(x, this.means, this.widths);
    if (this.enabledCount === 1 || !this.finite()) this.equalShare();
    else this.allocate(this.share);
    const floor = this.floor;
    const rest = 1 - this.enabledCount * floor;
    for (let i = 0; i < k; i++) out[i] = this.enabled[i] ? floor + rest * this.share[i]! : 0;
  }

  chooseFor(x: Float64Array): number {
    this.probabilities(x, this.weights);
    return this.draw();
  }

  /** Context-free (the router does not call it on contextual routes): draws from the latest weights. */
  choose(): number {
    return this.draw();
  }

  setDisabled(disabled: readonly boolean[]): void {
    const k = this.weights.length;
    let count = 0;
    for (let i = 0; i < k; i++) if (!disabled[i]) count++;
    // Every arm disabled: none is (as GuardedPolicy does), rather than a route that cannot answer.
    for (let i = 0; i < k; i++) this.enabled[i] = count === 0 || !disabled[i] ? 1 : 0;
    this.enabledCount = count === 0 ? k : count;
    // The weights in force follow at once, so that `choose` never draws a disabled arm.
    let sum = 0;
    for (let i = 0; i < k; i++) sum += this.enabled[i] ? this.weights[i]! : 0;
    for (let i = 0; i < k; i++)
      this.weights[i] = !this.enabled[i] ? 0 : sum > 0 ? this.weights[i]! / sum : 1 / this.enabledCount;
  }

  /** Arms whose last refit failed (overflowed statistics) and which score with an older fit. */
  staleFits(): number {
    return this.fits.stale;
  }

  /** Fills `out` with each enabled arm's greedy share (summing to 1 over them; 0 for disabled arms). */
  protected abstract allocate(out: Float64Array): void;

  /** An equal share among the enabled arms. */
  protected equalShare(): void {
    const s = 1 / this.enabledCount;
    for (let i = 0; i < this.share.length; i++) this.share[i] = this.enabled[i] ? s : 0;
  }

  /**
   * Whether every enabled arm's mean and width are finite numbers. A context so far beyond what the
   * arms have seen that its products overflow says nothing about which arm is best: equal share.
   */
  private finite(): boolean {
    for (let i = 0; i < this.means.length; i++)
      if (this.enabled[i] && !(Number.isFinite(this.means[i]!) && Number.isFinite(this.widths[i]!))) return false;
    return true;
  }

  /** Draws an arm from `weights`; rounding can never hand the draw to a disabled (weight 0) arm. */
  private draw(): number {
    const w = this.weights;
    const u = this.rng();
    let acc = 0;
    let last = 0;
    for (let i = 0; i < w.length; i++) {
      if (w[i]! <= 0) continue;
      acc += w[i]!;
      last = i;
      if (u < acc) return i;
    }
    return last;
  }
}
