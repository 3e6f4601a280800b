/**
 * The feedback loop in Redis mode, in place of the embedded one: decisions, arm statistics and
 * outcomes live in Redis (nothing shared is kept in the state directory). Exposes the same
 * feedback endpoint and learning gauges as embedded mode.
 */
import { armReadings, type FeedbackLoopDeps } from '../feedback/feedback-loop.js';
import { DEFAULT_FEATURE_LIMITS } from '../feedback/logged-features.js';
import { feedbackEndpoint } from '../http/feedback-endpoint.js';
import type { Router } from '../routing/router.js';
import type { RedisLink } from './connection.js';
import { RedisDecisions } from './decisions.js';
import { heldJournal, takeHeld } from './held-journal.js';
import { RedisFeedback } from './outcomes.js';
import { SharedStats } from './stats.js';

const DEFAULT_WINDOW_S = 86_400;

/** What the embedded loop needs, and a Redis link (the state directory keeps only decisions journaled at shutdown). */
export interface SharedFeedbackDeps extends Omit<FeedbackLoopDeps, 'state'> {
  readonly link: RedisLink;
}

/** The least a shutdown waits for held decisions, even when the drain used up its own time. */
const CLOSE_MIN_MS = 2_000;

export class SharedFeedbackLoop {
  private constructor(
    readonly decisions: RedisDecisions,
    readonly feedback: RedisFeedback,
    readonly stats: SharedStats,
    private readonly router: Router,
    readonly endpoint: ReturnType<typeof feedbackEndpoint>,
    private readonly journal: string,
  ) {}

  static async start(deps: SharedFeedbackDeps): Promise<SharedFeedbackLoop> {
    const { link, router, metrics, log } = deps;
    const windowMs = (route: string): number => (router.get(route)?.spec.feedbackWindow ?? DEFAULT_WINDOW_S) * 1000;
    const decisions = new RedisDecisions(link, log, deps.decisionsMax, windowMs, (deps.features ?? DEFAULT_FEATURE_LIMITS).maxBytes);
    const journal = heldJournal(deps.stateDir);
    decisions.restore(takeHeld(journal));
    const feedback = new RedisFeedback(link, deps.ids, decisions, router, metrics);
    const stats = new SharedStats(link, router, deps.gateway.registry, log);
    feedback.onCredited = () => void stats.refresh();
    stats.onHealth = (ok, sinceMs) => feedback.health(ok, sinceMs);
    router.observers.push({
      routeReset: (route) => {
        stats.reset(route).catch((err: unknown) => log.error({ route, err: (err as Error).message }, 'redis: route statistics reset not written'));
      },
    });
    deps.gateway.decisions = decisions;
    metrics.learning = {
      decisionsPending: () => decisions.pending,
      decisionsEvicted: () => decisions.evicted,
      arms: () => armReadings(router),
      // Over the per-decision cap only: features in Redis are bounded in total by the decisions' TTL.
      featuresDropped: () => ({ droppedTooLarge: decisions.featuresTooLarge, droppedOverBudget: 0 }),
    };
    await stats.refresh();
    router.recomputeAll();
    router.start();
    stats.start();
    return new SharedFeedbackLoop(decisions, feedback, stats, router, feedbackEndpoint(feedback, deps.bodyLimit, deps.isAccepting), journal);
  }

  /**
   * Stops the timers and writes what waits for Redis, until `deadlineMs` (the drain's deadline; at
   * least CLOSE_MIN_MS from now); what is still held then is journaled in the state directory.
   */
  async close(deadlineMs = 0): Promise<void> {
    this.stats.stop();
    this.router.stop();
    await this.decisions.close(Math.max(deadlineMs, Date.now() + CLOSE_MIN_MS), this.journal);
  }
}
