/** The contextual policies by name (issue 19: built on branch h/ctxpolicy; this placeholder refuses until then). */
import type { ArmStats } from '../arm-stats.js';
import type { RouteSpec } from '../route-spec.js';
import type { Rng } from '../sampling.js';
import type { ContextualPolicy } from './contextual-policy.js';

export function createContextualPolicy(
  spec: RouteSpec,
  _stats: readonly ArmStats[],
  _rng: Rng,
  _draws?: number,
): ContextualPolicy {
  throw new Error(`policy ${spec.policy} is not built yet`);
}
