/**
 * The decision log in embedded mode: decisions in the ring (decision-store.ts), outcomes and route
 * resets journaled in the state directory, arm statistics in this process's router. Restored from
 * the state directory when opened (recovery.ts). A decision is named by its slot: no object per
 * outcome on the feedback path.
 */
import { CroupierError } from '../../errors.js';
import type { FeedbackEvent } from '../../protocol/feedback.js';
import type { Route, Router } from '../../routing/router.js';
import { EmbeddedState } from './embedded-state.js';
import { ID_BYTES } from '../../feedback/decision-id.js';
import type {
  Committed,
  DecisionLogDeps,
  DecisionLookup,
  FeedbackStore,
  JoinedDecision,
  Served,
  VerifiedIds,
} from '../../feedback/decision-log.js';
import { DecisionStore } from './decision-store.js';
import { Outcome, RouteReset } from '../../feedback/outcome.js';
import { FeedbackState } from './recovery.js';

export class EmbeddedDecisionLog implements FeedbackStore<number>, DecisionLookup<number> {
  /** The ring: where the scoring path records decisions. */
  readonly decisions: DecisionStore;
  readonly state: EmbeddedState;
  readonly gathers = true;
  private readonly router: Router;
  /** The bytes of the ids of the turn being judged (the lookup is this object: judged at once). */
  private bytes: Buffer = Buffer.alloc(0);

  private constructor(decisions: DecisionStore, state: EmbeddedState, router: Router) {
    this.decisions = decisions;
    this.state = state;
    this.router = router;
  }

  /** Restores decisions and arm statistics from the state directory; journals from then on. */
  static async open(deps: DecisionLogDeps): Promise<EmbeddedDecisionLog> {
    const store = new DecisionStore(deps.decisionsMax, deps.ids, deps.features);
    const state = await EmbeddedState.open(deps.stateDir, new FeedbackState(deps.router, store, deps.log), deps.log);
    store.attach(state.journal);
    deps.ids.continueAfter(store.maxSeq);
    return new EmbeddedDecisionLog(store, state, deps.router);
  }

  refusal(): CroupierError | undefined {
    if (!this.state.journal.failed) return undefined;
    return new CroupierError(
      'state_unavailable',
      'the outcome journal cannot be written; outcomes are refused until the server is restarted',
    );
  }

  lookUp(_ids: readonly string[], verified: VerifiedIds): DecisionLookup<number> {
    this.bytes = verified.bytes;
    return this;
  }

  find(i: number): number | undefined {
    const slot = this.decisions.find(this.bytes, ID_BYTES * i);
    return slot < 0 ? undefined : slot;
  }

  served(slot: number): Served {
    return this.decisions.servedAt(slot);
  }

  score(slot: number): number {
    return this.decisions.scoreAt(slot);
  }

  joined(slot: number): JoinedDecision {
    return this.decisions.joinedAt(slot);
  }

  /** Never: the ring answers for every decision at once. */
  notYet(): undefined {
    return undefined;
  }

  settle(slot: number, event: FeedbackEvent, route: Route | undefined, nowMs: number): boolean {
    const store = this.decisions;
    if (store.settledAt(slot)) return false;
    store.settleAt(slot, event.reward);
    if (route) {
      const s = store.servedAt(slot);
      const index = route.armIndex(s.arm);
      if (index >= 0) {
        // A contextual route credits the arm's regression with the context the decision kept.
        const context = route.contextual && store.contextAt(slot);
        this.router.credit(route, index, s.versionKey, event.reward, nowMs, context);
      }
    }
    this.state.journal.append(new Outcome(event.decision, event.reward, event.label, nowMs));
    return true;
  }

  commit(then: Committed): void {
    this.state.journal.commit().then(
      () => then.committed(),
      (e: unknown) => {
        then.failed(new CroupierError('state_unavailable', 'the outcome journal cannot be written', { cause: e }));
      },
    );
  }

  get pending(): number {
    return this.decisions.pending;
  }

  get evicted(): number {
    return this.decisions.evicted;
  }

  /** Features kept with decisions, and contextual routes' contexts (their ring). */
  get featuresBytes(): number {
    return this.decisions.features.bytes + this.decisions.contexts.bytes;
  }

  /** A context the ring had no room for counts as features over the budget. */
  featuresDropped(): { readonly droppedTooLarge: number; readonly droppedOverBudget: number } {
    const { features, contexts } = this.decisions;
    return {
      droppedTooLarge: features.droppedTooLarge,
      droppedOverBudget: features.droppedOverBudget + contexts.dropped,
    };
  }

  routeReset(route: string): void {
    this.state.journal.append(new RouteReset(route, Date.now()));
  }

  start(): void {}

  /** Makes everything journaled so far durable. */
  close(): Promise<void> {
    return this.state.close();
  }
}
