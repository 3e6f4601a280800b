/**
 * The alerting room's state ports: who sends (Leadership) and what was last sent per rule
 * (AlertStates). Embedded mode: this process is always the leader and keeps the states in memory.
 * Redis mode (src/state/redis/alert-state.ts): a short lease decides the one replica whose
 * evaluations notify, and the states are one shared hash, so a new leader does not notify again.
 */
import type { AlertState } from '../monitoring/report.js';

export interface Leadership {
  /** Takes or renews the lease; true while this replica holds it. Never throws (false on errors). */
  lead(): Promise<boolean>;
  /** Gives the lease up (if held), so another replica takes over at its next evaluation. */
  resign(): Promise<void>;
}

export interface AlertStates {
  all(): Promise<Map<string, AlertState>>;
  put(state: AlertState): Promise<void>;
  /** True for the first caller to claim `key` (the daily report of one day is sent once). */
  claim(key: string): Promise<boolean>;
}

/** Embedded mode: one process, always the leader. */
export class SoleLeader implements Leadership {
  lead(): Promise<boolean> {
    return Promise.resolve(true);
  }
  resign(): Promise<void> {
    return Promise.resolve();
  }
}
