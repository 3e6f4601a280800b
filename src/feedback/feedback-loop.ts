/**
 * The feedback loop, in either mode: the store (embedded-log.ts, or Redis mode's) restored what it
 * holds (the gateway records decisions in it: server.ts hands it the store's sink); this judges
 * outcomes against it (feedback.ts), recomputes weights on a timer, and exposes the feedback
 * endpoint and what the learning gauges read. server.ts opens the store, starts this and subscribes
 * the metrics to it; it owns no socket.
 */
import { feedbackEndpoint } from '../http/feedback-endpoint.js';
import type { ArmReading, LearningSource } from '../metrics/metrics.js';
import type { Router } from '../routing/router.js';
import type { DecisionIds } from './decision-id.js';
import type { FeedbackStore } from './decision-log.js';
import { Feedback, type FeedbackObserver, type OutcomeMonitor } from './feedback.js';
import type { OutcomeRecorder } from './outcome-record.js';
import type { TrainingJoin } from './training-join.js';

export interface FeedbackLoopDeps {
  readonly bodyLimit: number;
  readonly router: Router;
  readonly ids: DecisionIds;
  /** Counts each verdict (croupier_feedback_total). */
  readonly metrics: FeedbackObserver;
  /** Told each accepted outcome (the monitoring windows). */
  readonly monitor?: OutcomeMonitor;
  /** Routes with logFeatures: where accepted outcomes become training rows. */
  readonly training?: TrainingJoin;
  /** Embedded mode: where accepted outcomes become the outcome log's lines (off-policy evaluation). */
  readonly outcomes?: OutcomeRecorder;
  isAccepting(): boolean;
}

export class FeedbackLoop<S extends FeedbackStore = FeedbackStore> {
  readonly store: S;
  readonly feedback: Feedback;
  /** The POST /v1/feedback handler the route table registers (http/routes.ts). */
  readonly endpoint: ReturnType<typeof feedbackEndpoint>;
  /** What the learning gauges read at scrape time (server.ts subscribes the metrics to it). */
  readonly learning: LearningSource;
  private readonly router: Router;
  private training: TrainingJoin | undefined;
  private outcomes: OutcomeRecorder | undefined;

  private constructor(store: S, feedback: Feedback, router: Router, endpoint: ReturnType<typeof feedbackEndpoint>) {
    this.store = store;
    this.feedback = feedback;
    this.router = router;
    this.endpoint = endpoint;
    this.learning = {
      decisionsPending: () => store.pending,
      decisionsEvicted: () => store.evicted,
      featuresBytes: () => store.featuresBytes,
      featuresDropped: () => store.featuresDropped(),
      arms: () => armReadings(router),
    };
  }

  /** Runs the loop on `store` (opened: what it restored is in the router's statistics). */
  static start<S extends FeedbackStore>(deps: FeedbackLoopDeps, store: S): FeedbackLoop<S> {
    const { router, metrics } = deps;
    router.observers.push({ routeReset: (route) => store.routeReset(route) });
    const feedback = new Feedback(deps.ids, store, router, metrics, deps.monitor, deps.training, deps.outcomes);
    router.recomputeAll();
    router.start();
    store.start();
    const loop = new FeedbackLoop(
      store,
      feedback,
      router,
      feedbackEndpoint(feedback, deps.bodyLimit, deps.isAccepting),
    );
    loop.training = deps.training;
    loop.outcomes = deps.outcomes;
    return loop;
  }

  /**
   * Stops the timers and makes what is pending durable: the journal (embedded), or the decisions
   * still held for Redis, until `deadlineMs` (the drain's deadline).
   */
  async close(deadlineMs = 0): Promise<void> {
    this.router.stop();
    await this.store.close(deadlineMs);
    // After the store: the outcomes it committed last may have rows to write.
    await this.training?.close();
    await this.outcomes?.close();
  }
}

function armReadings(router: Router): ArmReading[] {
  const out: ArmReading[] = [];
  for (const route of router.routes.values()) {
    for (const arm of route.arms) {
      const s = route.stats[arm.index]!;
      const probability = route.policy.weights[arm.index]!;
      out.push({ route: route.name, arm: arm.name, pulls: s.pulls, rewards: s.rewardTotal, probability });
    }
  }
  return out;
}
