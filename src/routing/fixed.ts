/** Fixed weights (A/B/n). With a `unit`, the assignment is sticky: a stable hash picks the arm. */
import { drawIndex, unitPoint, type Policy } from './policy.js';
import type { RouteSpec } from './route-spec.js';

export class FixedPolicy implements Policy {
  readonly weights: Float64Array;
  private readonly route: string;

  constructor(route: string, spec: RouteSpec) {
    this.route = route;
    const raw = spec.arms.map((a) => a.weight ?? 1);
    const total = raw.reduce((a, b) => a + b, 0);
    this.weights = Float64Array.from(raw, (w) => w / total);
  }

  choose(unit: string | undefined): number {
    return drawIndex(this.weights, unit === undefined ? Math.random() : unitPoint(this.route, unit));
  }
}
