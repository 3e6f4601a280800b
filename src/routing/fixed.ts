/** Fixed weights (A/B/n). With a `unit`, the assignment is sticky: a stable hash picks the arm. */
import { drawIndex, unitPoint, type Policy } from './policy.js';
import type { RouteSpec } from './route-spec.js';
import type { Rng } from './sampling.js';

export class FixedPolicy implements Policy {
  readonly weights: Float64Array;
  private readonly route: string;
  private readonly rng: Rng;

  constructor(route: string, spec: RouteSpec, rng: Rng = Math.random) {
    this.route = route;
    this.rng = rng;
    const raw = spec.arms.map((a) => a.weight ?? 1);
    const total = raw.reduce((a, b) => a + b, 0);
    this.weights = Float64Array.from(raw, (w) => w / total);
  }

  choose(unit: string | undefined): number {
    return drawIndex(this.weights, unit === undefined ? this.rng() : unitPoint(this.route, unit));
  }

  /** Fixed weights do not learn. */
  recompute(): void {}

  drifts(): boolean {
    return false;
  }
}
