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
 * Reads (`report`, `series`) sum the store's minutes, so every replica of a fleet answers the same.
 */
import { CroupierError } from '../errors.js';
import type { Logger } from '../log.js';
import type { MonitorSpec } from '../registry/manifest.js';
import type { Registry } from '../registry/registry.js';
import type { ArmChoice, Route, Router } from '../routing/router.js';
import { LABEL_COUNTS, labelIncrements, labelMetrics, newLabelCounts } from './label-counts.js';
import { MINUTE_MS, minuteOf, WINDOW_NAMES, WINDOWS, type WindowName } from './minute-window.js';
import type { Delta, MonitorCounts, SeriesKey } from './monitor-counts.js';
import type { DriftWindow, MonitorReport, RewardWindow, RouteReport } from './report.js';
import { driftReport } from './drift-counter.js';
import { type DriftCounters, driftSeries } from './drift-counters.js';
import { type DriftReading, driftReadings } from './drift-readings.js';
import { chiSquareGoodnessOfFit } from './statistics.js';
import { noDriftReason, noLabelsReason } from './unmonitored.js';
import { type ShadowCells, ShadowSeries, shadowReports, shadowSeriesKey } from './shadow-counts.js';

/** An arm's vector: pulls, expected pulls (Σ of its probability over the route's decisions), outcomes, Σ reward, Σ reward². */
const PULLS = 0;
const EXPECTED = 1;
const OUTCOMES = 2;
const REWARD = 3;
const REWARD_SQ = 4;
export const ARM_COUNTS = 5;

const APPLY_MS = 1_000;
/** Deltas kept for a retry while the store refuses them; past this the oldest are dropped (counted). */
const MAX_KEPT_DELTAS = 50_000;
/** The report the SRM gauge reads is recomputed at most this often. */
const REPORT_REFRESH_MS = 15_000;
/** SRM is declared below this p-value (the contract's). */
const SRM_P = 0.001;

/** A counter cell (croupier_outcome_labels_total's child). */
export interface Increment {
  inc(): void;
}

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

/** One series' sums since the last apply. */
class Series {
  touched = false;
  /** The minute `amounts` counts (its events happened in it). */
  minute = 0;
  constructor(
    readonly key: SeriesKey,
    readonly amounts: Float64Array,
  ) {}
}

/** A version's label series on one arm (only versions with `monitor`). */
class LabelSeries extends Series {
  /** croupier_outcome_labels_total's cells: [predicted·2 + actual]. */
  readonly cells: Increment[];
  /** `labelIncrements`' adder into this vector, made once (addLabel would make one per outcome). */
  readonly add = (i: number, amount: number): void => {
    this.amounts[i]! += amount;
  };

  constructor(
    key: SeriesKey,
    readonly spec: MonitorSpec,
    cells: Increment[],
  ) {
    super(key, newLabelCounts());
    this.cells = cells;
  }
}

/** An arm's series, and its versions' label series (null: a version without `monitor`). */
class ArmSeries extends Series {
  readonly labels = new Map<string, LabelSeries | null>();
}

export const armSeriesKey = (route: string, arm: string): SeriesKey => ({
  scope: 'route',
  name: route,
  series: `arm:${arm}`,
});

export const labelSeriesKey = (route: string, arm: string, model: string, version: string): SeriesKey => ({
  scope: 'route',
  name: route,
  series: `labels:${model}@${version}:${arm}`,
});

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
  private last: { atMs: number; report: MonitorReport } | undefined;
  private refreshing = false;

  constructor(deps: MonitorDeps) {
    this.store = deps.store;
    this.router = deps.router;
    this.registry = deps.registry;
    this.log = deps.log;
    this.observer = deps.observer;
    this.drift = deps.drift;
    this.now = deps.now ?? Date.now;
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
    const weights = route.policy.weights;
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
    return unavailableIfStore(this.reportNow());
  }

  private async reportNow(): Promise<MonitorReport> {
    await this.flush();
    const last = minuteOf(this.now());
    // Drift counted since the applier's last second, so that the report includes every row so far.
    const drift = this.drift?.deltas() ?? [];
    if (drift.length > 0) await this.store.apply(drift);
    const routes: Record<string, RouteReport> = {};
    const list = [...this.router.routes.values()];
    const armKeys: SeriesKey[] = [];
    const labelKeys: SeriesKey[] = [];
    const labelled: (number | undefined)[] = [];
    for (const route of list)
      for (const arm of route.arms) {
        armKeys.push(armSeriesKey(route.name, arm.name));
        const v = this.registry.resolve(arm.model, arm.version);
        if (v?.manifest.monitor) {
          labelled.push(labelKeys.length);
          labelKeys.push(labelSeriesKey(route.name, arm.name, v.model, v.version));
        } else labelled.push(undefined);
      }
    const sums = {} as Record<WindowName, { arms: Float64Array[]; labels: Float64Array[] }>;
    for (const w of WINDOW_NAMES) {
      const [arms, labels] = await Promise.all([
        this.store.sums(armKeys, last, WINDOWS[w], ARM_COUNTS),
        labelKeys.length > 0 ? this.store.sums(labelKeys, last, WINDOWS[w], LABEL_COUNTS) : [],
      ]);
      sums[w] = { arms, labels };
    }
    let k = 0;
    for (const route of list) {
      const report: RouteReport = { srm: {} as RouteReport['srm'], arms: {} };
      const first = k;
      for (const arm of route.arms) {
        const v = this.registry.resolve(arm.model, arm.version);
        const windows = {} as Record<WindowName, RewardWindow>;
        for (const w of WINDOW_NAMES) {
          const a = sums[w].arms[k]!;
          const outcomes = a[OUTCOMES]!;
          const window: RewardWindow = {
            pulls: a[PULLS]!,
            outcomes,
            meanReward: outcomes > 0 ? a[REWARD]! / outcomes : null,
          };
          const l = labelled[k];
          if (l !== undefined) window.labels = labelMetrics(sums[w].labels[l]!);
          windows[w] = window;
        }
        report.arms[arm.name] = {
          model: v?.model ?? arm.model,
          version: v?.version ?? arm.version,
          disabled: false,
          windows,
        };
        const noLabels = noLabelsReason(v);
        if (noLabels) report.arms[arm.name]!.noLabels = noLabels;
        k++;
      }
      for (const w of WINDOW_NAMES) {
        const observed: number[] = [];
        const expected: number[] = [];
        for (let i = first; i < k; i++) {
          observed.push(sums[w].arms[i]![PULLS]!);
          expected.push(sums[w].arms[i]![EXPECTED]!);
        }
        const { pValue } = chiSquareGoodnessOfFit(observed, expected);
        report.srm[w] = { pValue, srm: pValue < SRM_P };
      }
      if (route.shadows.length > 0) report.shadows = await this.shadowReports(route, last);
      routes[route.name] = report;
    }
    const out: MonitorReport = { routes, models: await this.driftReports(last), alerts: [] };
    const noDrift = this.noDrift();
    if (noDrift) out.noDrift = noDrift;
    this.last = { atMs: this.now(), report: out };
    return out;
  }

  private shadowReports(route: Route, last: number): ReturnType<typeof shadowReports> {
    const arms = route.shadows.map((a) => {
      const v = this.registry.resolve(a.model, a.version);
      return { name: a.name, share: a.shadow, model: a.model, version: v?.version ?? a.version };
    });
    return shadowReports(this.store, route.name, arms, last);
  }

  /**
   * A route's mean reward over the minutes [fromMinute, toMinute) (Σ reward / Σ outcomes over its
   * arms), null without outcomes: what `reward_drop` alert rules compare (monitoring/alerts/rules.ts).
   */
  async meanReward(routeName: string, fromMinute: number, toMinute: number): Promise<number | null> {
    const route = this.router.get(routeName);
    if (!route || toMinute <= fromMinute) return null;
    await this.flush();
    const keys = route.arms.map((arm) => armSeriesKey(route.name, arm.name));
    const sums = await this.store.sums(keys, toMinute - 1, toMinute - fromMinute, ARM_COUNTS);
    let outcomes = 0;
    let reward = 0;
    for (const v of sums) {
      outcomes += v[OUTCOMES]!;
      reward += v[REWARD]!;
    }
    return outcomes > 0 ? reward / outcomes : null;
  }

  /** Per model, per version that counts drift: its drift in each window, from the store's minutes. */
  private async driftReports(last: number): Promise<MonitorReport['models']> {
    const models: MonitorReport['models'] = {};
    const drift = this.drift;
    if (!drift) return models;
    for (const v of this.registry.allVersions()) {
      const layout = drift.layout(v);
      if (!layout) continue;
      const windows = {} as Record<WindowName, DriftWindow>;
      for (const w of WINDOW_NAMES) {
        const [summed] = await this.store.sums([driftSeries(v.model, v.version)], last, WINDOWS[w], layout.length);
        windows[w] = driftReport(layout, summed!);
      }
      (models[v.model] ??= {})[v.version] = { drift: windows };
    }
    return models;
  }

  /** Per model, the versions that count no drift and why (undefined when every version counts it). */
  private noDrift(): MonitorReport['noDrift'] {
    const drift = this.drift;
    if (!drift) return undefined;
    let out: MonitorReport['noDrift'];
    for (const v of this.registry.allVersions())
      if (!drift.layout(v)) ((out ??= {})[v.model] ??= {})[v.version] = noDriftReason(v);
    return out;
  }

  /**
   * `GET /admin/monitor/series?route=R&window=W`: one entry per minute of the window, oldest first,
   * `t` the minute's start as an ISO time, and per arm its sums in that minute (zeros when none).
   */
  async series(routeName: string, window: string): Promise<unknown> {
    const route: Route | undefined = this.router.get(routeName);
    if (!route) throw new CroupierError('route_not_found', `no route named "${routeName.slice(0, 64)}"`);
    if (!Object.hasOwn(WINDOWS, window))
      throw new CroupierError('invalid_request', `window must be one of ${WINDOW_NAMES.join(', ')}`);
    return unavailableIfStore(this.seriesOf(route, window as WindowName));
  }

  private async seriesOf(route: Route, window: WindowName): Promise<unknown> {
    await this.flush();
    const minutes = WINDOWS[window];
    const last = minuteOf(this.now());
    const first = last - minutes + 1;
    const perArm = await Promise.all(
      route.arms.map((arm) => this.store.minutes(armSeriesKey(route.name, arm.name), first, last, ARM_COUNTS)),
    );
    const byMinute = perArm.map((list) => new Map(list));
    const entries: { t: string; arms: Record<string, ArmMinute> }[] = [];
    for (let m = first; m <= last; m++) {
      const arms: Record<string, ArmMinute> = {};
      route.arms.forEach((arm, i) => {
        const v = byMinute[i]!.get(m);
        arms[arm.name] = {
          pulls: v?.[PULLS] ?? 0,
          outcomes: v?.[OUTCOMES] ?? 0,
          rewardSum: v?.[REWARD] ?? 0,
          propensitySum: v?.[EXPECTED] ?? 0,
        };
      });
      entries.push({ t: new Date(m * MINUTE_MS).toISOString(), arms });
    }
    return { route: route.name, window, minutes: entries };
  }

  /**
   * Each route's SRM p-value per window, from the last report (croupier_route_srm_p_value); a report
   * older than 15 s is recomputed in the background, for the next scrape.
   */
  srmReadings(): { route: string; window: WindowName; pValue: number }[] {
    const last = this.last;
    if ((!last || this.now() - last.atMs > REPORT_REFRESH_MS) && !this.refreshing) {
      this.refreshing = true;
      this.report()
        .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'monitoring: report not computed'))
        .finally(() => {
          this.refreshing = false;
        });
    }
    const out: { route: string; window: WindowName; pValue: number }[] = [];
    if (!last) return out;
    for (const [route, r] of Object.entries(last.report.routes))
      for (const w of WINDOW_NAMES) out.push({ route, window: w, pValue: r.srm[w].pValue });
    return out;
  }

  /**
   * croupier_drift_psi at scrape time: the drift of the last report when it is at most 15 s old (one
   * scrape interval; a report sums up to a day of minutes per version), else of a new one (awaited,
   * so the first scrape has numbers). Undefined when the windows cannot be read (keep the last).
   */
  async driftReadings(): Promise<DriftReading[] | undefined> {
    const last = this.last;
    if (last && this.now() - last.atMs <= REPORT_REFRESH_MS) return driftReadings(last.report.models);
    try {
      return driftReadings((await this.report()).models);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'monitoring: drift not read for the scrape');
      return undefined;
    }
  }

  /** Stops the timer and hands the store what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

/** A store that cannot be read (Redis down) is a 503 the caller may retry, not an internal error. */
function unavailableIfStore<T>(p: Promise<T>): Promise<T> {
  return p.catch((e: unknown) => {
    if (e instanceof CroupierError) throw e;
    throw new CroupierError('state_unavailable', 'the monitoring windows cannot be read now; retry shortly', {
      cause: e,
    });
  });
}

interface ArmMinute {
  pulls: number;
  outcomes: number;
  rewardSum: number;
  propensitySum: number;
}
