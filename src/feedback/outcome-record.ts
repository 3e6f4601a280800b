/**
 * Where an accepted outcome becomes a line of the outcome log that off-policy evaluation reads
 * (state/outcome-log.ts), on every route: the decision's time, arm and propensity, the reward, and
 * on contextual routes the decision's context, read back from the features it kept. The verdict
 * ladder (feedback.ts) asks for it as it judges, while the store still holds the decision, and
 * hands it to the log only once the outcome is durable and counted (like training rows), so a
 * decision with several outcomes logs the one the ladder accepted.
 *
 * Embedded mode only: in Redis mode the credit script writes the outcomes stream with the count.
 */
import type { FeedbackEvent } from '../protocol/feedback.js';
import type { ContextReader } from '../routing/contextual/context.js';
import type { Route } from '../routing/router.js';
import type { LoggedOutcome, OutcomeLog } from '../state/outcome-log.js';
import type { JoinedDecision } from './decision-log.js';
import type { VersionLookup } from './training-join.js';

export class OutcomeRecorder {
  private scratch = new Float64Array(0);

  constructor(
    private readonly log: OutcomeLog,
    private readonly versions: VersionLookup,
  ) {}

  /** The log's line of an accepted `event` of decision `d` (served by `arm` on `route`). */
  outcome(route: Route, arm: string, d: JoinedDecision, event: FeedbackEvent, nowMs: number): LoggedOutcome {
    const context = route.contextReader === undefined ? undefined : this.context(route.contextReader, d);
    // One literal each way (an object spread here cost ~1 µs).
    return context === undefined
      ? { decidedMs: d.createdMs, outcomeMs: nowMs, arm, propensity: d.propensity, reward: event.reward }
      : { decidedMs: d.createdMs, outcomeMs: nowMs, arm, propensity: d.propensity, reward: event.reward, context };
  }

  /** The decision's context, read back from its kept features; undefined when it kept none. */
  private context(reader: ContextReader, d: JoinedDecision): number[] | undefined {
    // Read into one scratch vector (a typed array made per outcome costs more than the read).
    let scratch = this.scratch;
    if (scratch.length !== reader.names.length) this.scratch = scratch = new Float64Array(reader.names.length);
    try {
      reader.read(d.features, this.versions.resolve(d.model, d.version), scratch);
    } catch {
      // A decision kept before its route was contextual has no context: logged without one.
      return undefined;
    }
    const context = new Array<number>(scratch.length);
    for (let i = 0; i < scratch.length; i++) context[i] = scratch[i]!;
    return context;
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
