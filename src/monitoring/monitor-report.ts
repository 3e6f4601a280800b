/**
 * The monitor's read side: `GET /admin/monitor` (every route's arms, labels, SRM, shadows and
 * drift per window), its per-minute series, the reward means alert rules compare, and what the
 * scrape reads (SRM p-values, drift). Everything is summed from the MonitorCounts store's minutes
 * after the write side's flush, so every replica of a fleet answers the same.
 */
import { CroupierError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Registry } from '../registry/registry.js';
import type { Route, Router } from '../routing/router.js';
import { driftReport } from './drift-counter.js';
import { type DriftCounters, driftSeries } from './drift-counters.js';
import { type DriftReading, driftReadings } from './drift-readings.js';
import { LABEL_COUNTS, labelMetrics } from './label-counts.js';
import { MINUTE_MS, minuteOf, WINDOW_NAMES, WINDOWS, type WindowName } from './minute-window.js';
import type { MonitorCounts, SeriesKey } from './monitor-counts.js';
import { ARM_COUNTS, armSeriesKey, EXPECTED, labelSeriesKey, OUTCOMES, PULLS, REWARD } from './monitor-series.js';
import type { DriftWindow, MonitorReport, RewardWindow, RouteReport } from './report.js';
import { shadowReports } from './shadow-counts.js';
import { chiSquareGoodnessOfFit } from './statistics.js';
import { noDriftReason, noLabelsReason } from './unmonitored.js';

/** The report the SRM gauge reads is recomputed at most this often. */
const REPORT_REFRESH_MS = 15_000;
/** SRM is declared below this p-value (the contract's). */
const SRM_P = 0.001;

export interface MonitorReaderDeps {
  readonly store: MonitorCounts;
  readonly router: Router;
  readonly registry: Registry;
  readonly log: Logger;
  readonly drift: DriftCounters | undefined;
  readonly now: () => number;
  /** The write side's flush: what was counted so far reaches the store before a read. */
  readonly flush: () => Promise<void>;
}

export class MonitorReader {
  private readonly store: MonitorCounts;
  private readonly router: Router;
  private readonly registry: Registry;
  private readonly log: Logger;
  private readonly drift: DriftCounters | undefined;
  private readonly now: () => number;
  private readonly flush: () => Promise<void>;
  private last: { atMs: number; report: MonitorReport } | undefined;
  private refreshing = false;

  constructor(deps: MonitorReaderDeps) {
    this.store = deps.store;
    this.router = deps.router;
    this.registry = deps.registry;
    this.log = deps.log;
    this.drift = deps.drift;
    this.now = deps.now;
    this.flush = deps.flush;
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
