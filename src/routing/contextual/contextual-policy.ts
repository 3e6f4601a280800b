/**
 * The contextual policies (`linucb`, `linear-thompson`): the best arm depends on the request. Each
 * arm keeps a ridge regression of reward on the route's context vector (`LinearStats`, held by
 * the arm's `ArmStats.linear`), and a request's arm is drawn from probabilities computed on its own
 * context, so its propensity is exact for the draw that was made.
 *
 * A contextual policy is still a `Policy` (the router recomputes it after outcomes, and guardrails
 * disable arms through it); `weights` holds the probabilities of the latest `chooseFor` (uniform
 * before the first), so the router reads a decision's propensity as `weights[arm]` for both kinds.
 */
import type { Policy } from '../policy.js';

export interface ContextualPolicy extends Policy {
  readonly contextual: true;
  /** The context's feature names, in vector order (the route's `context`); the intercept is implied. */
  readonly context: readonly string[];
  /**
   * Fills `out` (one entry per arm) with each arm's probability of being chosen for context `x`:
   * the floor applied among enabled arms, disabled arms 0, summing to 1. For `linear-thompson` an
   * estimate from a fixed number of posterior draws (so two calls may differ slightly).
   */
  probabilities(x: Float64Array, out: Float64Array): void;
  /** Chooses an arm for context `x`, drawn from `probabilities(x)`, which it leaves in `weights`. */
  chooseFor(x: Float64Array): number;
  /** Which arms (in arm order) a guardrail disabled: they get probability 0. */
  setDisabled(disabled: readonly boolean[]): void;
}

export function isContextual(p: Policy): p is ContextualPolicy {
  return (p as Partial<ContextualPolicy>).contextual === true;
}
