/**
 * The port between the feedback core and where decisions are kept: embedded (the ring, journaled
 * in the state directory) or Redis (shared by replicas). The scoring path records decisions through
 * a `DecisionSink`; the feedback core (feedback.ts) judges outcomes against a `DecisionLog` — one
 * verdict ladder, whatever the store. A store fills in the hooks; it judges nothing itself.
 */
import type { CroupierError } from '../errors.js';
import type { Logger } from '../log.js';
import type { FeedbackEvent } from '../protocol/feedback.js';
import type { ArmChoice, Route, Router } from '../routing/router.js';
import type { DecisionIds } from './decision-id.js';
import type { FeatureLimits } from './logged-features.js';

/** A scored job whose answer waits for its decision to be recorded. */
export interface DecidedJob {
  /** Sends the answer; called exactly once. */
  answer(): void;
}

/**
 * Receives every decision made (the feedback loop joins outcomes to these), then has the job send
 * its answer: at once (embedded), or once the decision is written to shared state (Redis mode).
 */
export interface DecisionSink {
  /**
   * `features` are given only for routes that log them (the gateway drops the others at once);
   * `score` is the monitored score of the first row (NaN: the version has no `monitor`).
   */
  decided(
    id: string,
    createdMs: number,
    pick: ArmChoice,
    rows: number,
    features: unknown,
    job: DecidedJob,
    score?: number,
  ): void;
}

/** What served a decision, as the verdict ladder reads it. */
export interface Served {
  readonly route: string;
  readonly arm: string;
  /** `model@version`, the key arm statistics are held under. */
  readonly versionKey: string;
}

/** A decision as a training row reads it (feedback/training-join.ts). */
export interface JoinedDecision {
  readonly createdMs: number;
  readonly model: string;
  readonly version: string;
  readonly propensity: number;
  /** The features kept with it, as the request sent them (undefined: none kept). */
  readonly features: unknown;
  /** A contextual route's context vector kept with it (undefined: none). */
  readonly context?: Float64Array;
}

/** Decision ids as `DecisionIds.verifyAll` decoded them: creation times (undefined: not genuine) and bytes. */
export interface VerifiedIds {
  readonly createdMs: readonly (number | undefined)[];
  readonly bytes: Buffer;
}

/** The decisions of the ids judged together, looked up: `D` is how the store names a decision it holds. */
export interface DecisionLookup<D> {
  /** The decision of the `i`th id, if held. */
  find(i: number): D | undefined;
  served(d: D): Served;
  /** The monitored score kept with the decision; NaN when none was. */
  score(d: D): number;
  /**
   * What a training row and the outcome log take from the decision (asked on routes with
   * `logFeatures`, and in embedded mode on every route: feedback/outcome-record.ts).
   */
  joined(d: D): JoinedDecision;
  /**
   * Why the decision of the `i`th id (genuine, within every window) cannot be judged yet, or
   * undefined. Asked only of a lookup that had to wait (Redis mode: a decision still held by this
   * replica, or young and not written yet by another), before any event of its request is judged.
   */
  notYet(i: number, createdMs: number, nowMs: number): CroupierError | undefined;
}

export interface DecisionLog<D = unknown> {
  /** Where the scoring path records decisions. */
  readonly decisions: DecisionSink;
  /**
   * Whether the core gathers the requests of a turn into one judgement (embedded: one cipher call,
   * one journal fsync for them all), or judges each as it arrives (Redis: its round trips overlap
   * other requests' rather than wait for the turn's).
   */
  readonly gathers: boolean;
  /** Why no outcome can be taken now (nothing is judged): the journal failed, Redis is unreachable. */
  refusal(): CroupierError | undefined;
  /**
   * Looks up the decisions of the ids judged together (`ids[i]` verified as `verified`): at once when
   * the store holds them in memory (embedded), else a promise (Redis: one pipelined read).
   */
  lookUp(ids: readonly string[], verified: VerifiedIds): DecisionLookup<D> | Promise<DecisionLookup<D>>;
  /**
   * Counts `event`'s outcome of the waiting decision `d` (`route`: the route it names, if still
   * configured): true when counted now, false when one was counted already (a duplicate), undefined
   * when only the commit can tell (Redis: the dedupe runs there).
   */
  settle(d: D, event: FeedbackEvent, route: Route | undefined, nowMs: number): boolean | undefined;
  /** Makes the outcomes settled since the last commit durable, then tells `then` (once). */
  commit(then: Committed): void;
}

/** Told how a commit ended (an object per commit, like undici's dispatch handlers: no promise chained in the core). */
export interface Committed {
  /**
   * The outcomes are durable. `counted`: for each one `settle` left undecided, in order, whether it
   * was counted (false: a duplicate).
   */
  committed(counted?: readonly boolean[]): void;
  /** They are not (a `state_unavailable` error): the requests that had any answer 503. */
  failed(error: unknown): void;
}

/** Decisions per store as the learning gauges read them. */
export interface DecisionGauges {
  /** Decisions held that still wait: embedded, for an outcome; Redis mode, to be written. */
  readonly pending: number;
  /** Decisions dropped to stay bounded before they were done with. */
  readonly evicted: number;
  /** Bytes of features kept with decisions in this process (embedded mode; Redis mode keeps none here). */
  readonly featuresBytes: number;
  featuresDropped(): { readonly droppedTooLarge: number; readonly droppedOverBudget: number };
}

/** A store as the feedback loop runs it: the log, its gauges, and its share of the loop's life. */
export interface FeedbackStore<D = unknown> extends DecisionLog<D>, DecisionGauges {
  /** An admin reset forgot a route's statistics: the store records it. */
  routeReset(route: string): void;
  /** Starts the store's timers (after the router's weights are computed from what it restored). */
  start(): void;
  /** Stops them and makes what is pending durable, waiting at most until `deadlineMs` where it must wait. */
  close(deadlineMs: number): Promise<void>;
}

/** What a store needs to open (either mode). */
export interface DecisionLogDeps {
  readonly stateDir: string;
  readonly decisionsMax: number;
  readonly router: Router;
  readonly ids: DecisionIds;
  readonly log: Logger;
  /** Bounds on the features kept with decisions (routes with logFeatures). */
  readonly features?: FeatureLimits;
}
