/**
 * A policy with some arms disabled by a guardrail (monitoring/guardrails/): those arms get weight 0,
 * and the others share what they had, rescaled to sum to 1 — so a floor the inner policy applied
 * still holds among the enabled arms (rescaling only raises them). With no arm disabled, the inner
 * policy chooses as before (one branch more per request).
 */
import { isContextual } from './contextual/contextual-policy.js';
import { drawIndex, unitPoint, type Policy } from './policy.js';
import type { Rng } from './sampling.js';

export class GuardedPolicy implements Policy {
  readonly weights: Float64Array;
  private disabled: readonly boolean[] = [];
  private anyDisabled = false;

  constructor(
    readonly inner: Policy,
    private readonly route: string,
    /** Fixed weights keep a unit's assignment sticky (the same point on the same weights). */
    private readonly sticky: boolean,
    private readonly rng: Rng = Math.random,
  ) {
    this.weights = new Float64Array(inner.weights.length);
    this.guard();
  }

  /** Which arms (in arm order) are disabled; the weights follow at once. */
  setDisabled(disabled: readonly boolean[]): void {
    // A contextual policy guards its own per-request probabilities.
    if (isContextual(this.inner)) this.inner.setDisabled(disabled);
    this.disabled = disabled;
    this.anyDisabled = disabled.some((d) => d);
    this.guard();
  }

  choose(unit: string | undefined): number {
    if (!this.anyDisabled) return this.inner.choose(unit);
    const u = this.sticky && unit !== undefined ? unitPoint(this.route, unit) : this.rng();
    return drawIndex(this.weights, u);
  }

  recompute(nowMs: number): void {
    this.inner.recompute(nowMs);
    this.guard();
  }

  drifts(): boolean {
    return this.inner.drifts();
  }

  private guard(): void {
    const w = this.inner.weights;
    const out = this.weights;
    if (!this.anyDisabled) {
      out.set(w);
      return;
    }
    let enabled = 0;
    let count = 0;
    for (let i = 0; i < w.length; i++)
      if (!this.disabled[i]) {
        enabled += w[i]!;
        count++;
      }
    for (let i = 0; i < w.length; i++) {
      if (this.disabled[i]) out[i] = 0;
      // Every enabled arm had weight 0 (fixed weights): they share equally.
      else out[i] = enabled > 0 ? w[i]! / enabled : 1 / count;
    }
  }
}
