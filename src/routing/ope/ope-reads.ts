/**
 * What POST /admin/routes/{route}/ope answers: reads the route's outcome log since `since` (at most
 * OPE_ROWS_MAX outcomes, oldest first), turns it into the estimators' log (arms by name onto the
 * route's served arms; an arm no longer on the route keeps an index of its own, which every target
 * gives 0), and has a worker thread evaluate each policy asked for (ope-job.ts: evaluate.ts, one DR
 * reward model shared), so that a large log stalls no request.
 *
 * `current` is the route's policy as it stands: its weights in force (guardrails applied) on a
 * context-free route, or a contextual policy's choice probabilities on each logged context. On a
 * contextual route only outcomes logged with a context of the route's length are evaluated; the
 * others are counted in `withoutContext`.
 */
import { CroupierError } from '../../errors.js';
import { sinceMs } from '../../retrain/since.js';
import type { OutcomeLog } from '../../state/outcome-log.js';
import type { Route } from '../router.js';
import { type JobPolicy, type OpeJob, type OpeJobResult, runInWorker } from './ope-job.js';
import { type OpeRequest, parseOpeRequest, type PolicyAsked } from './ope-request.js';
import type { Estimate, EstimatorName } from './types.js';

/** Outcomes one evaluation reads at most (the oldest since `since` first); past it the answer says `rowLimitReached`. */
export const OPE_ROWS_MAX = 1_000_000;
const PAGE_ROWS = 10_000;
/** Contextual probabilities computed between two turns of the event loop. */
const SLICE_ROWS = 10_000;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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

/** A route's log as the worker takes it (ope-job.ts), before the policies are added. */
interface RouteLog {
  readonly arms: number;
  readonly arm: Int32Array;
  readonly propensity: Float64Array;
  readonly reward: Float64Array;
  readonly width: number;
  readonly context: Float64Array;
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
    private readonly runner: (job: OpeJob) => Promise<OpeJobResult> = runInWorker,
  ) {}

  /** The evaluation running (or a resolved promise): the next one starts after it. */
  private running: Promise<void> = Promise.resolve();

  /** Throws 404 route_not_found unless `name` is a route. */
  check(name: string): Route {
    const route = this.routes.get(name);
    if (route === undefined) throw new CroupierError('route_not_found', `no such route: ${name}`);
    return route;
  }

  /**
   * 404 for an unknown route, 400 for a body it cannot take (before any read), then the answer.
   * Evaluations run one at a time (each may hold a million outcomes).
   */
  async evaluate(name: string, body: unknown): Promise<OpeAnswer> {
    const route = this.check(name);
    const request = parseOpeRequest(
      body,
      route.arms.map((a) => a.name),
    );
    const fromMs = sinceMs(request.since, this.now());
    const run = this.running.then(() => this.run(name, route, request, fromMs));
    this.running = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async run(name: string, route: Route, request: OpeRequest, fromMs: number): Promise<OpeAnswer> {
    const log = await this.read(route, fromMs);
    const n = log.arm.length;
    const policies: JobPolicy[] = [];
    for (const p of request.policies) policies.push(await this.policy(p, route, log));
    const job: OpeJob = { ...log, policies, estimators: request.estimators, lambda: route.spec.lambda };
    const result = await this.runner(job);
    if ('rangeError' in result)
      throw new CroupierError('invalid_request', `the logged outcomes cannot be evaluated: ${result.rangeError}`);
    return {
      route: name,
      n,
      logged: { observedMean: n > 0 ? log.rewardSum / n : null, n },
      policies: result.evaluations.map((e, i) => {
        const policy = request.policies[i]!.name;
        return e.kind === 'estimated'
          ? { name: policy, estimates: e.estimates }
          : { name: policy, notEvaluable: e.reason };
      }),
      ...(route.contextual ? { withoutContext: log.withoutContext } : {}),
      ...(log.limitReached ? { rowLimitReached: true as const } : {}),
    };
  }

  /** The policy `p` as the worker takes it: weights by arm index, or probabilities per decision. */
  private async policy(p: PolicyAsked, route: Route, log: RouteLog): Promise<JobPolicy> {
    if (p.kind === 'fixed') return { weights: p.weights };
    const contextual = route.contextual;
    if (contextual === undefined) return { weights: Array.from(route.policy.weights) };
    // The live policy's probabilities on each logged context (here: the policy object lives on this
    // thread), in slices with the event loop served between.
    const served = route.arms.length;
    const n = log.arm.length;
    const perDecision = new Float64Array(n * served);
    for (let i = 0; i < n; i++) {
      contextual.probabilities(
        log.context.subarray(i * log.width, (i + 1) * log.width),
        perDecision.subarray(i * served, (i + 1) * served),
      );
      if (i % SLICE_ROWS === SLICE_ROWS - 1) await nextTurn();
    }
    return { perDecision, served };
  }

  /**
   * The route's outcomes since `fromMs`, flat: arms by name onto the route's served arms (an arm no
   * longer on the route gets the next free index); on a contextual route only outcomes with a
   * context of the route's width.
   */
  private async read(route: Route, fromMs: number): Promise<RouteLog> {
    const index = new Map(route.arms.map((a) => [a.name, a.index]));
    const width = route.contextual ? route.contextReader!.names.length : 0;
    const arm: number[] = [];
    const propensity: number[] = [];
    const reward: number[] = [];
    const context: number[] = [];
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
        if (width > 0 && o.context?.length !== width) {
          withoutContext++;
          continue;
        }
        let a = index.get(o.arm);
        if (a === undefined) index.set(o.arm, (a = index.size));
        arm.push(a);
        propensity.push(o.propensity);
        reward.push(o.reward);
        if (width > 0) for (const v of o.context!) context.push(v);
        rewardSum += o.reward;
      }
      if (limitReached) break;
    }
    return {
      arms: index.size,
      arm: Int32Array.from(arm),
      propensity: Float64Array.from(propensity),
      reward: Float64Array.from(reward),
      width,
      context: Float64Array.from(context),
      withoutContext,
      limitReached,
      rewardSum,
    };
  }
}
