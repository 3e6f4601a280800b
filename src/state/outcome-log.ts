/**
 * The port where every accepted outcome is kept with what off-policy evaluation needs of its
 * decision (POST /admin/routes/{route}/ope, `croupier ope`): the arm, its propensity, the reward,
 * and on contextual routes the context vector. Every route, whether or not it logs features.
 * Embedded mode appends a file per route and day under the state directory; Redis mode reads the
 * route's outcomes stream, which the credit script already writes in the same step as it counts the
 * outcome (so `append` has nothing to do there). Kept for CROUPIER_DATASET_DAYS (embedded) or the
 * outcome stream's retention (Redis: at least 7 days). One contract suite runs against both.
 *
 * Like training rows, these are written behind the outcome's answer (embedded: in batches, without
 * an fsync): a machine crash may lose the last moments' rows; the outcome itself stays counted.
 */

/** One accepted outcome as OPE reads it. */
export interface LoggedOutcome {
  /** When the decision was made (ms since the epoch). */
  readonly decidedMs: number;
  /** When the outcome was accepted (ms since the epoch). */
  readonly outcomeMs: number;
  /** The arm that served (by name: arms are matched to the route's arms at read time). */
  readonly arm: string;
  /** μ(arm | context), the probability the logging policy gave that arm, in (0, 1]. */
  readonly propensity: number;
  readonly reward: number;
  /** Contextual routes: the decision's context vector, in the route's `context` order. */
  readonly context?: readonly number[];
}

export interface OutcomeLog {
  /** Queues one accepted outcome of `route`: never waits, never throws. */
  append(route: string, outcome: LoggedOutcome): void;
  /**
   * The kept outcomes of `route` accepted at or after `fromMs`, oldest first, in pages of at most
   * `pageRows`; the next page is read only when asked for.
   */
  read(route: string, fromMs: number, pageRows: number): AsyncIterable<LoggedOutcome[]>;
  /** Resolves once everything appended so far is written (or counted as dropped). */
  flush(): Promise<void>;
  /** Outcomes that could not be kept (disk failing, too many waiting). */
  readonly dropped: number;
  close(): Promise<void>;
}
