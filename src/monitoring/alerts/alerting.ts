/**
 * Alerting: evaluates the rules of the alerts file every CROUPIER_ALERT_INTERVAL_MS (an unref'd
 * timer, never on a request's path), notifies a rule once when it starts firing and once when it
 * resolves, sends events as they happen and the daily report. In Redis mode only the replica
 * holding the lease (Leadership) evaluates and sends; the states are shared, so a new leader does
 * not notify again what the last one did.
 */
import type { Logger } from '../../log.js';
import type { AlertStates, Leadership } from '../../state/alert-state.js';
import type { AlertState, MonitorReport } from '../report.js';
import type { AlertsConfig, Rule } from './alerts-config.js';
import { openChannel, type Channel } from './channels.js';
import { dailyReport, localTime, reportDue } from './daily-report.js';
import { Delivery, type DeliveryMetrics, type DeliveryOptions } from './delivery.js';
import type { EventName, Notice } from './notice.js';
import { type ErrorCounts, judge, type RewardHistory } from './rules.js';

export const ALERT_INTERVAL_DEFAULT_MS = 15_000;

export interface AlertMetrics extends DeliveryMetrics {
  /** croupier_alerts_firing{rule}: 1 while firing. */
  alertFiring(rule: string, firing: boolean): void;
}

export interface AlertingDeps {
  readonly config: AlertsConfig;
  /** The monitor's report (GET /admin/monitor's JSON). */
  readonly report: () => Promise<MonitorReport>;
  /** For reward_drop; without it those rules have no data. */
  readonly rewards?: RewardHistory;
  /** For error_rate (the shared health windows); without it those rules have no data. */
  readonly requests?: ErrorCounts;
  readonly leadership: Leadership;
  readonly states: AlertStates;
  readonly metrics: AlertMetrics;
  readonly log: Logger;
  readonly intervalMs: number;
  readonly delivery?: DeliveryOptions;
  readonly now?: () => number;
}

export interface Transition {
  readonly rule: string;
  readonly state: 'firing' | 'resolved';
  readonly summary: string;
}

export class Alerting {
  private readonly channels = new Map<string, Channel>();
  private readonly delivery: Delivery;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<readonly Transition[]> | undefined;
  /** The local date of a report already due when this process started: not sent on start. */
  private readonly skipReportOf: string | undefined;

  constructor(private readonly deps: AlertingDeps) {
    for (const [name, spec] of deps.config.channels) this.channels.set(name, openChannel(name, spec));
    this.delivery = new Delivery(deps.metrics, deps.log, deps.delivery);
    this.now = deps.now ?? Date.now;
    const spec = deps.config.dailyReport;
    this.skipReportOf = spec ? reportDue(spec, this.now()) : undefined;
  }

  /** Whether there is anything to do (an empty alerts file starts no timer). */
  get active(): boolean {
    return this.deps.config.rules.length > 0 || this.deps.config.dailyReport !== undefined;
  }

  start(): void {
    if (!this.active || this.timer) return;
    this.timer = setInterval(() => void this.evaluate(), this.deps.intervalMs);
    this.timer.unref();
  }

  /** One evaluation (the timer's; tests call it directly). Concurrent calls share one run. */
  evaluate(): Promise<readonly Transition[]> {
    this.running ??= this.evaluateOnce()
      .catch((e: unknown) => {
        this.deps.log.warn({ err: (e as Error).message }, 'alert evaluation failed');
        return [] as Transition[];
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async evaluateOnce(): Promise<readonly Transition[]> {
    const { config, states, metrics } = this.deps;
    const now = this.now();
    if (!(await this.deps.leadership.lead())) {
      // Not the leader: the gauge follows the shared states.
      const shared = await states.all();
      for (const rule of config.rules) metrics.alertFiring(rule.name, shared.get(rule.name)?.state === 'firing');
      return [];
    }
    const transitions: Transition[] = [];
    if (config.rules.length > 0) {
      const [report, current] = await Promise.all([this.deps.report(), states.all()]);
      const sources = { rewards: this.deps.rewards, errors: this.deps.requests };
      for (const rule of config.rules) {
        const t = await this.judgeRule(rule, report, current.get(rule.name), sources, now);
        if (t) transitions.push(t);
        metrics.alertFiring(rule.name, (t?.state ?? current.get(rule.name)?.state) === 'firing');
      }
    }
    await this.dailyReportIfDue(now);
    return transitions;
  }

  private async judgeRule(
    rule: Rule,
    report: MonitorReport,
    previous: AlertState | undefined,
    sources: Parameters<typeof judge>[2],
    now: number,
  ): Promise<Transition | undefined> {
    const verdict = await judge(rule, report, sources, now);
    if (verdict.state === 'no_data') return undefined;
    const wasFiring = previous?.state === 'firing';
    if ((verdict.state === 'firing') === wasFiring) return undefined;
    const state = verdict.state === 'firing' ? 'firing' : 'resolved';
    const at = new Date(now).toISOString();
    // Written before it is sent: a leader that dies after this line loses a notice, never doubles one.
    await this.deps.states.put({ rule: rule.name, state, since: at, summary: verdict.summary });
    this.deps.log.info({ rule: rule.name, state, summary: verdict.summary }, `alert ${state}`);
    this.send(rule.channels, {
      kind: 'alert',
      rule: rule.name,
      state,
      summary: verdict.summary,
      details: { when: rule.when, ...verdict.details },
      at,
    });
    return { rule: rule.name, state, summary: verdict.summary };
  }

  private async dailyReportIfDue(now: number): Promise<void> {
    const spec = this.deps.config.dailyReport;
    if (!spec) return;
    const date = reportDue(spec, now);
    if (date === undefined || date === this.skipReportOf) return;
    if (!(await this.deps.states.claim(`report:${date}`))) return;
    await this.sendReport(now);
  }

  /** Sends the daily report now to its channels (POST /admin/report); the channels it went to. */
  async sendReport(now = this.now()): Promise<string[]> {
    const spec = this.deps.config.dailyReport;
    const names = spec?.channels ?? [];
    if (names.length === 0) return [];
    const [report, states] = await Promise.all([this.deps.report(), this.deps.states.all()]);
    const rules = new Set(this.deps.config.rules.map((r) => r.name));
    const notice = dailyReport(
      report,
      [...states.values()].filter((s) => rules.has(s.rule)),
      now,
      spec!.timezone,
    );
    this.send(names, notice);
    this.deps.log.info({ channels: names, date: localTime(now, spec!.timezone).date }, 'daily report queued');
    return [...names];
  }

  /** An audited change (deploy, rollback, guardrail action, route change): to the `events` channels, now. */
  announce(event: EventName, summary: string, details: Record<string, unknown>): void {
    if (this.deps.config.events.length === 0) return;
    this.send(this.deps.config.events, {
      kind: 'event',
      event,
      summary,
      details,
      at: new Date(this.now()).toISOString(),
    });
  }

  /** The rules' states as last notified (GET /admin/monitor's `alerts`). */
  async alerts(): Promise<AlertState[]> {
    const states = await this.deps.states.all();
    return this.deps.config.rules.flatMap((r) => states.get(r.name) ?? []);
  }

  /** Resolves when every queued notice was sent or given up (tests). */
  idle(): Promise<void> {
    return this.delivery.idle();
  }

  private send(names: readonly string[], notice: Notice): void {
    this.delivery.enqueue(
      names.map((n) => this.channels.get(n)!),
      notice,
    );
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    this.delivery.close();
    for (const c of this.channels.values()) c.close();
    await this.deps.leadership.resign();
  }
}
