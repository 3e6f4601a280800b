/**
 * The feedback loop's gauges (decisions pending and evicted, features kept and dropped, each arm's
 * pulls, rewards and probability), all read at scrape time from one LearningSource: nothing on the
 * request path. Part of Metrics (metrics.ts), which keeps the public fields and observeLearning.
 */
import client from 'prom-client';

/** One arm of one route, as the arm gauges show it. */
export interface ArmReading {
  readonly route: string;
  readonly arm: string;
  readonly pulls: number;
  readonly rewards: number;
  readonly probability: number;
}

/** Where the feedback-loop gauges are read from at scrape time (nothing on the request path). */
export interface LearningSource {
  decisionsPending(): number;
  decisionsEvicted(): number;
  arms(): Iterable<ArmReading>;
  /** Embedded mode: bytes of features kept with decisions (logFeatures), and decisions that kept none. */
  featuresBytes?(): number;
  featuresDropped?(): { readonly droppedTooLarge: number; readonly droppedOverBudget: number };
}

/** The logs kept behind outcomes' answers (training rows, the outcome log OPE reads): what each could not keep. */
export type RowLogs = Readonly<Record<'training' | 'outcomes', { readonly dropped: number }>>;

export class LearningMetrics {
  readonly decisionsPending: client.Gauge;
  readonly decisionsEvicted: client.Counter;
  readonly featuresBytes: client.Gauge;
  readonly featuresDropped: client.Counter<'reason'>;
  readonly rowsDropped: client.Counter<'log'>;
  readonly armPulls: client.Gauge<'route' | 'arm'>;
  readonly armRewards: client.Gauge<'route' | 'arm'>;
  readonly armSelectionProbability: client.Gauge<'route' | 'arm'>;
  /** Where the gauges read from: the feedback loop, registered once by server.ts (observeLearning). */
  private learning: LearningSource | undefined;
  /** The row logs, registered by server.ts (observeRows). */
  private rows: RowLogs | undefined;

  constructor(registry: client.Registry) {
    const registers = [registry];
    let evictedSeen = 0;
    this.decisionsPending = new client.Gauge({
      name: 'croupier_decisions_pending',
      help: 'Decisions held that still wait for their outcome.',
      registers,
      collect: () => {
        this.decisionsPending.set(this.learning?.decisionsPending() ?? 0);
      },
    });
    this.decisionsEvicted = new client.Counter({
      name: 'croupier_decisions_evicted_total',
      help: 'Decisions dropped from the bounded store before their feedback window passed.',
      registers,
      collect: () => {
        const n = this.learning?.decisionsEvicted() ?? 0;
        if (n > evictedSeen) {
          this.decisionsEvicted.inc(n - evictedSeen);
          evictedSeen = n;
        }
      },
    });
    this.featuresBytes = new client.Gauge({
      name: 'croupier_features_bytes',
      help: 'Bytes of request features kept with decisions (routes with logFeatures), at most CROUPIER_FEATURES_BUDGET.',
      registers,
      collect: () => {
        this.featuresBytes.set(this.learning?.featuresBytes?.() ?? 0);
      },
    });
    const droppedSeen = { too_large: 0, over_budget: 0 };
    this.featuresDropped = new client.Counter({
      name: 'croupier_features_dropped_total',
      help: 'Decisions of routes with logFeatures that kept no features: over CROUPIER_FEATURES_MAX (too_large) or with the budget full (over_budget).',
      labelNames: ['reason'],
      registers,
      collect: () => {
        const d = this.learning?.featuresDropped?.();
        if (!d) return;
        const now = { too_large: d.droppedTooLarge, over_budget: d.droppedOverBudget };
        for (const reason of ['too_large', 'over_budget'] as const) {
          if (now[reason] > droppedSeen[reason]) {
            this.featuresDropped.labels(reason).inc(now[reason] - droppedSeen[reason]);
            droppedSeen[reason] = now[reason];
          }
        }
      },
    });
    const rowsSeen = { training: 0, outcomes: 0 };
    this.rowsDropped = new client.Counter({
      name: 'croupier_rows_dropped_total',
      help: 'Rows the logs behind outcomes could not keep (disk or Redis failing, too many waiting): training rows (routes with logFeatures) or the outcome log off-policy evaluation reads. The outcomes themselves stay counted.',
      labelNames: ['log'],
      registers,
      collect: () => {
        for (const log of ['training', 'outcomes'] as const) {
          const n = this.rows?.[log].dropped ?? 0;
          if (n > rowsSeen[log]) {
            this.rowsDropped.labels(log).inc(n - rowsSeen[log]);
            rowsSeen[log] = n;
          }
        }
      },
    });
    this.armPulls = new client.Gauge({
      name: 'croupier_arm_pulls',
      help: 'Times each arm was chosen since its statistics last restarted.',
      labelNames: ['route', 'arm'],
      registers,
      collect: () => this.readArms(),
    });
    this.armRewards = new client.Gauge({
      name: 'croupier_arm_rewards',
      help: 'Sum of rewards credited to each arm since its statistics last restarted.',
      labelNames: ['route', 'arm'],
      registers,
    });
    this.armSelectionProbability = new client.Gauge({
      name: 'croupier_arm_selection_probability',
      help: 'Probability with which each arm is chosen now (the weights in force).',
      labelNames: ['route', 'arm'],
      registers,
    });
  }

  /** Subscribes the gauges to the feedback loop's readings (once; they read 0 until then). */
  observe(source: LearningSource): void {
    if (this.learning) throw new Error('Metrics: a learning source is observed already');
    this.learning = source;
  }

  observeRows(rows: RowLogs): void {
    this.rows = rows;
    // Shown at 0 from the start, so that a rate over them is defined before the first drop.
    for (const log of ['training', 'outcomes'] as const) this.rowsDropped.labels(log).inc(0);
  }

  /** Fills the three arm gauges at once (from the pulls gauge's collect), dropping removed arms. */
  private readArms(): void {
    this.armPulls.reset();
    this.armRewards.reset();
    this.armSelectionProbability.reset();
    if (!this.learning) return;
    for (const a of this.learning.arms()) {
      this.armPulls.labels(a.route, a.arm).set(a.pulls);
      this.armRewards.labels(a.route, a.arm).set(a.rewards);
      this.armSelectionProbability.labels(a.route, a.arm).set(a.probability);
    }
  }
}
