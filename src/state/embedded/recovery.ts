/**
 * The feedback loop's state as the state directory holds it: arm statistics per route and the
 * decisions still within their window. Replay is idempotent (a decision already held is skipped,
 * an outcome for a settled decision is skipped), so overlapping snapshot and journal are harmless.
 */
import type { Logger } from '../../log.js';
import { MAX_REWARD } from '../../protocol/feedback.js';
import { ArmStats, type ArmStatsRecord } from '../../routing/arm-stats.js';
import type { Router } from '../../routing/router.js';
import type { StateContent } from './embedded-state.js';
import { withFirst, type SnapshotPart } from './snapshot.js';
import { Decision } from '../../feedback/decision.js';
import type { DecisionStore } from './decision-store.js';
import { Outcome } from '../../feedback/outcome.js';
import { DEFAULT_WINDOW_S, windowMs } from '../../feedback/windows.js';

interface StatsLine {
  stats: Record<string, Record<string, ArmStatsRecord>>;
}

export class FeedbackState implements StateContent {
  private readonly router: Router;
  private readonly store: DecisionStore;
  private readonly log: Logger | undefined;

  constructor(router: Router, store: DecisionStore, log?: Logger) {
    this.router = router;
    this.store = store;
    this.log = log;
  }

  horizonMs(): number {
    let min = Infinity;
    for (const r of this.router.routes.values()) min = Math.min(min, r.spec.feedbackWindow * 1000);
    return Number.isFinite(min) ? min : DEFAULT_WINDOW_S * 1000;
  }

  snapshot(nowMs: number): Iterable<SnapshotPart> {
    const stats: StatsLine['stats'] = {};
    for (const route of this.router.routes.values()) {
      const arms: Record<string, ArmStatsRecord> = {};
      route.arms.forEach((a, i) => {
        arms[a.name] = route.stats[i]!.toJSON();
      });
      stats[route.name] = arms;
    }
    const decisions = this.store.snapshotLines(nowMs, (route) => windowMs(this.router.get(route)));
    return withFirst(JSON.stringify({ stats } satisfies StatsLine), decisions);
  }

  replay(record: unknown, fromSnapshot: boolean): void {
    if (typeof record !== 'object' || record === null) return;
    if (Decision.isLine(record)) return this.replayDecision(Decision.fromLine(record), fromSnapshot);
    if (Outcome.isLine(record)) return this.replayOutcome(record.o, record.w, record.t);
    const r = record as Partial<StatsLine> & { reset?: unknown };
    if (typeof r.reset === 'string') {
      this.router.reset(r.reset);
      return;
    }
    if (r.stats && typeof r.stats === 'object') this.replayStats(r.stats);
  }

  private replayStats(stats: StatsLine['stats']): void {
    for (const [name, arms] of Object.entries(stats)) {
      const route = this.router.get(name);
      if (!route || typeof arms !== 'object' || arms === null) continue;
      route.arms.forEach((a, i) => {
        const saved = arms[a.name];
        if (!saved || typeof saved !== 'object') return;
        if (!ArmStats.isSound(saved))
          this.log?.warn(
            { route: name, arm: a.name },
            "state: saved arm statistics are not finite numbers (an overflow); the arm's outcome statistics restart from the prior",
          );
        Object.assign(route.stats[i]!, ArmStats.from(saved));
        // Saved linear statistics count only if the route still chooses on a context of that size.
        route.stats[i]!.useContext(route.spec.context?.length);
      });
      route.policy.recompute(Date.now());
    }
  }

  private replayDecision(d: Decision, fromSnapshot: boolean): void {
    if (this.store.get(d.id)) return;
    const route = this.router.get(d.route);
    // A snapshot's statistics already count its decisions' pulls; journaled decisions are new pulls.
    if (!fromSnapshot && route) {
      const index = route.armIndex(d.arm);
      if (index >= 0) this.router.pulled(route, index, d.versionKey);
    }
    // Restored whatever its age: an outcome journaled later may still be replayed for it (it was
    // accepted within the window). The snapshot written right after replay drops what is expired.
    this.store.restore(d);
  }

  private replayOutcome(id: string, reward: number, atMs: number): void {
    const d = this.store.get(id);
    if (!d || d.reward !== undefined) return;
    this.store.settle(d, reward);
    // Accepted by a version that took any finite reward: counting it would overflow the statistics.
    if (!(Math.abs(reward) <= MAX_REWARD)) {
      this.log?.warn(
        { route: d.route, arm: d.arm },
        'state: a journaled reward is beyond what the arm statistics take; not credited',
      );
      return;
    }
    const route = this.router.get(d.route);
    const index = route ? route.armIndex(d.arm) : -1;
    if (route && index >= 0) this.router.credit(route, index, d.versionKey, reward, atMs, d.context);
  }
}
