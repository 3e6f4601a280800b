/**
 * The monitor: what predictions and outcomes add to the monitoring windows. The predict path adds
 * a pull to its arm's series and every arm's probability at that decision to that arm's expected
 * pulls (Σ over decisions of the arm's weight in force, the expectation SRM tests against), the feedback path an outcome, its reward and (for a
 * labelled outcome of a version with `monitor`) its label counts — each a few additions into
 * vectors resolved once per arm and version, never a string or an object per request. Each vector
 * belongs to the minute its events happened in (a series whose next event falls in a new minute
 * closes the old minute's vector first), so a count never slips into the next minute when it is
 * handed over. About once a second (and before every read) what was added goes to the MonitorCounts
 * store as deltas of those minutes; a failed apply (Redis down) keeps them for the next one, bounded
 * and counted.
 * Reads (`report`, `series`, the scrape's readings) are monitor-report.ts's: this class hands them
 * over after its flush, so callers keep one object.
 */
import type { Logger } from '../log.js';
import type { Registry } from '../registry/registry.js';
import type { ArmChoice, Route, Router } from '../routing/router.js';
import type { DriftCounters } from './drift-counters.js';
import type { DriftReading } from './drift-readings.js';
import { labelIncrements } from './label-counts.js';
import { minuteOf, type WindowName } from './minute-window.js';
import type { Delta, MonitorCounts } from './monitor-counts.js';
import { MonitorReader } from './monitor-report.js';
import {
  ARM_COUNTS,
  ArmSeries,
  armSeriesKey,
  EXPECTED,
  type Increment,
  LabelSeries,
  labelSeriesKey,
  OUTCOMES,
  PULLS,
  REWARD,
  REWARD_SQ,
  type Series,
} from './monitor-series.js';
import type { MonitorReport } from './report.js';
import { type ShadowCells, ShadowSeries, shadowSeriesKey } from './shadow-counts.js';

const APPLY_MS = 1_000;
/** Deltas kept for a retry while the store refuses them; past this the oldest are dropped (counted). */
const MAX_KEPT_DELTAS = 50_000;

/** The metrics room's side of the monitor. */
export interface MonitorObserver {
  /** The counter of labelled outcomes of one (route, arm, model, version, predicted, actual): asked once each. */
  labelCounter(
    route: string,
    arm: string,
    model: string,
    version: string,
    predicted: boolean,
    actual: boolean,
  ): Increment;
  /** A shadow arm's croupier_shadow_* cells: asked once per (route, arm). */
  shadowCells?(route: string, arm: string): ShadowCells;
}

export interface MonitorDeps {
  readonly store: MonitorCounts;
  readonly router: Router;
  readonly registry: Registry;
  readonly log: Logger;
  readonly observer?: MonitorObserver;
  /** The versions that count drift (their vectors are in the store, series `drift:<version>`). */
  readonly drift?: DriftCounters;
  /** The clock (tests). */
  readonly now?: () => number;
}

export class Monitor {
  private readonly store: MonitorCounts;
  private readonly router: Router;
  private readonly registry: Registry;
  private readonly log: Logger;
  private readonly observer: MonitorObserver | undefined;
  private readonly drift: DriftCounters | undefined;
  private readonly now: () => number;
  private readonly byRoute = new Map<string, Map<string, ArmSeries>>();
  /** Each route's arm series in arm order (a route replaced by an edit is a new object). */
  private readonly byRouteArms = new WeakMap<Route, ArmSeries[]>();
  private readonly shadows = new Map<string, ShadowSeries>();
  /** Series added to since the last apply. */
  private dirty: (Series | ShadowSeries)[] = [];
  /** Deltas a failed apply left, sent again with the next. */
  private kept: Delta[] = [];
  /** Minutes that series closed since the last apply (their next event came in a later minute). */
  private closed: Delta[] = [];
  private applying: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  /** Applies that failed, and deltas dropped to stay bounded. */
  applyFailures = 0;
  droppedDeltas = 0;
  private readonly reader: MonitorReader;

  constructor(deps: MonitorDeps) {
    this.store = deps.store;
    this.router = deps.router;
    this.registry = deps.registry;
    this.log = deps.log;
    this.observer = deps.observer;
    this.drift = deps.drift;
    this.now = deps.now ?? Date.now;
    this.reader = new MonitorReader({
      store: this.store,
      router: this.router,
      registry: this.registry,
      log: this.log,
      drift: this.drift,
      now: this.now,
      flush: () => this.flush(),
    });
    this.timer = setInterval(() => void this.flush(), APPLY_MS);
    this.timer.unref();
  }

  /**
   * The predict path: a decision made. Its arm gets the pull; every arm gets its probability in
   * this decision, so each arm's expected pulls are exact whichever arm was drawn (Σ of the chosen
   * arm's propensity alone would expect an 80/20 split to give 64/4).
   */
  decided(pick: ArmChoice): void {
    const route = pick.route;
    let series = this.byRouteArms.get(route);
    if (series === undefined)
      this.byRouteArms.set(route, (series = route.arms.map((arm) => this.armSeries(route.name, arm.name))));
    const weights = pick.weights;
    const minute = minuteOf(this.now());
    for (let i = 0; i < series.length; i++) {
      const s = series[i]!;
      if (s.minute !== minute) this.turn(s, minute);
      const a = s.amounts;
      a[EXPECTED]! += weights[i]!;
      if (route.arms[i] === pick.arm) a[PULLS]! += 1;
      if (!s.touched) this.touch(s);
    }
  }

  /**
   * The feedback path: an accepted outcome of a decision of (`route`, `arm`, `versionKey`) with its
   * monitored `score` (NaN: none was kept). Counted once, when the store counted it.
   */
  outcome(route: string, arm: string, versionKey: string, reward: number, label: unknown, score: number): void {
    const s = this.armSeries(route, arm);
    const minute = minuteOf(this.now());
    if (s.minute !== minute) this.turn(s, minute);
    const a = s.amounts;
    a[OUTCOMES]! += 1;
    a[REWARD]! += reward;
    a[REWARD_SQ]! += reward * reward;
    if (!s.touched) this.touch(s);
    if (label === undefined || !Number.isFinite(score)) return;
    let l = s.labels.get(versionKey);
    if (l === undefined) s.labels.set(versionKey, (l = this.labelSeries(route, arm, versionKey)));
    if (l === null) return;
    if (l.minute !== minute) this.turn(l, minute);
    const positive = label === l.spec.positive;
    labelIncrements(score, positive, l.spec.threshold, l.add);
    l.cells[(score >= l.spec.threshold ? 2 : 0) + (positive ? 1 : 0)]?.inc();
    if (!l.touched) this.touch(l);
  }

  /** A shadow arm's counts (scoring/shadow.ts asks once per shadow arm and keeps them). */
  shadowSeries(route: string, arm: string): ShadowSeries {
    const id = `${route}\n${arm}`;
    let s = this.shadows.get(id);
    if (s === undefined)
      this.shadows.set(
        id,
        (s = new ShadowSeries(shadowSeriesKey(route, arm), this.observer?.shadowCells?.(route, arm), (x) =>
          this.counting(x),
        )),
      );
    return s;
  }

  /** `s` counts `minute` from now on; what it holds of an earlier minute is closed, for the next apply. */
  private turn(s: Series | ShadowSeries, minute: number): void {
    if (s.touched) {
      this.closed.push({ key: s.key, minute: s.minute, amounts: s.amounts.slice() });
      s.amounts.fill(0);
    }
    s.minute = minute;
  }

  /** A shadow series is about to count: in the current minute, and marked for the next apply. */
  private counting(s: ShadowSeries): void {
    const minute = minuteOf(this.now());
    if (s.minute !== minute) this.turn(s, minute);
    if (!s.touched) this.touch(s);
  }

  private touch(s: Series | ShadowSeries): void {
    s.touched = true;
    this.dirty.push(s);
  }

  private armSeries(route: string, arm: string): ArmSeries {
    let arms = this.byRoute.get(route);
    if (!arms) this.byRoute.set(route, (arms = new Map()));
    let s = arms.get(arm);
    if (!s) arms.set(arm, (s = new ArmSeries(armSeriesKey(route, arm), new Float64Array(ARM_COUNTS))));
    return s;
  }

  private labelSeries(route: string, arm: string, versionKey: string): LabelSeries | null {
    const at = versionKey.indexOf('@');
    const model = versionKey.slice(0, at);
    const version = versionKey.slice(at + 1);
    const spec = this.registry.model(model)?.versions.get(version)?.manifest.monitor;
    if (!spec) return null;
    const o = this.observer;
    const cells: Increment[] = o
      ? [
          o.labelCounter(route, arm, model, version, false, false),
          o.labelCounter(route, arm, model, version, false, true),
          o.labelCounter(route, arm, model, version, true, false),
          o.labelCounter(route, arm, model, version, true, true),
        ]
      : [];
    return new LabelSeries(labelSeriesKey(route, arm, model, version), spec, cells);
  }

  /** Hands what was added since the last call to the store, as deltas of the minutes it happened in. */
  flush(): Promise<void> {
    this.applying = this.applying.then(() => this.applyNow());
    return this.applying;
  }

  private async applyNow(): Promise<void> {
    const dirty = this.dirty;
    if (dirty.length === 0 && this.kept.length === 0 && this.closed.length === 0) return;
    this.dirty = [];
    const deltas = this.kept;
    this.kept = [];
    for (const d of this.closed) deltas.push(d);
    this.closed = [];
    for (const s of dirty) {
      deltas.push({ key: s.key, minute: s.minute, amounts: s.amounts.slice() });
      s.amounts.fill(0);
      s.touched = false;
    }
    try {
      await this.store.apply(deltas);
    } catch (err) {
      this.applyFailures++;
      const over = deltas.length - MAX_KEPT_DELTAS;
      if (over > 0) {
        this.droppedDeltas += over;
        deltas.splice(0, over);
      }
      this.kept = deltas;
      if (this.applyFailures === 1 || this.applyFailures % 60 === 0)
        this.log.warn(
          { err: (err as Error).message, kept: deltas.length, dropped: this.droppedDeltas },
          'monitoring: counts not stored; kept for the next try',
        );
    }
  }

  /** `GET /admin/monitor`: every route's arms and SRM, per window. */
  report(): Promise<MonitorReport> {
    return this.reader.report();
  }

  /** A route's mean reward over the minutes [fromMinute, toMinute), null without outcomes (`reward_drop` rules). */
  meanReward(routeName: string, fromMinute: number, toMinute: number): Promise<number | null> {
    return this.reader.meanReward(routeName, fromMinute, toMinute);
  }

  /** `GET /admin/monitor/series?route=R&window=W`: one entry per minute of the window, oldest first. */
  series(routeName: string, window: string): Promise<unknown> {
    return this.reader.series(routeName, window);
  }

  /** Each route's SRM p-value per window, from the last report (croupier_route_srm_p_value). */
  srmReadings(): { route: string; window: WindowName; pValue: number }[] {
    return this.reader.srmReadings();
  }

  /** croupier_drift_psi at scrape time (undefined when the windows cannot be read: keep the last). */
  driftReadings(): Promise<DriftReading[] | undefined> {
    return this.reader.driftReadings();
  }

  /** Stops the timer and hands the store what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
