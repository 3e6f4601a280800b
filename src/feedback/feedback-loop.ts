/**
 * Starts the feedback loop (embedded mode): restores decisions and arm statistics from the state
 * directory, journals new decisions and outcomes, recomputes weights on a timer, and exposes the
 * feedback endpoint and the learning gauges. server.ts calls this; it owns no socket.
 */
import type { Gateway } from '../gateway.js';
import { feedbackEndpoint } from '../http/feedback-endpoint.js';
import type { Logger } from '../log.js';
import type { ArmReading, Metrics } from '../metrics/metrics.js';
import type { Router } from '../routing/router.js';
import { EmbeddedState, type EmbeddedStateOptions } from '../state/embedded-state.js';
import type { DecisionIds } from './decision-id.js';
import { DecisionStore } from './decision-store.js';
import { Feedback } from './feedback.js';
import type { FeatureLimits } from './logged-features.js';
import { RouteReset } from './outcome.js';
import { FeedbackState } from './recovery.js';

export interface FeedbackLoopDeps {
  readonly stateDir: string;
  readonly decisionsMax: number;
  readonly bodyLimit: number;
  readonly gateway: Gateway;
  readonly router: Router;
  readonly ids: DecisionIds;
  readonly metrics: Metrics;
  readonly log: Logger;
  isAccepting(): boolean;
  readonly state?: EmbeddedStateOptions;
  /** Bounds on the features kept with decisions (routes with logFeatures). */
  readonly features?: FeatureLimits;
}

export class FeedbackLoop {
  readonly store: DecisionStore;
  readonly feedback: Feedback;
  readonly state: EmbeddedState;
  /** For `registerDataPlane`'s extensions. */
  readonly endpoint: ReturnType<typeof feedbackEndpoint>;
  private readonly router: Router;

  private constructor(store: DecisionStore, feedback: Feedback, state: EmbeddedState, router: Router, endpoint: ReturnType<typeof feedbackEndpoint>) {
    this.store = store;
    this.feedback = feedback;
    this.state = state;
    this.router = router;
    this.endpoint = endpoint;
  }

  static async start(deps: FeedbackLoopDeps): Promise<FeedbackLoop> {
    const { router, metrics } = deps;
    const store = new DecisionStore(deps.decisionsMax, deps.ids, deps.features);
    const state = await EmbeddedState.open(deps.stateDir, new FeedbackState(router, store, deps.log), deps.log, deps.state);
    store.attach(state.journal);
    deps.ids.continueAfter(store.maxSeq);
    router.observers.push({ routeReset: (route) => state.journal.append(new RouteReset(route, Date.now())) });
    const feedback = new Feedback(deps.ids, store, router, state.journal, metrics);
    deps.gateway.decisions = store;
    metrics.learning = {
      decisionsPending: () => store.pending,
      decisionsEvicted: () => store.evicted,
      featuresBytes: () => store.features.bytes,
      featuresDropped: () => store.features,
      arms: () => armReadings(router),
    };
    router.recomputeAll();
    router.start();
    return new FeedbackLoop(store, feedback, state, router, feedbackEndpoint(feedback, deps.bodyLimit, deps.isAccepting));
  }

  /** Stops the timers and makes everything journaled so far durable. */
  async close(): Promise<void> {
    this.router.stop();
    await this.state.close();
  }
}

export function armReadings(router: Router): ArmReading[] {
  const out: ArmReading[] = [];
  for (const route of router.routes.values()) {
    for (const arm of route.arms) {
      const s = route.stats[arm.index]!;
      out.push({ route: route.name, arm: arm.name, pulls: s.pulls, rewards: s.rewardTotal, probability: route.policy.weights[arm.index]! });
    }
  }
  return out;
}
