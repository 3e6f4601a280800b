/**
 * The guardrails' shared state (monitoring/guardrails/): which arms a guardrail disabled, when a
 * person enabled one again (it is then judged only from that time on), and the deploys being
 * watched. Embedded mode keeps it in `<state dir>/guardrails.json` (state/embedded/guard-state.ts);
 * Redis mode in two hashes every replica reads (state/redis/guard-state.ts), so a disable by the
 * replica that evaluates reaches every replica's router, and a watch outlives a restart.
 * test/state/guard-state.contract.test.ts holds both to the same behaviour.
 */

/** An arm's guard record: disabled by a guardrail, or enabled again by a person. */
export interface ArmGuard {
  readonly route: string;
  readonly arm: string;
  readonly disabled: boolean;
  /** Why it was disabled (the guardrail's finding), or who enabled it. */
  readonly reason: string;
  /** When it entered this state (ms since the epoch). */
  readonly atMs: number;
  /**
   * Enabled again: the arm's health counts of the enable's minute before the enable (a health
   * vector), which its fresh judgement leaves out — minutes are the windows' finest grain.
   */
  readonly offset?: readonly number[];
}

/** A deploy being watched: `version` replaced `previous` at `startedMs`; judged until `untilMs`. */
export interface DeployWatch {
  readonly model: string;
  readonly version: string;
  readonly previous: string;
  readonly startedMs: number;
  readonly untilMs: number;
  readonly checks: readonly ('error_rate' | 'latency' | 'reward')[];
  readonly minSamples: number;
  readonly confidence: number;
}

export interface GuardState {
  /** Every arm's record (disabled ones and enabled-again ones). */
  arms(): Promise<ArmGuard[]>;
  /** Disables an arm; false (nothing written) when it already is: one disable, one notice. */
  disable(route: string, arm: string, reason: string, atMs: number): Promise<boolean>;
  /** Enables an arm again; false (nothing written) when it was not disabled. */
  enable(route: string, arm: string, by: string, atMs: number, offset?: readonly number[]): Promise<boolean>;
  watches(): Promise<DeployWatch[]>;
  /** Starts watching (replaces any watch of the same model). */
  watch(watch: DeployWatch): Promise<void>;
  /** Ends the watch of `model` if it is still the one of `version`; true for the caller that ended it. */
  endWatch(model: string, version: string): Promise<boolean>;
}

export const armField = (route: string, arm: string): string => `${route}/${arm}`;
