/**
 * Per-arm, per-version health in the shared monitoring windows: requests, errors (5xx), outcomes,
 * rewards and a latency histogram per (route, arm, model, version) and minute, through the
 * MonitorCounts port — so in Redis mode every replica reads the fleet's numbers, and guardrails,
 * deploy watches and the `error_rate` alert rule judge all the traffic, not one replica's share.
 *
 * The predict path adds into a vector made once per (arm, version): a WeakMap lookup, two
 * additions and one Math.log2 (the latency comes from the batch's one clock read); about once a second what was added goes to the store as deltas of
 * the current minute (like the monitor's own series). A failed apply keeps them for the next one.
 */
import type { CroupierError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Registry } from '../../registry/registry.js';
import type { ModelVersion } from '../../registry/repository.js';
import type { Arm, ArmChoice, Router } from '../../routing/router.js';
import { minuteOf, WINDOWS } from '../minute-window.js';
import type { Delta, MonitorCounts, SeriesKey } from '../monitor-counts.js';
import { LATENCY_BUCKETS, latencyBucket } from './latency-buckets.js';

/** A health vector: counts, then the latency histogram (ms) from LATENCY_AT. */
export const REQUESTS = 0;
export const ERRORS = 1;
export const OUTCOMES = 2;
export const REWARD = 3;
export const REWARD_SQ = 4;
export const LATENCY_AT = 5;
export const HEALTH_LENGTH = LATENCY_AT + LATENCY_BUCKETS;

const APPLY_MS = 1_000;
const MAX_KEPT_DELTAS = 20_000;

export const healthSeriesKey = (route: string, arm: string, model: string, version: string): SeriesKey => ({
  scope: 'route',
  name: route,
  series: `health:${model}@${version}:${arm}`,
});

class HealthSeries {
  touched = false;
  readonly amounts = new Float64Array(HEALTH_LENGTH);
  constructor(
    readonly key: SeriesKey,
    readonly version: ModelVersion | undefined,
  ) {}
}

export interface HealthDeps {
  readonly store: MonitorCounts;
  readonly registry: Registry;
  /** The routes whose arms `errorCounts` sums. */
  readonly router: Router;
  readonly log: Logger;
  readonly now?: () => number;
}

export class Health {
  private readonly store: MonitorCounts;
  private readonly registry: Registry;
  private readonly router: Router;
  private readonly log: Logger;
  private readonly now: () => number;
  /** The series an arm served last (the common case: one lookup per request). */
  private readonly lastOf = new WeakMap<Arm, HealthSeries>();
  /** route → arm → model@version → series. */
  private readonly all = new Map<string, Map<string, Map<string, HealthSeries>>>();
  private dirty: HealthSeries[] = [];
  private kept: Delta[] = [];
  private applying: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  constructor(deps: HealthDeps) {
    this.store = deps.store;
    this.registry = deps.registry;
    this.router = deps.router;
    this.log = deps.log;
    this.now = deps.now ?? Date.now;
    this.timer = setInterval(() => void this.flush(), APPLY_MS);
    this.timer.unref();
  }

  /** The predict path: `pick` answered, `latencyMs` after its request arrived. */
  served(pick: ArmChoice, latencyMs: number): void {
    const a = this.seriesOf(pick).amounts;
    a[REQUESTS]! += 1;
    a[LATENCY_AT + latencyBucket(latencyMs)]! += 1;
  }

  /** The predict path: `pick` failed. Only a 5xx is the arm's error (a 4xx is the client's). */
  failed(pick: ArmChoice, error: unknown): void {
    const status = (error as CroupierError | undefined)?.status ?? 500;
    if (typeof status === 'number' && status < 500) return;
    const a = this.seriesOf(pick).amounts;
    a[REQUESTS]! += 1;
    a[ERRORS]! += 1;
  }

  /** The feedback path: an accepted outcome of a decision of (`route`, `arm`, `versionKey`). */
  outcome(route: string, arm: string, versionKey: string, reward: number): void {
    const s = this.named(route, arm, versionKey, undefined);
    const a = s.amounts;
    a[OUTCOMES]! += 1;
    a[REWARD]! += reward;
    a[REWARD_SQ]! += reward * reward;
    if (!s.touched) this.touch(s);
  }

  private seriesOf(pick: ArmChoice): HealthSeries {
    let s = this.lastOf.get(pick.arm);
    if (s === undefined || s.version !== pick.version) {
      s = this.named(pick.route.name, pick.arm.name, pick.version.key, pick.version);
      this.lastOf.set(pick.arm, s);
    }
    if (!s.touched) this.touch(s);
    return s;
  }

  private named(route: string, arm: string, versionKey: string, version: ModelVersion | undefined): HealthSeries {
    let arms = this.all.get(route);
    if (!arms) this.all.set(route, (arms = new Map()));
    let versions = arms.get(arm);
    if (!versions) arms.set(arm, (versions = new Map()));
    let s = versions.get(versionKey);
    if (!s) {
      const at = versionKey.indexOf('@');
      const key = healthSeriesKey(route, arm, versionKey.slice(0, at), versionKey.slice(at + 1));
      versions.set(versionKey, (s = new HealthSeries(key, version)));
    }
    return s;
  }

  private touch(s: HealthSeries): void {
    s.touched = true;
    this.dirty.push(s);
  }

  /** Hands what was added since the last call to the store. */
  flush(): Promise<void> {
    this.applying = this.applying.then(() => this.applyNow());
    return this.applying;
  }

  private async applyNow(): Promise<void> {
    const dirty = this.dirty;
    if (dirty.length === 0 && this.kept.length === 0) return;
    this.dirty = [];
    const minute = minuteOf(this.now());
    const deltas = this.kept;
    this.kept = [];
    for (const s of dirty) {
      deltas.push({ key: s.key, minute, amounts: s.amounts.slice() });
      s.amounts.fill(0);
      s.touched = false;
    }
    try {
      await this.store.apply(deltas);
    } catch (err) {
      if (deltas.length > MAX_KEPT_DELTAS) deltas.splice(0, deltas.length - MAX_KEPT_DELTAS);
      this.kept = deltas;
      this.log.warn({ err: (err as Error).message, kept: deltas.length }, 'health counts not stored; kept');
    }
  }

  /**
   * The summed health of (`route`, `arm`, `model`@`version`) over the minutes [fromMinute,
   * toMinute) — what this and every other replica stored.
   */
  async over(
    series: readonly { route: string; arm: string; model: string; version: string }[],
    fromMinute: number,
    toMinute: number,
  ): Promise<Float64Array> {
    await this.flush();
    const total = new Float64Array(HEALTH_LENGTH);
    if (toMinute <= fromMinute || series.length === 0) return total;
    const keys = series.map((s) => healthSeriesKey(s.route, s.arm, s.model, s.version));
    const sums = await this.store.sums(keys, toMinute - 1, toMinute - fromMinute, HEALTH_LENGTH);
    for (const v of sums) for (let i = 0; i < HEALTH_LENGTH; i++) total[i]! += v[i] ?? 0;
    return total;
  }

  /**
   * A route's requests and 5xx errors in the last `minutes` (every arm, every version of its model
   * that the registry holds): the `error_rate` alert rule's counts, the fleet's in Redis mode.
   */
  async errorCounts(routeName: string, minutes: number, now: number): Promise<{ requests: number; errors: number }> {
    const route = this.router.get(routeName);
    if (!route) return { requests: 0, errors: 0 };
    const series = route.arms.flatMap((arm) =>
      [...(this.registry.model(arm.model)?.versions.keys() ?? [])].map((version) => ({
        route: route.name,
        arm: arm.name,
        model: arm.model,
        version,
      })),
    );
    const to = minuteOf(now) + 1;
    const v = await this.over(series, to - Math.min(minutes, WINDOWS['24h']), to);
    return { requests: v[REQUESTS]!, errors: v[ERRORS]! };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
