/**
 * What a route has learned about one arm, for the version that arm served. Outcome sums are
 * discounted by age when the route has a half-life, so that old outcomes fade in a drifting world;
 * pulls (selections) are not discounted: they drive burn-in and the pulls gauge.
 */
import { LinearStats } from './contextual/linear-stats.js';

export class ArmStats {
  /** `model@version` these statistics belong to; undefined until the arm first serves. */
  versionKey: string | undefined;
  /** Times the arm was chosen. */
  pulls = 0;
  /** Undiscounted sum of rewards credited (the croupier_arm_rewards gauge). */
  rewardTotal = 0;
  /** Discounted outcome count, reward sum and reward sum of squares, as of `atMs`. */
  n = 0;
  sum = 0;
  sumSq = 0;
  atMs = 0;
  /** Contextual routes only: the ridge regression's sums for this arm and version. */
  linear: LinearStats | undefined;

  constructor(versionKey?: string) {
    this.versionKey = versionKey;
  }

  /** Back to the prior, for a new version or a reset. */
  restart(versionKey: string | undefined): void {
    this.versionKey = versionKey;
    this.pulls = 0;
    this.rewardTotal = 0;
    this.n = 0;
    this.sum = 0;
    this.sumSq = 0;
    this.atMs = 0;
    this.linear?.restart();
  }

  /** Contextual routes: makes sure the arm keeps linear statistics over `features` context features (fresh when the count changed). */
  useContext(features: number | undefined): void {
    if (features === undefined) this.linear = undefined;
    else if (this.linear?.features !== features) this.linear = new LinearStats(features);
  }

  /** Counts one outcome observed at `atMs`. `halfLifeMs` 0 = no discounting. */
  credit(reward: number, atMs: number, halfLifeMs: number): void {
    this.rewardTotal += reward;
    if (halfLifeMs > 0 && this.n > 0) {
      if (atMs >= this.atMs) {
        this.decay(atMs, halfLifeMs);
      } else {
        // An outcome older than the newest one counted (replay, late batch) enters already faded.
        const w = 0.5 ** ((this.atMs - atMs) / halfLifeMs);
        this.n += w;
        this.sum += w * reward;
        this.sumSq += w * reward * reward;
        return;
      }
    }
    if (atMs > this.atMs) this.atMs = atMs;
    this.n += 1;
    this.sum += reward;
    this.sumSq += reward * reward;
  }

  /** Fades the sums to `nowMs`. */
  decay(nowMs: number, halfLifeMs: number): void {
    if (halfLifeMs <= 0 || nowMs <= this.atMs) return;
    const f = 0.5 ** ((nowMs - this.atMs) / halfLifeMs);
    this.n *= f;
    this.sum *= f;
    this.sumSq *= f;
    this.atMs = nowMs;
  }

  mean(): number {
    return this.n > 0 ? this.sum / this.n : 0;
  }

  toJSON(): ArmStatsRecord {
    return {
      version: this.versionKey,
      pulls: this.pulls,
      rewards: this.rewardTotal,
      n: this.n,
      sum: this.sum,
      sumSq: this.sumSq,
      atMs: this.atMs,
      ...(this.linear ? { linear: Array.from(this.linear.pack()) } : {}),
    };
  }

  /**
   * Statistics from a saved record. Outcome statistics that are not finite numbers (null: an
   * overflow saved by an older version, which made every /metrics scrape fail) cannot be repaired:
   * they restart from the prior, keeping the pulls (see `isSound`).
   */
  static from(r: ArmStatsRecord): ArmStats {
    const s = new ArmStats(typeof r.version === 'string' ? r.version : undefined);
    s.pulls = Number.isFinite(r.pulls) && r.pulls >= 0 ? r.pulls : 0;
    if (!ArmStats.isSound(r)) return s;
    s.rewardTotal = r.rewards;
    s.n = r.n;
    s.sum = r.sum;
    s.sumSq = r.sumSq;
    s.atMs = r.atMs;
    if (Array.isArray(r.linear)) {
      // [n, xx (dim²), xr (dim)]: length dim² + dim + 1.
      const dim = (Math.sqrt(4 * r.linear.length - 3) - 1) / 2;
      const linear = Number.isInteger(dim) && dim >= 1 ? new LinearStats(dim - 1) : undefined;
      if (linear?.unpack(r.linear)) s.linear = linear;
    }
    return s;
  }

  /** Whether a saved record's outcome statistics are finite numbers, as credits keep them. */
  static isSound(r: ArmStatsRecord): boolean {
    return (
      Number.isFinite(r.rewards)
      && Number.isFinite(r.n)
      && Number.isFinite(r.sum)
      && Number.isFinite(r.sumSq)
      && Number.isFinite(r.atMs)
      && r.n >= 0
      && r.sumSq >= 0
    );
  }
}

/** The persisted form (snapshots). */
export interface ArmStatsRecord {
  version: string | undefined;
  pulls: number;
  rewards: number;
  n: number;
  sum: number;
  sumSq: number;
  atMs: number;
  /** Contextual routes: `LinearStats.pack()` as numbers. */
  linear?: number[];
}
