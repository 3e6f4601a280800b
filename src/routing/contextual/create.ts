/**
 * The contextual policies by name. `draws` is linear-thompson's D, the joint posterior draws per
 * request (the router passes its `draws` option, else `defaultContextDraws`); linucb needs none.
 */
import type { ArmStats } from '../arm-stats.js';
import type { RouteSpec } from '../route-spec.js';
import type { Rng } from '../sampling.js';
import type { ContextualPolicy } from './contextual-policy.js';
import { LinearThompsonPolicy } from './linear-thompson.js';
import { LinUcbPolicy } from './linucb.js';

export function createContextualPolicy(
  spec: RouteSpec,
  stats: readonly ArmStats[],
  rng: Rng,
  draws?: number,
): ContextualPolicy {
  const features = spec.context?.length;
  if (features === undefined) throw new RangeError(`policy ${spec.policy} needs context features`);
  for (const s of stats) if (s.linear?.features !== features) s.useContext(features);
  switch (spec.policy) {
    case 'linucb':
      return new LinUcbPolicy(spec, stats, rng);
    case 'linear-thompson':
      return new LinearThompsonPolicy(spec, stats, rng, draws);
    default:
      throw new RangeError(`policy ${spec.policy} is not contextual`);
  }
}
