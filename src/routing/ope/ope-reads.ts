/**
 * What POST /admin/routes/{route}/ope answers: reads the route's outcome log since `since` (at most
 * OPE_ROWS_MAX outcomes, oldest first), turns it into the estimators' log (arms by name onto the
 * route's served arms; an arm no longer on the route keeps an index of its own, which every target
 * gives 0), and evaluates each policy asked for with evaluate.ts, sharing one DR reward model.
 *
 * `current` is the route's policy as it stands: its weights in force (guardrails applied) on a
 * context-free route, or a contextual policy's choice probabilities on each logged context. On a
 * contextual route only outcomes logged with a context of the route's length are evaluated; the
 * others are counted in `withoutContext`.
 */
import { CroupierError } from '../../errors.js';
import { sinceMs } from '../../retrain/since.js';
import type { LoggedOutcome, OutcomeLog } from '../../state/outcome-log.js';
import type { Route } from '../router.js';
import { evaluate, rewardModel } from './evaluate.js';
import { parseOpeRequest, type PolicyAsked } from './ope-request.js';
import {
  type Estimate,
  type EstimatorName,
  fixedPolicy,
  type LoggedDecision,
  perDecisionPolicy,
  type RewardPredictions,
  type TargetPolicy,
} from './types.js';

/** Outcomes one evaluation reads at most (the oldest since `since` first); past it the answer says `rowLimitReached`. */
export const OPE_ROWS_MAX = 1_000_000;
const PAGE_ROWS = 10_000;

export interface OpePolicyAnswer {
  readonly name: string;
  readonly estimates?: Readonly<Partial<Record<EstimatorName, Estimate>>>;
  readonly notEvaluable?: string;
}

export interface OpeAnswer {
  readonly route: string;
  readonly n: number;
  readonly logged: { readonly observedMean: number | null; readonly n: number };
  readonly policies: readonly OpePolicyAnswer[];
  /** Contextual routes: outcomes left out because they were logged without a context. */
  readonly withoutContext?: number;
  /** Present (true) when OPE_ROWS_MAX outcomes were read and the newer ones left out. */
  readonly rowLimitReached?: true;
}

/** The routes as OPE sees them (the router). */
export interface OpeRoutes {
  get(route: string): Route | undefined;
}

/** The estimators' log of a route, with the arm names it holds (the route's served arms first). */
interface RouteLog {
  readonly decisions: LoggedDecision[];
  readonly arms: number;
  readonly withoutContext: number;
  readonly limitReached: boolean;
  readonly rewardSum: number;
}

export class OpeReads {
  constructor(
    private readonly log: OutcomeLog,
    private readonly routes: OpeRoutes,
    private readonly now: () => number = Date.now,
    private readonly maxRows = OPE_ROWS_MAX,
  ) {}

  /** Throws 404 route_not_found unless `name` is a route. */
  check(name: string): Route {
    const route = this.routes.get(name);
    if (route === undefined) throw new CroupierError('route_not_found', `no such route: ${name}`);
    return route;
  }

  /** 404 for an unknown route, 400 for a body it cannot take (before any read), then the answer. */
  async evaluate(name: string, body: unknown): Promise<OpeAnswer> {
    const route = this.check(name);
    const request = parseOpeRequest(
      body,
      route.arms.map((a) => a.name),
    );
    const fromMs = sinceMs(request.since, this.now());
    const log = await this.read(route, fromMs);
    const { decisions } = log;
    const n = decisions.length;
    const options = { arms: log.arms, estimators: request.estimators, lambda: route.spec.lambda };
    let predicted: RewardPredictions | undefined;
    const policies: OpePolicyAnswer[] = [];
    try {
      for (const p of request.policies) {
        const target = this.target(p, route, log);
        // One reward model for every policy (cross-fitted on the log, not on the target).
        if (predicted === undefined && request.estimators.includes('dr') && n > 0)
          predicted = rewardModel(decisions, log.arms, route.spec.lambda);
        const e = evaluate(decisions, target, options, predicted);
        policies.push(
          e.kind === 'estimated' ? { name: p.name, estimates: e.estimates } : { name: p.name, notEvaluable: e.reason },
        );
      }
    } catch (e) {
      if (e instanceof RangeError)
        throw new CroupierError('invalid_request', `the logged outcomes cannot be evaluated: ${e.message}`);
      throw e;
    }
    return {
      route: name,
      n,
      logged: { observedMean: n > 0 ? log.rewardSum / n : null, n },
      policies,
      ...(route.contextual ? { withoutContext: log.withoutContext } : {}),
      ...(log.limitReached ? { rowLimitReached: true as const } : {}),
    };
  }

  /** The policy `p` as the estimators take it: probabilities over every arm index of the log. */
  private target(p: PolicyAsked, route: Route, log: RouteLog): TargetPolicy {
    if (p.kind === 'fixed') return fixedPolicy(p.weights);
    const contextual = route.contextual;
    if (contextual === undefined) return fixedPolicy(Array.from(route.policy.weights));
    const served = route.arms.length;
    const rows = log.decisions.map((d) => {
      const out = new Float64Array(served);
      contextual.probabilities(d.context!, out);
      return out;
    });
    return perDecisionPolicy(rows);
  }

  private async read(route: Route, fromMs: number): Promise<RouteLog> {
    const index = new Map(route.arms.map((a) => [a.name, a.index]));
    const width = route.contextual ? route.contextReader!.names.length : -1;
    const decisions: LoggedDecision[] = [];
    let withoutContext = 0;
    let rewardSum = 0;
    let seen = 0;
    let limitReached = false;
    for await (const page of this.log.read(route.name, fromMs, PAGE_ROWS)) {
      for (const o of page) {
        if (o.decidedMs < fromMs) continue;
        if (seen++ >= this.maxRows) {
          limitReached = true;
          break;
        }
        const d = this.decision(o, index, width);
        if (d === undefined) withoutContext++;
        else {
          decisions.push(d);
          rewardSum += d.reward;
        }
      }
      if (limitReached) break;
    }
    return { decisions, arms: index.size, withoutContext, limitReached, rewardSum };
  }

  /**
   * An outcome as the estimators take it; undefined on a contextual route when it has no context
   * of the route's width. An arm no longer on the route gets the next free index.
   */
  private decision(o: LoggedOutcome, index: Map<string, number>, width: number): LoggedDecision | undefined {
    let arm = index.get(o.arm);
    if (arm === undefined) index.set(o.arm, (arm = index.size));
    if (width < 0) return { arm, propensity: o.propensity, reward: o.reward };
    if (o.context?.length !== width) return undefined;
    return { arm, propensity: o.propensity, reward: o.reward, context: Float64Array.from(o.context) };
  }
}
