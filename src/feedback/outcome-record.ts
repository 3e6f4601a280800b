/**
 * Where an accepted outcome becomes a line of the outcome log that off-policy evaluation reads
 * (state/outcome-log.ts), on every route: the decision's time, arm and propensity, the reward, and
 * on contextual routes the context the decision kept. The verdict
 * ladder (feedback.ts) asks for it as it judges, while the store still holds the decision, and
 * hands it to the log only once the outcome is durable and counted (like training rows), so a
 * decision with several outcomes logs the one the ladder accepted.
 *
 * Embedded mode only: in Redis mode the credit script writes the outcomes stream with the count.
 */
import type { FeedbackEvent } from '../protocol/feedback.js';
import type { Route } from '../routing/router.js';
import type { LoggedOutcome, OutcomeLog } from '../state/outcome-log.js';
import type { JoinedDecision } from './decision-log.js';

export class OutcomeRecorder {
  constructor(private readonly log: OutcomeLog) {}

  /** The log's line of an accepted `event` of decision `d` (served by `arm` on `route`). */
  outcome(route: Route, arm: string, d: JoinedDecision, event: FeedbackEvent, nowMs: number): LoggedOutcome {
    // A decision kept before its route was contextual (or with another context) has none that fits.
    const x = route.contextual && d.context;
    const context = x && x.length === route.contextual.context.length ? Array.from(x) : undefined;
    // One literal each way (an object spread here cost ~1 µs).
    return context === undefined
      ? { decidedMs: d.createdMs, outcomeMs: nowMs, arm, propensity: d.propensity, reward: event.reward }
      : { decidedMs: d.createdMs, outcomeMs: nowMs, arm, propensity: d.propensity, reward: event.reward, context };
  }

  /** The outcome is durable and counted: log it. */
  kept(route: string, outcome: LoggedOutcome): void {
    this.log.append(route, outcome);
  }

  /** Writes what is still waiting (at shutdown). */
  close(): Promise<void> {
    return this.log.close();
  }
}
